"""Converters: convolutions and pooling (``aten::conv2d``, ``max_pool2d``, ``adaptive_avg_pool2d``, ...)."""

from __future__ import annotations

from ...kinds import AdaptiveAvgPool2d, AvgPool2d, Conv2d, MaxPool2d
from .table import aten_converter


def _pair(value, rank=2):
    if isinstance(value, (list, tuple)):
        value = tuple(int(v) for v in value)
        return value * rank if len(value) == 1 else value
    return (int(value),) * rank


def _conv(call, x, weight, bias, stride, padding, dilation, groups, transposed=False, output_padding=(0,)):
    rank = len(weight.shape) - 2
    if transposed or rank != 2:
        call.unsupported(f"a {rank}-d{' transposed' if transposed else ''} convolution (no costgraph kind yet)")
    out_channels, in_per_group = int(weight.shape[0]), int(weight.shape[1])
    kind = Conv2d(
        in_per_group * groups,
        out_channels,
        _pair(weight.shape[2:]),
        _pair(stride),
        padding if isinstance(padding, str) else _pair(padding),
        _pair(dilation),
        groups,
        bias is not None,
    )
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::conv2d", "aten::conv1d", "aten::conv3d")
def convolution(call):
    """``conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups)``."""
    return _conv(
        call,
        call.arg(0, "input"),
        call.arg(1, "weight"),
        call.arg(2, "bias"),
        call.arg(3, "stride", 1),
        call.arg(4, "padding", 0),
        call.arg(5, "dilation", 1),
        call.arg(6, "groups", 1),
    )


@aten_converter("aten::convolution")
def general_convolution(call):
    """``convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)``."""
    return _conv(
        call,
        call.arg(0, "input"),
        call.arg(1, "weight"),
        call.arg(2, "bias"),
        call.arg(3, "stride"),
        call.arg(4, "padding"),
        call.arg(5, "dilation"),
        call.arg(8, "groups"),
        call.arg(6, "transposed"),
        call.arg(7, "output_padding"),
    )


@aten_converter("aten::max_pool2d", "aten::max_pool2d_with_indices")
def max_pool(call):
    """``max_pool2d(input, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)``."""
    kernel = _pair(call.arg(1, "kernel_size"))
    stride = call.arg(2, "stride", ()) or kernel
    kind = MaxPool2d(kernel, _pair(stride), _pair(call.arg(3, "padding", 0)), _pair(call.arg(4, "dilation", 1)), bool(call.arg(5, "ceil_mode", False)))
    out = call.add(kind, call.arg(0, "input"))
    return (out, None) if call.op.startswith("aten::max_pool2d_with_indices") else out


@aten_converter("aten::avg_pool2d")
def avg_pool(call):
    """``avg_pool2d(input, kernel_size, stride=[], padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)``."""
    if call.arg(6, "divisor_override") is not None:
        call.unsupported("divisor_override")
    kernel = _pair(call.arg(1, "kernel_size"))
    stride = call.arg(2, "stride", ()) or kernel
    return AvgPool2d(kernel, _pair(stride), _pair(call.arg(3, "padding", 0)), bool(call.arg(4, "ceil_mode", False)), bool(call.arg(5, "count_include_pad", True)))


@aten_converter("aten::adaptive_avg_pool2d", "aten::_adaptive_avg_pool2d")
def adaptive_avg_pool(call):
    """``adaptive_avg_pool2d(input, output_size)``."""
    size = call.arg(1, "output_size")
    return AdaptiveAvgPool2d(_pair(size))
