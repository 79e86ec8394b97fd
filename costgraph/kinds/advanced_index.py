"""``AdvancedIndex``: ``x[i, j]`` with several integer index tensors, broadcast together (``aten.index.Tensor``).

`costgraph.kinds.IndexTensor` takes one index tensor; attention-mask code
(Hugging Face's ``sdpa_mask``) indexes with two, ``x[batch_idx, kv_idx]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .arithmetic import broadcast_shapes
from .base import ParameterFree, Saved, register_kind

__all__ = ["AdvancedIndex"]


@register_kind
@dataclass(frozen=True)
class AdvancedIndex(ParameterFree):
    """``x[..., i0, ..., i1, ...]`` with integer index tensors at the dimensions `dims` (inputs x, i0, i1, ...).

    The indices broadcast to one shape B.  As torch (numpy's rule): when
    `dims` are adjacent, B replaces them in place; otherwise B comes first,
    followed by the dimensions not indexed.  A copy, no arithmetic; the
    indices are saved (``index_backward`` scatters the gradient through them).

    Raises
    ------
    CostGraphError
        If `dims` is empty or repeats a dimension.
    ShapeError
        If the number of indices differs from `dims`, or they do not broadcast.

    >>> from costgraph.symbols import N, S
    >>> AdvancedIndex((0, 1)).output_shape((N, S), (N, 1, 1, 1), (1, 1, S, 1))
    (N, 1, S, 1)
    >>> AdvancedIndex((0, 2)).output_shape((N, 8, S), (N, 1), (1, S))
    (N, S, 8)
    """

    dims: tuple
    arity = None

    def __post_init__(self):
        dims = tuple(int(d) for d in self.dims)
        if not dims or len(set(dims)) != len(dims):
            raise CostGraphError(f"AdvancedIndex: dims must be distinct and not empty, got {self.dims!r}", value=self.dims)
        object.__setattr__(self, "dims", dims)

    def output_shape(self, x, *indices):
        if len(indices) != len(self.dims):
            raise ShapeError(f"AdvancedIndex: {len(self.dims)} dims but {len(indices)} indices", value=len(indices))
        if any(not -len(x) <= d < len(x) for d in self.dims):
            raise ShapeError(f"AdvancedIndex: dims {self.dims} do not fit a {len(x)}-d input", value=self.dims)
        axes = sorted(d % len(x) for d in self.dims)
        batch = broadcast_shapes("AdvancedIndex", *indices)
        rest = [x[a] for a in range(len(x)) if a not in axes]
        if axes == list(range(axes[0], axes[-1] + 1)):
            return tuple(x[: axes[0]]) + tuple(batch) + tuple(x[axes[-1] + 1 :])
        return tuple(batch) + tuple(rest)

    def other_flops(self, out, x, *indices):
        return sympy.Integer(0)

    def flop_terms(self, out, x, *indices):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, *indices, needs_input_grad=None):
        """The indices (``index_backward`` scatters the gradient through them)."""
        return tuple(Saved.input(i + 1) for i in range(len(indices)))
