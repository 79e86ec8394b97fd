"""Pooling in 1, 2 and 3 dimensions: hand-derived figures.

Output sizes from torch's ``pooling_output_shape`` rule (floor or ceil of
``(n + 2p - d(k-1) - 1)/s + 1``, the last ceil window dropped when it starts
in the padding) and adaptive windows ``[floor(i*n/o), ceil((i+1)*n/o))``;
comparisons with real PyTorch are in tests/test_kinds_torch.py.
"""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from costgraph.symbols import H, N, S, W, size_symbol

T = size_symbol("T")


def at(expr, **values):
    return int(sympy.sympify(expr).subs({size_symbol(k): v for k, v in values.items()}))


def test_max_pool_1d_ceil_mode_by_hand():
    pool = MaxPool1d(3, stride=2, ceil_mode=True)
    out = pool.output_shape((N, 4, S))
    # ceil((10 - 3)/2) + 1 = 5 windows at L=10; starts 0,2,4,6,8 (8 < 10: kept)
    assert at(out[2], S=10) == 5
    # each window: 2 comparisons; 4 channels, N=1 -> 40
    assert at(pool.other_flops(out, (N, 4, S)), N=1, S=10) == 40
    saved = pool.saved_tensors(out, (N, 4, S))
    assert [(e.source, e.element) for e in saved] == [("input", "activation"), ("extra", "index")]


def test_max_pool_3d_window_terms_by_hand():
    pool = MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    x = (N, 2, T, H, W)
    out = pool.output_shape(x)
    # T=3, H=8, W=7: T_out 3, H_out (8+2-2-1)//2+1 = 4, W_out (7-1)//2+1 = 4
    assert [at(d, T=3, H=8, W=7) for d in out[2:]] == [3, 4, 4]
    terms = pool.flop_terms(out, x)
    # window elements: 2*3*4*4 = 96 outputs * 9
    assert at(terms["max_pool_window"], N=1, T=3, H=8, W=7) == 96 * 9
    assert pool.kernel == (1, 3, 3)


def test_avg_pool_counts_do_not_depend_on_count_include_pad():
    a = AvgPool3d(2, padding=1, count_include_pad=True)
    b = AvgPool3d(2, padding=1, count_include_pad=False)
    x = (N, 3, T, H, W)
    out = a.output_shape(x)
    assert a.other_flops(out, x) == b.other_flops(out, x)
    # (n + 2 - 1 - 1)//2 + 1 = n//2 + 1 per axis; at 4,5,6: 3*3*4 = 36 outputs * 8 window elements * 3 channels
    assert at(a.other_flops(out, x), N=1, T=4, H=5, W=6) == 36 * 8 * 3


def test_avg_pool_1d_saves_its_input():
    pool = AvgPool1d(4, stride=2)
    out = pool.output_shape((N, 3, S))
    assert at(out[2], S=9) == 3  # (9 - 4)//2 + 1
    assert [e.source for e in pool.saved_tensors(out, (N, 3, S))] == ["input"]


def test_adaptive_windows_by_hand():
    # 10 into 4 windows: [0,3) [2,5) [5,8) [7,10): 3+3+3+3 = 12 elements
    pool = AdaptiveAvgPool1d(4)
    assert at(pool.other_flops((N, 2, 4), (N, 2, S)), N=1, S=10) == 2 * 12
    # adaptive max: 12 - 4 comparisons per channel
    assert at(AdaptiveMaxPool1d(4).other_flops((N, 2, 4), (N, 2, S)), N=1, S=10) == 2 * 8


def test_adaptive_pool_3d_to_one_keeps_nothing():
    pool = AdaptiveAvgPool3d(1)
    x = (N, 512, T, H, W)
    out = pool.output_shape(x)
    assert out == (N, 512, 1, 1, 1)
    assert pool.saved_tensors(out, x) == ()  # computed as mean over the last three dims
    assert pool.other_flops(out, x) == 512 * N * T * H * W


def test_adaptive_max_pool_keeps_argmax():
    pool = AdaptiveMaxPool2d((2, None))
    x = (N, 8, H, W)
    out = pool.output_shape(x)
    assert out == (N, 8, 2, W)
    assert [e.element for e in pool.saved_tensors(out, x)] == ["activation", "index"]


def test_2d_pools_keep_their_results():
    # seed figures: VGG's 2x2 max pool on 224 -> 112, 3 comparisons per output
    x = (N, 64, H, W)
    out = MaxPool2d(2).output_shape(x)
    assert at(MaxPool2d(2).other_flops(out, x), N=1, H=224, W=224) == 64 * 112 * 112 * 3
    assert at(AvgPool2d(3, 1, 1).other_flops(x, x), N=1, H=5, W=5) == 64 * 25 * 9
    assert set(AdaptiveAvgPool2d(7).flop_terms((N, 512, 7, 7), (N, 512, H, W))) == {
        "adaptive_pool_in",
        "adaptive_pool_out",
        "adaptive_pool_window",
        "adaptive_pool_thop",
    }


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MaxPool3d((2, 2)), "3 ints"),
        (lambda: AvgPool1d(2, padding=2), "pad should be at most half"),
        (lambda: AdaptiveAvgPool3d((1, 1)), "3 ints"),
        (lambda: AdaptiveAvgPool2d((1, 1, 1)), "a pair"),
        (lambda: AdaptiveMaxPool1d(0), "positive integer"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(CostGraphError, match=message):
        make()


def test_wrong_rank():
    with pytest.raises(ShapeError, match="5-d"):
        MaxPool3d(2).output_shape((N, 3, H, W))
