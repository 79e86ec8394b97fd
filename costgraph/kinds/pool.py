"""Pooling in 1, 2 and 3 dimensions: max, average, adaptive average, adaptive max."""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import ClassVar

import sympy

from ..errors import CostGraphError
from ..symbols import as_size
from ..intmath import FloorDiv, pool_out
from .base import ParameterFree, Saved, numel, register_kind
from .conv import ntuple, show_tuple

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "adaptive_window_sum",
    "ThopAdaptiveOps",
]


def _volume(sizes) -> int:
    volume = 1
    for size in sizes:
        volume *= size
    return volume


class _PoolNd(ParameterFree):
    """Shared shape rule of the windowed pools (PyTorch's ``pooling_output_shape``); `spatial` axes."""

    spatial: ClassVar[int] = 2

    def _setup(self, owner: str, dilation=1):
        n = self.spatial
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        kernel = ntuple(self.kernel_size, n, "kernel_size", owner)
        stride = kernel if self.stride is None else ntuple(self.stride, n, "stride", owner)
        padding = ntuple(self.padding, n, "padding", owner, allow_zero=True)
        dilation = ntuple(dilation, n, "dilation", owner)
        for axis in range(n):
            effective = dilation[axis] * (kernel[axis] - 1) + 1
            if 2 * padding[axis] > effective:
                raise CostGraphError(
                    f"{owner}: pad should be at most half of effective kernel size, but got "
                    f"pad={padding[axis]}, kernel_size={kernel[axis]} and dilation={dilation[axis]}",
                    value=padding[axis],
                )
        set_("kernel_size", kernel)
        set_("stride", stride)
        set_("padding", padding)
        set_("ceil_mode", bool(self.ceil_mode))
        return dilation

    @property
    def kernel(self):
        return show_tuple(self.kernel_size)

    @property
    def _dilation(self):
        return getattr(self, "dilation", (1,) * self.spatial)

    def output_shape(self, x):
        self.check_rank(x, self.spatial + 2)
        sizes = tuple(
            pool_out(x[2 + a], self.kernel_size[a], self.stride[a], self.padding[a], self._dilation[a], self.ceil_mode)
            for a in range(self.spatial)
        )
        return (x[0], x[1]) + sizes


class _MaxPoolNd(_PoolNd):
    """Max pooling: ``k - 1`` comparisons per output element for a window of ``k`` elements."""

    def __post_init__(self):
        object.__setattr__(self, "dilation", self._setup(self.kind, self.dilation))

    def other_flops(self, out, x):
        return numel(out) * (_volume(self.kernel_size) - 1)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and window elements."""
        return {
            "max_pool_in": numel(x),
            "max_pool_out": numel(out),
            "max_pool_window": numel(out) * _volume(self.kernel_size),
        }

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the int64 argmax of every output element (``max_pool*d_with_indices``)."""
        return (Saved.input(0), Saved.extra(numel(out), "index"))


class _AvgPoolNd(_PoolNd):
    """Average pooling: ``k`` FLOPs per output element (``k - 1`` additions, one division).

    ``count_include_pad`` changes only the divisor, not the count of
    operations, so no convention's figure depends on it.
    """

    def __post_init__(self):
        self._setup(self.kind)
        object.__setattr__(self, "count_include_pad", bool(self.count_include_pad))

    def other_flops(self, out, x):
        return numel(out) * _volume(self.kernel_size)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and window elements."""
        return {
            "avg_pool_in": numel(x),
            "avg_pool_out": numel(out),
            "avg_pool_window": numel(out) * _volume(self.kernel_size),
        }

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input: ``avg_pool*d``'s derivative formula takes it (for its shape, but keeps it)."""
        return (Saved.input(0),)


@register_kind
@dataclass(frozen=True)
class MaxPool1d(_MaxPoolNd):
    """Max pooling over ``(N, C, L)``, as ``torch.nn.MaxPool1d`` (``stride`` defaults to the kernel).

    >>> from costgraph.symbols import N, S
    >>> pool = MaxPool1d(3, stride=2, padding=1)
    >>> out = pool.output_shape((N, 64, S)); out               # (S + 2 - 2 - 1)//2 + 1
    (N, 64, floor((S + 1)/2))
    >>> pool.other_flops(out, (N, 64, S)).subs({N: 1, S: 9})  # 64 * 5 outputs * 2 comparisons
    640
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    dilation: int | tuple = 1
    ceil_mode: bool = False
    spatial = 1


@register_kind
@dataclass(frozen=True)
class MaxPool3d(_MaxPoolNd):
    """Max pooling over ``(N, C, T, H, W)``, as ``torch.nn.MaxPool3d``.

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)).output_shape((N, 64, T, H, W))
    (N, 64, T, floor((H + 1)/2), floor((W + 1)/2))
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    dilation: int | tuple = 1
    ceil_mode: bool = False
    spatial = 3


@register_kind
@dataclass(frozen=True)
class AvgPool1d(_AvgPoolNd):
    """Average pooling over ``(N, C, L)``, as ``torch.nn.AvgPool1d``.

    >>> from costgraph.symbols import N, S
    >>> AvgPool1d(2).output_shape((N, 8, S)), AvgPool1d(2).other_flops((N, 8, 5), (N, 8, 10))
    ((N, 8, floor(S/2)), 80*N)
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    spatial = 1


@register_kind
@dataclass(frozen=True)
class AvgPool3d(_AvgPoolNd):
    """Average pooling over ``(N, C, T, H, W)``, as ``torch.nn.AvgPool3d``.

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> AvgPool3d(2, ceil_mode=True).output_shape((N, 8, T, H, W))
    (N, 8, floor((T + 1)/2), floor((H + 1)/2), floor((W + 1)/2))
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    spatial = 3


@register_kind
@dataclass(frozen=True)
class MaxPool2d(_MaxPoolNd):
    """Max pooling, as ``torch.nn.MaxPool2d`` (``stride`` defaults to the kernel).

    FLOPs: ``k_h*k_w - 1`` comparisons per output element.  Saved for
    backward: the input and the int64 argmax of every output element.

    >>> from costgraph.symbols import N, H, W
    >>> MaxPool2d(2).output_shape((N, 64, H, W))
    (N, 64, floor(H/2), floor(W/2))
    >>> x = (N, 64, H, W); pool = MaxPool2d(2)
    >>> pool.saved_tensors(pool.output_shape(x), x)[1]
    Saved(source='extra', index=0, numel=64*N*floor(H/2)*floor(W/2), element='index')
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    dilation: int | tuple = 1
    ceil_mode: bool = False
    spatial = 2


@register_kind
@dataclass(frozen=True)
class AvgPool2d(_AvgPoolNd):
    """Average pooling, as ``torch.nn.AvgPool2d``.

    FLOPs: ``k_h*k_w`` per output element (``k*k - 1`` additions and one division).
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    spatial = 2


def _totient(n: int) -> int:
    return sum(1 for k in range(1, n + 1) if math.gcd(k, n) == 1)


def adaptive_window_sum(size, out: int) -> sympy.Expr:
    """Sum of the window lengths adaptive pooling uses along one axis.

    Window ``i`` of ``out`` covers ``[floor(i*n/out), ceil((i+1)*n/out))``
    (PyTorch's ``start_index``/``end_index``).  Windows overlap when ``out``
    does not divide ``n``, so the sum can exceed ``n``.

    Summing the ``out`` windows one by one gives ``2*out`` floors, and the
    product of two axes hundreds of terms.  Instead: consecutive windows
    share an element exactly when ``out`` does not divide ``j*n`` (for
    ``j = 1..out-1``), which happens ``out - gcd(n, out)`` times, so the sum is
    ``n + out - gcd(n, out)``; and ``gcd(n, out)`` is ``sum(phi(d) * [d | n])``
    over the divisors ``d`` of ``out``, with ``[d | n] = floor(n/d) - floor((n-1)/d)``.
    A test checks this against the window-by-window sum.

    >>> adaptive_window_sum(7, 7), adaptive_window_sum(8, 3)   # 3+4+3 windows of 8 into 3
    (7, 10)
    >>> from costgraph.symbols import H
    >>> adaptive_window_sum(H, 2)                               # H + 2 - gcd(H, 2)
    H - floor(H/2) + floor((H + 1)/2)
    """
    size = as_size(size, owner="adaptive_window_sum", what="size")
    if out == 1:
        return size
    if size.is_Integer:
        return sympy.Integer(int(size) + out - math.gcd(int(size), out))
    divides = lambda d: FloorDiv(size, sympy.Integer(d)) - FloorDiv(size - 1, sympy.Integer(d))  # noqa: E731
    gcd = sympy.Add(*[_totient(d) * (divides(d) if d > 1 else 1) for d in range(1, out + 1) if out % d == 0])
    return sympy.expand(size + out - gcd)


class _AdaptivePoolNd(ParameterFree):
    """Shared rules of adaptive pooling over `spatial` axes: a fixed output size (None keeps the input's)."""

    spatial: ClassVar[int] = 2

    def __post_init__(self):
        n, owner = self.spatial, self.kind
        size = self.output_size
        if isinstance(size, (tuple, list)):
            if len(size) != n:
                what = "a pair" if n == 2 else f"{n} ints"
                raise CostGraphError(f"{owner}: output_size must be an int or {what}, got {size!r}")
            size = tuple(None if s is None else ntuple(s, n, "output_size", owner)[0] for s in size)
        else:
            size = ntuple(size, n, "output_size", owner)
        object.__setattr__(self, "output_size", size)

    def output_shape(self, x):
        self.check_rank(x, self.spatial + 2)
        sizes = tuple(x[2 + a] if o is None else sympy.Integer(o) for a, o in enumerate(self.output_size))
        return (x[0], x[1]) + sizes

    def _window_elements(self, x):
        """Elements of every (possibly overlapping) window, over the whole tensor."""
        sums = [
            x[2 + a] if o is None else adaptive_window_sum(x[2 + a], o)
            for a, o in enumerate(self.output_size)
        ]
        return sympy.Mul(x[0], x[1], *sums)


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    """Adaptive average pooling: one FLOP per element of every window (sum, then divide)."""

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, except for an output of size 1 everywhere, which torch computes as ``mean`` (keeps nothing)."""
        if self.output_size == (1,) * self.spatial:
            return ()
        return (Saved.input(0),)

    def other_flops(self, out, x):
        return self._window_elements(x)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and (overlapping) window elements,
        and thop's float count (`ThopAdaptiveOps`)."""
        return {
            "adaptive_pool_in": numel(x),
            "adaptive_pool_out": numel(out),
            "adaptive_pool_window": self.other_flops(out, x),
            "adaptive_pool_thop": ThopAdaptiveOps(numel(out), *x[2:], *out[2:]),
        }


@register_kind
@dataclass(frozen=True)
class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling of ``(N, C, L)`` to `output_size`, as ``torch.nn.AdaptiveAvgPool1d``.

    >>> from costgraph.symbols import N, S
    >>> pool = AdaptiveAvgPool1d(3)
    >>> pool.output_shape((N, 4, S)), pool.other_flops((N, 4, 3), (N, 4, 8))   # windows 3+4+3 of 8
    ((N, 4, 3), 40*N)
    """

    output_size: int | tuple
    spatial = 1


@register_kind
@dataclass(frozen=True)
class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling of ``(N, C, T, H, W)``, as ``torch.nn.AdaptiveAvgPool3d`` (video heads).

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> AdaptiveAvgPool3d(1).output_shape((N, 512, T, H, W))
    (N, 512, 1, 1, 1)
    """

    output_size: int | tuple
    spatial = 3


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    """Adaptive max pooling: ``k - 1`` comparisons per output element of a ``k``-element window."""

    def other_flops(self, out, x):
        comparisons = self._window_elements(x) - numel(out)
        if comparisons.free_symbols:
            # every window holds at least one element, so this is never negative; costgraph's
            # count check cannot prove it through the windows' floors and ceilings, and Max
            # states it without changing a value
            return sympy.Max(0, comparisons)
        return comparisons

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`, as a max pool's: input, output and window elements."""
        return {"max_pool_in": numel(x), "max_pool_out": numel(out), "max_pool_window": self._window_elements(x)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the int64 argmax of every output element (``adaptive_max_pool*d``)."""
        return (Saved.input(0), Saved.extra(numel(out), "index"))


@register_kind
@dataclass(frozen=True)
class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of ``(N, C, L)``, as ``torch.nn.AdaptiveMaxPool1d``.

    >>> from costgraph.symbols import N
    >>> AdaptiveMaxPool1d(3).other_flops((N, 4, 3), (N, 4, 8))     # windows 3+4+3, minus 3 outputs, x 4
    28*N
    """

    output_size: int | tuple
    spatial = 1


@register_kind
@dataclass(frozen=True)
class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of ``(N, C, H, W)``, as ``torch.nn.AdaptiveMaxPool2d``.

    >>> from costgraph.symbols import N, H, W
    >>> AdaptiveMaxPool2d((2, None)).output_shape((N, 8, H, W))
    (N, 8, 2, W)
    """

    output_size: int | tuple
    spatial = 2


@register_kind
@dataclass(frozen=True)
class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of ``(N, C, T, H, W)``, as ``torch.nn.AdaptiveMaxPool3d``."""

    output_size: int | tuple
    spatial = 3


@register_kind
@dataclass(frozen=True)
class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``.

    ``None`` in `output_size` keeps that input size.  FLOPs: one per element
    of every window (sum, then divide), windows overlapping when the output
    size does not divide the input size.  Saved for backward: the input,
    except for output size 1x1, which torch computes as ``mean`` (keeps nothing).

    >>> from costgraph.symbols import N, H, W
    >>> AdaptiveAvgPool2d((7, 7)).output_shape((N, 512, H, W))
    (N, 512, 7, 7)
    >>> AdaptiveAvgPool2d(1).saved_tensors((N, 8, 1, 1), (N, 8, H, W))
    ()
    >>> AdaptiveAvgPool2d(7).saved_tensors((N, 8, 7, 7), (N, 8, H, W))
    (Saved(source='input', index=0, numel=None, element='activation'),)
    """

    output_size: int | tuple
    spatial = 2


class ThopAdaptiveOps(sympy.Function):
    """thop's count for ``nn.AdaptiveAvgPool1d/2d/3d``, floating point rounding included.

    thop (``thop/vision/basic_hooks.py``, ``count_adap_avgpool`` and
    ``calc_func.calculate_adaptive_avg``, version 0.1.1.post2209072238)
    computes ``kernel = prod(DoubleTensor(in_hw) / DoubleTensor(out_hw))`` and
    adds ``int((kernel + 1) * output_elements)``.  In exact arithmetic that is
    ``N*C*(H_in*W_in + H_out*W_out)``, always an integer; in doubles the
    product can land just below it and ``int`` truncates, so thop reports one
    less (e.g. 1x5 into 7x7 over 512 channels: thop's hook adds 27,647).  This function
    reproduces that bit for bit with Python floats, which are the same IEEE
    doubles torch uses; it is the only place costgraph computes with a float,
    and only to copy a tool's figure.

    Arguments: output elements, the input's spatial sizes, the output's
    (H_in, W_in, H_out, W_out in 2-d; one or three of each in 1-d and 3-d,
    where thop's ``torch.prod`` of the ratios multiplies left to right).

    >>> ThopAdaptiveOps(512 * 49, 7, 7, 7, 7)          # 2 per output element
    50176
    >>> ThopAdaptiveOps(512 * 49, 1, 5, 7, 7), 512 * (1 * 5 + 49)   # rounding loses one
    (27647, 27648)
    >>> ThopAdaptiveOps(12, 9, 4)                       # 1-d: int((9/4 + 1) * 12)
    39
    """

    nargs = (3, 5, 7)

    @classmethod
    def eval(cls, count, *sizes):
        if all(isinstance(a, sympy.Integer) for a in (count, *sizes)):
            axes = len(sizes) // 2
            kernel = int(sizes[0]) / int(sizes[axes])
            for a in range(1, axes):
                kernel *= int(sizes[a]) / int(sizes[axes + a])
            return sympy.Integer(int((kernel + 1) * float(int(count))))
        return None

    def _eval_is_integer(self):
        return True

    def _eval_is_nonnegative(self):
        return True
