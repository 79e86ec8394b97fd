"""Normalization in any rank: batch (1d/3d), group, instance and layer norms, by hand.

Parameter counts from torch's module definitions (weight and bias of C, or of
the normalized shape), saved tensors from ``derivatives.yaml``
(``native_batch_norm``/``native_group_norm``/``native_layer_norm`` keep the
input and two statistics) and ``F.instance_norm``'s reshape to batch norm;
the same against real PyTorch is in tests/test_kinds_torch.py.
"""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
)
from costgraph.symbols import H, N, S, W, size_symbol

T = size_symbol("T")


def test_batch_norm_1d_takes_two_ranks_and_3d_five():
    bn = BatchNorm1d(16)
    assert bn.output_shape((N, 16)) == (N, 16)
    assert bn.output_shape((N, 16, S)) == (N, 16, S)
    with pytest.raises(ShapeError, match="2-d or 3-d"):
        bn.output_shape((N, 16, H, W))
    bn3 = BatchNorm3d(8, affine=False)
    x = (N, 8, T, H, W)
    assert (bn3.weights(x), bn3.biases(x)) == (0, 0)
    # 2 FLOPs per element; statistics C each; running stats and the counter are buffers
    assert bn3.other_flops(x, x) == 16 * N * T * H * W
    assert [s.numel for s in bn3.saved_tensors(x, x)] == [None, 8, 8]
    assert bn3.buffers(x) == ((8, "activation"), (8, "activation"), (1, "int64"))


def test_batch_norm_2d_message_is_unchanged():
    with pytest.raises(ShapeError, match="BatchNorm2d expects a 4-d input"):
        BatchNorm2d(3).output_shape((N, 3, S))


def test_group_norm_by_hand():
    norm = GroupNorm(4, 12, affine=False)
    x = (N, 12, T, H, W)
    assert norm.output_shape(x) == x
    assert (norm.weights(x), norm.biases(x)) == (0, 0)
    # 5 FLOPs per element without the affine step
    assert norm.other_flops(x, x) == 60 * N * T * H * W
    # mean and rstd per (sample, group)
    assert [s.numel for s in norm.saved_tensors(x, x)] == [None, 4 * N, 4 * N]
    assert GroupNorm(2, 8, bias=False).biases((N, 8, S)) == 0


def test_group_norm_validates():
    with pytest.raises(CostGraphError, match="divisible by num_groups"):
        GroupNorm(5, 12)
    with pytest.raises(ShapeError, match=r"expects \(N, 12"):
        GroupNorm(4, 12).output_shape((N, 8, H, W))


@pytest.mark.parametrize(
    "kind, shape",
    [(InstanceNorm1d(6), (N, 6, S)), (InstanceNorm2d(6), (N, 6, H, W)), (InstanceNorm3d(6), (N, 6, T, H, W))],
)
def test_instance_norm_keeps_two_statistics_per_sample_and_channel(kind, shape):
    saved = kind.saved_tensors(shape, shape)
    assert [s.numel for s in saved] == [None, 6 * N, 6 * N]
    assert kind.other_flops(shape, shape) == 5 * sympy.Mul(*shape)
    assert kind.buffers(shape) == ()


def test_instance_norm_affine_and_tracked_keep_repeated_copies():
    norm = InstanceNorm2d(3, affine=True, track_running_stats=True)
    x = (N, 3, H, W)
    # weight.repeat(N) and the two running statistics repeated: 3 more tensors of N*C
    assert [s.numel for s in norm.saved_tensors(x, x)] == [None] + [3 * N] * 5
    assert norm.weights(x) + norm.biases(x) == 6
    assert len(norm.buffers(x)) == 3


def test_layer_norm_over_two_trailing_dims():
    norm = LayerNorm((7, 5))
    x = (N, 3, 7, 5)
    # statistics per row: N * 3 rows
    assert [s.numel for s in norm.saved_tensors(x, x)] == [None, 3 * N, 3 * N]
    assert norm.weights(x) == 35
