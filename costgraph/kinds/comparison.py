"""``Compare``: elementwise comparisons, logic and the choices they make (``eq``, ``lt``, ``&``, ``~``, ``minimum``), as attention masks and position buckets are built."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CostGraphError, ShapeError
from .arithmetic import broadcast_shapes
from .base import ParameterFree, Saved, numel, register_kind

__all__ = ["Compare", "COMPARISONS", "CHOOSING"]

#: op -> number of tensor operands it takes at most (a number may replace the second)
COMPARISONS = {"eq": 2, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2, "and": 2, "or": 2, "xor": 2, "not": 1, "minimum": 2, "maximum": 2,
               "isnan": 1, "isinf": 1, "isfinite": 1}

#: the comparisons whose result is one of the operands (differentiable): both are kept for backward
CHOOSING = ("minimum", "maximum")


@register_kind
@dataclass(frozen=True)
class Compare(ParameterFree):
    """``a == b``, ``a < b``, ``a & b``, ``~a``, ``minimum(a, b)`` ... with broadcasting: one FLOP per element.

    A second operand that is a number is not an input.  A boolean result
    keeps nothing for backward (it has no gradient); ``minimum`` and
    ``maximum`` keep both operands (``derivatives.yaml`` compares them again).

    Raises
    ------
    CostGraphError
        If `op` is not one of `COMPARISONS`.
    ShapeError
        If the inputs do not broadcast.

    >>> from costgraph.symbols import N, S
    >>> Compare("le").output_shape((N, 1, S, 1), (N, 1, 1, S))
    (N, 1, S, S)
    >>> Compare("le").other_flops((N, 1, S, S), (N, 1, S, 1), (N, 1, 1, S))
    N*S**2
    """

    op: str
    arity = None

    def __post_init__(self):
        if self.op not in COMPARISONS:
            raise CostGraphError(f"Compare: op must be one of {', '.join(COMPARISONS)}, got {self.op!r}", value=self.op)

    @property
    def carries_gradient(self) -> bool:
        """Whether a gradient flows on from the result (`costgraph.memory`): only a choice's
        (``minimum``, ``maximum``); a boolean has none."""
        return self.op in CHOOSING

    def output_shape(self, *inputs):
        if not 1 <= len(inputs) <= COMPARISONS[self.op]:
            raise ShapeError(f"Compare {self.op}: {len(inputs)} inputs", value=len(inputs))
        return broadcast_shapes(f"Compare {self.op}", *inputs) if len(inputs) > 1 else tuple(inputs[0])

    def other_flops(self, out, *inputs):
        return numel(out)

    def flop_terms(self, out, *inputs):
        """No term a counting tool weighs (FlopCounterMode, fvcore and the hook tools count none)."""
        return {}

    def output_element(self, *inputs):
        """``"bool"``; ``minimum`` and ``maximum`` choose an operand: their inputs' class.

        >>> Compare("lt").output_element("activation", "activation"), Compare("maximum").output_element("activation")
        ('bool', 'activation')
        """
        return inputs[0] if self.op in CHOOSING and inputs else "bool"

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing for a boolean result; both operands for ``minimum`` and ``maximum``."""
        if self.op in CHOOSING:
            return tuple(Saved.input(i) for i in range(len(inputs)))
        return ()
