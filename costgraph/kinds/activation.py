"""Elementwise activations, softmax and dropout."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError
from .base import LayerKind, numel, register_kind

__all__ = ["ReLU", "Softmax", "Dropout", "Elementwise"]


class Elementwise(LayerKind):
    """Base of one-input elementwise kinds: same shape out, no parameters, no MACs.

    Subclasses set `flops_per_element` (the convention's cost of one output
    element) and may be in place.
    """

    flops_per_element = 1

    def output_shape(self, x):
        return tuple(x)

    @property
    def materializes(self):
        return not getattr(self, "inplace", False)

    def weights(self, x):
        return sympy.Integer(0)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out) * self.flops_per_element


@register_kind
@dataclass(frozen=True)
class ReLU(Elementwise):
    """``max(x, 0)``: one FLOP per element; ``inplace=True`` makes no new tensor.

    >>> ReLU(inplace=True).materializes
    False
    """

    inplace: bool = False


@register_kind
@dataclass(frozen=True)
class Softmax(Elementwise):
    """Softmax along `dim`, as ``torch.nn.Softmax``.

    FLOPs: 5 per element, what a numerically stable softmax does per element:
    a max-reduction compare, a subtraction, an exponential, a sum and a division.
    """

    dim: int = -1
    flops_per_element = 5

    def output_shape(self, x):
        if not -len(x) <= self.dim < len(x):
            raise CostGraphError(f"Softmax: dim={self.dim} out of range for a {len(x)}-d input", value=self.dim)
        return tuple(x)


@register_kind
@dataclass(frozen=True)
class Dropout(Elementwise):
    """Dropout at inference: the identity, no new tensor and no FLOPs.

    costgraph's forward totals describe inference; the memory model (training)
    accounts for dropout's mask separately.
    """

    p: float = 0.5
    inplace: bool = False
    flops_per_element = 0

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise CostGraphError(f"Dropout: p must be in [0, 1], got {self.p}", value=self.p)

    @property
    def materializes(self):
        return False
