"""fit, roofline and hardware as commands of the one command line (issues 15 and 16).

They take what every command takes: a zoo name, an ``.onnx`` path or
``package.module:callable``; ``--H``/``--W``/``--batch``/``--size NAME=VALUE``;
``--option NAME=VALUE``; ``--format`` md, csv, json or latex with the same
column names in each.  Sources of truth: hand derivations written beside each
assertion (a 3x3 convolution's MACs and bytes), NVIDIA's H100 datasheet for
the device figures, and the library's own `Network.roofline` / `max_size` for
"the CLI prints what the API computes".
"""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from costgraph.cli import main
from costgraph.models import gpt2

from .support import require

TINY_MODULE = '''
from costgraph import H, W, Network
from costgraph.kinds import Conv2d, Input


def tiny(width: int = 8, bias: bool = True):
    net = Network("tiny")
    net.add("input", Input((3, H, W)))
    net.add("conv", Conv2d(3, width, 3, bias=bias))
    return net
'''


def cli(*argv) -> tuple:
    """(status, stdout, stderr) of `main(argv)` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def ok(*argv) -> str:
    status, out, err = cli(*argv)
    assert status == 0 and not err, err
    return out


def one_line_error(*argv) -> str:
    status, out, err = cli(*argv)
    assert status == 2 and not out and err.count("\n") == 1 and err.startswith("costgraph: error: "), (status, out, err)
    return err


@pytest.fixture
def users_module(tmp_path, monkeypatch):
    (tmp_path / "my_fit_models.py").write_text(TINY_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_fit_models:tiny"


def test_fit_takes_a_users_module_its_options_and_the_shared_size_flags(users_module):
    # hand: a 3x3 conv from 3 to 4 channels without bias at H = W = 10 has 8x8 outputs: 4 x 27 x 64 = 6,912
    # MACs per image; within 50,000 MACs the largest batch is 7 (48,384), 8 images make 55,296
    doc = json.loads(ok("fit", users_module, "--H", "10", "--option", "width=4", "--option", "bias=no",
                        "--macs", "50000", "--format", "json"))  # fmt: skip
    assert (doc["maximize"], doc["largest"]) == ("N", 7)
    assert doc["rows"] == [{"budget": "macs", "limit": 50_000, "at_largest": 7 * 6_912, "at_next": 8 * 6_912}]
    # the same through --size: H held by name; and the searched size may be any size, here H at batch 2:
    # 2 x 4 x 27 x (H-2)^2 <= 50,000 gives (H-2)^2 <= 231, H - 2 = 15, H = 17 (W follows H)
    assert json.loads(ok("fit", users_module, "--size", "H=10", "--option", "width=4", "--option", "bias=no",
                         "--macs", "50000", "--format", "json"))["largest"] == 7  # fmt: skip
    doc = json.loads(ok("fit", users_module, "--maximize", "H", "--batch", "2", "--option", "width=4",
                        "--option", "bias=no", "--macs", "50000", "--format", "json"))  # fmt: skip
    assert doc["largest"] == 17 and doc["fixed"] == {"N": 2}
    err = one_line_error("fit", users_module, "--option", "depth=3", "--macs", "1G")
    assert "valid options: bias (bool), width (int)" in err


def test_fit_formats_share_their_column_names():
    csv_rows = list(csv.DictReader(io.StringIO(ok("fit", "vgg11", "--maximize", "H", "--macs", "100G", "--format", "csv"))))
    doc = json.loads(ok("fit", "vgg11", "--maximize", "H", "--macs", "100G", "--format", "json"))
    md = ok("fit", "vgg11", "--maximize", "H", "--macs", "100G")
    tex = ok("fit", "vgg11", "--maximize", "H", "--macs", "100G", "--format", "latex")
    assert list(doc["rows"][0]) == ["budget", "limit", "at_largest", "at_next"]
    assert list(csv_rows[0]) == ["model", "maximize", "largest", *doc["rows"][0], "stopped_by"]
    assert "| budget | " in md and "at_largest" in md and r"budget & limit & at\_largest & at\_next \\" in tex
    # one search, four renderings: the same answer, proved by the figures at it and at it + 1
    largest = doc["largest"]
    assert int(csv_rows[0]["largest"]) == largest and f"largest H = {largest} " in md and f"largest H = {largest} " in tex
    row = doc["rows"][0]
    assert row["limit"] == 100 * 10**9 and row["at_largest"] <= row["limit"] < row["at_next"]


def test_fit_says_where_its_old_size_flag_went():
    # --size NAME was fit's searched size before --size NAME=VALUE became every command's held size
    assert "--maximize NAME" in one_line_error("fit", "vgg16", "--size", "H", "--macs", "100G")
    assert "the one searched" in one_line_error("fit", "vgg16", "--maximize", "H", "--H", "224", "--macs", "100G")


def test_roofline_takes_a_users_module_and_names_its_columns_alike(users_module):
    out = ok("roofline", users_module, "--device", "h100", "--dtype", "fp32", "--H", "10", "--option", "width=4",
             "--option", "bias=no", "--format", "csv")  # fmt: skip
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out))}
    # hand: fp32 conv reads the 3x10x10 image and its 4x3x3x3 = 108 weights, writes 4x8x8: 4 bytes each
    assert int(rows["conv"]["bytes_moved"]) == 4 * (300 + 108 + 256)
    assert list(next(iter(rows.values()))) == ["name", "kind", "flops", "bytes_moved", "intensity", "seconds", "share", "bound"]
    doc = json.loads(ok("roofline", users_module, "--device", "h100", "--dtype", "fp32", "--H", "10", "--format", "json"))
    assert list(doc["layers"][0]) == list(next(iter(rows.values())))
    md = ok("roofline", users_module, "--device", "h100", "--dtype", "fp32", "--H", "10")
    assert "| name " in md and "| bytes_moved |" in md and "| intensity |" in md


def test_roofline_sizes_by_name_are_the_api_sizes():
    # --size S=128 (formerly --fix S=128) is S=128 in Network.roofline; N defaults to 1
    doc = json.loads(ok("roofline", "gpt2", "--device", "a100", "--size", "S=128", "--format", "json"))
    expected = gpt2().roofline("a100", "bf16", S=128, N=1).seconds
    assert doc["seconds"]["exact"] == f"{expected.numerator}/{expected.denominator}"
    assert doc["sizes"] == {"S": 128, "N": 1}
    assert "unexpected keyword argument 'colour'" in one_line_error("roofline", "vgg11", "--device", "h100", "--option", "colour=red")


def test_roofline_on_an_onnx_file(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], strides=[2, 2])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, None, None])],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(
        ok("roofline", path, "--device", "h100", "--dtype", "fp32", "--H", "32", "--format", "csv")))}  # fmt: skip
    # hand: (32 - 3)//2 + 1 = 15 outputs per side; reads 3x32x32 and 216 weights, writes 8x15x15, 4 bytes each
    assert int(rows["conv"]["bytes_moved"]) == 4 * (3 * 32 * 32 + 216 + 8 * 15 * 15)
    # hand: 8 x 27 x 225 = 48,600 MACs per image; 1,000,000 MACs hold 20 images (972,000), not 21 (1,020,600)
    assert json.loads(ok("fit", path, "--H", "32", "--macs", "1M", "--format", "json"))["largest"] == 20


def test_hardware_speaks_every_format():
    # NVIDIA H100 datasheet, SXM column: BF16 1,979 teraFLOPS with sparsity = 989.5 T dense; 3.35 TB/s; 80 GB
    rows = {r["device"]: r for r in csv.DictReader(io.StringIO(ok("hardware", "list", "--format", "csv")))}
    h100 = rows["h100-sxm"]
    assert (int(h100["bf16"]), int(h100["bandwidth"]), int(h100["memory"])) == (989_500 * 10**9, 3_350 * 10**9, 80 * 10**9)
    doc = json.loads(ok("hardware", "list", "--format", "json"))
    assert [r["device"] for r in doc["rows"]] == list(rows) and list(doc["rows"][0]) == list(h100)
    assert "| h100-sxm " in ok("hardware", "list") and r"\begin{tabular}" in ok("hardware", "list", "--format", "latex")
    shown = {r["field"]: r["value"] for r in csv.DictReader(io.StringIO(ok("hardware", "show", "h100", "--format", "csv")))}
    assert shown["peak_flops.bf16"] == str(989_500 * 10**9) and "1,979 teraFLOPS" in shown["sources.bf16"]
    assert json.loads(ok("hardware", "show", "h100", "--format", "json"))["peak_flops"]["bf16"] == 989_500 * 10**9
    assert "hardware list takes no name" in one_line_error("hardware", "list", "h100")
