"""Kinds the mobile and modern convnets need: channel shuffle, mean over axes, layer scale.

* `ChannelShuffle`: ShuffleNetV2's ``channel_shuffle`` (a copy, because of
  ``.contiguous()``);
* `Mean`: ``x.mean([2, 3])``, ShuffleNetV2's global pooling, which is not a module;
* `LayerScale`: ConvNeXt's learned per-channel scale ``layer_scale * x``,
  whose ``C`` parameters count toward the model's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .base import LayerKind, ParameterFree, Saved, numel, positive_int, register_kind

__all__ = ["ChannelShuffle", "Mean", "LayerScale"]


@register_kind
@dataclass(frozen=True)
class ChannelShuffle(ParameterFree):
    """Interleave `groups` channel groups, as ``torch.nn.ChannelShuffle``.

    torchvision's ``channel_shuffle`` views ``(N, C, H, W)`` as
    ``(N, g, C/g, H, W)``, swaps the two channel axes and calls
    ``.contiguous()``, which copies: the output is a new tensor (counted in
    activations), made without arithmetic (0 FLOPs).

    Raises
    ------
    CostGraphError
        If `groups` is not a positive integer.
    ShapeError
        If the input is not 4-d or `groups` does not divide its channels.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> shuffle = ChannelShuffle(2)
    >>> shuffle.output_shape((N, 116, H, W))
    (N, 116, H, W)
    >>> shuffle.materializes, shuffle.other_flops((N, 116, H, W), (N, 116, H, W))
    (True, 0)
    """

    groups: int

    def __post_init__(self):
        positive_int(self.groups, "groups", "ChannelShuffle")

    def output_shape(self, x):
        self.check_rank(x, 4)
        channels = sympy.sympify(x[1])
        if not channels.is_Integer or int(channels) % self.groups:
            raise ShapeError(
                f"ChannelShuffle: groups={self.groups} must divide the channels, got {channels}", value=channels
            )
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: views and a copy; the gradient is shuffled back."""
        return ()


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
class LayerScale(LayerKind):
    """Multiply each channel of ``(N, C, H, W)`` by a learned scale: ConvNeXt's ``layer_scale``.

    torchvision's CNBlock holds ``nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)``
    and computes ``self.layer_scale * self.block(input)``: `channels`
    parameters (counted as weights; `init` is their initial value and costs
    nothing), one multiplication per element, and a new tensor.

    Raises
    ------
    CostGraphError
        If `channels` is not a positive integer.
    ShapeError
        If the input is not 4-d with `channels` channels.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> scale = LayerScale(96)
    >>> scale.weights((N, 96, H, W)), scale.biases((N, 96, H, W))
    (96, 0)
    >>> scale.other_flops((N, 96, H, W), (N, 96, H, W))
    96*H*N*W
    """

    channels: int
    init: float = 1e-6

    def __post_init__(self):
        positive_int(self.channels, "channels", "LayerScale")

    def output_shape(self, x):
        self.check_rank(x, 4)
        if x[1] != self.channels:
            raise ShapeError(f"LayerScale expects {self.channels} channels, got {x[1]}", value=x[1])
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.channels)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out)

    def flop_terms(self, out, x):
        """One product per element (`costgraph.conventions`)."""
        return {"mul": numel(out)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, for the scale's gradient (the scale itself is a parameter)."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: elementwise products and per-channel sums."""
        return sympy.Integer(0)
