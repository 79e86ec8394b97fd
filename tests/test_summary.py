"""`costgraph.summary`: one call from a model to a module table (issue 16).

Sources of truth: real PyTorch (per-module parameter counts from
``module.parameters()``, MACs from forward hooks on the shapes torch
produces, on the meta device); torchvision's published ``num_params``
(ResNet-50 25,557,032; ResNet-18 11,689,512); Hugging Face's GPT-2 small
(124,439,808 parameters, head tied to ``wte``); hand derivations written in
each test.
"""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

import costgraph
from costgraph import CostGraphError
from costgraph.model_summary import COLUMNS, Summary, group_rows
from costgraph.models import MODELS, resnet18

from .support import require, require_torch

RESNET50_PARAMS = 25_557_032  # torchvision ResNet50_Weights.IMAGENET1K_V1 num_params
RESNET18_PARAMS = 11_689_512  # torchvision ResNet18_Weights.IMAGENET1K_V1 num_params
GPT2_PARAMS = 124_439_808  # Hugging Face GPT2LMHeadModel("gpt2"), lm_head tied to wte


@pytest.fixture(scope="module")
def resnet50_summary():
    return costgraph.summary("resnet50", depth=2)


def test_a_zoo_name_gives_modules_with_their_totals(resnet50_summary):
    s = resnet50_summary
    assert isinstance(s, Summary) and s.sizes == {"H": 224, "W": 224, "N": 1}
    assert s.totals.params == RESNET50_PARAMS
    top = {m.name: m for m in s.modules if m.depth == 1}
    # torchvision's stages hold 3, 4, 6 and 3 bottleneck blocks
    assert [name for name in top if name.startswith("layer")] == ["layer1", "layer2", "layer3", "layer4"]
    assert [sum(1 for m in s.modules if m.name.startswith(f"{stage}.")) for stage in ("layer1", "layer2", "layer3", "layer4")] == [3, 4, 6, 3]
    # a module's params are the sum of its blocks'; the top level adds up to the whole network
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert top[stage].params == sum(m.params for m in s.modules if m.name.startswith(f"{stage}."))
    assert sum(m.params for m in top.values()) == RESNET50_PARAMS
    assert sum(m.macs for m in top.values()) == s.totals.macs
    # hand: fc is 2048 x 1000 weights + 1000 biases
    assert top["fc"].params == 2048 * 1000 + 1000 and top["fc"].kind == "Linear"


def test_depth_one_shows_top_level_modules_only(resnet50_summary):
    s = costgraph.summary("resnet50", depth=1)
    assert {m.depth for m in s.modules} == {1}
    assert [m.name for m in s.modules] == [m.name for m in resnet50_summary.modules if m.depth == 1]


def test_a_tied_parameter_is_counted_once():
    s = costgraph.summary("gpt2", depth=1, S=16)
    assert s.totals.params == GPT2_PARAMS
    assert sum(m.params for m in s.modules) == GPT2_PARAMS  # lm_head's tied weights are wte's
    head = next(m for m in s.modules if m.name == "lm_head")
    assert head.params == 0 and head.macs == 16 * 768 * 50257  # hand: S x d_model x vocab, every use counted


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_zoo_model_counts_tied_parameters_once_in_every_grouping(name):
    """The GPT-2 plot said 163.0M (the tied head twice); every per-module and per-bar sum must be the total."""
    from costgraph.render.plot import MAX_BARS, plot_groups
    from costgraph.render.tables import rows_csv

    info = MODELS[name]
    net = info.builder()
    rows = net.layers(**info.sizes())
    params = net.totals(**info.sizes()).params
    for depth in (1, 3):
        assert sum(m.params for m in group_rows(rows, depth, all_layers=True) if m.depth == 1) == params
    labels, _, bars, _ = plot_groups(rows)
    assert sum(bars) == params
    # at most MAX_BARS bars, unless the names have no module hierarchy to group by (VGG19-BN's 41 layers)
    assert len(labels) <= MAX_BARS or not any("." in label for label in labels)
    assert len(set(labels)) == len(labels)
    records = list(csv.DictReader(io.StringIO(rows_csv(rows))))
    assert sum(int(r["params"]) for r in records if not r["shares"]) == params


def test_exports_have_the_same_columns_and_exact_numbers(resnet50_summary):
    s = resnet50_summary
    records = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert list(records[0]) == list(COLUMNS)
    total = records[-1]
    assert total["name"] == "total" and int(total["params"]) == RESNET50_PARAMS
    doc = json.loads(s.to_json())
    assert [list(r) for r in doc["rows"]] == [list(COLUMNS)] * len(s.modules)
    assert doc["totals"]["params"] == RESNET50_PARAMS and doc["sizes"] == {"H": 224, "W": 224, "N": 1}
    md = s.to_markdown()
    header = next(line for line in md.splitlines() if line.startswith("| name"))
    assert [c.strip() for c in header.strip("|").split("|")] == [c for c in COLUMNS if c not in ("depth", "layers")]
    assert "| **total**" in md and "25.6M" in md  # 25,557,032 in human units
    exact = s.to_markdown(exact=True)
    assert f"{RESNET50_PARAMS:,}" in exact
    tex = s.to_latex()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"layer1.0" in tex


def test_printing_and_jupyter(resnet50_summary):
    s = resnet50_summary
    text = str(s)
    assert text == repr(s) and text.splitlines()[0].startswith("resnet50 at H=224, W=224, N=1")
    assert "\n    layer1.0" not in text and "\n  layer1.0 " in text  # indented by depth
    assert s._repr_markdown_() == s.to_markdown()
    # the memory model's figures, not the 2x rule of thumb
    assert "memory model" in text and "about 2x" not in text


def test_to_pandas_is_optional(resnet50_summary, monkeypatch):
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(CostGraphError, match="pip install pandas"):
            resnet50_summary.to_pandas()
        return
    frame = resnet50_summary.to_pandas()
    assert list(frame.columns) == list(COLUMNS) and int(frame["params"][frame["depth"] == 1].sum()) == RESNET50_PARAMS


def test_sizes_options_and_symbolic():
    # hand: at H=256 the seed's fc1 sees 512 x 8 x 8 inputs instead of 512 x 7 x 7
    seed = costgraph.summary("vgg16", H=256, depth=1)
    assert seed.totals.params == 138_357_544 + 512 * 4096 * (64 - 49)
    torchvision = costgraph.summary("vgg16", H=256, options={"adaptive_pool": "yes"})
    assert torchvision.totals.params == 138_357_544  # torchvision VGG16_Weights num_params at any size
    batch = costgraph.summary("resnet18", (4, 3, 64, 48))  # (N, C, H, W) gives N, H and W
    assert batch.sizes == {"H": 64, "W": 48, "N": 4} and batch.totals.params == RESNET18_PARAMS


def test_errors_name_the_problem():
    with pytest.raises(CostGraphError, match="the smallest valid square input is H = W = 32"):
        costgraph.summary("vgg16", H=31)  # hand: five 2x2 pools need 2**5
    with pytest.raises(CostGraphError, match="unknown model 'resnet5'"):
        costgraph.summary("resnet5")
    with pytest.raises(CostGraphError, match="valid options: adaptive_pool"):
        costgraph.summary("vgg16", options={"adaptive": True})
    with pytest.raises(CostGraphError, match="depth must be a positive integer"):
        group_rows(resnet18().layers(H=64), 0)


def test_a_network_prints_and_its_records_render():
    net = resnet18()
    text = str(net)
    assert text.splitlines()[0] == repr(net) and "layer1" in text and "Conv2d" in text
    totals = net.totals(H=224)
    assert f"{RESNET18_PARAMS:,}" in str(totals) and "11.7M" in str(totals)
    rows = net.layers(H=224)
    assert repr(rows).startswith("| name") and str(rows) == repr(rows)
    assert rows._repr_markdown_().startswith("| name") and totals._repr_markdown_().startswith("| total")


def test_a_torch_module_through_from_torch():
    torch = require_torch()
    nn = torch.nn
    from collections import OrderedDict

    with torch.device("meta"):
        model = nn.Sequential(OrderedDict(
            stem=nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU()),
            block=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
            head=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)),
        ))  # fmt: skip
    shape = (2, 3, 64, 48)
    s = costgraph.summary(model, shape, depth=1)
    # real torch: parameters per top-level module, MACs of conv and linear from the shapes torch produces
    macs = {}

    def hook(name):
        def count(module, args, out):
            per = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1] if isinstance(module, nn.Conv2d) else module.in_features
            macs[name] = macs.get(name, 0) + out.numel() * per

        return count

    for name, child in model.named_children():
        for module in child.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.register_forward_hook(hook(name))
    with torch.no_grad():
        model(torch.empty(shape, device="meta"))
    ours = {m.name: m for m in s.modules}
    for name, child in model.named_children():
        assert ours[name].params == sum(p.numel() for p in child.parameters()), name
        assert ours[name].macs == macs[name], name
    assert s.totals.params == sum(p.numel() for p in model.parameters())


def test_an_onnx_file(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="block.conv", kernel_shape=[3, 3]),
         helper.make_node("Relu", ["y"], ["z"], name="block.relu")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4, None, None])],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)],
    )  # fmt: skip
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    s = costgraph.summary(path, H=10, depth=1)
    block = next(m for m in s.modules if m.name == "block")
    # hand: 4 x 3x3x3 weights, no bias; 8x8 outputs of 27 MACs per channel
    assert (block.params, block.macs, block.layers) == (108, 4 * 27 * 64, 2)


def test_summary_does_not_import_torch_for_a_zoo_model():
    import subprocess

    script = "import sys, costgraph; costgraph.summary('resnet18'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "False", result.stderr


def test_public_names_the_readme_uses():
    from costgraph import conventions, models

    assert costgraph.Convention is conventions.Convention  # the README writes Convention("mine", ...) bare
    assert models.encoder is models.transformer.encoder and "encoder" in models.__all__
    assert costgraph.summary is costgraph.model_summary.summary
