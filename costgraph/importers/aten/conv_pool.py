"""Converters: convolutions and pooling (``aten::conv2d``, ``max_pool2d``, ``adaptive_avg_pool2d``, ...)."""

from __future__ import annotations

from ...kinds import conv as conv_kinds
from ...kinds import pool as pool_kinds
from .table import aten_converter


def _pair(value, rank=2):
    if isinstance(value, (list, tuple)):
        value = tuple(int(v) for v in value)
        return value * rank if len(value) == 1 else value
    return (int(value),) * rank


def _conv(call, x, weight, bias, stride, padding, dilation, groups, transposed=False, output_padding=0):
    rank = len(weight.shape) - 2
    if rank not in (1, 2, 3):
        call.unsupported(f"a {rank}-d convolution")
    if len(x.shape) != rank + 2:
        call.unsupported(f"an unbatched {rank}-d convolution (input {len(x.shape)}-d)")
    kernel = tuple(int(d) for d in weight.shape[2:])
    groups = int(groups)
    if transposed:
        # a transposed convolution's weight is (in, out / groups, *kernel)
        in_channels, out_channels = int(weight.shape[0]), int(weight.shape[1]) * groups
        kind = getattr(conv_kinds, f"ConvTranspose{rank}d")(
            in_channels, out_channels, kernel, _pair(stride, rank), _pair(padding, rank), _pair(output_padding, rank),
            groups, bias is not None, _pair(dilation, rank),
        )  # fmt: skip
    else:
        in_channels, out_channels = int(weight.shape[1]) * groups, int(weight.shape[0])
        kind = getattr(conv_kinds, f"Conv{rank}d")(
            in_channels, out_channels, kernel, _pair(stride, rank),
            padding if isinstance(padding, str) else _pair(padding, rank), _pair(dilation, rank), groups, bias is not None,
        )  # fmt: skip
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


@aten_converter("aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d")
def transposed_convolution(call):
    """``conv_transpose{1,2,3}d(input, weight, bias, stride, padding, output_padding, groups, dilation)``."""
    return _conv(
        call,
        call.arg(0, "input"),
        call.arg(1, "weight"),
        call.arg(2, "bias"),
        call.arg(3, "stride", 1),
        call.arg(4, "padding", 0),
        call.arg(7, "dilation", 1),
        call.arg(6, "groups", 1),
        True,
        call.arg(5, "output_padding", 0),
    )


def _rank(call):
    """Spatial rank of a pooling op, from its name (``max_pool2d`` -> 2)."""
    return int(call.op.partition("::")[2].split(".")[0].rstrip("_").split("pool")[1][0])


@aten_converter(*(f"aten::max_pool{d}d{s}" for d in (1, 2, 3) for s in ("", "_with_indices")))
def max_pool(call):
    """``max_pool{1,2,3}d(input, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)``."""
    rank = _rank(call)
    kernel = _pair(call.arg(1, "kernel_size"), rank)
    stride = call.arg(2, "stride", ()) or kernel
    kind = getattr(pool_kinds, f"MaxPool{rank}d")(
        kernel, _pair(stride, rank), _pair(call.arg(3, "padding", 0), rank), _pair(call.arg(4, "dilation", 1), rank),
        bool(call.arg(5, "ceil_mode", False)),
    )  # fmt: skip
    out = call.add(kind, call.arg(0, "input"))
    return (out, None) if "_with_indices" in call.op else out


@aten_converter("aten::avg_pool1d", "aten::avg_pool2d", "aten::avg_pool3d")
def avg_pool(call):
    """``avg_pool{1,2,3}d(input, kernel_size, stride=[], padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)``."""
    if call.arg(6, "divisor_override") is not None:
        call.unsupported("divisor_override")
    rank = _rank(call)
    kernel = _pair(call.arg(1, "kernel_size"), rank)
    stride = call.arg(2, "stride", ()) or kernel
    return getattr(pool_kinds, f"AvgPool{rank}d")(
        kernel, _pair(stride, rank), _pair(call.arg(3, "padding", 0), rank), bool(call.arg(4, "ceil_mode", False)),
        bool(call.arg(5, "count_include_pad", True)),
    )  # fmt: skip


@aten_converter(*(f"aten::{p}adaptive_avg_pool{d}d" for d in (1, 2, 3) for p in ("", "_")))
def adaptive_avg_pool(call):
    """``adaptive_avg_pool{1,2,3}d(input, output_size)``."""
    rank = _rank(call)
    return getattr(pool_kinds, f"AdaptiveAvgPool{rank}d")(_pair(call.arg(1, "output_size"), rank))


@aten_converter("aten::adaptive_max_pool1d", "aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d")
def adaptive_max_pool(call):
    """``adaptive_max_pool{1,2,3}d(input, output_size)``: values and indices."""
    rank = _rank(call)
    kind = getattr(pool_kinds, f"AdaptiveMaxPool{rank}d")(_pair(call.arg(1, "output_size"), rank))
    return (call.add(kind, call.args[0]), None)


@aten_converter("aten::im2col")
def im2col(call):
    """``im2col(input, kernel_size, dilation, padding, stride)`` (``F.unfold``)."""
    from ...kinds.conv import Unfold

    x = call.args[0]
    if len(x.shape) != 4:
        call.unsupported(f"unfold of a {len(x.shape)}-d input (only batched 4-d)")
    kernel, dilation, padding, stride = (tuple(int(v) for v in call.args[i]) for i in range(1, 5))
    return Unfold(kernel, dilation, padding, stride)
