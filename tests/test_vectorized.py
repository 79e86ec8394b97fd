"""Vectorized exact evaluation: `Network.totals`, `check_sizes` and `layers` at numpy arrays.

Sources of truth, named in each test:
- the scalar path at each element (Python ints, exact at any size);
- sympy's own substitution into the symbolic totals (``expr.subs``), which
  does not go through the generated code at all;
- hand derivations written in the test.
"""

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from costgraph import DomainError, H, N, Network, SizeError, W, models, size_symbol
from costgraph.compile import INT64_MAX, compile_exprs, exact_scale
from costgraph.intmath import FloorDiv
from costgraph.kinds import Conv2d, Flatten, Input, Linear, MaxPool2d, ReLU

from .support import require

np = require("numpy")

FIELDS = ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops")


def assert_equals_scalar(net, vector, **arrays):
    """Every field of `vector` equals `net.totals` at each element (Python ints)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    for index in np.ndindex(shape):
        point = {name: int(np.broadcast_to(a, shape)[index]) for name, a in arrays.items()}
        scalar = net.totals(**point)
        for field in FIELDS:
            got = getattr(vector, field)[index]
            assert got == getattr(scalar, field), (field, point)
            assert isinstance(got, (int, np.integer))


def subs_value(expr, **sizes):
    """The symbolic formula evaluated by sympy itself (no generated code involved)."""
    values = {H: sizes["H"], W: sizes.get("W", sizes["H"]), N: sizes.get("N", 1)}
    return int(expr.subs(values))


def small_net():
    """A network with every kind of term the compiler meets: negative constants (valid
    convolutions), Min (a ceil-mode pool whose last window may start in the padding),
    nested floors, a lazy Linear whose weights grow with H*W."""
    net = Network("small")
    net.add("input", Input((3, H, W)))
    net.add("conv1", Conv2d(3, 8, 5))                      # H - 4
    net.add("relu1", ReLU())
    net.add("pool1", MaxPool2d(1, 2, ceil_mode=True))       # Min(...) form, see intmath.pool_out
    net.add("conv2", Conv2d(8, 16, 3, stride=2, padding=1))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(None, 10))
    return net


def test_vgg16_arrays_equal_scalars_elementwise():
    # truth: the scalar path at each of 40 random (H, W, N)
    rng = np.random.default_rng(6)
    h, w, n = rng.integers(32, 5000, 40), rng.integers(32, 5000, 40), rng.integers(1, 300, 40)
    net = models.vgg16()
    vector = net.totals(H=h, W=w, N=n)
    assert vector.flops.dtype == np.int64 and vector.flops.shape == (40,)
    assert_equals_scalar(net, vector, H=h, W=w, N=n)


def test_past_2_53_stays_int64_and_exact():
    # VGG16 does ~617,000 FLOPs per input pixel (30,958,675,456 / 224**2, the doctest's
    # figure), so for H = W in [2**17, 2**20) its FLOPs lie between 1.0e16 > 2**53 (where
    # float64 stops holding every integer) and 6.8e17 < 2**63: int64 is used and must be exact.
    # truth: sympy's substitution into the symbolic formula, and the scalar path.
    rng = np.random.default_rng(53)
    h = rng.integers(2**17, 2**20, 12)
    net = models.vgg16()
    vector = net.totals(H=h)
    assert vector.flops.dtype == np.int64
    assert int(vector.flops.min()) > 2**53
    symbolic = net.totals().flops
    for index, size in enumerate(h):
        assert int(vector.flops[index]) == subs_value(symbolic, H=int(size))
    assert_equals_scalar(net, vector, H=h)


def test_past_2_63_falls_back_to_python_ints():
    # H around 2**40: FLOPs ~ 617,000 * 2**80, far past int64; int64 would wrap silently.
    # truth: sympy's substitution and the scalar path
    h = np.array([2**40 + 3, 2**40 + 12345, 224, 2**31 - 1], dtype=np.int64)
    net = models.vgg16()
    vector = net.totals(H=h, N=np.int64(7))
    assert vector.flops.dtype == object
    assert vector.flops[0] > 2**63
    assert all(type(x) is int for x in vector.flops)
    flops, macs = net.totals().flops, net.totals().macs
    for index, size in enumerate(h):
        assert vector.flops[index] == subs_value(flops, H=int(size), N=7)
        assert vector.macs[index] == subs_value(macs, H=int(size), N=7)
    assert_equals_scalar(net, vector, H=h, N=np.full(4, 7))


def test_sizes_past_int64_as_object_arrays():
    # the sizes themselves past 2**63, given as Python ints in an object array
    h = np.array([2**64 + 1, 2**70 + 99, 32], dtype=object)
    net = models.vgg16()
    vector = net.totals(H=h)
    assert vector.params.dtype == object
    symbolic = net.totals()
    for index, size in enumerate(h):
        for field in ("params", "activations", "flops"):
            assert getattr(vector, field)[index] == subs_value(getattr(symbolic, field), H=size)


def test_one_element_past_int64_makes_the_whole_result_exact():
    # the guard is per call: one huge element must not let the others wrap either
    h = np.array([224, 2**33], dtype=np.int64)
    vector = models.vgg16().totals(H=h)
    assert vector.flops.dtype == object
    assert vector.flops[0] == models.vgg16().totals(H=224).flops


def test_narrow_integer_dtypes_do_not_wrap():
    # int32 / uint16 inputs: VGG16's FLOPs at 50,000 pixels a side are far past 2**31
    net = models.vgg16()
    for dtype in (np.int32, np.uint16, np.uint64):
        h = np.array([50000, 224, 60000], dtype=dtype)
        vector = net.totals(H=h)
        assert vector.flops.dtype == np.int64
        assert_equals_scalar(net, vector, H=h.astype(np.int64))


def test_broadcasting_a_grid():
    # H as a column, W as a row: a 4x3 grid of results
    h = np.array([[32], [64], [224], [1000]])
    w = np.array([[40, 224, 333]])
    net = models.vgg16()
    vector = net.totals(H=h, W=w)
    assert vector.macs.shape == (4, 3)
    assert vector.params.shape == (4, 3)
    assert_equals_scalar(net, vector, H=h, W=w)


def test_arrays_that_do_not_broadcast_are_refused():
    with pytest.raises(SizeError, match=r"do not broadcast"):
        models.vgg16().totals(H=np.array([224, 256, 288]), W=np.array([224, 256]))


def test_hand_derived_tiny_net():
    # conv 3->8, 3x3, padding 1: 8*3*3*3 = 216 MACs per output position, H*W*N positions;
    # params 216 + 8. Checked past 2**63 against the hand formula with Python ints.
    net = Network("tiny")
    net.add("input", Input((3, H, W)))
    net.add("conv", Conv2d(3, 8, 3, padding=1))
    h = np.array([1, 7, 2**20, 2**31, 2**33], dtype=np.int64)
    n = np.array([1, 2, 3, 4, 2**10], dtype=np.int64)
    vector = net.totals(H=h, N=n)
    for index in range(len(h)):
        size, batch = int(h[index]), int(n[index])
        assert vector.macs[index] == 216 * size * size * batch
        assert vector.flops[index] == 2 * 216 * size * size * batch
        assert vector.params[index] == 224
    assert vector.macs.dtype == object  # 216 * 2**66 * 2**10 > 2**63


@settings(max_examples=15)
@given(
    st.lists(st.tuples(st.integers(7, 2**34), st.integers(7, 2**34), st.integers(1, 2**12)), min_size=1, max_size=6)
)
def test_small_net_vector_equals_scalar(points):
    # truth: the scalar path (Python ints) at each point; the sizes straddle the int64
    # limit, so both the int64 and the object path are exercised
    net = small_net()
    h, w, n = (np.array(column, dtype=np.int64) for column in zip(*points))
    vector = net.totals(H=h, W=w, N=n)
    assert_equals_scalar(net, vector, H=h, W=w, N=n)


def test_layers_rows_at_arrays():
    # truth: the scalar rows at each element
    net = small_net()
    h = np.array([7, 100, 2**40])
    rows = net.layers(H=h)
    for index, size in enumerate(h):
        scalar = net.layers(H=int(size))
        for row, expected in zip(rows, scalar):
            assert [d[index] for d in row.shape] == list(expected.shape)
            assert row.flops[index] == expected.flops and row.params[index] == expected.params


def test_check_sizes_names_first_failing_layer_and_element():
    # VGG16 halves H five times. 20 // 16 = 1 but 20 // 32 = 0 (fails at pool5);
    # 12 // 16 = 0 already fails at pool4, which comes first in the network, so pool4
    # and element 2 (H=12) are named although element 1 (H=20) is bad too.
    with pytest.raises(DomainError) as info:
        models.vgg16().totals(H=np.array([224, 20, 12, 13]))
    assert info.value.layer == "pool4"
    message = str(info.value)
    assert "H=12" in message and "index 2 of the size arrays" in message
    assert "Calculated output size: (512x0x0)" in message

    with pytest.raises(DomainError) as info:
        models.vgg16().check_sizes(H=np.array([224, 64, 31, 20]))
    assert info.value.layer == "pool5" and "H=31" in str(info.value) and "index 2 " in str(info.value)


def test_check_sizes_on_a_grid_names_the_element():
    # W = 31 in the second column fails at pool5 (31 // 32 = 0); C order: (0, 1) first
    with pytest.raises(DomainError, match=r"index \(0, 1\) of the size arrays") as info:
        models.vgg16().check_sizes(H=np.array([[224], [300]]), W=np.array([[64, 31]]))
    assert "W=31" in str(info.value) and info.value.layer == "pool5"


def test_check_sizes_constraints_on_arrays():
    # Linear(3*8*8, 10) after Flatten: only H = W = 8 gives its 192 input features
    net = Network("fixed")
    net.add("input", Input((3, H, W)))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(192, 10))
    assert net.totals(H=np.array([8, 8])).macs.tolist() == [1920, 1920]  # 192 * 10
    with pytest.raises(DomainError, match=r"'fc'.*Linear expects 192 input features.*index 1 ") as info:
        net.check_sizes(H=np.array([8, 9, 7]))
    assert "H=9" in str(info.value)


def test_check_sizes_returns_the_arrays():
    h = np.array([224, 256])
    values = models.vgg16().check_sizes(H=h)
    assert values[H] is h and values[N] == 1


def test_bad_arrays_are_refused():
    with pytest.raises(SizeError, match="integer array"):
        models.vgg16().totals(H=np.array([224.0, 256.0]))
    with pytest.raises(SizeError, match="positive"):
        models.vgg16().totals(H=np.array([224, 0]))


# -- the compiler and its overflow bound -----------------------------------------------------

_terms = st.tuples(
    st.integers(-(2**20), 2**20),                       # coefficient, possibly negative
    st.integers(0, 2), st.integers(0, 2),              # powers of H and W
    st.sampled_from([1, 2, 3, 7, 32]),                 # a floor divisor (1: none)
    st.integers(-5, 5),                                # a constant inside the floor
)


def _build(terms):
    expr = sympy.Integer(0)
    for coefficient, ph, pw, divisor, shift in terms:
        expr += coefficient * H**ph * FloorDiv(W + shift, sympy.Integer(divisor)) ** pw
    return expr


@settings(max_examples=25)
@given(st.lists(_terms, min_size=1, max_size=5), st.lists(st.integers(1, 2**22), min_size=1, max_size=8))
def test_compiled_arrays_equal_sympy_substitution(terms, sizes):
    # truth: sympy's own evaluation of the formula at each (H, W) with Python ints
    expr = _build(terms)
    compiled = compile_exprs([H, W], [expr, -expr, sympy.Min(expr, 3 * expr)])
    h = np.array(sizes, dtype=np.int64)
    w = h[::-1].copy()
    results = compiled(h, w)
    for index in range(len(h)):
        value = int(expr.subs({H: int(h[index]), W: int(w[index])}))
        assert results[0][index] == value and results[1][index] == -value
        assert results[2][index] == min(value, 3 * value)


@settings(max_examples=25)
@given(st.lists(_terms, min_size=1, max_size=5), st.integers(1, 2**40), st.integers(1, 2**40))
def test_bound_covers_the_value(terms, hmax, wmax):
    # the bound at the largest sizes is >= |value| at those and at smaller sizes
    expr = _build(terms)
    compiled = compile_exprs([H, W], [expr])
    bound = compiled.bound(hmax, wmax)
    for h, w in ((hmax, wmax), (1, wmax), (hmax // 2 + 1, 1), (1, 1)):
        assert abs(compiled(h, w)[0]) <= bound


def test_bound_covers_a_floor_base_larger_than_the_result():
    # (H*H*H) // 2**62 fits in int64 at H = 2**21, but its base H**3 = 2**63 does not:
    # the base must count, or int64 would wrap before the division
    expr = FloorDiv(H**3, sympy.Integer(2**62))
    compiled = compile_exprs([H], [expr])
    assert compiled.bound(2**21) > INT64_MAX
    result = compiled(np.array([2**21, 2**21 - 1], dtype=np.int64))[0]
    assert result.tolist() == [2, (2**21 - 1) ** 3 // 2**62]


def test_constant_formulas_broadcast():
    compiled = compile_exprs([H, W], [sympy.Integer(5), H, H * W])
    five, h, hw = compiled(np.array([1, 2, 3]), 4)
    assert five.tolist() == [5, 5, 5] and h.tolist() == [1, 2, 3] and hw.tolist() == [4, 8, 12]


def test_exact_scale():
    value = np.array([3, 2**62], dtype=np.int64)
    scaled = exact_scale(value, 4)
    assert scaled.dtype == object and scaled.tolist() == [12, 2**64]
    assert exact_scale(np.array([3]), 4).dtype == np.int64
    assert exact_scale(7, 4) == 28


def test_numpy_scalars_do_not_wrap_on_the_scalar_path():
    compiled = compile_exprs([H], [H**3])
    assert compiled(np.int64(2**40))[0] == 2**120


# -- any size name is safe in generated code (issue 12, finding 3) ------------------------------
# Names that were generated locals (`_a0`, `_b0`, `_e0`), runtime helpers, Python
# keywords and builtins used by the generated code: each must count as H does.
TRICKY_NAMES = ["_a0", "_b0", "_e0", "_s0", "_s1", "_min", "_sum", "lambda", "class", "None", "max", "min", "np", "int"]


def pooled_net(name):
    """conv 3x3 (padding 1), 2x2 max pool, conv 1x1 on a square input of side `name`."""
    side = size_symbol(name)
    net = Network(f"pooled_{name}")
    net.add("input", Input((3, side, side)))
    net.add("conv1", Conv2d(3, 4, 3, padding=1))
    net.add("pool", MaxPool2d(2))
    net.add("conv2", Conv2d(4, 2, 1))
    return net


def pooled_macs(side):
    # by hand: conv1 4*3*3*3 MACs per output pixel on side*side pixels, conv2 2*4 per
    # pixel of the pooled (side // 2)**2 map
    return 4 * 27 * side * side + 2 * 4 * (side // 2) ** 2


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_any_size_name_counts_like_H(name):
    net = pooled_net(name)
    assert net.totals(**{name: 12}).macs == pooled_macs(12) == 15840
    got = net.totals(**{name: np.array([12, 13, 2**20])}).macs
    assert got.tolist() == [pooled_macs(12), pooled_macs(13), pooled_macs(2**20)]
    # the bound path too: past int64 the arrays become Python ints
    big = net.totals(**{name: np.array([2**40])}).macs
    assert big.tolist() == [pooled_macs(2**40)]


def test_generated_source_never_names_a_size():
    from costgraph.compile import formulas_source

    source = formulas_source(["lambda", "_a0"], [FloorDiv(size_symbol("lambda"), 2) * size_symbol("_a0")])
    assert "lambda" not in source and "_a0 " not in source.split("\n", 1)[0]


# -- sums of separately bounded arrays stay exact (issue 12, finding 4) ------------------------
def test_training_macs_do_not_wrap():
    # issue 12: vgg16 at N = 283466677 gave a negative training MACs figure.
    # truth: the scalar path (Python ints) at the same sizes
    net = models.vgg16()
    batch = 283466677
    vector = net.totals(H=224, N=np.array([batch, 1]), backward=True)
    scalar = net.totals(H=224, N=batch, backward=True)
    assert vector.training_macs[0] == scalar.training_macs == scalar.macs + scalar.backward_macs > 0
    assert vector.training_macs[1] == net.totals(H=224, backward=True).training_macs


def test_memory_totals_do_not_wrap():
    # truth: the scalar path at the same sizes; every byte count must be positive.
    # The batch makes saved_bytes (linear in N) just fit int64, so that each part
    # fits on its own and only their sums (with the parameters' bytes) do not
    net = models.vgg16()
    batch = INT64_MAX // net.memory(H=224, N=1, optimizer="adam").saved_bytes
    vector = net.memory(H=224, N=np.array([batch, 2]), optimizer="adam")
    scalar = net.memory(H=224, N=batch, optimizer="adam")
    for field in ("saved_bytes", "total_training_bytes", "total_inference_bytes", "peak_inference_bytes"):
        assert getattr(vector, field)[0] == getattr(scalar, field) > 0, field
        assert getattr(vector, field)[1] == getattr(net.memory(H=224, N=2, optimizer="adam"), field), field


def test_a_divisor_past_int64_is_part_of_the_bound():
    # nested folding can make a divisor above 2**63; numpy cannot divide int64 by it
    divisor = 2**64 + 3
    expr = FloorDiv(H * W * 2**40, sympy.Integer(divisor)) + H
    compiled = compile_exprs([H, W], [expr])
    assert compiled.bound(2, 2) > INT64_MAX
    h = np.array([2**30, 5])
    assert compiled(h, h)[0].tolist() == [2**60 * 2**40 // divisor + 2**30, 25 * 2**40 // divisor + 5]


def test_exact_sum():
    from costgraph.compile import exact_sum

    total = exact_sum(np.array([2**62, 1]), np.array([2**62, 1]), 5)
    assert total.tolist() == [2**63 + 5, 7]
    assert exact_sum(np.array([1, 2]), 3).dtype == np.int64
    assert exact_sum(2, 3) == 5


def test_a_size_name_from_torch_dynamic_is_safe():
    # from_torch names the size `_a0` (the old generated code's first local); the
    # macs by hand: conv 3x3 pad 1 (3 -> 4 channels) on a side x side image, 2x2
    # max pool, conv 1x1 (4 -> 2) on the pooled map, as `pooled_macs`
    from .support import require_torch

    torch = require_torch()
    from costgraph import from_torch

    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 2, 1, bias=False))
    net = from_torch(module, (1, 3, 8, 8), dynamic={"_a0": 2, "lambda": 3})
    side = {"_a0": 12, "lambda": 12}
    assert net.totals(**side).macs == pooled_macs(12)
    assert net.totals(_a0=np.array([12, 14]), **{"lambda": np.array([12, 14])}).macs.tolist() == [pooled_macs(12), pooled_macs(14)]
