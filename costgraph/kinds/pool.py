"""Pooling: max, average, adaptive average."""

from __future__ import annotations

import math

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError
from ..symbols import as_size
from ..intmath import FloorDiv, pool_out
from .base import ParameterFree, Saved, numel, pair, register_kind
from .conv import show_pair

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "adaptive_window_sum"]


class _Pool2d(ParameterFree):
    """Shared shape rule of the windowed pools (PyTorch's ``pooling_output_shape``)."""

    def _setup(self, owner: str, dilation=1):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        kernel = pair(self.kernel_size, "kernel_size", owner)
        stride = kernel if self.stride is None else pair(self.stride, "stride", owner)
        padding = pair(self.padding, "padding", owner, allow_zero=True)
        dilation = pair(dilation, "dilation", owner)
        for axis in (0, 1):
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
        return show_pair(self.kernel_size)

    def output_shape(self, x):
        self.check_rank(x, 4)
        sizes = tuple(
            pool_out(x[2 + a], self.kernel_size[a], self.stride[a], self.padding[a], self._dilation[a], self.ceil_mode)
            for a in (0, 1)
        )
        return (x[0], x[1]) + sizes


@register_kind
@dataclass(frozen=True)
class MaxPool2d(_Pool2d):
    """Max pooling, as ``torch.nn.MaxPool2d`` (``stride`` defaults to the kernel).

    FLOPs: ``k_h*k_w - 1`` comparisons per output element.

    >>> from costgraph.symbols import N, H, W
    >>> MaxPool2d(2).output_shape((N, 64, H, W))
    (N, 64, floor(H/2), floor(W/2))
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    dilation: int | tuple = 1
    ceil_mode: bool = False

    def __post_init__(self):
        object.__setattr__(self, "dilation", self._setup("MaxPool2d", self.dilation))

    @property
    def _dilation(self):
        return self.dilation

    def other_flops(self, out, x):
        kh, kw = self.kernel_size
        return numel(out) * (kh * kw - 1)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and window elements."""
        kh, kw = self.kernel_size
        return {"max_pool_in": numel(x), "max_pool_out": numel(out), "max_pool_window": numel(out) * kh * kw}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the int64 argmax of every output element (``max_pool2d_with_indices``).

        >>> from costgraph.symbols import N, H, W
        >>> x = (N, 64, H, W); pool = MaxPool2d(2)
        >>> pool.saved_tensors(pool.output_shape(x), x)[1]
        Saved(source='extra', index=0, numel=64*N*floor(H/2)*floor(W/2), element='index')
        """
        return (Saved.input(0), Saved.extra(numel(out), "index"))


@register_kind
@dataclass(frozen=True)
class AvgPool2d(_Pool2d):
    """Average pooling, as ``torch.nn.AvgPool2d``.

    FLOPs: ``k_h*k_w`` per output element (``k*k - 1`` additions and one division).
    """

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True

    def __post_init__(self):
        self._setup("AvgPool2d")

    _dilation = (1, 1)

    def other_flops(self, out, x):
        kh, kw = self.kernel_size
        return numel(out) * kh * kw

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and window elements."""
        kh, kw = self.kernel_size
        return {"avg_pool_in": numel(x), "avg_pool_out": numel(out), "avg_pool_window": numel(out) * kh * kw}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input: ``avg_pool2d``'s derivative formula takes it (for its shape, but keeps it)."""
        return (Saved.input(0),)


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


@register_kind
@dataclass(frozen=True)
class AdaptiveAvgPool2d(ParameterFree):
    """Adaptive average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``.

    ``None`` in `output_size` keeps that input size.  FLOPs: one per element
    of every window (sum, then divide), windows overlapping when the output
    size does not divide the input size.

    >>> from costgraph.symbols import N, H, W
    >>> AdaptiveAvgPool2d((7, 7)).output_shape((N, 512, H, W))
    (N, 512, 7, 7)
    """

    output_size: int | tuple

    def __post_init__(self):
        size = self.output_size
        if isinstance(size, (tuple, list)):
            if len(size) != 2:
                raise CostGraphError(f"AdaptiveAvgPool2d: output_size must be an int or a pair, got {size!r}")
            size = tuple(None if s is None else pair(s, "output_size", "AdaptiveAvgPool2d")[0] for s in size)
        else:
            size = pair(size, "output_size", "AdaptiveAvgPool2d")
        object.__setattr__(self, "output_size", size)

    def output_shape(self, x):
        self.check_rank(x, 4)
        sizes = tuple(x[2 + a] if o is None else sympy.Integer(o) for a, o in enumerate(self.output_size))
        return (x[0], x[1]) + sizes

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, except for output size 1x1, which torch computes as ``mean`` (keeps nothing).

        >>> from costgraph.symbols import N, H, W
        >>> AdaptiveAvgPool2d(1).saved_tensors((N, 8, 1, 1), (N, 8, H, W))
        ()
        >>> AdaptiveAvgPool2d(7).saved_tensors((N, 8, 7, 7), (N, 8, H, W))
        (Saved(source='input', index=0, numel=None, element='activation'),)
        """
        if self.output_size == (1, 1):
            return ()
        return (Saved.input(0),)

    def other_flops(self, out, x):
        sums = [
            x[2 + a] if o is None else adaptive_window_sum(x[2 + a], o)
            for a, o in enumerate(self.output_size)
        ]
        return x[0] * x[1] * sums[0] * sums[1]

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: input, output and (overlapping) window elements,
        and thop's float count (`costgraph.conventions.ThopAdaptiveOps`)."""
        from ..conventions import ThopAdaptiveOps

        return {
            "adaptive_pool_in": numel(x),
            "adaptive_pool_out": numel(out),
            "adaptive_pool_window": self.other_flops(out, x),
            "adaptive_pool_thop": ThopAdaptiveOps(numel(out), x[2], x[3], out[2], out[3]),
        }
