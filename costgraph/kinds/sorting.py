"""Selecting by value: `ArgMax`/`ArgMin`, `TopK`, `Sort` and `Histogram` (counting values into bins).

None of these is arithmetic a counting tool weighs (FlopCounterMode, fvcore and
the hook tools count none), so they declare no cost terms.  costgraph's own
FLOPs count comparisons, as `costgraph.kinds.MaxDim` does: ``n - 1`` per row
for an arg-max, one per input element for `TopK` and `Sort` (a lower bound:
a sort's comparisons depend on the algorithm and the data) and for
`Histogram` (one bin index per element).  Indices are int64 and carry no
gradient; what backward keeps follows ``derivatives.yaml`` (measured with
``saved_tensors_hooks``): ``topk`` and ``sort`` keep their indices, the others
nothing.  A second output (the indices of `TopK` and `Sort`) is a
`costgraph.kinds.creation.ExtraOutput` layer fed by the first.  Indices and
counts carry no gradient: ``carries_gradient = False`` tells the memory
model that autograd records nothing downstream of them for their sake.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import ParameterFree, Saved, numel, positive_int, register_kind

__all__ = ["TopK", "Sort", "Histogram"]


def _axis(owner, dim, rank):
    if not -max(rank, 1) <= dim < max(rank, 1):
        raise ShapeError(f"{owner}: dim {dim} out of range for a {rank}-d input", value=dim)
    return dim % max(rank, 1)


@register_kind
@dataclass(frozen=True)
class TopK(ParameterFree):
    """The values of ``x.topk(k, dim, largest)``: the `k` largest (or smallest) along `dim`.

    One comparison per input element (a lower bound).  Saved: the int64
    indices, ``numel(out)`` of them (``value_selecting_reduction_backward``).

    Raises
    ------
    CostGraphError
        If `k` is not a positive integer.
    ShapeError
        If `dim` is out of range or `k` exceeds a numeric size along it.

    >>> from costgraph.symbols import N, S
    >>> router = TopK(2, -1)                       # a mixture-of-experts router over 8 experts
    >>> router.output_shape((N * S, 8)), router.saved_tensors((N * S, 2), (N * S, 8))
    ((N*S, 2), (Saved(source='extra', index=0, numel=2*N*S, element='index'),))
    """

    k: int
    dim: int = -1
    largest: bool = True

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (topk is no module, no op ptflops
        patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool preset
        counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def __post_init__(self):
        positive_int(self.k, "k", "TopK")

    def output_shape(self, x):
        axis = _axis("TopK", self.dim, len(x))
        size = sympy.sympify(x[axis]) if x else sympy.Integer(1)
        if size.is_number and int(size) < self.k:
            raise ShapeError(f"TopK: k={self.k} exceeds the size {size} along dim {self.dim}", value=self.k)
        if not x:
            return ()
        return tuple(sympy.Integer(self.k) if a == axis else d for a, d in enumerate(x))

    def other_flops(self, out, x):
        return numel(x)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The int64 indices of the values picked."""
        return (Saved.extra(numel(out), "index"),)


@register_kind
@dataclass(frozen=True)
class Sort(ParameterFree):
    """The values of ``x.sort(dim, descending)``: same shape.  One comparison per input element
    (a lower bound); saved: the int64 permutation (``sort_backward``), one index per element.

    >>> from costgraph.symbols import N, S
    >>> Sort(-1).output_shape((N, S)), Sort(-1).saved_tensors((N, S), (N, S))[0].element
    ((N, S), 'index')
    """

    dim: int = -1
    descending: bool = False

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (sort is no module, no op ptflops
        patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool preset
        counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def output_shape(self, x):
        _axis("Sort", self.dim, len(x))
        return tuple(x)

    def other_flops(self, out, x):
        return numel(x)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The int64 permutation."""
        return (Saved.extra(numel(out), "index"),)


@register_kind
@dataclass(frozen=True)
class Histogram(ParameterFree):
    """``torch.histc(x, bins, min, max)``: `bins` counts of all of x's elements (a 1-d output).

    One bin index per input element; no gradient, nothing saved.

    >>> from costgraph.symbols import N, S
    >>> Histogram(8).output_shape((N * S * 2,)), Histogram(8).other_flops((8,), (N * S * 2,))
    ((8,), 2*N*S)
    """

    bins: int = 100

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (histc is no module, no op ptflops
        patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool preset
        counts 0, costgraph's own preset its `other_flops`."""
        return {}

    carries_gradient = False

    def __post_init__(self):
        positive_int(self.bins, "bins", "Histogram")

    def output_shape(self, x):
        return (sympy.Integer(self.bins),)

    def other_flops(self, out, x):
        return numel(x)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``histc`` has no gradient."""
        return ()
