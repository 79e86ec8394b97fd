"""Views and the network's inputs: layers that move no data."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import is_integer_valued
from ..symbols import N
from .base import ParameterFree, View, numel, register_kind

__all__ = ["Input", "Flatten", "Permute", "Transpose", "Reshape", "Slice"]


@register_kind
@dataclass(frozen=True)
class Input(ParameterFree):
    """A network input of shape ``(batch, *shape)``; it is counted as an activation.

    >>> from costgraph.symbols import H, W
    >>> Input((3, H, W)).output_shape()
    (N, 3, H, W)
    """

    shape: tuple
    batch: object = N
    arity = 0

    def __post_init__(self):
        dims = tuple(sympy.sympify(d) for d in self.shape)
        for d in dims:
            if d.is_number and not (d.is_Integer and d >= 1):
                raise CostGraphError(f"Input: sizes must be positive integers, got {d}", value=d)
        object.__setattr__(self, "shape", dims)
        object.__setattr__(self, "batch", sympy.sympify(self.batch))

    def output_shape(self):
        return (self.batch,) + self.shape

    def other_flops(self, out):
        return sympy.Integer(0)

    def flop_terms(self, out):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: an input is data, not an operation autograd records."""
        return ()


@register_kind
@dataclass(frozen=True)
class Flatten(View):
    """Merge dimensions ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``: a view.

    >>> from costgraph.symbols import N
    >>> Flatten().output_shape((N, 512, 7, 7))
    (N, 25088)
    """

    start_dim: int = 1
    end_dim: int = -1

    def output_shape(self, x):
        rank = len(x)
        start = self.start_dim % rank if -rank <= self.start_dim < rank else None
        end = self.end_dim % rank if -rank <= self.end_dim < rank else None
        if start is None or end is None or start > end:
            raise ShapeError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit a {rank}-d input", value=x
            )
        return tuple(x[:start]) + (sympy.expand(numel(x[start : end + 1])),) + tuple(x[end + 1 :])


def _axis(dim, rank, owner):
    if not -rank <= dim < rank:
        raise ShapeError(f"{owner}: dim {dim} out of range for a {rank}-d input", value=dim)
    return dim % rank


@register_kind
@dataclass(frozen=True)
class Permute(View):
    """Reorder dimensions, as ``Tensor.permute``: a view.

    >>> from costgraph.symbols import N, H, W
    >>> Permute((0, 2, 3, 1)).output_shape((N, 96, H, W))
    (N, H, W, 96)
    """

    dims: tuple

    def __post_init__(self):
        object.__setattr__(self, "dims", tuple(self.dims))

    def output_shape(self, x):
        axes = [_axis(d, len(x), "Permute") for d in self.dims]
        if sorted(axes) != list(range(len(x))):
            raise ShapeError(f"Permute: dims {self.dims} are not a permutation of a {len(x)}-d input", value=self.dims)
        return tuple(x[a] for a in axes)


@register_kind
@dataclass(frozen=True)
class Transpose(View):
    """Swap two dimensions, as ``Tensor.transpose``: a view."""

    dim0: int
    dim1: int

    def output_shape(self, x):
        a, b = _axis(self.dim0, len(x), "Transpose"), _axis(self.dim1, len(x), "Transpose")
        out = list(x)
        out[a], out[b] = out[b], out[a]
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class Reshape(View):
    """Reshape to `shape` (sizes may be formulas; one may be -1), as ``Tensor.view``.

    The batch dimension is kept: `shape` describes the dimensions after it.
    The -1 size must come out as an exact integer formula; the element count
    must be preserved, which is checked symbolically.

    >>> from costgraph.symbols import N, S
    >>> Reshape((S, 12, 64)).output_shape((N, S, 768))
    (N, S, 12, 64)
    """

    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(sympy.sympify(d) for d in self.shape))

    def output_shape(self, x):
        total = sympy.expand(numel(x[1:]))
        known = [d for d in self.shape if d != -1]
        if len(known) < len(self.shape) - 1:
            raise ShapeError(f"Reshape: at most one size may be -1, got {self.shape}", value=self.shape)
        if len(known) < len(self.shape):
            inferred = sympy.expand(sympy.cancel(total / numel(known)))
            if not is_integer_valued(inferred):
                raise ShapeError(f"Reshape: {total} elements do not divide into {self.shape}", value=self.shape)
            dims = tuple(inferred if d == -1 else d for d in self.shape)
        else:
            dims = self.shape
            if sympy.expand(numel(dims) - total) != 0:
                raise ShapeError(f"Reshape: cannot view {total} elements as {dims}", value=self.shape)
        return (x[0],) + dims


@register_kind
@dataclass(frozen=True)
class Slice(View):
    """``x[..., start:stop, ...]`` along `dim` (``chunk``/``split`` are slices): a view.

    `start` and `stop` are non-negative ints within the dimension; `stop=None`
    runs to the end.
    """

    dim: int
    start: int = 0
    stop: int | None = None

    def output_shape(self, x):
        axis = _axis(self.dim, len(x), "Slice")
        size = x[axis]
        stop = size if self.stop is None else sympy.Integer(self.stop)
        length = sympy.expand(stop - self.start)
        if self.start < 0 or (length.is_number and length < 1) or (size.is_number and stop > size):
            raise ShapeError(f"Slice: [{self.start}:{self.stop}] does not fit dimension {axis} of size {size}", value=x)
        out = list(x)
        out[axis] = length
        return tuple(out)
