"""Reductions over dimensions (`Mean`, `Sum`, `Amax`/`Amin`, `MaxDim`/`MinDim`, `Prod`, `Var`, `Std`,
`LogSumExp`, `VectorNorm`) and cumulative scans (`Cumsum`, `Cumprod`)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .base import ParameterFree, Saved, numel, register_kind

__all__ = ['Mean', 'Sum', 'Amax', 'Amin', 'MaxDim', 'MinDim', 'Prod', 'Var', 'Std', 'LogSumExp', 'VectorNorm', 'Cumsum', 'Cumprod', 'LogicalReduction']


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

    def flop_terms(self, out, x):
        """The input elements summed (`costgraph.conventions`)."""
        return {"reduce_in": numel(x)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``sum``'s gradient needs only the input's sizes."""
        return ()


# -- reductions added for ATen import: over any dims (None: all), the batch included ---------------
# FLOPs per the count written in each docstring (each operation 1, a transcendental 1).  Their
# convention term is the input elements (``reduce_in``, ``scan_in`` for the scans), which every
# tool preset weighs 0 (none of fvcore, thop, torchinfo, ptflops, FlopCounterMode counts them).


class _Reduce(ParameterFree):
    """Shared rules: `dims` (an int, ints, or None for every dimension) and `keepdim`."""

    def flop_terms(self, out, x):
        """The input elements reduced (`costgraph.conventions`; every tool counts 0)."""
        return {"reduce_in": numel(x)}

    def __post_init__(self):
        if self.dims is not None:
            dims = tuple(self.dims) if isinstance(self.dims, (tuple, list)) else (self.dims,)
            if not dims or any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
                raise CostGraphError(f"{self.kind}: dims must be ints or None, got {self.dims!r}", value=self.dims)
            object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "keepdim", bool(self.keepdim))

    def _axes(self, x) -> set:
        rank = len(x)
        if self.dims is None:
            return set(range(rank))
        if any(not -max(rank, 1) <= d < max(rank, 1) for d in self.dims) or len({d % max(rank, 1) for d in self.dims}) != len(self.dims):
            raise ShapeError(f"{self.kind}: dims {self.dims} do not fit a {rank}-d input", value=self.dims)
        return {d % rank for d in self.dims} if rank else set()

    def output_shape(self, x):
        axes = self._axes(x)
        if self.keepdim:
            return tuple(sympy.Integer(1) if a in axes else d for a, d in enumerate(x))
        return tuple(d for a, d in enumerate(x) if a not in axes)


@register_kind
@dataclass(frozen=True)
class Amax(_Reduce):
    """``x.amax(dims, keepdim)``: ``numel(x) - numel(out)`` comparisons.

    Saved: the input and the result (``scale_grad_by_count(..., result == self, ...)``).

    >>> from costgraph.symbols import N, S
    >>> Amax(-1).output_shape((N, S, 64)), Amax(-1).other_flops((N, S), (N, S, 64))
    ((N, S), 63*N*S)
    """

    dims: object = None
    keepdim: bool = False

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result."""
        return (Saved.input(0), Saved.output())


@register_kind
@dataclass(frozen=True)
class Amin(Amax):
    """``x.amin(dims, keepdim)``: as `Amax`."""


@register_kind
@dataclass(frozen=True)
class MaxDim(_Reduce):
    """The values of ``x.max(dim, keepdim)`` (``torch.max`` along one dim): ``numel(x) - numel(out)``
    comparisons.  The int64 indices, a second output, are what backward keeps
    (``value_selecting_reduction_backward(grad, dim, indices, ...)``).

    >>> from costgraph.symbols import N, S
    >>> MaxDim(1).saved_tensors((N, 64), (N, S, 64))
    (Saved(source='extra', index=0, numel=64*N, element='index'),)
    """

    dims: object = None
    keepdim: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.dims is None or len(self.dims) != 1:
            raise CostGraphError(f"{self.kind}: one dim, got {self.dims!r}", value=self.dims)

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The int64 indices of the maxima."""
        return (Saved.extra(numel(out), "index"),)


@register_kind
@dataclass(frozen=True)
class MinDim(MaxDim):
    """The values of ``x.min(dim, keepdim)``: as `MaxDim`."""


@register_kind
@dataclass(frozen=True)
class ArgMax(_Reduce):
    """``x.argmax(dim, keepdim)`` (one dim, or None for the flattened tensor): the int64 positions
    of the maxima, ``numel(x) - numel(out)`` comparisons.

    Its output is int64 (`output_element`): no gradient flows through it, so
    autograd records nothing, and a layer that keeps it (a ``gather``'s
    index) keeps 8 bytes an element.

    >>> from costgraph.symbols import N, S
    >>> ArgMax(-1, keepdim=True).output_shape((N, S, 64)), ArgMax(-1).other_flops((N, S), (N, S, 64))
    ((N, S, 1), 63*N*S)
    >>> ArgMax().output_shape((N, S)), ArgMax().output_element("activation")
    ((), 'index')
    """

    dims: object = None
    keepdim: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.dims is not None and len(self.dims) != 1:
            raise CostGraphError(f"{self.kind}: one dim or None, got {self.dims!r}", value=self.dims)

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def flop_terms(self, out, x):
        """No term a counting tool weighs (FlopCounterMode has no formula for argmax)."""
        return {}

    def output_element(self, *inputs):
        """``"index"``: int64 positions."""
        return "index"

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: an int64 result has no gradient (autograd never records it)."""
        return ()


@register_kind
@dataclass(frozen=True)
class ArgMin(ArgMax):
    """``x.argmin(dim, keepdim)``: as `ArgMax`."""


@register_kind
@dataclass(frozen=True)
class Prod(_Reduce):
    """``x.prod(dim, keepdim)``: ``numel(x) - numel(out)`` products; saves the input and the result.

    >>> from costgraph.symbols import N
    >>> Prod(1).other_flops((N,), (N, 8))
    7*N
    """

    dims: object = None
    keepdim: bool = False

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result (``prod_backward(grad, self, result, ...)``)."""
        return (Saved.input(0), Saved.output())


@register_kind
@dataclass(frozen=True)
class Var(_Reduce):
    """``x.var(dims, correction, keepdim)``: 4 FLOPs per input element (the mean's sum, a
    subtraction, a square, the sum of squares) and 2 per output element (two divisions).

    Saved: the input (``var_backward(grad, self, ...)``).

    >>> from costgraph.symbols import N, S
    >>> Var(-1).other_flops((N, S), (N, S, 64))
    258*N*S
    """

    dims: object = None
    correction: int = 1
    keepdim: bool = False

    def other_flops(self, out, x):
        return 4 * numel(x) + 2 * numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input."""
        return (Saved.input(0),)


@register_kind
@dataclass(frozen=True)
class Std(Var):
    """``x.std(dims, correction, keepdim)``: `Var`'s FLOPs plus a square root per output element.

    Saved: the input and the result (``std_backward(result, grad, self, ...)``).
    """

    def other_flops(self, out, x):
        return 4 * numel(x) + 3 * numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result."""
        return (Saved.input(0), Saved.output())


@register_kind
@dataclass(frozen=True)
class LogSumExp(_Reduce):
    """``torch.logsumexp(x, dims, keepdim)``: 4 FLOPs per input element (max compare, subtraction,
    exponential, sum) and 2 per output element (logarithm, adding the max back).

    Saved: the input and the result (``logsumexp_backward(grad, self, result, ...)``).

    >>> from costgraph.symbols import N
    >>> LogSumExp(1).other_flops((N,), (N, 10))
    42*N
    """

    dims: object = None
    keepdim: bool = False

    def other_flops(self, out, x):
        return 4 * numel(x) + 2 * numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result."""
        return (Saved.input(0), Saved.output())


@register_kind
@dataclass(frozen=True)
class VectorNorm(_Reduce):
    """``torch.linalg.vector_norm(x, ord, dims, keepdim)`` (``torch.norm`` of a vector).

    FLOPs: ord 2: 2 per input element (square, sum) and a square root per
    output element; ord 1 and inf: 2 per input element (absolute value, sum
    or comparison); any other ord: 3 per input element (absolute value,
    power, sum) and one power per output element.  Saved: the input and the
    result (``linalg_vector_norm_backward(grad, self, ord, result, ...)``).

    >>> from costgraph.symbols import N
    >>> VectorNorm(2, -1).other_flops((N,), (N, 64))
    129*N
    """

    ord: float = 2
    dims: object = None
    keepdim: bool = False

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.ord, bool) or not isinstance(self.ord, (int, float)):
            raise CostGraphError(f"VectorNorm: ord must be a number, got {self.ord!r}", value=self.ord)

    def other_flops(self, out, x):
        if self.ord == 2:
            return 2 * numel(x) + numel(out)
        if self.ord in (1, float("inf")):
            return 2 * numel(x)
        return 3 * numel(x) + numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result."""
        return (Saved.input(0), Saved.output())


class _Cumulative(ParameterFree):
    """A scan along `dim`: ``size - 1`` operations per row, rows = ``numel / size``."""

    def flop_terms(self, out, x):
        """The input elements scanned (`costgraph.conventions`; every tool counts 0)."""
        return {"scan_in": numel(x)}

    def output_shape(self, x):
        if not -len(x) <= self.dim < len(x):
            raise ShapeError(f"{self.kind}: dim {self.dim} out of range for a {len(x)}-d input", value=self.dim)
        return tuple(x)

    def other_flops(self, out, x):
        axis = self.dim % len(x)
        return numel(x) - numel(x[:axis] + x[axis + 1 :])


@register_kind
@dataclass(frozen=True)
class Cumsum(_Cumulative):
    """``torch.cumsum(x, dim)``: ``size - 1`` additions per row along `dim`; keeps nothing.

    >>> from costgraph.symbols import N, S
    >>> Cumsum(1).other_flops((N, S), (N, S)), Cumsum(1).saved_tensors((N, S), (N, S))
    (N*S - N, ())
    """

    dim: int

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient is a reversed cumulative sum."""
        return ()


@register_kind
@dataclass(frozen=True)
class Cumprod(_Cumulative):
    """``torch.cumprod(x, dim)``: ``size - 1`` products per row; saves the input and the result."""

    dim: int

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the result (``cumprod_backward(grad, self, dim, result)``)."""
        return (Saved.input(0), Saved.output())


@register_kind
@dataclass(frozen=True)
class LogicalReduction(_Reduce):
    """``x.all(dims, keepdim)`` or ``x.any(...)`` (`op` "all" or "any"): a boolean per output
    element, ``numel(x) - numel(out)`` logical operations; no gradient, nothing saved.

    Raises
    ------
    CostGraphError
        If `op` is neither "all" nor "any".

    >>> from costgraph.symbols import N, S
    >>> LogicalReduction("any", -1).output_shape((N, S, 4)), LogicalReduction("all").output_shape((N, S))
    ((N, S), ())
    """

    op: str = "all"
    dims: object = None
    keepdim: bool = False
    carries_gradient = False  # a boolean

    def __post_init__(self):
        super().__post_init__()
        if self.op not in ("all", "any"):
            raise CostGraphError(f"LogicalReduction: op must be 'all' or 'any', got {self.op!r}", value=self.op)

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: a boolean has no gradient."""
        return ()
