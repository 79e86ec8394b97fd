"""The presets on the kinds added for the ATen importer equal the real tools, op by op.

Source of truth: the tools themselves -- fvcore, thop, torchinfo, ptflops (both
backends) and torch's FlopCounterMode -- run on a tiny torch module per op (the
module form where torch has one: thop, torchinfo and ptflops hook modules, and
the presets assume modules, see `costgraph.conventions`), at two sizes, one of
them never used in the import.  costgraph's side is `costgraph.from_torch` of the
same module, so the converter's choice of kind is checked with it.

The tools run as ``tests/test_torch_tools.py`` runs them: FlopCounterMode, thop,
torchinfo and ptflops' aten backend on the meta device, fvcore (a jit trace)
and ptflops' default backend on CPU with tiny tensors.
"""

from __future__ import annotations

import functools
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costgraph
from costgraph import kinds
from costgraph.conventions import PRESETS, ThopAdaptiveOps
from tests.support import require, require_torch
from tests.test_torch_tools import (
    TOOL_PRESETS,
    run_flopcountermode,
    run_fvcore,
    run_ptflops,
    run_thop,
    run_torchinfo,
)

torch = require_torch()
nn = torch.nn


class Call(nn.Module):
    """A function of the input as a module's forward (for ops torch has no module for)."""

    def __init__(self, function, *modules):
        super().__init__()
        self.function = function
        self.inner = nn.ModuleList(modules)

    def forward(self, x):
        return self.function(x, *self.inner)


def tool_figures(factory, shape):
    """{preset: the figure the real tool reports} for ``factory()`` on an input of `shape` (batch 1)."""
    with torch.device("meta"):
        meta_model = factory().eval()
    figures = {
        "flopcountermode": run_flopcountermode(meta_model, shape),
        "thop": run_thop(meta_model, shape),
        "torchinfo": run_torchinfo(meta_model, shape),
        "ptflops-aten": run_ptflops(meta_model, shape, "aten"),
    }
    cpu_model = meta_model.to_empty(device="cpu").eval()
    figures["fvcore"] = run_fvcore(cpu_model, shape)
    figures["ptflops"] = run_ptflops(cpu_model, shape, "pytorch")
    return figures


def _index_add_put(x):
    """``x.index_add`` along the channels, then ``index_put`` of two channel planes of batch element 0."""
    channels = torch.tensor([0, 2], device=x.device)
    added = x.index_add(1, channels, x[:, :2])
    return added.index_put((torch.tensor([0], device=x.device), torch.tensor([1, 2], device=x.device)), x[0, :2])


D2 = {"H": 2, "W": 3}
# (id, module factory, channels, spatial sizes at import, spatial sizes held out, dynamic dims); batch 1
# (ptflops runs batch 1 only).  Spatial sizes small: the CPU forward passes of fvcore and ptflops are real.
CASES = [
    # activations (modules)
    ("ELU", lambda: nn.ELU(), 3, (5, 6), (7, 4), D2),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.1), 3, (5, 6), (7, 4), D2),
    ("Hardtanh", lambda: nn.Hardtanh(-2.0, 2.0), 3, (5, 6), (7, 4), D2),
    ("Softplus", lambda: nn.Softplus(), 3, (5, 6), (7, 4), D2),
    ("Mish", lambda: nn.Mish(), 3, (5, 6), (7, 4), D2),
    ("LogSoftmax", lambda: nn.LogSoftmax(1), 3, (5, 6), (7, 4), D2),
    ("PReLU", lambda: nn.PReLU(3), 3, (5, 6), (7, 4), D2),
    # normalization
    ("GroupNorm", lambda: nn.GroupNorm(2, 4), 4, (5, 6), (7, 4), D2),
    ("GroupNorm-plain", lambda: nn.GroupNorm(4, 4, affine=False), 4, (5, 6), (7, 4), D2),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(3), 3, (9,), (13,), {"L": 2}),
    ("InstanceNorm2d-affine", lambda: nn.InstanceNorm2d(3, affine=True), 3, (5, 6), (7, 4), D2),
    ("InstanceNorm3d", lambda: nn.InstanceNorm3d(2, affine=True), 2, (3, 4, 5), (5, 3, 4), {"T": 2, "H": 3, "W": 4}),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), 3, (9,), (13,), {"L": 2}),
    ("BatchNorm3d", lambda: nn.BatchNorm3d(2), 2, (3, 4, 5), (5, 3, 4), {"T": 2, "H": 3, "W": 4}),
    # upsampling
    ("Upsample-nearest", lambda: nn.Upsample(scale_factor=2), 3, (5, 6), (7, 4), D2),
    ("Upsample-nearest1d", lambda: nn.Upsample(scale_factor=3), 3, (5,), (8,), {"L": 2}),
    ("Upsample-bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), 3, (5, 6), (7, 4), D2),
    ("Upsample-bilinear-size", lambda: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True), 2, (5, 6), (3, 4), D2),
    ("Upsample-bicubic", lambda: nn.Upsample(size=(7, 9), mode="bicubic"), 2, (5, 6), (7, 4), D2),
    ("Upsample-linear", lambda: nn.Upsample(scale_factor=2, mode="linear"), 3, (5,), (8,), {"L": 2}),
    ("Upsample-trilinear", lambda: nn.Upsample(scale_factor=2, mode="trilinear"), 2, (3, 4, 5), (5, 3, 4), {"T": 2, "H": 3, "W": 4}),
    ("Upsample-nearest-exact", lambda: nn.Upsample(scale_factor=2, mode="nearest-exact"), 3, (5, 6), (7, 4), D2),
    # transposed and n-d convolution
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, output_padding=1), 3, (9,), (13,), {"L": 2}),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1), 3, (5, 6), (7, 4), D2),
    (
        "ConvTranspose2d-groups",
        lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), padding=(0, 1), groups=2, bias=False, dilation=(1, 2)),
        4, (5, 6), (7, 4), D2,
    ),
    ("ConvTranspose3d", lambda: nn.ConvTranspose3d(2, 3, 2, stride=2, groups=1), 2, (3, 4, 5), (5, 3, 4), {"T": 2, "H": 3, "W": 4}),
    ("Conv1d", lambda: nn.Conv1d(3, 4, 3, padding=1), 3, (9,), (13,), {"L": 2}),
    ("Conv3d", lambda: nn.Conv3d(2, 4, 3, padding=1, groups=2), 2, (3, 4, 5), (5, 3, 4), {"T": 2, "H": 3, "W": 4}),
    # n-d pooling
    ("MaxPool3d", lambda: nn.MaxPool3d(2), 2, (4, 6, 5), (5, 4, 7), {"T": 2, "H": 3, "W": 4}),
    ("AvgPool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1), 3, (9,), (14,), {"L": 2}),
    ("AvgPool3d", lambda: nn.AvgPool3d(2, ceil_mode=True), 2, (4, 6, 5), (5, 4, 7), {"T": 2, "H": 3, "W": 4}),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(4), 3, (9,), (14,), {"L": 2}),
    ("AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d((2, 3, 2)), 2, (4, 6, 5), (5, 4, 7), {"T": 2, "H": 3, "W": 4}),
    # indexing, padding and layout
    ("Pad", lambda: Call(lambda x: torch.nn.functional.pad(x, (1, 2, 0, 1), mode="reflect")), 3, (5, 6), (7, 4), D2),
    ("Roll", lambda: Call(lambda x: torch.roll(x, 2, 3)), 3, (5, 6), (7, 4), D2),
    ("IndexSelect-Gather", lambda: Call(lambda x: x.index_select(1, torch.tensor([0, 2], device=x.device))
                                        + x[:, :2].gather(3, torch.zeros_like(x[:, :2], dtype=torch.long))),
     3, (5, 6), (7, 4), D2),
    # elementwise math, clamps and selects (no module: every hook-based tool sees nothing)
    ("Unary", lambda: Call(lambda x: torch.exp(x) + 0), 3, (5, 6), (7, 4), D2),
    ("PowScalar", lambda: Call(lambda x: x**3), 3, (5, 6), (7, 4), D2),
    ("Clamp", lambda: Call(lambda x: x.clamp(-1.0, 1.0)), 3, (5, 6), (7, 4), D2),
    ("MaskedFill", lambda: Call(lambda x: x.masked_fill(x > 0, 0.0)), 3, (5, 6), (7, 4), D2),
    ("Where", lambda: Call(lambda x: torch.where(x > 0, x, 0.5)), 3, (5, 6), (7, 4), D2),
    # reductions and scans
    ("Amax-Amin", lambda: Call(lambda x: x.amax(1) + x.amin(1)), 3, (5, 6), (7, 4), D2),
    ("Prod", lambda: Call(lambda x: x.prod(2)), 3, (5, 6), (7, 4), D2),
    ("LogSumExp", lambda: Call(lambda x: torch.logsumexp(x, 1)), 3, (5, 6), (7, 4), D2),
    ("Var-Std", lambda: Call(lambda x: x.var(1) + x.std(1)), 3, (5, 6), (7, 4), D2),
    ("VectorNorm", lambda: Call(lambda x: torch.linalg.vector_norm(x, dim=1)), 3, (5, 6), (7, 4), D2),
    ("MaxDim", lambda: Call(lambda x: x.max(1).values + x.min(2).values.sum()), 3, (5, 6), (7, 4), D2),
    ("Cumsum-Cumprod", lambda: Call(lambda x: x.cumsum(2) + x.cumprod(3)), 3, (5, 6), (7, 4), D2),
    # kinds the ops branch added (no tool counts any of them: each preset's 0 is checked here)
    ("GLU", lambda: nn.GLU(1), 4, (5, 6), (7, 4), D2),
    ("LogSigmoid", lambda: nn.LogSigmoid(), 3, (5, 6), (7, 4), D2),
    ("Binary", lambda: Call(lambda x: x**x + torch.atan2(x, x) + torch.fmod(x, 3) + x // x + x % x), 3, (5, 6), (7, 4), D2),
    ("Ternary", lambda: Call(lambda x: torch.lerp(x, x, 0.3) + torch.addcmul(x, x, x, value=0.5) + torch.addcdiv(x, x, x)),
     3, (5, 6), (7, 4), D2),
    # targets from the (uninitialized) input, clamped into the classes
    ("NLLLoss", lambda: Call(lambda x, loss: loss(x, x[:, 0].long().clamp(0, 2)), nn.NLLLoss()), 3, (5, 6), (7, 4), D2),
    ("MSELoss", lambda: Call(lambda x, loss: loss(x[:, :1], x[:, 1:2]), nn.MSELoss()), 3, (5, 6), (7, 4), D2),
    ("Scatter", lambda: Call(lambda x: x.scatter_add(1, torch.zeros_like(x[:, :2], dtype=torch.long), x[:, :2])
                             .scatter(1, torch.zeros_like(x[:, :1], dtype=torch.long), 0.5)),
     3, (5, 6), (7, 4), D2),
    ("IndexAdd-IndexPut", lambda: Call(_index_add_put), 3, (5, 6), (7, 4), D2),
    ("TopK-Sort", lambda: Call(lambda x: torch.topk(x, 2, 1).values.sum() + torch.sort(x, 3).values), 3, (5, 6), (7, 4), D2),
    ("Histogram", lambda: Call(lambda x: torch.histc(x, 4, -1.0, 1.0)), 3, (5, 6), (7, 4), D2),
    # views and copies
    ("Expand-Select-Contiguous", lambda: Call(lambda x: x[:, :1].expand(-1, 4, -1, -1).transpose(2, 3).contiguous()[:, 0]),
     3, (5, 6), (7, 4), D2),
    # kinds the zoo had before the importer, as the importer makes them
    ("AvgPool2d", lambda: nn.AvgPool2d(2), 3, (5, 6), (7, 4), D2),
    ("Sigmoid", lambda: nn.Sigmoid(), 3, (5, 6), (7, 4), D2),
    ("Tanh", lambda: nn.Tanh(), 3, (5, 6), (7, 4), D2),
    ("SiLU", lambda: nn.SiLU(), 3, (5, 6), (7, 4), D2),
    ("ReLU6", lambda: nn.ReLU6(), 3, (5, 6), (7, 4), D2),
    ("Hardsigmoid", lambda: nn.Hardsigmoid(), 3, (5, 6), (7, 4), D2),
    ("Hardswish", lambda: nn.Hardswish(), 3, (5, 6), (7, 4), D2),
    ("Softmax", lambda: nn.Softmax(1), 3, (5, 6), (7, 4), D2),
    ("RMSNorm", lambda: nn.RMSNorm(6), 3, (5, 6), (7, 6), {"H": 2}),
    ("Reshape-StridedSlice", lambda: Call(lambda x: x.reshape(x.shape[0], -1)[:, ::2]), 3, (5, 6), (7, 4), D2),
    ("Div-Mul-Sub", lambda: Call(lambda x: (x / x) * x - x), 3, (5, 6), (7, 4), D2),
    ("MatMul", lambda: Call(lambda x: torch.matmul(x, x.transpose(2, 3))), 3, (5, 6), (7, 4), D2),
    ("IndexTensor", lambda: Call(lambda x: x[:, torch.tensor([0, 2], device=x.device)]), 3, (5, 6), (7, 4), D2),
    ("BatchMatMul", lambda: Call(lambda x: torch.bmm(x[0], x[0].transpose(1, 2))), 3, (5, 6), (7, 4), D2),
    ("AdvancedIndex", lambda: Call(lambda x: x[:, torch.tensor([0, 2], device=x.device), torch.tensor([1, 0], device=x.device)]),
     3, (5, 6), (7, 4), D2),
    # ids from the (uninitialized) input, clamped into the table
    ("Embedding", lambda: Call(lambda x, table: table(x[:, 0].long().clamp(0, 9)), nn.Embedding(10, 4)), 3, (5, 6), (7, 4), D2),
    # einsum: a batched matmul fvcore special-cases, a general contraction, a product without one
    ("Einsum-bmm", lambda: Call(lambda x: torch.einsum("bij,bik->bjk", x[0], x[0])), 3, (5, 6), (7, 4), D2),
    # 7*33*47*47 = 510,279 products: numpy reports 2x + 1 = 1,020,559 as 1.021e+06, so fvcore says 510,500
    ("Einsum", lambda: Call(lambda x: torch.einsum("nchw,nchv->nwv", x, x)), 7, (33, 47), (41, 29), D2),
    ("Einsum-outer", lambda: Call(lambda x: torch.einsum("nchw,nchv->nchwv", x, x)), 3, (5, 6), (7, 4), D2),
    ("Einsum-sum", lambda: Call(lambda x: torch.einsum("nchw->nw", x)), 3, (5, 6), (7, 4), D2),
    ("Einsum-product", lambda: Call(lambda x: torch.einsum("nchw,nchw->nchw", x, x)), 3, (5, 6), (7, 5), D2),
]


def _net(input_shape, *layers):
    """A costgraph network by hand: an input of `input_shape` (after the batch), then `layers` in a chain."""
    net = costgraph.Network("ops")
    net.add("input", kinds.Input(input_shape))
    for i, layer in enumerate(layers):
        net.add(f"layer{i}", layer)
    return net


L, T = costgraph.size_symbol("L"), costgraph.size_symbol("T")
H, W = costgraph.H, costgraph.W

# Ops the importer does not take today in this form (export specializes MaxPool1d's length, proves
# AdaptiveMaxPool's FLOPs nonnegative only at some sizes, writes a 1.5 scale as a Float, has no
# tril/stack converter): the zoo kinds built by hand, as a user would.
# (id, torch factory, channels, two spatial sizes, costgraph builder of the spatial sizes, size names:
# "" for a network built at each size)
HAND_CASES = [
    ("MaxPool1d", lambda: nn.MaxPool1d(3, stride=2), 3, [(9,), (14,)], lambda *_: _net((3, L), kinds.MaxPool1d(3, stride=2)), "L"),
    # fixed sizes: the kinds' symbolic FLOPs are not yet proven nonnegative (costgraph refuses the symbolic net)
    ("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(4), 3, [(9,), (14,)],
     lambda l: _net((3, l), kinds.AdaptiveMaxPool1d(4)), ""),
    ("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((2, 3)), 3, [(5, 6), (7, 4)],
     lambda h, w: _net((3, h, w), kinds.AdaptiveMaxPool2d((2, 3))), ""),
    ("AdaptiveMaxPool3d", lambda: nn.AdaptiveMaxPool3d(2), 2, [(4, 6, 5), (5, 4, 7)],
     lambda t, h, w: _net((2, t, h, w), kinds.AdaptiveMaxPool3d(2)), ""),
    # ptflops' F.interpolate hook multiplies the input elements by 1.5**2 in floating point
    ("Upsample-scale-1.5", lambda: nn.Upsample(scale_factor=1.5), 3, [(5, 6), (7, 3)],
     lambda *_: _net((3, H, W), kinds.Upsample(scale_factor=1.5)), "HW"),
    ("Upsample-bicubic-scale", lambda: nn.Upsample(scale_factor=2, mode="bicubic"), 2, [(5, 6), (7, 4)],
     lambda *_: _net((2, H, W), kinds.Upsample(scale_factor=2, mode="bicubic")), "HW"),
    ("Triangular", lambda: Call(lambda x: torch.tril(x, 1)), 3, [(5, 6), (7, 4)],
     lambda *_: _net((3, H, W), kinds.Triangular(1)), "HW"),
    ("Stack-Repeat", lambda: Call(lambda x: torch.stack([x, x], 1).repeat(1, 1, 2, 1, 1)), 3, [(5, 6), (7, 4)],
     lambda *_: _stack_repeat(), "HW"),
]


def _stack_repeat():
    net = _net((3, H, W))
    net.add("stack", kinds.Stack(1), "input", "input")
    net.add("repeat", kinds.Repeat((1, 1, 2, 1, 1)))
    return net


@pytest.mark.parametrize("factory, channels, spatials, builder, names", [pytest.param(*c[1:], id=c[0]) for c in HAND_CASES])
def test_every_preset_equals_the_real_tool_on_the_kind_built_by_hand(factory, channels, spatials, builder, names):
    for spatial in spatials:
        net = builder(*spatial)
        expected = tool_figures(factory, (1, channels) + spatial)
        sizes = dict(zip(names, spatial))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = {name: net.flops(name, N=1, **sizes) for name in TOOL_PRESETS}
        assert ours == expected, spatial


@functools.lru_cache(maxsize=None)
def imported(case_id):
    """`costgraph.from_torch` of case `case_id`'s module at its import size (once per session)."""
    _, factory, channels, seen, _, dynamic = next(c for c in CASES if c[0] == case_id)
    with torch.device("meta"):
        return costgraph.from_torch(factory().eval(), (1, channels) + seen, dynamic=dynamic)


@pytest.mark.parametrize(
    "case_id, factory, channels, seen, held_out, dynamic", [pytest.param(*c, id=c[0]) for c in CASES]
)
def test_every_preset_equals_the_real_tool_on_the_op(case_id, factory, channels, seen, held_out, dynamic):
    net = imported(case_id)
    names = list(dynamic)
    for spatial in (seen, held_out):
        expected = tool_figures(factory, (1, channels) + spatial)
        sizes = dict(zip(names, spatial))
        with warnings.catch_warnings():
            # every kind here is in each preset's checked_on set
            warnings.simplefilter("error")
            ours = {name: net.flops(name, **sizes) for name in TOOL_PRESETS}
        assert ours == expected, spatial


def test_every_importer_kind_declares_terms():
    """No registered kind leaves a term-weighing preset to refuse it for want of terms."""
    own = {name: cls for name, cls in costgraph.KINDS.items() if cls.__module__.startswith("costgraph.")}
    missing = [name for name, cls in own.items() if getattr(cls, "flop_terms", None) is None]
    assert missing == []


def test_the_kinds_checked_here_are_in_every_tool_presets_checked_on():
    from costgraph.conventions import ATEN_CHECKED_KINDS

    for preset in TOOL_PRESETS:
        assert ATEN_CHECKED_KINDS <= PRESETS[preset].checked_on, preset


@settings(max_examples=20, deadline=None)
@given(
    sizes_in=st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30)),
    sizes_out=st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)),
    channels=st.integers(1, 300),
)
def test_thop_adaptive_rounding_in_3d_matches_thops_hook(sizes_in, sizes_out, channels):
    """`ThopAdaptiveOps` with three axes against thop's own ``count_adap_avgpool``, on meta tensors."""
    basic_hooks = require("thop.vision.basic_hooks")
    module = nn.AdaptiveAvgPool3d(sizes_out)
    module.total_ops = torch.zeros(1, dtype=torch.float64)
    x = torch.empty((1, channels) + sizes_in, device="meta")
    y = torch.empty((1, channels) + sizes_out, device="meta")
    basic_hooks.count_adap_avgpool(module, (x,), y)
    count = channels * sizes_out[0] * sizes_out[1] * sizes_out[2]
    assert ThopAdaptiveOps(count, *sizes_in, *sizes_out) == int(module.total_ops.item())


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(1, 9), st.integers(1, 40), st.integers(1, 40), st.integers(1, 40)))
def test_fvcore_einsum_rounding_matches_fvcores_handle(shape):
    """`Einsum`'s ``einsum_fvcore`` term against fvcore's ``einsum_flop_jit`` fed the same shapes
    (it reads numpy's printed report: 4 significant digits)."""
    require("fvcore")
    import numpy as np

    n, c, h, w = shape
    kind = kinds.Einsum("nchw,nchv->nwv")
    a = b = (n, c, h, w)  # v = w
    terms = kind.flop_terms(kind.output_shape(a, b), a, b)
    # fvcore's rule by hand, through numpy: floor(float(report) / 2)
    report = np.einsum_path("nchw,nchv->nwv", np.zeros(a), np.zeros(b), optimize="optimal")[1]
    line = next(l for l in report.split("\n") if "optimized flop" in l.lower())
    assert terms["einsum_fvcore"] == int(np.floor(float(line.split(":")[-1]) / 2))


def test_every_kind_called_checked_is_run_here():
    """`ATEN_CHECKED_KINDS` claims no more than the cases above exercise (with the CNN twins' kinds)."""
    from costgraph.conventions import _CNN_KINDS, ATEN_CHECKED_KINDS

    seen = set()
    for case_id, *_ in CASES:
        net = imported(case_id)
        seen |= {net.graph.nodes[name]["layer"].kind for name in net}
    for _, _, _, spatials, builder, _ in HAND_CASES:
        net = builder(*spatials[0])
        seen |= {net.graph.nodes[name]["layer"].kind for name in net}
    assert ATEN_CHECKED_KINDS <= seen
    assert seen <= ATEN_CHECKED_KINDS | _CNN_KINDS
