"""``Constant``: a tensor a model makes from sizes alone (``arange``, ``zeros``, ``full``, ``ones_like``)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..symbols import as_size
from .base import ParameterFree, register_kind

__all__ = ["Constant"]


@register_kind
@dataclass(frozen=True)
class Constant(ParameterFree):
    """A new tensor of `shape` filled without reading data: ``torch.arange(S)``, ``zeros``, ``full``, ``new_ones``.

    It has no inputs: a tensor that only lends its dtype or device
    (``x.new_ones(...)``, ``zeros_like``) is not read, and no gradient flows
    through the result.  Filling is not arithmetic: 0 FLOPs; nothing is kept
    for backward.

    >>> from costgraph.symbols import S
    >>> arange = Constant((S,), "arange")
    >>> arange.output_shape(), arange.other_flops((S,)), arange.saved_tensors((S,))
    ((S,), 0, ())
    """

    shape: tuple
    op: str = "full"
    arity = 0

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(as_size(d, owner="Constant") for d in self.shape))

    def output_shape(self):
        return self.shape

    def other_flops(self, out):
        return sympy.Integer(0)

    def flop_terms(self, out):
        """Filling is no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: no gradient flows through a filled tensor."""
        return ()
