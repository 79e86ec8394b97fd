"""Reductions over dimensions: `Mean` (``x.mean(dims)``) and `Sum` (``x.sum(dims)``)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .base import ParameterFree, numel, register_kind

__all__ = ['Mean', 'Sum']


@register_kind
@dataclass(frozen=True)
class Mean(ParameterFree):
    """Mean over the dimensions `dims`, as ``Tensor.mean(dims, keepdim)``.

    FLOPs: one per input element (each output element of ``n`` inputs takes
    ``n - 1`` additions and one division).  The batch dimension (0) cannot
    be reduced.

    Raises
    ------
    ShapeError
        If a dimension is out of range, repeated, or the batch dimension.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> mean = Mean((2, 3))                     # ShuffleNetV2: x.mean([2, 3])
    >>> mean.output_shape((N, 1024, H, W))
    (N, 1024)
    >>> mean.other_flops((N, 1024), (N, 1024, H, W))
    1024*H*N*W
    >>> Mean((2, 3), keepdim=True).output_shape((N, 1024, H, W))
    (N, 1024, 1, 1)
    """

    dims: tuple
    keepdim: bool = False

    def __post_init__(self):
        dims = tuple(self.dims) if isinstance(self.dims, (tuple, list)) else (self.dims,)
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, int):
                raise CostGraphError(f"Mean: dims must be ints, got {self.dims!r}", value=self.dims)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "keepdim", bool(self.keepdim))

    def _axes(self, x):
        rank = len(x)
        if any(not -rank <= d < rank for d in self.dims):
            raise ShapeError(f"Mean: dims {self.dims} out of range for a {rank}-d input", value=self.dims)
        axes = sorted(d % rank for d in self.dims)
        if len(set(axes)) != len(axes) or 0 in axes:
            raise ShapeError(f"Mean: dims {self.dims} must be distinct and not the batch dimension", value=self.dims)
        return axes

    def output_shape(self, x):
        axes = self._axes(x)
        if self.keepdim:
            return tuple(sympy.Integer(1) if a in axes else d for a, d in enumerate(x))
        return tuple(d for a, d in enumerate(x) if a not in axes)

    def other_flops(self, out, x):
        return numel(x)

    def flop_terms(self, out, x):
        """The input elements summed (`costgraph.conventions`)."""
        return {"reduce_in": numel(x)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``mean``'s gradient needs only the input's sizes."""
        return ()


@register_kind
@dataclass(frozen=True)
class Sum(ParameterFree):
    """Sum over the dimensions `dims`, as ``Tensor.sum(dims, keepdim)``.

    FLOPs: ``numel(input) - numel(output)`` additions.

    Raises
    ------
    ShapeError
        If a dimension is out of range or repeated.

    >>> from costgraph.symbols import N, H, W
    >>> Sum((1,), keepdim=True).output_shape((N, 8, H, W))
    (N, 1, H, W)
    """

    dims: tuple
    keepdim: bool = False

    def __post_init__(self):
        dims = tuple(self.dims) if isinstance(self.dims, (tuple, list)) else (self.dims,)
        if any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
            raise CostGraphError(f"Sum: dims must be ints, got {self.dims!r}", value=self.dims)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "keepdim", bool(self.keepdim))

    def output_shape(self, x):
        rank = len(x)
        if any(not -rank <= d < rank for d in self.dims) or len({d % rank for d in self.dims}) != len(self.dims):
            raise ShapeError(f"Sum: dims {self.dims} do not fit a {rank}-d input", value=self.dims)
        axes = {d % rank for d in self.dims}
        if self.keepdim:
            return tuple(sympy.Integer(1) if a in axes else d for a, d in enumerate(x))
        return tuple(d for a, d in enumerate(x) if a not in axes)

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``sum``'s gradient needs only the input's sizes."""
        return ()
