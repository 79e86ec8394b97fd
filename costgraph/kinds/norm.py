"""Normalization layers."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import LayerKind, numel, positive_int, register_kind

__all__ = ["BatchNorm2d"]


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
