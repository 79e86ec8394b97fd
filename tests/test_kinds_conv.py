"""Convolutions in 1, 2 and 3 dimensions, plain and transposed: hand-derived figures.

Every expected number is derived in the test from torch's documented formulas
(``torch.nn.Conv*d`` / ``ConvTranspose*d`` docs: output size, weight shape)
and ``torch.utils.flop_counter.conv_flop_count`` (MACs); the comparison with
real PyTorch is in tests/test_kinds_torch.py.
"""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, kind_named
from costgraph.symbols import H, N, S, W, size_symbol

T = size_symbol("T")


def at(expr, **values):
    return int(sympy.sympify(expr).subs({size_symbol(k): v for k, v in values.items()}))


def test_conv1d_shape_params_and_macs_by_hand():
    conv = Conv1d(4, 6, 5, stride=2, padding=1, dilation=2, groups=2)
    x = (N, 4, S)
    out = conv.output_shape(x)
    # L_out = (L + 2*1 - 2*(5-1) - 1)//2 + 1 = (L - 7)//2 + 1; at L=20: 13//2 + 1 = 7
    assert at(out[2], S=20) == 7
    # weights (6, 4/2, 5): 60; bias 6
    assert (conv.weights(x), conv.biases(x)) == (60, 6)
    # MACs: N * 6 * L_out * (4/2) * 5; at N=3, L=20: 3*6*7*2*5 = 1260
    assert at(conv.macs(out, x), N=3, S=20) == 1260


def test_conv3d_by_hand():
    conv = Conv3d(3, 8, (3, 3, 3), stride=(1, 2, 2), padding=1, bias=False)
    x = (N, 3, T, H, W)
    out = conv.output_shape(x)
    # T_out = T; H_out = (H + 2 - 2 - 1)//2 + 1 = (H-1)//2 + 1; at T=4, H=9, W=10: 4, 5, 5
    assert [at(d, T=4, H=9, W=10) for d in out[2:]] == [4, 5, 5]
    assert (conv.weights(x), conv.biases(x)) == (8 * 3 * 27, 0)
    # MACs at N=2: 2*8*4*5*5 outputs * 3*27 = 1600 * 81 = 129600
    assert at(conv.macs(out, x), N=2, T=4, H=9, W=10) == 129600
    assert conv.flop_terms(out, x) == {"bias": 0}


def test_conv_transpose_output_size_is_torchs_formula():
    # (in-1)*stride - 2*pad + dilation*(k-1) + output_padding + 1
    up = ConvTranspose2d(4, 2, (3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 2), dilation=(1, 2))
    out = up.output_shape((N, 4, H, W))
    # H: (H-1)*2 - 2 + 2 + 1 + 1 = 2H; W: (W-1)*3 - 4 + 8 + 2 + 1 = 3W + 4
    assert out[2:] == (2 * H, 3 * W + 4)
    assert at(out[3], W=5) == 19


def test_conv_transpose_macs_follow_flop_counter_mode():
    # conv_flop_count(transposed=True): batch * prod(input spatial) * prod(weight shape)
    up = ConvTranspose1d(6, 4, 3, stride=2, groups=2)
    x = (N, 6, S)
    out = up.output_shape(x)
    assert out == (N, 4, 2 * S + 1)  # (S-1)*2 + 2 + 1
    # weight (C_in=6, C_out/g=2, 3): 36 parameters; MACs 36 per input position
    assert up.weights(x) == 36
    assert at(up.macs(out, x), N=2, S=10) == 2 * 10 * 36
    # backward: input gradient and weight gradient, each the forward's products
    assert at(up.backward_macs(out, x), N=2, S=10) == 2 * 720
    assert at(up.backward_macs(out, x, needs_input_grad=(False,)), N=2, S=10) == 720


def test_conv_transpose3d_weights_and_saved_input():
    up = ConvTranspose3d(8, 4, 2, stride=2)
    x = (N, 8, T, H, W)
    out = up.output_shape(x)
    assert out == (N, 4, 2 * T, 2 * H, 2 * W)
    assert (up.weights(x), up.biases(x)) == (8 * 4 * 8, 4)
    # convolution's derivative formula takes input and weight; the weight is a parameter
    assert [s.source for s in up.saved_tensors(out, x)] == ["input"]


def test_conv2d_is_unchanged_by_the_generalization():
    # the seed's VGG conv: 3x3, pad 1, 3 -> 64; weights 1728, bias 64, MACs 1728 per position
    conv = Conv2d(3, 64, 3, padding=1)
    assert repr(conv) == (
        "Conv2d(in_channels=3, out_channels=64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "dilation=(1, 1), groups=1, bias=True)"
    )
    assert conv.output_shape((N, 3, H, W)) == (N, 64, H, W)
    assert conv.macs((N, 64, H, W), (N, 3, H, W)) == 1728 * N * H * W
    assert conv.kernel == 3
    assert kind_named("Conv2d") is Conv2d


def test_same_and_valid_padding_in_1d_and_3d():
    assert Conv1d(2, 2, 5, padding="same", dilation=2).output_shape((N, 2, S)) == (N, 2, S)
    assert Conv3d(2, 2, 3, padding="valid").output_shape((N, 2, T, H, W))[2:] == (T - 2, H - 2, W - 2)
    with pytest.raises(CostGraphError, match="stride 1"):
        Conv1d(2, 2, 3, stride=2, padding="same")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv3d(3, 8, (3, 3)), "3 ints"),
        (lambda: Conv1d(3, 8, 3, groups=2), "groups=2 must divide in_channels=3"),
        (lambda: ConvTranspose2d(4, 4, 3, stride=2, output_padding=2), "output_padding must be smaller"),
        (lambda: ConvTranspose1d(4, 4, 3, padding="same"), "padding must be"),
        (lambda: Conv1d(3, 8, 0), "kernel_size must be a positive integer"),
    ],
)
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(CostGraphError, match=message):
        make()


def test_wrong_rank_or_channels():
    with pytest.raises(ShapeError, match="3-d"):
        Conv1d(3, 8, 3).output_shape((N, 3, H, W))
    with pytest.raises(ShapeError, match="expects 3 input channels"):
        Conv3d(3, 8, 3).output_shape((N, 4, T, H, W))


def test_kernel_larger_than_input_is_a_constraint():
    conv = Conv1d(1, 1, 5)
    (constraint,) = conv.constraints(conv.output_shape((N, 1, S)), (N, 1, S))
    assert constraint.expr == S - 5  # S + 0 - 1*(5-1) - 1 >= 0
