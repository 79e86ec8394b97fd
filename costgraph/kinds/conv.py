"""Convolution."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import conv_out
from .base import Constraint, LayerKind, Saved, numel, pair, positive_int, register_kind, wants_grad

__all__ = ["Conv2d", "show_pair"]


def show_pair(value):
    """A square pair as one int, for tables: ``(3, 3)`` -> ``3``."""
    if value is None:
        return None
    return value[0] if value[0] == value[1] else value


@register_kind
@dataclass(frozen=True)
class Conv2d(LayerKind):
    """2-d convolution, as ``torch.nn.Conv2d``.

    Output size per axis: ``(n + 2p - d(k-1) - 1) // s + 1``.  MACs:
    ``N * C_out * H_out * W_out * (C_in / groups) * k_h * k_w``; the bias
    add is part of the 2 FLOPs per MAC (k products and k-1 sums, plus one
    bias add, make 2k).

    ``padding="same"`` (stride 1 only) and ``"valid"`` are accepted, as in torch.

    >>> from costgraph.symbols import N, H, W
    >>> conv = Conv2d(3, 64, 3, padding=1)
    >>> conv.output_shape((N, 3, H, W))
    (N, 64, H, W)
    >>> conv.weights((N, 3, H, W)), conv.biases((N, 3, H, W))   # 3*3*3*64, 64
    (1728, 64)
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: int | tuple | str = 0
    dilation: int | tuple = 1
    groups: int = 1
    bias: bool = True

    def __post_init__(self):
        owner = "Conv2d"
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        positive_int(self.in_channels, "in_channels", owner)
        positive_int(self.out_channels, "out_channels", owner)
        groups = positive_int(self.groups, "groups", owner)
        for channels in ("in_channels", "out_channels"):
            if getattr(self, channels) % groups:
                raise CostGraphError(
                    f"{owner}: groups={groups} must divide {channels}={getattr(self, channels)}",
                    value=groups,
                )
        kernel = pair(self.kernel_size, "kernel_size", owner)
        stride = pair(self.stride, "stride", owner)
        dilation = pair(self.dilation, "dilation", owner)
        if self.padding == "valid":
            padding = (0, 0)
        elif self.padding == "same":
            if stride != (1, 1):
                raise CostGraphError(f"{owner}: padding='same' needs stride 1, got {stride}", value=stride)
            # torch pads d*(k-1) in all, the odd element on the right: output = input
            padding = "same"
        else:
            padding = pair(self.padding, "padding", owner, allow_zero=True)
        set_("kernel_size", kernel)
        set_("stride", stride)
        set_("dilation", dilation)
        set_("padding", padding)
        set_("bias", bool(self.bias))

    @property
    def kernel(self):
        return show_pair(self.kernel_size)

    def _out_size(self, size, axis):
        if self.padding == "same":
            return size
        return conv_out(size, self.kernel_size[axis], self.stride[axis], self.padding[axis], self.dilation[axis])

    def output_shape(self, x):
        self.check_rank(x, 4)
        if x[1] != self.in_channels:
            raise ShapeError(
                f"Conv2d expects {self.in_channels} input channels, got {x[1]}", value=x[1]
            )
        return (x[0], sympy.Integer(self.out_channels), self._out_size(x[2], 0), self._out_size(x[3], 1))

    def constraints(self, out, x):
        if self.padding == "same":
            return ()
        return tuple(
            Constraint(
                x[2 + axis] + 2 * self.padding[axis] - self.dilation[axis] * (self.kernel_size[axis] - 1) - 1,
                "Kernel size can't be greater than actual input size",
            )
            for axis in (0, 1)
        )

    def weights(self, x):
        kh, kw = self.kernel_size
        return sympy.Integer(self.out_channels * (self.in_channels // self.groups) * kh * kw)

    def biases(self, x):
        return sympy.Integer(self.out_channels if self.bias else 0)

    def macs(self, out, x):
        kh, kw = self.kernel_size
        return numel(out) * (self.in_channels // self.groups) * kh * kw

    def flop_terms(self, out, x):
        """Cost terms beyond the MACs, for `costgraph.conventions`: one bias add per output element."""
        return {"bias": numel(out) if self.bias else 0}

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, for the weight gradient (the weight is a parameter, counted once)."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """Grad of the weights, plus grad of the input if it needs one: each as many MACs as forward.

        The weight gradient is a convolution of the input with the output
        gradient: ``C_out * (C_in/groups) * k_h * k_w`` sums of
        ``N * H_out * W_out`` products.  The input gradient is the transposed
        convolution of the output gradient with the weights: the forward
        products, read backwards.  A first layer's input needs no gradient.

        >>> from costgraph.symbols import N, H, W
        >>> conv = Conv2d(3, 64, 3, padding=1)
        >>> x = (N, 3, H, W); out = conv.output_shape(x)
        >>> conv.backward_macs(out, x), conv.backward_macs(out, x, needs_input_grad=(False,))
        (3456*H*N*W, 1728*H*N*W)
        """
        forward = self.macs(out, x)
        return forward * (2 if wants_grad(needs_input_grad, 0) else 1)
