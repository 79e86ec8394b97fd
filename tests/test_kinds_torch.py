"""The kinds of costgraph/kinds against real PyTorch, one op at a time.

Sources of truth, all PyTorch on the CPU or the meta device:

* output shapes: the module (or functional op) run on meta tensors;
* parameters: ``sum(p.numel() for p in module.parameters())``;
* MACs: ``torch.utils.flop_counter.FlopCounterMode`` total // 2;
* saved tensors: every tensor handed to the pack hook of
  ``torch.autograd.graph.saved_tensors_hooks`` in a forward pass whose input
  requires a gradient, deduplicated by storage, parameters left out, compared
  as the multiset of (elements, dtype) costgraph's `Saved` entries describe
  (CPU float32 activations: "statistic" and "mask" are float32 there too,
  "index" int64, an input keeps its own dtype).

Each kind's formulas are symbolic; they are evaluated at sizes chosen here,
several per kind, square and not.
"""

import pytest
import sympy

from costgraph.kinds import (
    Amax,
    Amin,
    Cumprod,
    Cumsum,
    LogSumExp,
    MaxDim,
    MinDim,
    Prod,
    Std,
    Var,
    VectorNorm,
    Gather,
    IndexSelect,
    IndexTensor,
    MaskedFill,
    Pad,
    Roll,
    StridedSlice,
    Where,
    ELU,
    Clamp,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PowScalar,
    PReLU,
    Softplus,
    Unary,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool3d,
    BatchNorm1d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    Einsum,
    Upsample,
)
from costgraph.symbols import size_symbol

from .support import require_torch

torch = require_torch()
nn = torch.nn

def evaluate(expr, values):
    return int(sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in values.items()}))


def spatial_symbols(n):
    return [size_symbol(name) for name in ("T", "H", "W")[3 - n :]]


def torch_macs(fn, *args):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn(*args)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2


def saved_by_autograd(fn, *inputs, params=()):
    """Sorted (numel, dtype name) of the distinct non-parameter storages autograd keeps for `fn(*inputs)`."""
    state = {p.untyped_storage().data_ptr() for p in params}
    kept = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            kept[storage.data_ptr()] = (storage.nbytes() // tensor.element_size(), str(tensor.dtype).split(".")[1])
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    return sorted(kept.values())


ELEMENT_DTYPES = {"activation": "float32", "statistic": "float32", "mask": "float32", "index": "int64"}


def saved_by_kind(kind, out, inputs, values, input_dtypes=None):
    """The same list from `kind.saved_tensors`, at `values`; an input or the output keeps its dtype."""
    dtypes = input_dtypes or ["float32"] * len(inputs)
    entries = {}
    for entry in kind.saved_tensors(out, *inputs):
        if entry.source == "input":
            key = ("input", entry.index)
            entries[key] = (evaluate(sympy.Mul(*inputs[entry.index]), values), dtypes[entry.index])
        elif entry.source == "output":
            entries[("output",)] = (evaluate(sympy.Mul(*out), values), "float32")
        else:
            entries[("extra", len(entries))] = (evaluate(entry.numel, values), ELEMENT_DTYPES[entry.element])
    return sorted(entries.values())


# -- convolution -----------------------------------------------------------------------------

CONVS = [
    # (costgraph kind, torch module, spatial sizes to try)
    (Conv1d(4, 6, 5, stride=2, padding=1, dilation=2, groups=2), nn.Conv1d(4, 6, 5, 2, 1, 2, 2), [(20,), (33,)]),
    (Conv1d(3, 5, 3, padding="same"), nn.Conv1d(3, 5, 3, padding="same"), [(7,), (16,)]),
    (Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), groups=4), nn.Conv2d(4, 8, (3, 5), (2, 1), (1, 2), groups=4), [(9, 12), (16, 7)]),
    (Conv3d(2, 4, (3, 3, 3), stride=(1, 2, 2), padding=1, bias=False), nn.Conv3d(2, 4, 3, (1, 2, 2), 1, bias=False), [(4, 9, 10), (5, 6, 11)]),
    (ConvTranspose1d(6, 4, 3, stride=2, groups=2), nn.ConvTranspose1d(6, 4, 3, 2, groups=2), [(10,), (17,)]),
    (
        ConvTranspose2d(4, 2, (3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 2), dilation=(1, 2)),
        nn.ConvTranspose2d(4, 2, (3, 5), (2, 3), (1, 2), (1, 2), dilation=(1, 2)),
        [(5, 6), (8, 3)],
    ),
    (ConvTranspose3d(8, 4, 2, stride=2, bias=False), nn.ConvTranspose3d(8, 4, 2, 2, bias=False), [(2, 3, 4), (3, 5, 2)]),
]


@pytest.mark.parametrize("kind, module, sizes", CONVS, ids=lambda v: getattr(v, "kind", None))
def test_convolution_matches_torch(kind, module, sizes):
    n = len(sizes[0])
    spatial = spatial_symbols(n)
    N = size_symbol("N")
    x = (N, sympy.Integer(kind.in_channels), *spatial)
    out = kind.output_shape(x)
    assert kind.weights(x) + kind.biases(x) == sum(p.numel() for p in module.parameters())
    meta = module.to("meta")
    for batch, size in zip((2, 3), sizes):
        values = {N: batch, **dict(zip(spatial, size))}
        tensor = torch.empty(batch, kind.in_channels, *size, device="meta")
        result = meta(tensor)
        assert tuple(result.shape) == tuple(evaluate(d, values) for d in out)
        assert torch_macs(meta, tensor) == evaluate(kind.macs(out, x), values)


def test_convolution_saves_its_input_as_autograd_does():
    module = nn.ConvTranspose2d(3, 2, 3, stride=2)
    x = torch.zeros(2, 3, 5, 4, requires_grad=True)
    kind = ConvTranspose2d(3, 2, 3, stride=2)
    N, H, W = (size_symbol(s) for s in "NHW")
    shape = (N, 3, H, W)
    values = {N: 2, H: 5, W: 4}
    assert saved_by_autograd(module, x, params=list(module.parameters())) == saved_by_kind(
        kind, kind.output_shape(shape), (shape,), values
    )


# -- one parameter-free op: shapes at several sizes, and what autograd keeps ------------------


def check_op(kind, fn, shapes, sizes, input_dtypes=None, make_inputs=None):
    """`kind` against `fn` (a torch callable of the inputs) at each {symbol name: value} in `sizes`.

    `shapes` are the kind's symbolic input shapes.  Output shapes are compared
    on the meta device at every size; saved tensors on the CPU at the first
    (inputs of float dtype require a gradient).
    """
    out = kind.output_shape(*shapes)
    for i, named in enumerate(sizes):
        values = {size_symbol(k): v for k, v in named.items()}
        concrete = [tuple(evaluate(d, values) for d in shape) for shape in shapes]
        device = "cpu" if i == 0 else "meta"
        if make_inputs is not None:
            tensors = make_inputs(concrete, device)
        else:
            tensors = [torch.zeros(s, device=device, requires_grad=(i == 0)) for s in concrete]
        result = fn(*tensors)
        assert tuple(result.shape) == tuple(evaluate(d, values) for d in out), (kind, named)
        if i == 0:
            dtypes = [str(t.dtype).split(".")[1] for t in tensors]
            assert saved_by_autograd(fn, *tensors) == saved_by_kind(kind, out, shapes, values, dtypes), kind


def sym(*names):
    return tuple(size_symbol(n) if isinstance(n, str) else sympy.Integer(n) for n in names)


POOLS = [
    (MaxPool1d(3, stride=2, padding=1, ceil_mode=True), nn.MaxPool1d(3, 2, 1, ceil_mode=True), sym("N", 3, "W")),
    (MaxPool2d(3, 2, ceil_mode=True), nn.MaxPool2d(3, 2, ceil_mode=True), sym("N", 3, "H", "W")),
    (MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), sym("N", 2, "T", "H", "W")),
    (AvgPool1d(4, 2), nn.AvgPool1d(4, 2), sym("N", 3, "W")),
    (AvgPool3d(2, padding=1, ceil_mode=True), nn.AvgPool3d(2, padding=1, ceil_mode=True), sym("N", 2, "T", "H", "W")),
    (AdaptiveAvgPool1d(3), nn.AdaptiveAvgPool1d(3), sym("N", 3, "W")),
    (AdaptiveAvgPool1d(1), nn.AdaptiveAvgPool1d(1), sym("N", 3, "W")),
    (AdaptiveAvgPool3d(1), nn.AdaptiveAvgPool3d(1), sym("N", 2, "T", "H", "W")),
    (AdaptiveAvgPool3d((2, None, 3)), nn.AdaptiveAvgPool3d((2, None, 3)), sym("N", 2, "T", "H", "W")),
    (AdaptiveMaxPool1d(4), nn.AdaptiveMaxPool1d(4), sym("N", 3, "W")),
    (AdaptiveMaxPool2d((2, 3)), nn.AdaptiveMaxPool2d((2, 3)), sym("N", 3, "H", "W")),
    (AdaptiveMaxPool3d(2), nn.AdaptiveMaxPool3d(2), sym("N", 2, "T", "H", "W")),
]
POOL_SIZES = [dict(N=2, T=4, H=9, W=10), dict(N=1, T=5, H=16, W=7), dict(N=3, T=3, H=11, W=13)]


@pytest.mark.parametrize("kind, module, shape", POOLS, ids=lambda v: getattr(v, "kind", None))
def test_pooling_matches_torch(kind, module, shape):
    check_op(kind, module, [shape], POOL_SIZES)


# -- upsampling -------------------------------------------------------------------------------

F = torch.nn.functional

UPSAMPLES = [
    (Upsample(scale_factor=2, mode="nearest"), dict(scale_factor=2, mode="nearest"), sym("N", 3, "H", "W")),
    (Upsample(scale_factor=1.5, mode="bilinear", align_corners=False), dict(scale_factor=1.5, mode="bilinear", align_corners=False), sym("N", 3, "H", "W")),
    (Upsample(scale_factor=(0.5, 1.25), mode="bicubic", align_corners=True), dict(scale_factor=(0.5, 1.25), mode="bicubic", align_corners=True), sym("N", 3, "H", "W")),
    (Upsample(scale_factor=0.75, mode="linear"), dict(scale_factor=0.75, mode="linear"), sym("N", 3, "W")),
    (Upsample(scale_factor=(1, 2, 2), mode="trilinear"), dict(scale_factor=(1, 2, 2), mode="trilinear"), sym("N", 2, "T", "H", "W")),
    (Upsample(scale_factor=2.5, mode="nearest-exact"), dict(scale_factor=2.5, mode="nearest-exact"), sym("N", 2, "T", "H", "W")),
    (Upsample(size=(7, 12), mode="bilinear"), dict(size=(7, 12), mode="bilinear"), sym("N", 3, "H", "W")),
]


@pytest.mark.parametrize("kind, options, shape", UPSAMPLES, ids=lambda v: getattr(v, "mode", None))
def test_upsampling_matches_torch(kind, options, shape):
    check_op(kind, lambda x: F.interpolate(x, **options), [shape], POOL_SIZES)


# -- normalization ----------------------------------------------------------------------------


def check_module(kind, module, shape, sizes):
    """`kind` against an nn module: parameters, buffers, output shapes, and (training) saved tensors."""
    x = shape
    assert kind.weights(x) + kind.biases(x) == sum(p.numel() for p in module.parameters())
    assert sum(evaluate(n, {}) for n, _ in kind.buffers(x)) == sum(b.numel() for b in module.buffers())
    module.train()
    state = [*module.parameters(), *module.buffers()]
    out = kind.output_shape(x)
    for i, named in enumerate(sizes):
        values = {size_symbol(k): v for k, v in named.items()}
        concrete = tuple(evaluate(d, values) for d in x)
        tensor = torch.zeros(concrete, requires_grad=True)
        result = module(tensor)
        assert tuple(result.shape) == tuple(evaluate(d, values) for d in out)
        if i == 0:
            assert saved_by_autograd(module, tensor, params=state) == saved_by_kind(kind, out, (x,), values)


NORMS = [
    (BatchNorm1d(4), nn.BatchNorm1d(4), sym("N", 4)),
    (BatchNorm1d(4, affine=False), nn.BatchNorm1d(4, affine=False), sym("N", 4, "W")),
    (BatchNorm3d(3), nn.BatchNorm3d(3), sym("N", 3, "T", "H", "W")),
    (GroupNorm(2, 6), nn.GroupNorm(2, 6), sym("N", 6, "H", "W")),
    (GroupNorm(3, 6, affine=False), nn.GroupNorm(3, 6, affine=False), sym("N", 6, "T", "H", "W")),
    (InstanceNorm1d(3), nn.InstanceNorm1d(3), sym("N", 3, "W")),
    (InstanceNorm2d(3, affine=True), nn.InstanceNorm2d(3, affine=True), sym("N", 3, "H", "W")),
    (
        InstanceNorm3d(2, affine=True, track_running_stats=True),
        nn.InstanceNorm3d(2, affine=True, track_running_stats=True),
        sym("N", 2, "T", "H", "W"),
    ),
    (LayerNorm((3, 4)), nn.LayerNorm((3, 4)), sym("N", 2, 3, 4)),
]


@pytest.mark.parametrize("kind, module, shape", NORMS, ids=lambda v: getattr(v, "kind", None))
def test_normalization_matches_torch(kind, module, shape):
    check_module(kind, module, shape, [POOL_SIZES[0], POOL_SIZES[2]])  # batch > 1: training batch norm


# -- einsum -----------------------------------------------------------------------------------

EINSUMS = [
    ("bhqd,bhkd->bhqk", [sym("N", 3, "H", 4), sym("N", 3, "W", 4)]),
    ("bij,bjk->bik", [sym("N", "H", 5), sym("N", 5, "W")]),
    ("ijk,jl->il", [sym("H", 4, 2), sym(4, "W")]),
    ("...ij,jk->...ik", [sym("N", 2, "H", 4), sym(4, "W")]),
    ("nchw,oc->nohw", [sym("N", 3, "H", "W"), sym(6, 3)]),
    ("i,j->ij", [sym("H"), sym("W")]),
    ("bi,bi->b", [sym("N", "H"), sym("N", "H")]),
    ("ij->", [sym("H", "W")]),
]


@pytest.mark.parametrize("equation, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_matches_torch(equation, shapes):
    kind = Einsum(equation)
    check_op(kind, lambda *xs: torch.einsum(equation, *xs), shapes, POOL_SIZES)
    out = kind.output_shape(*shapes)
    for named in POOL_SIZES[1:]:
        values = {size_symbol(k): v for k, v in named.items()}
        tensors = [torch.empty([evaluate(d, values) for d in s], device="meta") for s in shapes]
        assert torch_macs(lambda *xs: torch.einsum(equation, *xs), *tensors) == evaluate(kind.macs(out, *shapes), values)


# -- activations and unary math: shapes, and what autograd keeps ------------------------------


def plus_zero_then(fn):
    """`fn` applied in place to ``x + 0`` (an in-place op cannot overwrite a leaf; ``add`` keeps nothing)."""
    return lambda x: fn(x + 0)


ELEMENTWISE = [
    (LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (LeakyReLU(0.2, inplace=True), plus_zero_then(lambda x: F.leaky_relu(x, 0.2, inplace=True))),
    (ELU(), F.elu),
    (ELU(inplace=True), plus_zero_then(lambda x: F.elu(x, inplace=True))),
    (Hardtanh(), F.hardtanh),
    (Softplus(), F.softplus),
    (Mish(), F.mish),
    (LogSoftmax(1), lambda x: F.log_softmax(x, 1)),
    (Unary("exp"), torch.exp),
    (Unary("log"), torch.log),
    (Unary("sqrt"), torch.sqrt),
    (Unary("rsqrt"), torch.rsqrt),
    (Unary("reciprocal"), torch.reciprocal),
    (Unary("neg"), torch.neg),
    (Unary("abs"), torch.abs),
    (Unary("sin"), torch.sin),
    (Unary("cos"), torch.cos),
    (Unary("erf"), torch.erf),
    (Unary("sin", inplace=True), plus_zero_then(torch.sin_)),
    (PowScalar(3), lambda x: x**3),
    (Clamp(0, 6), lambda x: x.clamp(0, 6)),
    (Clamp(min=0), lambda x: x.clamp(min=0)),
]


@pytest.mark.parametrize("kind, fn", ELEMENTWISE, ids=repr)
def test_elementwise_saves_what_autograd_keeps(kind, fn):
    check_op(kind, fn, [sym("N", 3, "H", "W")], POOL_SIZES[:2])


def test_prelu_matches_torch():
    check_module(PReLU(3), nn.PReLU(3), sym("N", 3, "H", "W"), POOL_SIZES[:2])


# -- padding, rolling, slicing, indexing ------------------------------------------------------


def with_index(kinds):
    """Inputs for check_op: float tensors, then int64 zeros / bool zeros where `kinds` says."""

    def make(concrete, device):
        tensors = []
        for shape, kind in zip(concrete, kinds):
            if kind == "float":
                tensors.append(torch.zeros(shape, device=device, requires_grad=device == "cpu"))
            else:
                tensors.append(torch.zeros(shape, device=device, dtype=torch.int64 if kind == "index" else torch.bool))
        return tensors

    return make


LAYOUT = [
    (Pad((1, 2, 2, 1)), lambda x: F.pad(x, (1, 2, 2, 1)), [sym("N", 3, "H", "W")], None),
    (Pad((-1, 2)), lambda x: F.pad(x, (-1, 2)), [sym("N", 3, "H", "W")], None),
    (Pad((1, 2, 2, 1), "reflect"), lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [sym("N", 3, "H", "W")], None),
    (Pad((1, 1, 1, 1, 2, 0), "replicate"), lambda x: F.pad(x, (1, 1, 1, 1, 2, 0), mode="replicate"), [sym("N", 2, "T", "H", "W")], None),
    (Pad((1, 2), "circular"), lambda x: F.pad(x, (1, 2), mode="circular"), [sym("N", 3, "W")], None),
    (Roll((1, -2), (2, 3)), lambda x: torch.roll(x, (1, -2), (2, 3)), [sym("N", 3, "H", "W")], None),
    (StridedSlice(2, 1, None, 2), lambda x: x[:, :, 1::2], [sym("N", 3, "H", "W")], None),
    (StridedSlice(3, -3), lambda x: x[..., -3:], [sym("N", 3, "H", "W")], None),
    (IndexSelect(2), lambda x, i: torch.index_select(x, 2, i), [sym("N", 3, "H", "W"), sym(4)], ["float", "index"]),
    (IndexTensor(1), lambda x, i: x[:, i], [sym("N", 3, "H", "W"), sym(2, 5)], ["float", "index"]),
    (Gather(2), lambda x, i: torch.gather(x, 2, i), [sym("N", 3, "H", "W"), sym("N", 3, 2, "W")], ["float", "index"]),
    (MaskedFill(0.0), lambda x, m: x.masked_fill(m, 0.0), [sym("N", 3, "H", "W"), sym(1, 1, "H", "W")], ["float", "mask"]),
    (Where(), lambda m, a, b: torch.where(m, a, b), [sym(1, 1, "H", "W"), sym("N", 3, "H", "W"), sym(3, 1, 1)], ["mask", "float", "float"]),
    (Where(), lambda m, a: torch.where(m, a, 0.0), [sym(1, 1, "H", "W"), sym("N", 3, "H", "W")], ["mask", "float"]),
]


@pytest.mark.parametrize("kind, fn, shapes, kinds", LAYOUT, ids=[repr(k) for k, *_ in LAYOUT])
def test_layout_and_indexing_match_torch(kind, fn, shapes, kinds):
    check_op(kind, fn, shapes, POOL_SIZES, make_inputs=with_index(kinds) if kinds else None)


# -- reductions and scans ---------------------------------------------------------------------

REDUCTIONS = [
    (Amax((2, 3)), lambda x: x.amax((2, 3))),
    (Amin(keepdim=True), lambda x: x.amin(dim=(0, 1, 2, 3), keepdim=True)),
    (MaxDim(2), lambda x: x.max(2).values),
    (MinDim(-1, keepdim=True), lambda x: x.min(-1, keepdim=True).values),
    (Prod(2), lambda x: x.prod(2)),
    (Var((2, 3)), lambda x: x.var((2, 3))),
    (Std(1, keepdim=True), lambda x: x.std(1, keepdim=True)),
    (LogSumExp((2, 3)), lambda x: torch.logsumexp(x, (2, 3))),
    (VectorNorm(2, (2, 3)), lambda x: torch.linalg.vector_norm(x, 2, (2, 3))),
    (VectorNorm(1, -1), lambda x: torch.linalg.vector_norm(x, 1, -1)),
    (Cumsum(2), lambda x: torch.cumsum(x, 2)),
    (Cumprod(-1), lambda x: torch.cumprod(x, -1)),
]


@pytest.mark.parametrize("kind, fn", REDUCTIONS, ids=repr)
def test_reductions_match_torch(kind, fn):
    check_op(kind, fn, [sym("N", 3, "H", "W")], POOL_SIZES)
