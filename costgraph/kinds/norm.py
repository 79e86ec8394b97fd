"""Normalization layers: batch (any rank), group, instance, layer (channels-last and channels-first) and root-mean-square norms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy

from ..errors import CostGraphError, ShapeError
from .base import LayerKind, Saved, format_shape, numel, positive_int, register_kind

__all__ = ['BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'GroupNorm', 'InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d', 'LayerNorm', 'LayerNorm2d', 'RMSNorm']


def _normalization_flops(out, affine: bool):
    """FLOPs of a normalization computing its statistics: 5 per element, 2 more when affine (see `LayerNorm`)."""
    return numel(out) * (7 if affine else 5)


def _normalization_terms(layer, x, affine: bool) -> dict:
    """Cost terms for `costgraph.conventions`: elements normalized, scaled and shifted; batch x params."""
    return {
        "norm": numel(x),
        "norm_affine": numel(x) if affine else 0,
        "param_rows": x[0] * (layer.weights(x) + layer.biases(x)),
    }


class _BatchNormNd(LayerKind):
    """Batch normalization's rules for every rank; subclasses set `ranks` (the input ranks they take)."""

    ranks: ClassVar[tuple] = (4,)

    def __post_init__(self):
        positive_int(self.num_features, "num_features", self.kind)

    def output_shape(self, x):
        if len(x) not in self.ranks:
            if len(self.ranks) == 1:
                self.check_rank(x, self.ranks[0])
            raise ShapeError(
                f"{self.kind} expects a {' or '.join(f'{r}-d' for r in self.ranks)} input, got {format_shape(x)}",
                value=x,
            )
        if x[1] != self.num_features:
            raise ShapeError(f"{self.kind} expects {self.num_features} channels, got {x[1]}", value=x[1])
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.num_features if self.affine else 0)

    def biases(self, x):
        return sympy.Integer(self.num_features if self.affine else 0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return 2 * numel(out)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: elements normalized, scaled and shifted; batch x params."""
        return _normalization_terms(self, x, self.affine)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Training mode: the input and the batch's per-channel mean and inverse std.

        (Autograd also keeps the weight and the running statistics: a
        parameter and buffers, counted as such.)

        >>> from costgraph.symbols import N, H, W
        >>> [s.numel for s in BatchNorm2d(64).saved_tensors((N, 64, H, W), (N, 64, H, W))]
        [None, 64, 64]
        """
        return (Saved.input(0), Saved.extra(self.num_features, "statistic"), Saved.extra(self.num_features, "statistic"))

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: the gradient is elementwise work and per-channel sums."""
        return sympy.Integer(0)

    def buffers(self, x):
        """``running_mean`` and ``running_var`` (C each) and the int64 ``num_batches_tracked``."""
        return ((self.num_features, "activation"), (self.num_features, "activation"), (1, "int64"))


@register_kind
@dataclass(frozen=True)
class BatchNorm2d(_BatchNormNd):
    """Batch normalization over channels, as ``torch.nn.BatchNorm2d`` at inference.

    Parameters: gamma (weights) and beta (biases), C each when affine; the
    running mean and variance are buffers, not parameters (as torch counts).
    FLOPs: 2 per element (the statistics fold into one scale and one shift).
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    ranks = (4,)


@register_kind
@dataclass(frozen=True)
class BatchNorm1d(_BatchNormNd):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)``, as ``torch.nn.BatchNorm1d``; costs as `BatchNorm2d`.

    >>> from costgraph.symbols import N, S
    >>> bn = BatchNorm1d(80)
    >>> bn.output_shape((N, 80, S)), bn.weights((N, 80, S)) + bn.biases((N, 80, S))
    ((N, 80, S), 160)
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    ranks = (2, 3)


@register_kind
@dataclass(frozen=True)
class BatchNorm3d(_BatchNormNd):
    """Batch normalization of ``(N, C, T, H, W)``, as ``torch.nn.BatchNorm3d``; costs as `BatchNorm2d`.

    >>> from costgraph.symbols import N, H, W, size_symbol
    >>> T = size_symbol("T")
    >>> BatchNorm3d(64).other_flops((N, 64, T, H, W), (N, 64, T, H, W))   # 2 per element
    128*H*N*T*W
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    ranks = (5,)


def _normalized(value, owner):
    dims = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    return tuple(positive_int(d, "normalized_shape", owner) for d in dims)


@register_kind
@dataclass(frozen=True)
class LayerNorm(LayerKind):
    """Layer normalization over the last dimensions, as ``torch.nn.LayerNorm``.

    Parameters: gamma (weights) and beta (biases) of `normalized_shape` each
    when affine.  FLOPs per element: 5 for the statistics and normalization
    (mean's sum, subtract, square, variance's sum, scale by 1/std) plus 2 for
    the affine multiply and add.

    >>> from costgraph.symbols import N, S
    >>> LayerNorm(768).weights((N, S, 768))
    768
    """

    normalized_shape: int | tuple
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def __post_init__(self):
        object.__setattr__(self, "normalized_shape", _normalized(self.normalized_shape, "LayerNorm"))

    def output_shape(self, x):
        tail = tuple(x[len(x) - len(self.normalized_shape) :])
        if len(x) < len(self.normalized_shape) or tail != self.normalized_shape:
            raise ShapeError(
                f"LayerNorm expects the last dimensions {self.normalized_shape}, got {tuple(x)}", value=x
            )
        return tuple(x)

    def _size(self):
        size = 1
        for d in self.normalized_shape:
            size *= d
        return size

    def weights(self, x):
        return sympy.Integer(self._size() if self.elementwise_affine else 0)

    def biases(self, x):
        return sympy.Integer(self._size() if self.elementwise_affine and self.bias else 0)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: elements normalized, scaled and shifted; batch x params."""
        return _normalization_terms(self, x, self.elementwise_affine)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return _normalization_flops(out, self.elementwise_affine)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the mean and inverse std of every normalized row (``native_layer_norm``).

        >>> from costgraph.symbols import N, S
        >>> LayerNorm(768).saved_tensors((N, S, 768), (N, S, 768))[1].numel
        N*S
        """
        rows = numel(x[: len(x) - len(self.normalized_shape)])
        return (Saved.input(0), Saved.extra(rows, "statistic"), Saved.extra(rows, "statistic"))

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: the gradient is elementwise work and per-row sums."""
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class LayerNorm2d(LayerKind):
    """Layer normalization over the channels of an (N, C, H, W) tensor.

    torchvision's ``LayerNorm2d`` (ConvNeXt's stem and downsampling) permutes
    to channels-last, normalizes over C and permutes back; the permutes are
    views, the normalized tensor is new.  Costs as `LayerNorm` over C.
    """

    num_channels: int
    eps: float = 1e-6
    elementwise_affine: bool = True

    def __post_init__(self):
        positive_int(self.num_channels, "num_channels", "LayerNorm2d")

    def output_shape(self, x):
        self.check_rank(x, 4)
        if x[1] != self.num_channels:
            raise ShapeError(f"LayerNorm2d expects {self.num_channels} channels, got {x[1]}", value=x[1])
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.num_channels if self.elementwise_affine else 0)

    def biases(self, x):
        return sympy.Integer(self.num_channels if self.elementwise_affine else 0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return _normalization_flops(out, self.elementwise_affine)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`, as `LayerNorm` over C."""
        return _normalization_terms(self, x, self.elementwise_affine)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """As `LayerNorm` over C: the (permuted) input and two statistics per position."""
        rows = x[0] * x[2] * x[3]
        return (Saved.input(0), Saved.extra(rows, "statistic"), Saved.extra(rows, "statistic"))

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: the gradient is elementwise work and per-position sums."""
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class RMSNorm(LayerKind):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dimension, as ``torch.nn.RMSNorm``.

    Weights: `normalized_shape` (a scale, no shift) when affine.  FLOPs per
    element: 3 for the normalization (square, the mean's sum, scale by the
    reciprocal root) plus 1 for the weight, counted as `LayerNorm` counts
    its statistics (per-row work -- one division, add and root per row -- is
    not counted).

    >>> from costgraph.symbols import N, S
    >>> norm = RMSNorm(4096)
    >>> norm.weights((N, S, 4096)), norm.other_flops((N, S, 4096), (N, S, 4096))
    (4096, 16384*N*S)
    """

    normalized_shape: int
    eps: float | None = None
    elementwise_affine: bool = True

    def __post_init__(self):
        positive_int(self.normalized_shape, "normalized_shape", "RMSNorm")

    def output_shape(self, x):
        if len(x) < 2 or x[-1] != self.normalized_shape:
            raise ShapeError(f"RMSNorm expects a last dimension of {self.normalized_shape}, got {format_shape(x)}", value=x)
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.normalized_shape if self.elementwise_affine else 0)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out) * (4 if self.elementwise_affine else 3)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and the reciprocal root of every row, as torch's fused ``_fused_rms_norm`` keeps them.

        (Hugging Face's ``LlamaRMSNorm`` is written out in eager ops and keeps
        fp32 copies instead.)
        """
        return (Saved.input(0), Saved.extra(numel(x[:-1]), "statistic"))

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: elementwise work and per-row sums."""
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """Elements normalized, and scaled when affine; batch x weights (`costgraph.conventions`)."""
        return {
            "norm": numel(x),
            "norm_affine": numel(x) if self.elementwise_affine else 0,
            "param_rows": x[0] * self.weights(x),
        }


@register_kind
@dataclass(frozen=True)
class GroupNorm(LayerKind):
    """Group normalization of ``(N, C, *)``, as ``torch.nn.GroupNorm`` (U-Nets, diffusion models).

    Statistics per sample and group of ``C / num_groups`` channels.
    Parameters: C scales and C shifts when affine.  FLOPs per element as
    `LayerNorm`: 5 for the statistics and normalization, 2 more when affine.
    Saved for backward (``native_group_norm``): the input and the mean and
    inverse std of every (sample, group), ``N * num_groups`` each.

    Raises
    ------
    CostGraphError
        If `num_groups` does not divide `num_channels`.
    ShapeError
        If the input has fewer than 2 dimensions or other than `num_channels` channels.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> norm = GroupNorm(32, 256)
    >>> x = (N, 256, H, W)
    >>> norm.weights(x), norm.biases(x), norm.other_flops(x, x)
    (256, 256, 1792*H*N*W)
    >>> [s.numel for s in norm.saved_tensors(x, x)]
    [None, 32*N, 32*N]
    """

    num_groups: int
    num_channels: int
    eps: float = 1e-5
    affine: bool = True
    bias: bool = True

    def __post_init__(self):
        groups = positive_int(self.num_groups, "num_groups", "GroupNorm")
        channels = positive_int(self.num_channels, "num_channels", "GroupNorm")
        if channels % groups:
            raise CostGraphError(
                f"GroupNorm: num_channels={channels} must be divisible by num_groups={groups}", value=groups
            )

    def output_shape(self, x):
        if len(x) < 2 or x[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm expects (N, {self.num_channels}, ...), got {format_shape(x)}", value=x
            )
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.num_channels if self.affine else 0)

    def biases(self, x):
        return sympy.Integer(self.num_channels if self.affine and self.bias else 0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return _normalization_flops(out, self.affine)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: elements normalized, scaled and shifted; batch x params."""
        return _normalization_terms(self, x, self.affine)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, and the mean and inverse std of every (sample, group)."""
        rows = x[0] * self.num_groups
        return (Saved.input(0), Saved.extra(rows, "statistic"), Saved.extra(rows, "statistic"))

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: the gradient is elementwise work and per-group sums."""
        return sympy.Integer(0)


class _InstanceNormNd(LayerKind):
    """Instance normalization's rules; subclasses set `rank` (3, 4 or 5)."""

    rank: ClassVar[int] = 4

    def __post_init__(self):
        positive_int(self.num_features, "num_features", self.kind)

    def output_shape(self, x):
        self.check_rank(x, self.rank)
        if x[1] != self.num_features:
            raise ShapeError(f"{self.kind} expects {self.num_features} channels, got {x[1]}", value=x[1])
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.num_features if self.affine else 0)

    def biases(self, x):
        return sympy.Integer(self.num_features if self.affine and self.bias else 0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        # the statistics are computed at inference too (unlike batch norm's)
        return _normalization_flops(out, self.affine)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: elements normalized, scaled and shifted; batch x params."""
        return _normalization_terms(self, x, self.affine)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """What ``F.instance_norm`` keeps: it runs batch norm on the input viewed as ``(1, N*C, ...)``.

        So: the input, the mean and inverse std of each of the ``N*C``
        (sample, channel) rows, the weight repeated per sample when affine,
        and the running statistics repeated per sample when tracked (new
        tensors, ``N*C`` each: ``weight.repeat(N)`` is not the parameter).
        """
        rows = x[0] * self.num_features
        saved = [Saved.input(0), Saved.extra(rows, "statistic"), Saved.extra(rows, "statistic")]
        if self.affine:
            saved.append(Saved.extra(rows, "activation"))
        if self.track_running_stats:
            saved += [Saved.extra(rows, "activation"), Saved.extra(rows, "activation")]
        return tuple(saved)

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: the gradient is elementwise work and per-row sums."""
        return sympy.Integer(0)

    def buffers(self, x):
        """With `track_running_stats`: ``running_mean``, ``running_var`` (C each), ``num_batches_tracked``."""
        if not self.track_running_stats:
            return ()
        return ((self.num_features, "activation"), (self.num_features, "activation"), (1, "int64"))


@register_kind
@dataclass(frozen=True)
class InstanceNorm1d(_InstanceNormNd):
    """Instance normalization of ``(N, C, L)``, as ``torch.nn.InstanceNorm1d`` (``affine`` off by default).

    >>> from costgraph.symbols import N, S
    >>> norm = InstanceNorm1d(64)
    >>> norm.weights((N, 64, S)), norm.other_flops((N, 64, S), (N, 64, S))
    (0, 320*N*S)
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False
    bias: bool = True
    rank = 3


@register_kind
@dataclass(frozen=True)
class InstanceNorm2d(_InstanceNormNd):
    """Instance normalization of ``(N, C, H, W)``, as ``torch.nn.InstanceNorm2d`` (style transfer, GANs).

    >>> from costgraph.symbols import N, H, W
    >>> norm = InstanceNorm2d(64, affine=True)
    >>> x = (N, 64, H, W)
    >>> norm.weights(x) + norm.biases(x), [s.numel for s in norm.saved_tensors(x, x)]
    (128, [None, 64*N, 64*N, 64*N])
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False
    bias: bool = True
    rank = 4


@register_kind
@dataclass(frozen=True)
class InstanceNorm3d(_InstanceNormNd):
    """Instance normalization of ``(N, C, T, H, W)``, as ``torch.nn.InstanceNorm3d``."""

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False
    bias: bool = True
    rank = 5
