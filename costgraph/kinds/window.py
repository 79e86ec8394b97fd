"""Sliding-window (local causal) attention: the mask, and a product that skips what it hides.

Mistral's attention lets query i see keys ``i - window + 1 .. i``.  Hugging
Face's eager path computes every score of the ``S x S`` matrix and adds a
mask (`SlidingWindowMask`: 1 FLOP per element, like `CausalMask`), so its
MACs are the full matrix's; a kernel that skips what the band hides
(FlashAttention's ``window_size``) computes only `window_pairs` of them:
`SlidingWindowMatMul`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import FloorDiv
from ..symbols import as_size
from .attention import _ScoreMask
from .base import numel, positive_int, register_kind
from .matmul import MatMul

__all__ = ["SlidingWindowMask", "SlidingWindowMatMul", "window_pairs"]


def window_pairs(queries, keys, window: int, factor=1) -> sympy.Expr:
    """``factor`` times the (query, key) pairs a causal sliding window of `window` keeps.

    Query i (of Sq = Sk = S) sees ``min(i + 1, window)`` keys, so with
    ``m = min(S, window)``: ``m (m + 1) / 2 + (S - m) * window`` pairs.

    Raises
    ------
    ShapeError
        If the query and key lengths are different formulas.

    >>> from costgraph.symbols import S
    >>> window_pairs(3, 3, 4), window_pairs(6, 6, 4)     # 1+2+3, and 1+2+3+4+4+4
    (6, 18)
    >>> window_pairs(S, S, 4).subs(S, 6)
    18
    """
    queries, keys = (as_size(n, owner="window_pairs", what="a length") for n in (queries, keys))
    if sympy.expand(queries - keys) != 0:
        raise ShapeError(f"a sliding-window count needs equal query and key lengths, got {queries} and {keys}", value=(queries, keys))
    if queries.is_number:
        s = int(queries)
        m = min(s, window)
        return sympy.expand(factor * (m * (m + 1) // 2 + (s - m) * window))
    m = sympy.Min(queries, window)
    # S - min(S, w) written as max(S - w, 0): the same value, and visibly never negative (`costgraph.counts`)
    return sympy.expand(factor * (FloorDiv(sympy.expand(m * (m + 1)), 2) + sympy.Max(queries - window, 0) * window))


@register_kind
@dataclass(frozen=True)
class SlidingWindowMask(_ScoreMask):
    """Add a causal sliding-window mask to ``(..., S, S)`` scores (Mistral's eager path).

    1 FLOP per element, as `CausalMask`: the mask is an additive tensor over
    the full matrix; the window changes which entries are -inf, not the work.

    >>> from costgraph.symbols import N, S
    >>> SlidingWindowMask(4096).other_flops((N, 32, S, S), (N, 32, S, S))
    32*N*S**2
    """

    window: int

    def __post_init__(self):
        positive_int(self.window, "window", "SlidingWindowMask")


@register_kind
@dataclass(frozen=True)
class SlidingWindowMatMul(MatMul):
    """A product counting only the pairs a causal sliding window keeps (`window_pairs`).

    ``triangular="output"``: scores Q K^T inside the band only;
    ``"left"``: weights (zero outside the band) times V.

    >>> from costgraph.symbols import N, S
    >>> q, kt = (N, 8, S, 64), (N, 8, 64, S)
    >>> SlidingWindowMatMul("output", 4).macs((N, 8, S, S), q, kt).subs(S, 6)   # 18 pairs x 64 x 8
    9216*N
    """

    window: int = 1

    def __post_init__(self):
        if self.triangular not in ("output", "left"):
            raise CostGraphError(
                f"SlidingWindowMatMul: triangular must be 'output' or 'left', got {self.triangular!r}", value=self.triangular
            )
        positive_int(self.window, "window", "SlidingWindowMatMul")

    def macs(self, out, a, b):
        batch = numel(out[:-2])
        if self.triangular == "output":
            return window_pairs(out[-2], out[-1], self.window, batch * a[-1])
        return window_pairs(a[-2], a[-1], self.window, batch * b[-1])
