"""Tensors made without arithmetic: ``Constant`` (from sizes alone: ``arange``, ``zeros``, ``full``,
``ones_like``), ``Fill`` (``x.fill_(v)``, ``x.zero_()``) and ``ExtraOutput`` (the second output of an
op that makes two, such as ``topk``'s indices)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..symbols import as_size
from ..errors import ShapeError
from .base import ParameterFree, register_kind

__all__ = ["Constant", "Fill", "ExtraOutput"]


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


@register_kind
@dataclass(frozen=True)
class Fill(ParameterFree):
    """``x.fill_(value)`` or ``x.zero_()``: every element of ``x`` overwritten in place (no new tensor).

    Writing is no arithmetic: 0 FLOPs; nothing is kept (the gradient is zero).
    With ``inplace=False`` (``torch.fill(x, v)``) the result is a new tensor.

    >>> from costgraph.symbols import N, S
    >>> Fill(0.0).output_shape((N, S)), Fill(0.0).materializes, Fill(0.0).saved_tensors((N, S), (N, S))
    ((N, S), False, ())
    """

    value: float = 0.0
    inplace: bool = True

    def output_shape(self, x):
        return tuple(x)

    @property
    def materializes(self):
        return not self.inplace

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """Writing is no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient through a fill is zero."""
        return ()


@register_kind
@dataclass(frozen=True)
class ExtraOutput(ParameterFree):
    """A second tensor of `shape` made by the layer that feeds it (`what` names it, e.g.
    ``"topk indices"``, ``"var_mean mean"``), alongside that layer's own output.

    Its work is the feeding layer's (counted there): 0 FLOPs here, and
    nothing kept here for backward (the feeding layer declares what its
    backward keeps).  It is a new tensor (it holds memory).  With
    ``gradient=False`` (int64 indices) no gradient flows on from it.

    Raises
    ------
    ShapeError
        If `shape` is not a tuple of sizes.

    >>> from costgraph.symbols import N, S
    >>> indices = ExtraOutput((N * S, 2), "topk indices")
    >>> indices.output_shape((N * S, 2)), indices.other_flops((N * S, 2), (N * S, 2))
    ((N*S, 2), 0)
    """

    shape: tuple
    what: str = ""
    #: False for indices (``topk``'s, ``sort``'s): no gradient flows on from them (`costgraph.memory`)
    gradient: bool = True

    @property
    def carries_gradient(self):
        return self.gradient

    def __post_init__(self):
        if not isinstance(self.shape, (tuple, list)):
            raise ShapeError(f"ExtraOutput: shape must be a tuple of sizes, got {self.shape!r}", value=self.shape)
        object.__setattr__(self, "shape", tuple(as_size(d, owner="ExtraOutput") for d in self.shape))

    def output_shape(self, source):
        return self.shape

    def other_flops(self, out, source):
        return sympy.Integer(0)

    def flop_terms(self, out, source):
        """The feeding layer's work is counted there: no cost terms."""
        return {}

    def saved_tensors(self, out, source, needs_input_grad=None):
        """Nothing: the feeding layer declares what its backward keeps."""
        return ()
