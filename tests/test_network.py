"""The Network: building, errors that name the layer, and properties of totals."""

import networkx as nx
import pytest
import sympy
from hypothesis import given, strategies as st

import costgraph
from costgraph import (
    CostGraphError,
    CycleError,
    DomainError,
    H,
    N,
    Network,
    ShapeError,
    SizeError,
    UnknownSizeError,
    W,
    models,
)
from costgraph.kinds import Add, BatchNorm2d, Concat, Conv2d, Flatten, Input, Linear, MaxPool2d, ReLU

from .strategies import window


def test_error_hierarchy():
    for error in (CycleError, DomainError, ShapeError, SizeError, UnknownSizeError):
        assert issubclass(error, CostGraphError)
    assert issubclass(CostGraphError, ValueError)


@pytest.mark.parametrize("value", [224.0, 0, -5, True, "224", None])
def test_bad_size_values(value):
    with pytest.raises(SizeError, match="size H must be a positive integer"):
        models.vgg16().totals(H=value)


def test_unknown_and_missing_sizes():
    with pytest.raises(UnknownSizeError, match="'X'"):
        models.vgg16().totals(H=224, X=3)
    with pytest.raises(UnknownSizeError, match="needs size H"):
        models.vgg16().totals(N=2)


def test_size_too_small_names_first_empty_layer():
    # 31 // 2**5 == 0: pool5 is the first layer whose output is empty (31->15->7->3->1->0)
    with pytest.raises(DomainError) as info:
        models.vgg16().totals(H=31)
    assert info.value.layer == "pool5"
    message = str(info.value)
    assert "'pool5'" in message and "Given input size: (512x1x1)" in message
    assert "Calculated output size: (512x0x0). Output size is too small" in message


def test_kernel_larger_than_input_uses_pytorchs_words():
    net = Network("n")
    net.add("input", Input((3, H, W)))
    net.add("conv", Conv2d(3, 8, 5))
    with pytest.raises(DomainError, match="'conv'.*Kernel size can't be greater than actual input size"):
        net.totals(H=4)
    assert net.totals(H=5).macs == 8 * 3 * 25  # one output position: 5x5x3 products per channel


def test_channel_mismatch_names_layer():
    net = Network("n")
    net.add("input", Input((3, H, W)))
    net.add("conv1", Conv2d(3, 64, 3))
    with pytest.raises(ShapeError, match=r"layer 'conv2' \(Conv2d\): Conv2d expects 32 input channels, got 64"):
        net.add("conv2", Conv2d(32, 64, 3))
    assert "conv2" not in net  # nothing half-added


def test_wrong_rank_and_bad_hyperparameters():
    net = Network("n")
    net.add("input", Input((3, H, W)))
    net.add("flat", Flatten())
    with pytest.raises(ShapeError, match="layer 'pool'.*4-d input"):
        net.add("pool", MaxPool2d(2))
    with pytest.raises(CostGraphError, match="groups=3 must divide in_channels=64"):
        Conv2d(64, 64, 3, groups=3)
    with pytest.raises(CostGraphError, match="pad should be at most half"):
        MaxPool2d(2, padding=2)
    with pytest.raises(CostGraphError, match="kernel_size must be a positive integer"):
        Conv2d(3, 8, 0)


def test_names_and_inputs_are_checked():
    net = Network("n")
    net.add("input", Input((3, H, W)))
    with pytest.raises(CostGraphError, match="already used"):
        net.add("input", Input((3, H, W)))
    with pytest.raises(CostGraphError, match="unknown input 'nope'"):
        net.add("relu", ReLU(), "nope")
    with pytest.raises(CostGraphError, match="takes 1 input"):
        net.add("relu", ReLU(), "input", "input")


def test_cycle_is_refused():
    g = nx.DiGraph()
    g.add_node("a", layer=ReLU())
    g.add_node("b", layer=ReLU())
    g.add_edge("a", "b")
    g.add_edge("b", "a")
    with pytest.raises(CycleError, match="cycle: a -> b -> a|cycle: b -> a -> b"):
        Network.from_graph(g)


def test_from_graph_round_trip_and_networkx_algorithms():
    net = models.vgg11()
    again = Network.from_graph(net.graph, name="copy")
    assert sympy.expand(again.totals().macs - net.totals().macs) == 0
    assert nx.is_directed_acyclic_graph(net.graph)
    assert nx.dag_longest_path(net.graph)[0] == "input"


def residual_net():
    net = Network("residual")
    net.add("input", Input((16, H, W)))
    net.add("a", Conv2d(16, 16, 3, padding=1, bias=False))
    net.add("bn", BatchNorm2d(16))
    net.add("sum", Add(), "bn", "input")
    net.add("b", Conv2d(16, 8, 1), "input")
    net.add("cat", Concat(), "sum", "b")
    return net


def test_branches_merge_and_mismatches_are_caught():
    net = residual_net()
    assert net.shape("cat") == (N, 24, H, W)
    with pytest.raises(ShapeError, match="layer 'bad' \\(Add\\)"):
        net.add("bad", Add(), "cat", "input")
    # stride-2 branch against a full-size one
    net.add("down", Conv2d(16, 16, 3, stride=2, padding=1), "input")
    with pytest.raises(ShapeError, match="layer 'bad2'"):
        net.add("bad2", Add(), "down", "input")


def test_symbolic_equal_shapes_from_different_paths():
    """floor((H-1)/2)+1 (conv 3/2 pad 1) and ceil(H/2) (ceil-mode pool 2/2) are one expression."""
    net = Network("n")
    net.add("input", Input((8, H, W)))
    net.add("conv", Conv2d(8, 8, 3, stride=2, padding=1), "input")
    net.add("pool", MaxPool2d(2, 2, ceil_mode=True), "input")
    net.add("sum", Add(), "conv", "pool")
    for h in (1, 2, 7, 8, 225):
        assert net.layers(H=h)[-1].shape[1] == -(-h // 2)


@st.composite
def random_chain(draw):
    """A random sequential conv net, valid for some sizes (kernel, stride, padding, dilation drawn)."""
    net = Network("random")
    net.add("input", Input((3, H, W)))
    channels = 3
    for i in range(draw(st.integers(1, 5))):
        k, s, p, d = draw(window(max_kernel=5, max_stride=3, max_dilation=2))
        out = draw(st.integers(1, 8))
        if draw(st.booleans()):
            net.add(f"conv{i}", Conv2d(channels, out, k, s, p, d, bias=draw(st.booleans())))
            channels = out
        else:
            net.add(f"pool{i}", MaxPool2d(k, s, p, d, ceil_mode=draw(st.booleans())))
        net.add(f"relu{i}", ReLU(inplace=draw(st.booleans())))
    net.add("flatten", Flatten())
    net.add("fc", Linear(None, 10))
    return net


@given(random_chain(), st.integers(1, 300), st.integers(1, 300), st.integers(1, 5))
def test_totals_properties(net, h, w, n):
    try:
        numeric = net.totals(H=h, W=w, N=n)
    except DomainError:
        return
    rows = net.layers(H=h, W=w, N=n)
    # totals are the sum of the per-layer rows
    for field in ("params", "weights", "biases", "activations", "macs", "flops"):
        assert getattr(numeric, field) == sum(getattr(r, field) for r in rows), field
    # the symbolic totals substituted at the sizes give the same ints
    symbolic = net.totals()
    for field in ("params", "activations", "macs", "flops"):
        assert getattr(symbolic, field).xreplace({H: h, W: w, N: n}) == getattr(numeric, field), field
    # params do not depend on N; activations and MACs are linear in N
    one = net.totals(H=h, W=w, N=1)
    assert N not in symbolic.params.free_symbols
    assert numeric.params == one.params
    assert (numeric.activations, numeric.macs, numeric.flops) == (n * one.activations, n * one.macs, n * one.flops)
    assert all(type(v) is int for v in numeric.as_dict().values())


def test_custom_kind_without_touching_the_package():
    from dataclasses import dataclass

    from costgraph.kinds import LayerKind, numel, register_kind

    @register_kind
    @dataclass(frozen=True)
    class LearnedChannelScale(LayerKind):
        """Multiply by a learned per-channel scale: C weights, one product per element."""

        channels: int

        def output_shape(self, x):
            return x

        def weights(self, x):
            return self.channels

        def biases(self, x):
            return 0

        def macs(self, out, x):
            return 0

        def other_flops(self, out, x):
            return numel(out)

    net = Network("n")
    net.add("input", Input((4, H, W)))
    net.add("scale", LearnedChannelScale(4))
    t = net.totals(H=3, W=5, N=2)
    assert (t.params, t.flops, t.activations) == (4, 2 * 4 * 15, 2 * (2 * 4 * 15))
    assert costgraph.kind_named("LearnedChannelScale") is LearnedChannelScale


def test_abstract_methods_are_enforced():
    from costgraph.kinds import LayerKind

    class Incomplete(LayerKind):
        def output_shape(self, x):
            return x

    with pytest.raises(TypeError):
        Incomplete()


def test_min_size_of_vgg_is_32():
    # five 2x2 pools: H // 32 >= 1 needs H >= 32 (by hand)
    assert models.vgg16().min_size() == 32
    models.vgg16().totals(H=32)


def test_a_second_kind_with_a_taken_name_is_refused():
    from dataclasses import dataclass

    from costgraph.kinds import LayerKind, register_kind

    def make():
        @dataclass(frozen=True)
        class Conv2d(LayerKind):  # same name as the built-in kind, another module
            def output_shape(self, x):
                return x

            def weights(self, x):
                return 0

            def biases(self, x):
                return 0

            def macs(self, out, x):
                return 0

            def other_flops(self, out, x):
                return 0

        return Conv2d

    impostor = make()
    impostor.__qualname__ = "Conv2d"  # even with the built-in's qualname
    with pytest.raises(CostGraphError, match="already registered by costgraph.kinds.conv.Conv2d"):
        register_kind(impostor)


# -- issue 12, finding 2: no string is ever evaluated --------------------------------------------
from dataclasses import dataclass  # noqa: E402

from costgraph.kinds import Constant, Expand, LayerKind, Reshape, ViewAs  # noqa: E402
from costgraph.kinds.base import Saved  # noqa: E402


def _payload(path):
    """Python that creates `path` if anything runs it, and is 3 if it ran."""
    return f"open({str(path)!r}, 'w').close() or 3"


@dataclass(frozen=True)
class Returning(LayerKind):
    """A user kind whose formulas are whatever the test gives it (an elementwise op on (N, C))."""

    shape: object = None
    weights_: object = 0
    macs_: object = 0
    flops_: object = 0
    backward_: object = 0
    extra: object = None

    def output_shape(self, x):
        return x if self.shape is None else self.shape

    def weights(self, x):
        return self.weights_

    def biases(self, x):
        return 0

    def macs(self, out, x):
        return self.macs_

    def other_flops(self, out, x):
        return self.flops_

    def saved_tensors(self, out, x, needs_input_grad=None):
        return () if self.extra is None else (Saved.extra(self.extra),)

    def backward_macs(self, out, x, needs_input_grad=None):
        return self.backward_


def _vector_net():
    net = Network("vector")
    net.add("x", Input((8, H)))
    return net


@pytest.mark.parametrize(
    "make",
    [
        lambda code: Input((code,)),
        lambda code: Input((3, H), batch=code),
        lambda code: Reshape((code,)),
        lambda code: Expand((N, code)),
        lambda code: ViewAs((N, code)),
        lambda code: Constant((code,)),
    ],
    ids=["Input shape", "Input batch", "Reshape", "Expand", "ViewAs", "Constant"],
)
def test_a_kind_never_evaluates_a_string_it_is_given(make, tmp_path):
    # before: sympy.sympify parsed the string and ran it (the file appeared)
    with pytest.raises(CostGraphError, match="must be an integer, a size name or a formula"):
        make(_payload(tmp_path / "ran"))
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("field", ["weights_", "macs_", "flops_", "shape"])
def test_a_string_returned_by_a_user_kind_is_refused_naming_the_layer(field, tmp_path):
    code = _payload(tmp_path / "ran")
    value = (N, code) if field == "shape" else code
    with pytest.raises(CostGraphError, match=r"layer 'mine' \(Returning\): .*no strings"):
        _vector_net().add("mine", Returning(**{field: value}))
    assert not (tmp_path / "ran").exists()


def test_strings_returned_for_training_are_refused_too(tmp_path):
    code = _payload(tmp_path / "ran")
    with pytest.raises(CostGraphError, match="Saved.extra: numel must be an integer"):
        Saved.extra(code)
    net = Network("trained")
    net.add("x", Input((8, H)))
    net.add("mine", Returning(weights_=8, backward_=code))
    with pytest.raises(CostGraphError, match=r"layer 'mine' \(Returning\): .*backward MACs"):
        net.totals(backward=True)
    assert not (tmp_path / "ran").exists()


def test_helpers_refuse_strings(tmp_path):
    from costgraph.intmath import FloorDiv, ceil_div, conv_out, pool_out
    from costgraph.kinds.matmul import causal_pairs
    from costgraph.kinds.window import window_pairs
    from costgraph.kinds.pool import adaptive_window_sum
    from costgraph.models.transformer import token_flops

    code = _payload(tmp_path / "ran")
    for call in (
        lambda: FloorDiv(code, 2),
        lambda: ceil_div(code, 2),
        lambda: conv_out(code, 3),
        lambda: pool_out(code, 2, 2, ceil_mode=True),
        lambda: causal_pairs(code, code),
        lambda: window_pairs(code, code, 4),
        lambda: adaptive_window_sum(code, 2),
        lambda: token_flops(models.gpt2("small"), tokens=code),
    ):
        with pytest.raises(CostGraphError):
            call()
    assert not (tmp_path / "ran").exists()
    # a size *name* is still a size
    assert Input(("C", "H"), batch="B").output_shape() == tuple(costgraph.size_symbol(n) for n in "BCH")
    assert conv_out("H", 3, padding=1) == H


def test_a_foreign_symbol_is_not_a_size():
    # Symbol("H") without costgraph's assumptions would never be substituted: refused
    with pytest.raises(CostGraphError, match="formula in size symbols"):
        _vector_net().add("mine", Returning(weights_=sympy.Symbol("H")))


# -- issue 12, finding 6: every count is an integer, never negative ------------------------------


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("weights_", H / 2, "not an integer formula"),
        ("weights_", sympy.Rational(3, 2) * H, "not an integer formula"),
        ("macs_", sympy.sqrt(H), "not an integer formula"),
        ("flops_", 1.5 * H, "no floats"),
        ("weights_", -5, "is negative"),
        ("macs_", H - 3, "can be negative"),
        ("flops_", 2 * H - 3 * N * H, "can be negative"),
        ("shape", (N, H / 2), "not an integer formula"),
    ],
)
def test_a_count_that_is_not_a_nonnegative_integer_is_refused_when_added(field, value, reason):
    # before: accepted here, failing (or printing a wrong number) only at evaluation, without the layer
    with pytest.raises(CostGraphError, match=rf"layer 'mine' \(Returning\): .*{reason}"):
        _vector_net().add("mine", Returning(**{field: value}))


def test_counts_proven_nonnegative_at_valid_sizes_are_accepted():
    from costgraph.intmath import FloorDiv

    net = _vector_net()
    # H*(H+1)/2 is an integer for every integer H, though its coefficients are not
    net.add("triangle", Returning(macs_=H * (H + 1) / 2))
    # (H - 2) >= 1 wherever the output (N, H - 2) is valid, so 5*(H - 2) >= 0 there
    net.add("valid", Returning(shape=(N, H - 2), flops_=5 * N * (H - 2)))
    # H^2 - floor(H/2)^2 >= 0: the floor is at most H/2
    net.add("floors", Returning(flops_=H**2 - FloorDiv(H, 2) ** 2))
    assert net.totals(H=7).macs == 28  # 7*8/2


@pytest.mark.parametrize("batch", [-1, 0, True, 2.0])
def test_input_batch_must_be_a_positive_size(batch):
    with pytest.raises(CostGraphError):
        Input((3, H), batch=batch)


def test_negative_training_counts_are_refused_naming_the_layer():
    net = Network("trained")
    net.add("x", Input((8, H)))
    net.add("mine", Returning(weights_=8, backward_=-N))
    with pytest.raises(CostGraphError, match=r"layer 'mine' \(Returning\): backward MACs -N is negative|can be negative"):
        net.totals(backward=True)
    net = Network("saved")
    net.add("x", Input((8, H)))
    net.add("mine", Returning(weights_=8, extra=H - 9))
    with pytest.raises(CostGraphError, match=r"layer 'mine' \(Returning\): a saved tensor's size H - 9 can be negative"):
        net.memory(H=16)
