"""Elementwise activations, softmax and dropout."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError
from .base import LayerKind, numel, register_kind

__all__ = ["ReLU", "ReLU6", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU", "Tanh", "Identity", "Softmax", "Dropout", "StochasticDepth", "Elementwise"]


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
class ReLU6(Elementwise):
    """``min(max(x, 0), 6)``: two FLOPs per element (two comparisons)."""

    inplace: bool = False
    flops_per_element = 2


@register_kind
@dataclass(frozen=True)
class Sigmoid(Elementwise):
    """``1 / (1 + exp(-x))``: 4 FLOPs per element (negate, exp, add, divide)."""

    inplace: bool = False
    flops_per_element = 4


@register_kind
@dataclass(frozen=True)
class Hardsigmoid(Elementwise):
    """``relu6(x + 3) / 6``: 4 FLOPs per element (add, two comparisons, divide)."""

    inplace: bool = False
    flops_per_element = 4


@register_kind
@dataclass(frozen=True)
class Hardswish(Elementwise):
    """``x * relu6(x + 3) / 6``: 5 FLOPs per element (hardsigmoid, then a product)."""

    inplace: bool = False
    flops_per_element = 5


@register_kind
@dataclass(frozen=True)
class SiLU(Elementwise):
    """``x * sigmoid(x)`` (swish): 5 FLOPs per element (sigmoid, then a product)."""

    inplace: bool = False
    flops_per_element = 5


@register_kind
@dataclass(frozen=True)
class GELU(Elementwise):
    """Gaussian error linear unit, as ``torch.nn.GELU``.

    8 FLOPs per element for both forms: ``0.5*x*(1 + erf(x/sqrt 2))`` is a
    divide, erf, add and two products, counted as 8 with erf as 4 (its
    polynomial approximation); the tanh form is 8 as well.
    """

    approximate: str = "none"
    flops_per_element = 8


@register_kind
@dataclass(frozen=True)
class Tanh(Elementwise):
    """Hyperbolic tangent: 1 FLOP per element (a transcendental counts 1)."""

    inplace: bool = False


@register_kind
@dataclass(frozen=True)
class Identity(Elementwise):
    """The identity: no new tensor, no FLOPs."""

    flops_per_element = 0

    @property
    def materializes(self):
        return False


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


@register_kind
@dataclass(frozen=True)
class StochasticDepth(Elementwise):
    """Stochastic depth (torchvision.ops.StochasticDepth): the identity at inference."""

    p: float = 0.0
    mode: str = "row"
    flops_per_element = 0

    @property
    def materializes(self):
        return False
