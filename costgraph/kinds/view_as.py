"""``ViewAs``: a view of a tensor as any shape of as many elements, the batch dimension included.

`costgraph.kinds.Reshape` keeps the batch dimension first, as the zoo's
models do; an exported ATen graph also merges it with others
(``x.view(-1, 768)`` before a matrix product) and adds or drops leading
dimensions (``unsqueeze(0)``, ``squeeze``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import View, format_shape, numel, register_kind

__all__ = ["ViewAs"]


@register_kind
@dataclass(frozen=True)
class ViewAs(View):
    """``x.view(shape)`` with `shape` whole (batch included): no new tensor, no arithmetic.

    Raises
    ------
    ShapeError
        If the element counts differ (checked symbolically).

    >>> from costgraph.symbols import N, S
    >>> ViewAs((N * S, 768)).output_shape((N, S, 768))
    (N*S, 768)
    >>> ViewAs((1, S)).output_shape((S,))
    (1, S)
    """

    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(sympy.sympify(d) for d in self.shape))

    def output_shape(self, x):
        if sympy.expand(numel(self.shape) - numel(x)) != 0:
            raise ShapeError(f"ViewAs: cannot view {format_shape(x)} as {format_shape(self.shape)}", value=self.shape)
        return self.shape
