"""Scale: deep generated stacks, repeated blocks, long formulas, and the fast expander.

Nothing here is timed (timings belong to benchmarks/run.py); instead the tests
check the structure that keeps the work linear: identical layers derive their
formulas once, and very long formulas compile.  Expected numbers are hand
derivations written in each test, or sympy's own ``expand``.
"""

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from costgraph import DomainError, H, N, Network, W
from costgraph.compile import compile_exprs, expression_source
from costgraph.intmath import FloorDiv, ceil_div
from costgraph.kinds import Add, BatchNorm2d, Conv2d, Input, ReLU
from costgraph.models import build
from costgraph.network import _layer_formulas
from costgraph.polynomial import expand_sizes

CONV = 16 * 16 * 3 * 3  # weights of a 3x3 conv, 16 -> 16 channels: 2304


def plain_stack(layers: int) -> Network:
    """Input, then `layers` - 1 same-padded 3x3 convs, 16 channels: `layers` layers in all."""
    net = Network(f"plain{layers}")
    net.add("input", Input((16, H, W)))
    for i in range(layers - 1):
        net.add(f"conv{i}", Conv2d(16, 16, 3, padding=1))
    return net


def residual_stack(blocks: int) -> Network:
    """Input, then `blocks` basic blocks (conv-bn-relu-conv-bn, add, relu): 1 + 7 * blocks layers."""
    net = Network(f"residual{blocks}")
    previous = net.add("input", Input((16, H, W)))
    for i in range(blocks):
        net.add(f"b{i}.conv1", Conv2d(16, 16, 3, padding=1, bias=False), previous)
        net.add(f"b{i}.bn1", BatchNorm2d(16))
        net.add(f"b{i}.relu1", ReLU(inplace=True))
        net.add(f"b{i}.conv2", Conv2d(16, 16, 3, padding=1, bias=False))
        net.add(f"b{i}.bn2", BatchNorm2d(16))
        net.add(f"b{i}.add", Add(), f"b{i}.bn2", previous)
        previous = net.add(f"b{i}.relu2", ReLU(inplace=True))
    return net


def test_ten_thousand_layer_plain_stack():
    misses = _layer_formulas.cache_info().misses
    net = plain_stack(10_000)
    assert len(net) == 10_000
    # every conv sees the same (N, 16, H, W): its formulas are derived at most once
    assert _layer_formulas.cache_info().misses - misses <= 2
    convs = 9_999
    # hand derivation: each conv has 2304 weights + 16 biases and does 2304 MACs per output pixel
    assert net.totals().macs == convs * CONV * H * W * N
    assert net.totals().params == convs * (CONV + 16)
    totals = net.totals(H=224, W=96, N=3)
    assert totals.macs == convs * CONV * 224 * 96 * 3
    assert totals.activations == (convs + 1) * 16 * 224 * 96 * 3  # input + every conv output


def test_residual_stack_of_1429_blocks():
    misses = _layer_formulas.cache_info().misses
    net = residual_stack(1_428)
    assert len(net) == 10_000 - 3  # 1 + 7 * 1428
    assert _layer_formulas.cache_info().misses - misses <= 7
    # per block: two bias-free convs (2304 weights each), two BatchNorms (16 scales + 16 shifts)
    assert net.totals().params == 1_428 * (2 * CONV + 2 * 32)
    assert net.totals(H=7).macs == 1_428 * 2 * CONV * 49


def test_a_stack_of_distinct_shapes():
    # unpadded 3x3 convs: conv i outputs (H - 2(i+1)) x (W - 2(i+1)); every layer is new work
    depth = 150
    net = Network("shrinking")
    net.add("input", Input((16, H, W)))
    for i in range(depth):
        net.add(f"conv{i}", Conv2d(16, 16, 3))
    size = 2 * depth + 5
    expected = sum(CONV * (size - 2 * (i + 1)) ** 2 for i in range(depth))
    assert net.totals(H=size).macs == expected
    import numpy as np

    sizes = np.array([size, 10**6, 2**40])
    assert net.totals(H=sizes).macs[1] == sum(CONV * (10**6 - 2 * (i + 1)) ** 2 for i in range(depth))
    # at H = 2 * depth the last conv's output is 0 wide: it is the first invalid layer
    with pytest.raises(DomainError, match=f"'conv{depth - 1}'"):
        net.totals(H=2 * depth)


def test_repeated_zoo_blocks_derive_once():
    # a second build of the same model derives nothing new
    build("resnet152")
    misses = _layer_formulas.cache_info().misses
    net = build("resnet152")
    assert _layer_formulas.cache_info().misses == misses
    # and the distinct (layer, input shapes) pairs are far fewer than the layers
    distinct = {(net.layer(n), tuple(net.shape(s) for s in net.graph.nodes[n]["inputs"])) for n in net}
    assert len(distinct) < len(net) / 3


def test_ten_thousand_term_formula_compiles():
    # A flat `a + b + ...` of 10,000 terms overflows CPython's compiler; the generated
    # source sums a tuple instead.  truth: the same sum in plain Python
    expr = sympy.Add(*[FloorDiv(H + i, sympy.Integer(10_007)) for i in range(10_000)])
    assert len(expr.args) == 10_000
    compiled = compile_exprs([H], [expr])
    assert "_sum((" in compiled.source
    for size in (5, 20_000, 10**30):
        assert compiled(size) == (sum((size + i) // 10_007 for i in range(10_000)),)
    assert compiled.bound(10**30) >= compiled(10**30)[0]
    assert "_sum((" in compiled.bound_source


# -- expand_sizes is sympy.expand, faster ------------------------------------------------------

_atoms = st.sampled_from(
    [H, W, N, FloorDiv(H, sympy.Integer(2)), FloorDiv(W + 1, sympy.Integer(3)), ceil_div(H, 32), sympy.Min(FloorDiv(H, sympy.Integer(2)), W)]
)


@st.composite
def _formulas(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.one_of(_atoms, st.integers(-50, 50).map(sympy.Integer)))
    left, right = draw(_formulas(depth=depth - 1)), draw(_formulas(depth=depth - 1))
    operation = draw(st.sampled_from(["add", "sub", "mul", "pow", "floor"]))
    if operation == "add":
        return left + right
    if operation == "sub":
        return left - right
    if operation == "mul":
        return sympy.Mul(left, right, evaluate=False) if draw(st.booleans()) else left * right
    if operation == "pow":
        return sympy.Pow(left, draw(st.integers(0, 3)))
    return FloorDiv(left * right, sympy.Integer(draw(st.integers(1, 9))))


@settings(max_examples=60)
@given(_formulas())
def test_expand_sizes_equals_sympy_expand(formula):
    # the same value, not the same tree: sympy.expand may print an equal sum in another
    # arrangement (a floor's base re-ordered or re-folded), so compare the difference with 0
    assert sympy.expand(expand_sizes(formula) - sympy.expand(formula)) == 0


def test_expand_sizes_leaves_other_formulas_to_sympy():
    for formula in (H / 2 * (W + 1), sympy.sqrt(H) * (H + 1), (H + 1) ** -1 * W):
        assert expand_sizes(formula) == sympy.expand(formula)


@pytest.mark.parametrize("model", ["resnet50", "squeezenet1_0", "mobilenet_v3_large", "densenet121", "gpt2", "vit_b_16"])
def test_expand_sizes_on_every_zoo_layer(model):
    # each layer's raw formulas, expanded both ways
    net = build(model)
    seen = set()
    for name in net:
        node = net.graph.nodes[name]
        layer, inputs = node["layer"], tuple(net.shape(s) for s in node["inputs"])
        if (layer, inputs) in seen:
            continue
        seen.add((layer, inputs))
        out = node["shape"]
        for raw in (layer.weights(*inputs), layer.macs(out, *inputs), layer.other_flops(out, *inputs), sympy.Mul(*out)):
            assert expand_sizes(raw) == sympy.expand(raw), (model, name)


def test_generated_source_is_readable_and_exact():
    assert expression_source(3 * FloorDiv(H + 1, 2) - W) == "3*((H + 1) // 2) - W"
    with pytest.raises(TypeError, match="non-integer"):
        expression_source(H / 2)
    with pytest.raises(TypeError, match="exponent 1/2"):
        expression_source(sympy.sqrt(H))
    with pytest.raises(TypeError, match="no exact Python form"):
        expression_source(sympy.ceiling(H / 3))


# -- chained ceil-mode pools keep one floor per axis --------------------------------------------


def _torch_pool_size(size, kernel, stride, padding, dilation):
    """PyTorch's ceil-mode rule (aten pooling_output_shape_pad_lr), in Python integers."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + stride - 1) // stride + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def test_chained_ceil_mode_pools_whose_stride_passes_the_kernel_stay_small():
    # a 1x1 kernel with stride 2 in ceil mode once grew a Min of four times the terms per layer
    # (7 layers: 65 s to build); the minimum is decided by the parameters, so none is built
    from costgraph.kinds import MaxPool2d

    net = Network("pools")
    net.add("x", Input((3, H, W)))
    for i in range(12):
        net.add(f"pool{i}", MaxPool2d(1, stride=2, ceil_mode=True))
    out = net.shape("pool11")
    assert not out[2].has(sympy.Min)
    # hand: each pool maps n to floor((n - 1)/2) + 1 = ceil(n/2), and 12 ceilings of halves are ceil(n/4096)
    assert out[2] == ceil_div(H, 4096) and out[3] == ceil_div(W, 4096)


@pytest.mark.parametrize("kernel, stride, padding, dilation", [(1, 2, 0, 1), (1, 3, 0, 1), (2, 3, 1, 1), (3, 5, 1, 1), (2, 4, 1, 2), (3, 2, 1, 1), (2, 2, 0, 1)])
def test_ceil_mode_pool_size_is_torchs_rule(kernel, stride, padding, dilation):
    from costgraph.intmath import pool_out

    formula = pool_out(H, kernel, stride, padding, dilation, ceil_mode=True)
    assert not formula.has(sympy.Min)
    least = dilation * (kernel - 1) + 1 - 2 * padding  # the smallest input a window fits
    for size in range(max(least, 1), 80):
        assert formula.xreplace({H: sympy.Integer(size)}) == _torch_pool_size(size, kernel, stride, padding, dilation)
