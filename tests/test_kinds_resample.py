"""Upsampling: hand-derived sizes and FLOPs (torch's floor(size * scale) rule; 2P - 1 FLOPs for P points)."""

from fractions import Fraction

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import Upsample
from costgraph.symbols import H, N, S, W, size_symbol

T = size_symbol("T")


def at(expr, **values):
    return int(sympy.sympify(expr).subs({size_symbol(k): v for k, v in values.items()}))


def test_scale_factor_floors_the_product():
    up = Upsample(scale_factor=(0.5, 1.25), mode="bilinear")
    out = up.output_shape((N, 3, H, W))
    # floor(7 * 0.5) = 3, floor(9 * 1.25) = floor(11.25) = 11
    assert (at(out[2], H=7), at(out[3], W=9)) == (3, 11)


@pytest.mark.parametrize(
    "mode, rank, per_element",
    [("nearest", 4, 0), ("nearest-exact", 3, 0), ("linear", 3, 3), ("bilinear", 4, 7), ("bicubic", 4, 31), ("trilinear", 5, 15)],
)
def test_flops_per_output_element(mode, rank, per_element):
    # P interpolated points: P products, P - 1 sums (P = 1, 2, 4, 16, 8); nearest copies
    x = (N, 2) + (T, H, W)[3 - (rank - 2) :]
    up = Upsample(scale_factor=2, mode=mode)
    out = up.output_shape(x)
    outputs = 2 * 2 ** (rank - 2)  # channels * 2 per axis, at N = 1 and spatial 1
    assert at(up.other_flops(out, x), N=1, T=1, H=1, W=1) == outputs * per_element
    assert up.saved_tensors(out, x) == ()
    assert up.weights(x) == 0 and up.macs(out, x) == 0


def test_size_given_as_ints_names_or_formulas():
    assert Upsample(size=16).output_shape((N, 3, S)) == (N, 3, 16)
    assert Upsample(size=("H", 2 * W), mode="bilinear").output_shape((N, 3, 5, 6)) == (N, 3, H, 2 * W)


def test_scales_without_an_exact_formula_are_refused():
    # 3 * (1/3 as a double) rounds to 1.0 in double precision, but is 0.999... exactly
    assert Fraction(1 / 3) * 3 < 1
    with pytest.raises(CostGraphError, match="short binary fraction"):
        Upsample(scale_factor=1 / 3)
    with pytest.raises(CostGraphError, match="positive"):
        Upsample(scale_factor=0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Upsample(), "either size or scale_factor"),
        (lambda: Upsample(size=4, scale_factor=2), "either size or scale_factor"),
        (lambda: Upsample(scale_factor=2, mode="area"), "mode must be one of"),
        (lambda: Upsample(scale_factor=2, align_corners=True), "align_corners only applies"),
        (lambda: Upsample(size="H + 1"), "size must be an integer, a size name"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(CostGraphError, match=message):
        make()


def test_rank_must_fit_the_mode():
    with pytest.raises(ShapeError, match="does not fit a 4-d input"):
        Upsample(scale_factor=2, mode="trilinear").output_shape((N, 3, H, W))
    with pytest.raises(ShapeError, match="does not fit"):
        Upsample(size=(4, 4, 4)).output_shape((N, 3, H, W))
