"""Counting conventions: the switches, the presets' terms, and their refusals.

Sources of truth: hand derivations written out in each test (a small network
whose every term can be counted on paper), costgraph's own `totals()` for the
two presets defined from it, and the figures the issue quotes for torchvision's
VGG16 at 224 (what the tools print; ``tests/test_torch_tools.py`` runs them).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from costgraph import FloorDiv, H, N, Network, W
from costgraph.conventions import (
    PRESETS,
    Convention,
    ConventionError,
    Pooling,
    ThopAdaptiveOps,
    UncheckedConventionWarning,
    layer_contributions,
    reconcile,
)
from costgraph.kinds import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    Input,
    LayerKind,
    Linear,
    MaxPool2d,
    ReLU,
    register_kind,
)
from costgraph.models import alexnet, resnet18, vgg11_bn, vgg16


def tiny() -> Network:
    net = Network("tiny")
    net.add("input", Input((3, H, W)))
    net.add("conv", Conv2d(3, 8, 3, padding=1))
    net.add("bn", BatchNorm2d(8))
    net.add("relu", ReLU(inplace=True))
    net.add("pool", MaxPool2d(2))
    net.add("avgpool", AdaptiveAvgPool2d(3))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(72, 10))
    return net


# tiny() at H = W = 12, by hand:
#   conv: 8 x 12 x 12 = 1152 outputs, 27 MACs each -> 31104 MACs, 1152 bias adds
#   bn, relu: 1152 elements each; BatchNorm2d(8) has 16 parameters
#   pool: 1152 in, 8 x 6 x 6 = 288 out
#   avgpool: 288 in (6x6), 72 out (3x3), windows of 2x2 (exact): thop counts
#            (6/3 * 6/3 + 1) x 72 = 360
#   fc: 72 x 10 = 720 MACs, 10 bias adds, 730 parameters (batch 1)
MACS = 31104 + 720
HAND = {
    "macs": MACS,
    "flopcountermode": 2 * MACS,
    "fvcore": MACS + 2 * 1152 + 288,  # BN 2/elem (affine), adaptive pool per input
    "thop": MACS + 4 * 1152 + 360,  # BN 4/elem (affine), adaptive (ratio + 1) per output
    "torchinfo": MACS + 1152 + 16 + (730 - 720),  # conv bias; BN N*params; fc N*params instead of MACs
    "ptflops": MACS + 1162 + 2 * 1152 + 2 * 1152 + 2 * 1152 + 2 * 288,  # bias; BN; relu x2; pool x2 (inputs)
    "ptflops-aten": MACS + 1162,  # conv and fc bias adds
}


@pytest.mark.parametrize("preset", sorted(HAND))
def test_tiny_network_by_hand(preset):
    assert tiny().flops(preset, H=12) == HAND[preset]


def test_costgraph_and_macs_presets_are_totals():
    """The two definitions: `costgraph` is totals().flops, `macs` is totals().macs, symbolically too."""
    for net in (tiny(), alexnet(), resnet18(), vgg11_bn()):
        totals = net.totals()
        assert sympy.expand(net.flops("costgraph") - totals.flops) == 0
        assert sympy.expand(net.flops("macs") - totals.macs) == 0
        assert net.flops("costgraph", H=97, W=75) == net.totals(H=97, W=75).flops


def test_symbolic_without_sizes_exact_int_with_them():
    net = tiny()
    formula = net.flops("fvcore")
    assert isinstance(formula, sympy.Expr)
    # by hand: 27*8 MACs + 2*8 BN per position, + 8*floor(H/2)*floor(W/2) pooled inputs, + 720 fc MACs
    assert sympy.expand(formula - (232 * N * H * W + 8 * N * FloorDiv(H, 2) * FloorDiv(W, 2) + 720 * N)) == 0
    value = net.flops("fvcore", H=12, N=3)
    assert type(value) is int and value == 3 * HAND["fvcore"]


def test_issue_figures_for_torchvision_vgg16():
    """The issue's table (what each tool prints for torchvision's VGG16 at 224)."""
    net = vgg16(adaptive_pool=True)
    figures = {r.convention: r.figure for r in reconcile(net, H=224)}
    # Each figure derived by hand from torchvision's VGG16 ("D": 3x3 convs of widths 64,64 | 128,128 |
    # 256 x3 | 512 x3 | 512 x3 at 224/2**stage, a 2x2 max pool after each stage, a 7x7 adaptive pool,
    # fc 25088 -> 4096 -> 4096 -> 1000) and each tool's documented rule (see the presets' quirks):
    convs = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128)]
    convs += [(56, 128, 256)] + [(56, 256, 256)] * 2 + [(28, 256, 512)] + [(28, 512, 512)] * 2 + [(14, 512, 512)] * 3
    macs = sum(side**2 * c_out * c_in * 9 for side, c_in, c_out in convs) + 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    conv_outputs = sum(side**2 * c_out for side, _, c_out in convs)  # one bias add (and one ReLU) each
    fc_outputs = 4096 + 4096 + 1000  # one bias add each; the first two also pass a ReLU
    pool_inputs = 64 * 224**2 + 128 * 112**2 + 256 * 56**2 + 512 * 28**2 + 512 * 14**2  # the five max pools
    adaptive = 512 * 7 * 7  # the adaptive pool's input and output (7x7 into 7x7)
    assert figures["macs"] == macs == 15_470_264_320  # issue 2's total, the seed's rows summed
    assert figures["fvcore"] == macs + adaptive == 15_470_289_408  # fvcore: 1 per adaptive-pool input element
    # thop's count_adaptive_avgpool: (kernel adds 1x1 + 1 division) per output element
    assert figures["thop"] == macs + 2 * adaptive == 15_470_314_496
    # torchinfo: (weights + biases) x output positions; ptflops' aten backend: MACs + bias adds
    assert figures["torchinfo"] == figures["ptflops-aten"] == macs + conv_outputs + fc_outputs == 15_483_821_032
    # ptflops' pytorch backend: bias adds, and every ReLU and pool element twice (module hook + patched F.*)
    relu = conv_outputs + 4096 + 4096
    ptflops = macs + conv_outputs + fc_outputs + 2 * relu + 2 * pool_inputs + 2 * adaptive
    assert figures["ptflops"] == ptflops == 15_523_225_576
    assert figures["flopcountermode"] == 2 * 15_470_264_320


def test_reconcile_terms_add_up_and_name_the_difference():
    net = vgg16(adaptive_pool=True)
    rows = {r.convention: r for r in reconcile(net, H=224)}
    macs = net.totals(H=224).macs
    for row in rows.values():
        assert row.extra == row.figure - macs
        assert row.extra == sum(weight * value for _, weight, _, value in row.terms)
    # by hand: fvcore's only extra is the adaptive pool's input, 512 x 7 x 7
    assert [(t, w, v) for t, w, _, v in rows["fvcore"].terms] == [("adaptive_pool_in", 1, 512 * 7 * 7)]
    # ptflops-aten: one bias add per conv output element and per fc output (4096 + 4096 + 1000)
    conv_outputs = 64 * 2 * 224**2 + 128 * 2 * 112**2 + 256 * 3 * 56**2 + 512 * 3 * 28**2 + 512 * 3 * 14**2
    assert rows["ptflops-aten"].extra == conv_outputs + 9192
    symbolic = {r.convention: r for r in reconcile(net)}
    assert str(symbolic["fvcore"].extra) == "512*N*floor(H/32)*floor(W/32)"


def test_a_custom_convention():
    """2 FLOPs per MAC plus the bias adds, as a user might define it."""
    fused = Convention("two-plus-bias", flops_per_mac=2, bias=1)
    assert tiny().flops(fused, H=12) == 2 * MACS + 1162
    window = Convention("windows", max_pool=Pooling(per_window=1), adaptive_avg_pool=Pooling(per_window=1))
    # MACs once; max pool: 288 outputs x 2x2 windows; adaptive pool: 72 outputs x 2x2 windows
    assert tiny().flops(window, H=12) == MACS + 288 * 4 + 72 * 4


def test_switch_values_are_checked():
    with pytest.raises(ConventionError, match="bias must be an int"):
        Convention("bad", bias=0.5)
    with pytest.raises(ConventionError, match="must be an int"):
        Convention("bad", relu=True)
    with pytest.raises(ConventionError, match="per_input must be an int"):
        Pooling(per_input=1.0)
    with pytest.raises(ConventionError, match="unknown term 'flops'"):
        Convention("bad", overrides=((("ReLU", "flops"), 1),))
    # issue 12: a negative switch subtracted work (a negative figure); an override may correct a quirk
    with pytest.raises(ConventionError, match="flops_per_mac must be an int >= 0, got -2"):
        Convention("bad", flops_per_mac=-2)
    with pytest.raises(ConventionError, match="per_window must be an int >= 0"):
        Pooling(per_window=-1)
    assert Convention("thop-like", overrides=((("Softmax", "softmax_rows"), -1),)).weight("Softmax", "softmax_rows") == -1


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConventionError, match="unknown convention 'fvcor'.*fvcore"):
        tiny().flops("fvcor")


@register_kind
@dataclass(frozen=True)
class _Opaque(LayerKind):
    """A kind that declares no cost terms (the error path)."""

    def output_shape(self, x):
        return x

    def weights(self, x):
        return 0

    def biases(self, x):
        return 0

    def macs(self, out, x):
        return 0

    def other_flops(self, out, x):
        return 3 * x[1]


@register_kind
@dataclass(frozen=True)
class _Misnamed(_Opaque):
    """A kind that declares a term no convention knows."""

    def flop_terms(self, out, x):
        return {"flops": x[1]}


def test_a_kind_without_terms_is_an_error_for_term_presets_only():
    net = tiny()
    net.add("opaque", _Opaque())
    with pytest.raises(ConventionError, match="layer 'opaque' \\(_Opaque\\) does not declare its cost terms"):
        net.flops("fvcore", H=12)
    # MAC-only conventions need no terms (the unchecked kind still warns for a tool preset)
    assert net.flops("macs", H=12) == MACS
    with pytest.warns(UncheckedConventionWarning, match="_Opaque"):
        assert net.flops("flopcountermode", H=12) == 2 * MACS
    # costgraph's own FLOPs take the kind's other_flops: 3 x its input's 10 features
    assert net.flops("costgraph", H=12) == tiny().totals(H=12).flops + 30
    assert "fvcore" not in {r.convention for r in reconcile(net, H=12)}


def test_an_unknown_term_is_an_error():
    net = tiny()
    net.add("misnamed", _Misnamed())
    with pytest.raises(ConventionError, match="layer 'misnamed' \\(_Misnamed\\) declares an unknown cost term 'flops'"):
        net.flops("thop", H=12)


def test_a_preset_warns_outside_the_kinds_it_was_checked_on():
    from costgraph.kinds import Identity, SiLU

    net = tiny()
    net.add("silu", SiLU())
    net.add("identity", Identity())  # a kind no test runs the tools on
    with pytest.warns(UncheckedConventionWarning, match="'ptflops' has not been checked .* on Identity \\("):
        value = net.flops("ptflops", H=12)
    # ptflops' source: nn.SiLU has no module hook, but F.silu is patched: 1 x 10 elements (checked
    # against ptflops in tests/test_conventions_aten_kinds.py); the identity does nothing
    assert value == HAND["ptflops"] + 10
    row = next(r for r in reconcile(net, H=12) if r.convention == "ptflops")
    assert not row.checked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny().flops("ptflops", H=12)  # every kind of tiny() is checked: no warning


def test_layer_contributions_name_layers_and_terms():
    rows = layer_contributions(tiny(), "thop")
    assert [(layer, term, weight) for layer, _, term, weight, _ in rows] == [
        ("conv", "mac", 1),
        ("bn", "norm", 2),
        ("bn", "norm_affine", 2),
        ("avgpool", "adaptive_pool_thop", 1),
        ("fc", "mac", 1),
    ]


@given(
    h_in=st.integers(1, 200), w_in=st.integers(1, 200), h_out=st.integers(1, 12), w_out=st.integers(1, 12),
    count=st.integers(1, 10**7),
)
def test_thop_adaptive_ops_is_exact_or_one_below(h_in, w_in, h_out, w_out, count):
    """In exact arithmetic thop's count is count*(h_in*w_in + h_out*w_out)/(h_out*w_out); floats may lose one."""
    exact, remainder = divmod(count * (h_in * w_in + h_out * w_out), h_out * w_out)
    value = ThopAdaptiveOps(count, h_in, w_in, h_out, w_out)
    assert value in (exact, exact - 1) or remainder
    if h_in % h_out == 0 and w_in % w_out == 0 and count < 2**40:
        assert value == exact  # every float step is exact then


def test_every_preset_documents_its_quirks():
    for name, convention in PRESETS.items():
        assert convention.description and convention.quirks, name


def test_cli_reconcile(capsys):
    from costgraph.cli import main

    assert main(["reconcile", "alexnet", "--H", "224"]) == 0
    out = capsys.readouterr().out
    assert "| `fvcore` |" in out and "adaptive_pool_in" in out
    assert main(["reconcile", "alexnet", "--H", "224", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["convention"]: r for r in doc["rows"]}
    # by hand: AlexNet's adaptive pool takes 256 x 6 x 6 inputs at 224 -> fvcore adds 9216
    assert rows["fvcore"]["extra"] == 256 * 6 * 6
    assert main(["reconcile", "alexnet", "--symbolic", "--H", "224"]) == 2
    assert "give no sizes" in capsys.readouterr().err
    # torchvision's VGG16 (the zoo's vgg16 is the seed's form, without the adaptive pool)
    assert main(["reconcile", "vgg16", "--H", "224", "--option", "adaptive_pool=true", "--format", "json"]) == 0
    rows = {r["convention"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["fvcore"]["figure"] == 15_470_289_408  # the issue's figure: MACs + 512 x 7 x 7
    assert main(["reconcile", "vgg16", "--option", "bogus=1"]) == 2
    assert "unexpected keyword argument 'bogus'" in capsys.readouterr().err


def test_reconcile_marks_presets_checked_only_on_checked_families():
    from costgraph.models import googlenet

    assert all(r.checked for r in reconcile(resnet18(), H=64))
    # every GoogLeNet kind is checked, but its torch code calls F.relu (see test_torch_tools.py)
    rows = {r.convention: r.checked for r in reconcile(googlenet(), H=64)}
    assert rows["macs"] and rows["costgraph"]
    assert not any(rows[p] for p in ("fvcore", "thop", "torchinfo", "ptflops", "ptflops-aten", "flopcountermode"))


def test_attention_kinds_are_refused_by_tool_presets():
    from costgraph.kinds import MultiheadAttention

    net = Network("attention")
    net.add("tokens", Input((16, 64)))  # (N, 16 tokens, 64 features)
    net.add("mha", MultiheadAttention(64, 4))
    with pytest.raises(ConventionError, match="layer 'mha' \\(MultiheadAttention\\).*'fvcore'.*fused"):
        net.flops("fvcore", N=1)
    assert net.flops("macs", N=1) == net.totals(N=1).macs
    assert {r.convention for r in reconcile(net, N=1)} == {"macs", "costgraph"}
