"""Reductions and cumulative scans, by hand: shapes as torch documents them, FLOPs by the counts
stated in each kind's docstring, saved tensors per derivatives.yaml."""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import Amax, Amin, Cumprod, Cumsum, LogSumExp, MaxDim, MinDim, Prod, Std, Var, VectorNorm
from costgraph.symbols import H, N, S, W

X = (N, 4, H, W)


def test_dims_none_reduces_everything_the_batch_included():
    assert Amax().output_shape(X) == ()
    assert Amax(keepdim=True).output_shape(X) == (1, 1, 1, 1)
    assert Amin((0, -1)).output_shape(X) == (4, H)
    # 4NHW elements to one: 4NHW - 1 comparisons
    assert Amax().other_flops((), X) == 4 * N * H * W - 1


def test_max_along_a_dim_keeps_indices_only():
    kind = MaxDim(2, keepdim=True)
    out = kind.output_shape(X)
    assert out == (N, 4, 1, W)
    (saved,) = kind.saved_tensors(out, X)
    assert (saved.source, saved.numel, saved.element) == ("extra", 4 * N * W, "index")
    assert MinDim(1).output_shape(X) == (N, H, W)
    with pytest.raises(CostGraphError, match="one dim"):
        MaxDim((1, 2))


@pytest.mark.parametrize(
    "kind, flops, saved",
    [
        # per row of 10 elements reduced to 1:
        (Prod(1), 9, ["input", "output"]),  # 9 products
        (Var(1), 4 * 10 + 2, ["input"]),  # mean's sum, subtract, square, sum; 2 divisions
        (Std(1), 4 * 10 + 3, ["input", "output"]),  # and a square root
        (LogSumExp(1), 4 * 10 + 2, ["input", "output"]),  # max, subtract, exp, sum; log, add
        (VectorNorm(2, 1), 2 * 10 + 1, ["input", "output"]),  # square, sum; sqrt
        (VectorNorm(1, 1), 2 * 10, ["input", "output"]),  # abs, sum
        (VectorNorm(3, 1), 3 * 10 + 1, ["input", "output"]),  # abs, pow, sum; pow
        (Amax(1), 9, ["input", "output"]),
    ],
    ids=repr,
)
def test_flops_per_row(kind, flops, saved):
    x = (N, 10)
    out = kind.output_shape(x)
    assert out == (N,)
    assert kind.other_flops(out, x) == flops * N
    assert [e.source for e in kind.saved_tensors(out, x)] == saved


def test_cumulative_scans():
    x = (N, S, 8)
    # along S: S - 1 additions per (sample, channel) row
    assert Cumsum(1).other_flops(x, x) == sympy.expand(8 * N * (S - 1))
    assert Cumsum(-1).saved_tensors(x, x) == ()
    assert [e.source for e in Cumprod(1).saved_tensors(x, x)] == ["input", "output"]
    with pytest.raises(ShapeError, match="out of range"):
        Cumsum(3).output_shape(x)


def test_bad_dims():
    with pytest.raises(ShapeError, match="do not fit"):
        Amax((1, 5)).output_shape(X)
    with pytest.raises(ShapeError, match="do not fit"):
        Var((1, -3)).output_shape(X)
    with pytest.raises(CostGraphError, match="dims must be ints"):
        Amax((1.0,))
    with pytest.raises(CostGraphError, match="ord must be a number"):
        VectorNorm("fro")
