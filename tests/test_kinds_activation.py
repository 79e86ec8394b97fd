"""Activations and unary math: FLOPs per element (costgraph's count: each operation 1, a
transcendental 1) and saved tensors per PyTorch's derivatives.yaml, by hand."""

import pytest

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import ELU, GELU, Clamp, Hardtanh, Input, LeakyReLU, LogSoftmax, Mish, PowScalar, PReLU, Softplus, Unary
from costgraph.network import Network
from costgraph.symbols import H, N, W

X = (N, 4, H, W)
ELEMENTS = 4 * N * H * W


@pytest.mark.parametrize(
    "kind, per_element, saves",
    [
        (LeakyReLU(0.2), 2, "input"),  # compare, product; leaky_relu_backward(grad, self, ...)
        (LeakyReLU(0.2, inplace=True), 2, "output"),  # leaky_relu_: backward(grad, result, ..., true)
        (ELU(), 4, "input"),  # compare, exp, subtract, product
        (ELU(inplace=True), 4, "output"),
        (Hardtanh(), 2, "input"),  # two comparisons
        (Softplus(), 6, "input"),  # product, exp, add, log, quotient, threshold compare
        (Mish(), 5, "input"),  # exp, add, log, tanh, product
        (LogSoftmax(1), 5, "output"),  # as Softmax; _log_softmax_backward_data(grad, result, ...)
        (Unary("exp"), 1, "output"),
        (Unary("rsqrt"), 1, "output"),
        (Unary("abs"), 1, "input"),
        (Unary("erf", inplace=True), 1, "extra"),  # a copy of the input it overwrites
        (PowScalar(3), 1, "input"),
        (Clamp(max=6), 1, "input"),
        (Clamp(0, 6), 2, "input"),
        (PReLU(4), 2, "input"),
    ],
    ids=repr,
)
def test_flops_and_saved_tensor(kind, per_element, saves):
    assert kind.output_shape(X) == X
    assert kind.other_flops(X, X) == per_element * ELEMENTS
    (saved,) = kind.saved_tensors(X, X)
    assert saved.source == saves
    assert kind.macs(X, X) == 0


def test_neg_keeps_nothing():
    assert Unary("neg").saved_tensors(X, X) == ()


def test_prelu_parameters():
    assert (PReLU(4).weights(X), PReLU().weights(X), PReLU(4).biases(X)) == (4, 1, 0)
    with pytest.raises(ShapeError, match="expects 4 channels"):
        PReLU(4).output_shape((N, 3, H, W))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Unary("cbrt"), "op must be one of"),          # not in UNARY_OPS (sinh now is)
        (lambda: Clamp(), "at least one of min or max"),
        (lambda: Clamp(min="0"), "must be a number"),
        (lambda: PowScalar("2"), "must be a number"),
        (lambda: PReLU(0), "positive integer"),
        (lambda: GELU(approximate="sigmoid"), "approximate must be"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(CostGraphError, match=message):
        make()


def test_presets_weigh_the_new_activations_as_their_tools():
    net = Network("leaky")
    net.add("x", Input((3, H, W)))
    net.add("act", LeakyReLU(0.1), "x")
    assert net.flops("macs", H=8, W=8) == 0
    # fvcore: aten::leaky_relu has no handle; ptflops: relu_flops_counter_hook on nn.LeakyReLU, 1 per
    # element (F.leaky_relu is not patched): 3 x 8 x 8 (tests/test_conventions_aten_kinds.py runs both)
    assert net.flops("fvcore", H=8, W=8) == 0
    assert net.flops("ptflops", H=8, W=8) == 3 * 8 * 8


@pytest.mark.parametrize(
    "op, saves",
    [("log1p", "input"), ("log2", "input"), ("expm1", "output"), ("exp2", "output"), ("tan", "output"), ("atan", "input")],
)
def test_more_unary_ops(op, saves):
    (saved,) = Unary(op).saved_tensors(X, X)
    assert saved.source == saves


@pytest.mark.parametrize("op", ["sign", "floor", "ceil", "round", "trunc"])
def test_roundings_keep_nothing(op):
    # derivatives.yaml: zeros_like(grad)
    assert Unary(op).saved_tensors(X, X) == ()
    assert Unary(op).other_flops(X, X) == ELEMENTS
