"""Convolution in 1, 2 and 3 dimensions, plain and transposed.

One rule set (`_ConvNd`) serves ``Conv1d``, ``Conv2d``, ``Conv3d`` and
``ConvTranspose1d/2d/3d``: torch's ``aten.convolution`` is one op for all
of them, and ``torch.utils.flop_counter.conv_flop_count`` one formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import conv_out
from .base import Constraint, LayerKind, Saved, numel, pair, positive_int, nonnegative_int, register_kind, wants_grad

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Unfold",
    "show_pair",
    "show_tuple",
    "ntuple",
]


def show_pair(value):
    """A square pair (or any tuple of equal ints) as one int, for tables: ``(3, 3)`` -> ``3``.

    >>> show_pair((3, 3)), show_pair((1, 2, 2)), show_pair(None)
    (3, (1, 2, 2), None)
    """
    if value is None:
        return None
    return value[0] if len(set(value)) == 1 else value


show_tuple = show_pair  # the same rule, named for tuples of any length


def ntuple(value, n: int, name: str, owner: str, *, allow_zero: bool = False) -> tuple:
    """An int or `n` ints as a checked `n`-tuple (`pair` for ``n == 2``, with its messages).

    Raises
    ------
    CostGraphError
        If `value` is not an int or a sequence of `n` ints, or an int is
        below 1 (below 0 with `allow_zero`).

    >>> ntuple(3, 3, "kernel_size", "Conv3d"), ntuple((1, 2, 3), 3, "stride", "Conv3d")
    ((3, 3, 3), (1, 2, 3))
    """
    if n == 2:
        return pair(value, name, owner, allow_zero=allow_zero)
    check = nonnegative_int if allow_zero else positive_int
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise CostGraphError(f"{owner}: {name} must be an int or {n} ints, got {value!r}", value=value)
        return tuple(check(v, name, owner) for v in value)
    return (check(value, name, owner),) * n


class _ConvNd(LayerKind):
    """The rules every convolution shares; subclasses set `spatial` (1, 2, 3) and `transposed`.

    A plain convolution's weight is ``(C_out, C_in/groups, *k)``, a
    transposed one's ``(C_in, C_out/groups, *k)``, as torch stores them.
    MACs follow ``torch.utils.flop_counter.conv_flop_count``: batch times
    the product of the weight's dimensions times the spatial size of the
    output (plain) or of the input (transposed: every input element is
    scattered through the whole kernel).
    """

    spatial: ClassVar[int] = 2
    transposed: ClassVar[bool] = False

    def __post_init__(self):
        owner = self.kind
        n = self.spatial
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
        kernel = ntuple(self.kernel_size, n, "kernel_size", owner)
        stride = ntuple(self.stride, n, "stride", owner)
        dilation = ntuple(self.dilation, n, "dilation", owner)
        if self.transposed:
            padding = ntuple(self.padding, n, "padding", owner, allow_zero=True)
            output_padding = ntuple(self.output_padding, n, "output_padding", owner, allow_zero=True)
            for axis in range(n):
                # torch: "output padding must be smaller than either stride or dilation"
                if output_padding[axis] >= max(stride[axis], dilation[axis]):
                    raise CostGraphError(
                        f"{owner}: output_padding must be smaller than either stride or dilation, got "
                        f"output_padding={output_padding[axis]}, stride={stride[axis]}, dilation={dilation[axis]}",
                        value=output_padding[axis],
                    )
            set_("output_padding", output_padding)
        elif self.padding == "valid":
            padding = (0,) * n
        elif self.padding == "same":
            if stride != (1,) * n:
                raise CostGraphError(f"{owner}: padding='same' needs stride 1, got {stride}", value=stride)
            # torch pads d*(k-1) in all, the odd element on the right: output = input
            padding = "same"
        else:
            padding = ntuple(self.padding, n, "padding", owner, allow_zero=True)
        set_("kernel_size", kernel)
        set_("stride", stride)
        set_("dilation", dilation)
        set_("padding", padding)
        set_("bias", bool(self.bias))

    @property
    def kernel(self):
        return show_tuple(self.kernel_size)

    def _kernel_volume(self) -> int:
        volume = 1
        for k in self.kernel_size:
            volume *= k
        return volume

    def _out_size(self, size, axis):
        if self.transposed:
            # torch's _ConvTransposeNd: (in - 1)*s - 2p + d(k - 1) + output_padding + 1
            return sympy.expand(
                (size - 1) * self.stride[axis]
                - 2 * self.padding[axis]
                + self.dilation[axis] * (self.kernel_size[axis] - 1)
                + self.output_padding[axis]
                + 1
            )
        if self.padding == "same":
            return size
        return conv_out(size, self.kernel_size[axis], self.stride[axis], self.padding[axis], self.dilation[axis])

    def output_shape(self, x):
        self.check_rank(x, self.spatial + 2)
        if x[1] != self.in_channels:
            raise ShapeError(
                f"{self.kind} expects {self.in_channels} input channels, got {x[1]}", value=x[1]
            )
        sizes = tuple(self._out_size(x[2 + axis], axis) for axis in range(self.spatial))
        return (x[0], sympy.Integer(self.out_channels)) + sizes

    def constraints(self, out, x):
        if self.transposed or self.padding == "same":
            return ()
        return tuple(
            Constraint(
                x[2 + axis] + 2 * self.padding[axis] - self.dilation[axis] * (self.kernel_size[axis] - 1) - 1,
                "Kernel size can't be greater than actual input size",
            )
            for axis in range(self.spatial)
        )

    def weights(self, x):
        return sympy.Integer(self.out_channels * (self.in_channels // self.groups) * self._kernel_volume())

    def biases(self, x):
        return sympy.Integer(self.out_channels if self.bias else 0)

    def macs(self, out, x):
        if self.transposed:
            return numel(x[:1] + x[2:]) * self.in_channels * (self.out_channels // self.groups) * self._kernel_volume()
        return numel(out) * (self.in_channels // self.groups) * self._kernel_volume()

    def flop_terms(self, out, x):
        """Cost terms beyond the MACs, for `costgraph.conventions`: one bias add per output element;
        for a transposed conv also its weights x batch x output positions (``transposed_conv_by_output``:
        how thop and torchinfo count it, as if it were a conv producing its output)."""
        terms = {"bias": numel(out) if self.bias else 0}
        if self.transposed:
            weights = self.in_channels * (self.out_channels // self.groups) * self._kernel_volume()
            terms["transposed_conv_by_output"] = numel(out[:1] + out[2:]) * weights
        return terms

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

        (FlopCounterMode counts a grouped convolution's weight gradient
        `groups` times: it sees all channels, not ``C_in / groups``.)

        >>> from costgraph.symbols import N, H, W
        >>> conv = Conv2d(3, 64, 3, padding=1)
        >>> x = (N, 3, H, W); out = conv.output_shape(x)
        >>> conv.backward_macs(out, x), conv.backward_macs(out, x, needs_input_grad=(False,))
        (3456*H*N*W, 1728*H*N*W)
        """
        forward = self.macs(out, x)
        return forward * (2 if wants_grad(needs_input_grad, 0) else 1)


@dataclass(frozen=True)
class _Conv(_ConvNd):
    """The arguments of ``torch.nn.Conv1d/2d/3d``, in torch's order (one list for the three)."""

    in_channels: int
    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: int | tuple | str = 0
    dilation: int | tuple = 1
    groups: int = 1
    bias: bool = True


@dataclass(frozen=True)
class _ConvTranspose(_ConvNd):
    """The arguments of ``torch.nn.ConvTranspose1d/2d/3d``, in torch's order (``output_padding``
    before ``groups``, ``dilation`` last)."""

    in_channels: int
    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: int | tuple = 0
    output_padding: int | tuple = 0
    groups: int = 1
    bias: bool = True
    dilation: int | tuple = 1
    transposed = True


@register_kind
@dataclass(frozen=True)
class Conv1d(_Conv):
    """1-d convolution, as ``torch.nn.Conv1d`` on ``(N, C, L)``: audio, speech (Whisper's stem).

    Output length: ``(L + 2p - d(k-1) - 1) // s + 1``.  MACs:
    ``N * C_out * L_out * (C_in / groups) * k``.

    >>> from costgraph.symbols import N, S
    >>> conv = Conv1d(80, 384, 3, stride=2, padding=1)      # Whisper tiny's second conv
    >>> conv.output_shape((N, 80, S))
    (N, 384, floor((S + 1)/2))
    >>> conv.weights((N, 80, S)), conv.biases((N, 80, S))    # 384*80*3, 384
    (92160, 384)
    >>> conv.macs((N, 384, 100), (N, 80, 200))               # 384*100 outputs * 80*3
    9216000*N
    """

    spatial = 1


@register_kind
@dataclass(frozen=True)
class Conv2d(_Conv):
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

    spatial = 2


@register_kind
@dataclass(frozen=True)
class Conv3d(_Conv):
    """3-d convolution, as ``torch.nn.Conv3d`` on ``(N, C, T, H, W)``: video.

    MACs: ``N * C_out * T_out * H_out * W_out * (C_in / groups) * k_t * k_h * k_w``.

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> conv = Conv3d(3, 64, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False)   # r3d_18's stem
    >>> conv.output_shape((N, 3, T, H, W))
    (N, 64, T, floor((H + 1)/2), floor((W + 1)/2))
    >>> conv.weights((N, 3, T, H, W))                          # 64*3*3*7*7
    28224
    """

    spatial = 3


@register_kind
@dataclass(frozen=True)
class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution, as ``torch.nn.ConvTranspose1d`` (same argument order).

    Output length: ``(L - 1)*s - 2p + d(k-1) + output_padding + 1``.
    Weights ``C_in * (C_out/groups) * k``; MACs ``N * L_in * C_in * (C_out/groups) * k``
    (every input element times the whole kernel, as FlopCounterMode counts).

    >>> from costgraph.symbols import N, S
    >>> up = ConvTranspose1d(16, 8, 4, stride=2, padding=1)
    >>> up.output_shape((N, 16, S))                              # (S-1)*2 - 2 + 3 + 1
    (N, 8, 2*S)
    >>> up.macs((N, 8, 2 * S), (N, 16, S))                       # S * 16 * 8 * 4
    512*N*S
    """

    spatial = 1


@register_kind
@dataclass(frozen=True)
class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution, as ``torch.nn.ConvTranspose2d`` (a U-Net's up-sampling).

    Output size per axis: ``(n - 1)*s - 2p + d(k-1) + output_padding + 1``.
    MACs: ``N * H_in * W_in * C_in * (C_out/groups) * k_h * k_w``.

    >>> from costgraph.symbols import N, H, W
    >>> up = ConvTranspose2d(128, 64, 2, stride=2)
    >>> up.output_shape((N, 128, H, W))
    (N, 64, 2*H, 2*W)
    >>> up.weights((N, 128, H, W)), up.macs((N, 64, 2 * H, 2 * W), (N, 128, H, W))   # 128*64*2*2
    (32768, 32768*H*N*W)
    """

    spatial = 2


@register_kind
@dataclass(frozen=True)
class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution, as ``torch.nn.ConvTranspose3d``.

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> up = ConvTranspose3d(8, 4, 3, stride=2, padding=1, output_padding=1)
    >>> up.output_shape((N, 8, T, H, W))                         # (n-1)*2 - 2 + 2 + 1 + 1
    (N, 4, 2*T, 2*H, 2*W)
    """

    spatial = 3


# ``Unfold``: the patches a convolution reads, as a tensor (``F.unfold``; ConvBERT's span convolution).
@register_kind
@dataclass(frozen=True)
class Unfold(LayerKind):
    """``F.unfold(x, kernel_size, dilation=1, padding=0, stride=1)`` (``aten.im2col``): each sliding
    window of ``(N, C, H, W)`` as a column, ``(N, C*kh*kw, L)`` with L the windows' count.

    A copy, no arithmetic: 0 FLOPs, no cost terms.  Backward (``col2im`` of
    the gradient) needs only sizes: nothing is saved.

    Raises
    ------
    CostGraphError
        For sizes that are not positive integers (padding: non-negative).
    ShapeError
        If the input is not 4-d.

    >>> from costgraph.symbols import N, S
    >>> Unfold((9, 1), padding=(4, 0)).output_shape((N, 768, S, 1))    # ConvBERT: 9 tokens per span
    (N, 6912, S)
    """

    kernel_size: object = 1
    dilation: object = 1
    padding: object = 0
    stride: object = 1

    def __post_init__(self):
        object.__setattr__(self, "kernel_size", pair(self.kernel_size, "kernel_size", "Unfold"))
        object.__setattr__(self, "dilation", pair(self.dilation, "dilation", "Unfold"))
        object.__setattr__(self, "padding", pair(self.padding, "padding", "Unfold", allow_zero=True))
        object.__setattr__(self, "stride", pair(self.stride, "stride", "Unfold"))

    def output_shape(self, x):
        self.check_rank(x, 4)
        windows = sympy.Integer(1)
        for axis in range(2):
            windows *= conv_out(x[2 + axis], self.kernel_size[axis], self.stride[axis], self.padding[axis], self.dilation[axis])
        return (x[0], x[1] * self.kernel_size[0] * self.kernel_size[1], sympy.expand(windows))

    def constraints(self, out, x):
        return [Constraint(out[2] - 1, "Given input size is too small: no sliding window fits")]

    def weights(self, x):
        return sympy.Integer(0)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``col2im`` of the gradient needs only sizes."""
        return ()

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: a copy has no products."""
        return sympy.Integer(0)
