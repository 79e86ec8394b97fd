"""Writing into a tensor at indices: `Scatter` (``scatter``, ``scatter_add``), `IndexAdd` and `IndexPut`
(``x[idx] = v``, ``index_put_``).

The output has the shape of the tensor written into; the in-place forms
(``scatter_``, ``index_put_``) make no new tensor.  Plain writes are copies (0
FLOPs); accumulating writes add one FLOP per element written.  What backward
keeps follows ``derivatives.yaml`` (measured with ``saved_tensors_hooks``):
the int64 indices, and ``index_add`` also its source.  No counting tool
weighs these, so they declare no cost terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import ParameterFree, Saved, format_shape, numel, register_kind

__all__ = ["Scatter", "IndexAdd", "IndexPut"]


def _check_axis(owner, dim, rank):
    if not -max(rank, 1) <= dim < max(rank, 1):
        raise ShapeError(f"{owner}: dim {dim} out of range for a {rank}-d input", value=dim)


@register_kind
@dataclass(frozen=True)
class Scatter(ParameterFree):
    """``x.scatter(dim, index, src)`` (inputs x, index, src; or x, index with a number value) and
    ``x.scatter_add(dim, index, src)`` (`accumulate`).

    FLOPs: 0 for a plain scatter (a copy), one addition per index element
    with `accumulate`.  Saved: the index.

    Raises
    ------
    ShapeError
        If the index's rank differs from x's, or `dim` is out of range.

    >>> from costgraph.symbols import N, S
    >>> one_hot = Scatter(-1)                                  # routing weights into 8 expert slots
    >>> one_hot.output_shape((N * S, 8), (N * S, 2), (N * S, 2))
    (N*S, 8)
    >>> Scatter(-1, accumulate=True).other_flops((N * S, 8), (N * S, 8), (N * S, 2), (N * S, 2))
    2*N*S
    """

    dim: int
    accumulate: bool = False
    inplace: bool = False
    arity = None

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (scatter/scatter_add/scatter_reduce
        are no module, no op ptflops patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten
        backend): every tool preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def output_shape(self, x, index, *src):
        if len(index) != len(x) or len(src) > 1:
            raise ShapeError(f"Scatter: index {format_shape(index)} must have the rank of {format_shape(x)} (and one source)", value=index)
        _check_axis("Scatter", self.dim, len(x))
        return tuple(x)

    @property
    def materializes(self):
        return not self.inplace

    def other_flops(self, out, x, index, *src):
        return numel(index) if self.accumulate else sympy.Integer(0)

    def saved_tensors(self, out, x, index, *src, needs_input_grad=None):
        """The index (the gradient of the source is gathered through it)."""
        return (Saved.input(1),)


@register_kind
@dataclass(frozen=True)
class IndexAdd(ParameterFree):
    """``x.index_add(dim, index, source, alpha)``: rows of `source` added into x at a 1-d index.

    FLOPs: one addition per source element, and one product more when
    `alpha` is not 1.  Saved: the index and the source.

    Raises
    ------
    ShapeError
        If the index is not 1-d or the source's rank differs from x's.

    >>> from costgraph.symbols import N, S
    >>> IndexAdd(0).output_shape((N * S, 64), (2 * N * S,), (2 * N * S, 64))
    (N*S, 64)
    >>> IndexAdd(0).other_flops((N * S, 64), (N * S, 64), (2 * N * S,), (2 * N * S, 64))
    128*N*S
    """

    dim: int
    alpha: float = 1.0
    inplace: bool = False
    arity = 3

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (index_add is no module, no op
        ptflops patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool
        preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def output_shape(self, x, index, source):
        if len(index) > 1 or len(source) != len(x):
            raise ShapeError(f"IndexAdd: a 1-d index and a source of x's rank, got {format_shape(index)} and {format_shape(source)}", value=index)
        _check_axis("IndexAdd", self.dim, len(x))
        return tuple(x)

    @property
    def materializes(self):
        return not self.inplace

    def other_flops(self, out, x, index, source):
        return numel(source) * (1 if self.alpha == 1 else 2)

    def saved_tensors(self, out, x, index, source, needs_input_grad=None):
        """The index and the source."""
        return (Saved.input(1), Saved.input(2))


@register_kind
@dataclass(frozen=True)
class IndexPut(ParameterFree):
    """``x[i0, i1, ...] = values`` (``index_put``/``index_put_``, inputs x, values, then the index
    tensors): `accumulate` adds instead of writing.

    FLOPs: 0 for a write (a copy), one addition per value element with
    `accumulate`.  Saved: the index tensors.

    Raises
    ------
    ShapeError
        If no index is given.

    >>> from costgraph.symbols import N, S
    >>> IndexPut(inplace=True).output_shape((2 * N * S,), (2 * N * S,), (2 * N * S,))   # inv_perm[perm] = arange
    (2*N*S,)
    >>> [s.index for s in IndexPut().saved_tensors((8,), (8,), (3,), (3,))]
    [2]
    """

    accumulate: bool = False
    inplace: bool = False
    arity = None

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (index_put is no module, no op
        ptflops patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool
        preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def output_shape(self, x, values, *indices):
        if not indices:
            raise ShapeError("IndexPut needs at least one index tensor", value=0)
        return tuple(x)

    @property
    def materializes(self):
        return not self.inplace

    def other_flops(self, out, x, values, *indices):
        return numel(values) if self.accumulate else sympy.Integer(0)

    def saved_tensors(self, out, x, values, *indices, needs_input_grad=None):
        """The index tensors."""
        return tuple(Saved.input(2 + i) for i in range(len(indices)))
