"""Normalization layers: batch, layer (channels-last and channels-first) and root-mean-square norms."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import LayerKind, Saved, format_shape, numel, positive_int, register_kind

__all__ = ['BatchNorm2d', 'LayerNorm', 'LayerNorm2d', 'RMSNorm']


@register_kind
@dataclass(frozen=True)
class BatchNorm2d(LayerKind):
    """Batch normalization over channels, as ``torch.nn.BatchNorm2d`` at inference.

    Parameters: gamma (weights) and beta (biases), C each when affine; the
    running mean and variance are buffers, not parameters (as torch counts).
    FLOPs: 2 per element (the statistics fold into one scale and one shift).
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True

    def __post_init__(self):
        positive_int(self.num_features, "num_features", "BatchNorm2d")

    def output_shape(self, x):
        self.check_rank(x, 4)
        if x[1] != self.num_features:
            raise ShapeError(f"BatchNorm2d expects {self.num_features} channels, got {x[1]}", value=x[1])
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
        return {
            "norm": numel(x),
            "norm_affine": numel(x) if self.affine else 0,
            "param_rows": x[0] * (self.weights(x) + self.biases(x)),
        }

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
        return {
            "norm": numel(x),
            "norm_affine": numel(x) if self.elementwise_affine else 0,
            "param_rows": x[0] * (self.weights(x) + self.biases(x)),
        }

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out) * (7 if self.elementwise_affine else 5)

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
        return numel(out) * (7 if self.elementwise_affine else 5)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`, as `LayerNorm` over C."""
        return {
            "norm": numel(x),
            "norm_affine": numel(x) if self.elementwise_affine else 0,
            "param_rows": x[0] * (self.weights(x) + self.biases(x)),
        }

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
        """Elements normalized, and scaled when affine (`costgraph.conventions`)."""
        return {"norm": numel(x), "norm_affine": numel(x) if self.elementwise_affine else 0}
