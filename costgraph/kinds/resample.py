"""Resampling: `Upsample` (``torch.nn.Upsample`` / ``F.interpolate``) in 1, 2 and 3 dimensions.

FLOP convention (costgraph's, per output element): an interpolation weighs
``P`` input points with ``P`` weights, ``P`` products and ``P - 1`` sums, so
``2P - 1`` FLOPs: nearest 0 (a copy), linear 3 (P = 2), bilinear 7 (P = 4),
bicubic 31 (P = 16), trilinear 15 (P = 8).  Computing the weights (per row
or column, not per element) is not counted.  Tools differ, and
`Upsample.flop_terms` declares the output elements under the mode's name so
that each preset weighs them as its tool does: fvcore counts
``aten::upsample_nearest2d`` 1 and ``upsample_bilinear2d`` 4 per output
element (no other mode or rank); thop's ``count_upsample`` 1 (nearest), 5
(linear), 11 (bilinear), 259 (bicubic) and 0 for trilinear and
nearest-exact (it warns "not implemented"); ptflops 1 per output element in
its ``nn.Upsample`` hook plus its ``F.interpolate`` patch (input elements x
scale, or the size); torchinfo and FlopCounterMode 0.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import FloorDiv
from ..symbols import as_size
from .base import ParameterFree, format_shape, numel, register_kind

__all__ = ["Upsample", "exact_scale"]

#: mode -> (input rank, or None for any of 3, 4, 5; points weighed per output element)
MODES = {
    "nearest": (None, 1),
    "nearest-exact": (None, 1),
    "linear": (3, 2),
    "bilinear": (4, 4),
    "bicubic": (4, 16),
    "trilinear": (5, 8),
}

#: a scale's numerator below this keeps ``size * scale`` exact in a double for sizes below 2**33
_MAX_NUMERATOR = 2**20


def exact_scale(value, owner: str) -> Fraction:
    """A positive scale factor as the exact fraction torch multiplies by, or a `CostGraphError`.

    torch computes an interpolated size as ``floor(float(size * scale))`` in
    double precision.  A float is a fraction ``p / 2**m``; when ``p`` is small
    (2.0, 0.5, 1.5, 1.25) the product is exact and the size is
    ``(p * size) // 2**m``, an integer formula.  A scale such as 1/3 or 0.1
    is rounded in the double product, so no integer formula reproduces it
    at every size: it is refused (give the output size instead).

    Raises
    ------
    CostGraphError
        If `value` is not a positive int or float, or is not a short binary fraction.

    >>> exact_scale(2.0, "Upsample"), exact_scale(0.75, "Upsample"), exact_scale(3, "Upsample")
    (Fraction(2, 1), Fraction(3, 4), Fraction(3, 1))
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)) or not value > 0:
        raise CostGraphError(f"{owner}: scale_factor must be a positive number, got {value!r}", value=value)
    if isinstance(value, float) and not math.isfinite(value):
        raise CostGraphError(f"{owner}: scale_factor must be finite, got {value!r}", value=value)
    fraction = Fraction(value)
    if fraction.numerator >= _MAX_NUMERATOR:
        raise CostGraphError(
            f"{owner}: scale_factor {value!r} is not a short binary fraction, so torch's floor(size * scale) "
            f"in double precision has no exact integer formula; give the output size instead",
            value=value,
        )
    return fraction


@register_kind
@dataclass(frozen=True)
class Upsample(ParameterFree):
    """Interpolation to a size or by a scale factor, as ``torch.nn.Upsample`` / ``F.interpolate``.

    Modes: ``"nearest"``, ``"nearest-exact"`` (inputs of rank 3, 4, 5),
    ``"linear"`` (3-d input), ``"bilinear"``, ``"bicubic"`` (4-d),
    ``"trilinear"`` (5-d).  Give `size` (an int or one size per spatial
    axis: ints, size names or formulas in sizes) or `scale_factor` (a number
    or one per axis), not both.  With a scale the output size is torch's
    ``floor(size * scale)``.  `align_corners` (linear modes only) moves the
    sample points, not the sizes or the counts.  FLOPs per output element:
    see the module docstring (``2P - 1`` for ``P`` interpolated points).
    Nothing is saved for backward (the gradient needs only the sizes).

    Raises
    ------
    CostGraphError
        For an unknown mode, both or neither of `size` and `scale_factor`,
        `align_corners` with a nearest mode, or a scale with no exact formula.
    ShapeError
        If the input's rank does not fit the mode or the sizes given.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> up = Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    >>> up.output_shape((N, 64, H, W))
    (N, 64, 2*H, 2*W)
    >>> up.other_flops((N, 64, 2 * H, 2 * W), (N, 64, H, W))      # 7 FLOPs per output element
    1792*H*N*W
    >>> Upsample(scale_factor=1.5).output_shape((N, 8, H, W))     # floor(1.5 * H)
    (N, 8, floor((3*H)/2), floor((3*W)/2))
    >>> Upsample(size=("H", 32), mode="bicubic").output_shape((N, 3, 7, 9))
    (N, 3, H, 32)
    """

    size: object = None
    scale_factor: object = None
    mode: str = "nearest"
    align_corners: bool | None = None

    def __post_init__(self):
        owner = "Upsample"
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        if self.mode not in MODES:
            hint = " (mode 'area' is adaptive average pooling: use AdaptiveAvgPool1d/2d/3d)" if self.mode == "area" else ""
            raise CostGraphError(
                f"{owner}: mode must be one of {', '.join(MODES)}, got {self.mode!r}{hint}", value=self.mode
            )
        if (self.size is None) == (self.scale_factor is None):
            raise CostGraphError(f"{owner}: give either size or scale_factor, not both or neither")
        if self.align_corners is not None and self.mode.startswith("nearest"):
            raise CostGraphError(
                f"{owner}: align_corners only applies to linear modes, got mode={self.mode!r}", value=self.align_corners
            )
        if self.size is not None:
            sizes = self.size if isinstance(self.size, (tuple, list)) else (self.size,)
            set_("size", tuple(as_size(s, owner=owner, what="size") for s in sizes))
        else:
            scales = self.scale_factor if isinstance(self.scale_factor, (tuple, list)) else (self.scale_factor,)
            set_("scale_factor", tuple(exact_scale(s, owner) for s in scales))

    def _spatial(self, x) -> int:
        rank, _ = MODES[self.mode]
        given = self.size if self.size is not None else self.scale_factor
        if (rank is not None and len(x) != rank) or len(x) not in (3, 4, 5) or len(given) not in (1, len(x) - 2):
            raise ShapeError(
                f"Upsample (mode {self.mode!r}, {len(given)} sizes or scales) does not fit a "
                f"{len(x)}-d input {format_shape(x)}",
                value=x,
            )
        return len(x) - 2

    def output_shape(self, x):
        n = self._spatial(x)
        if self.size is not None:
            sizes = self.size * n if len(self.size) == 1 else self.size
        else:
            scales = self.scale_factor * n if len(self.scale_factor) == 1 else self.scale_factor
            sizes = tuple(
                FloorDiv(s.numerator * sympy.sympify(d), sympy.Integer(s.denominator)) for s, d in zip(scales, x[2:])
            )
        return (x[0], x[1]) + tuple(sizes)

    def other_flops(self, out, x):
        points = MODES[self.mode][1]
        return numel(out) * (2 * points - 1) if points > 1 else sympy.Integer(0)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: the output elements, under the mode's name (the
        tools weigh modes differently, fvcore only 2-d ones); and ptflops' ``F.interpolate`` count,
        the input elements times the scales' product (floored), or the output elements for a size.

        >>> from costgraph.symbols import N, H, W
        >>> up = Upsample(scale_factor=2)
        >>> sorted(up.flop_terms(up.output_shape((N, 8, H, W)), (N, 8, H, W)))
        ['upsample_nearest2d_out', 'upsample_nearest_out', 'upsample_out', 'upsample_scaled_in']
        >>> up.flop_terms(up.output_shape((N, 8, H, W)), (N, 8, H, W))["upsample_scaled_in"]
        32*H*N*W
        """
        elements = numel(out)
        spatial = len(x) - 2
        terms = {"upsample_out": elements, f"upsample_{self.mode.replace('-', '_')}_out": elements}
        if self.mode == "nearest" and spatial == 2:
            terms["upsample_nearest2d_out"] = elements  # fvcore's one nearest handle
        if self.size is not None:
            terms["upsample_scaled_in"] = elements
        else:
            scales = self.scale_factor * spatial if len(self.scale_factor) == 1 else self.scale_factor
            scale = math.prod(scales)
            terms["upsample_scaled_in"] = FloorDiv(scale.numerator * numel(x), sympy.Integer(scale.denominator))
        return terms

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``upsample_*``'s derivative formula takes only the sizes."""
        return ()
