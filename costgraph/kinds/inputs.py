"""Where a network's tensors come from: its inputs (`Input`) and learned tensors used directly (`Parameter`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from ..errors import CostGraphError
from ..symbols import N, as_size
from .base import Constraint, LayerKind, ParameterFree, numel, register_kind

__all__ = ['Input', 'Parameter']


@register_kind
@dataclass(frozen=True)
class Input(ParameterFree):
    """A network input of shape ``(batch, *shape)``; it is counted as an activation.

    >>> from costgraph.symbols import H, W
    >>> Input((3, H, W)).output_shape()
    (N, 3, H, W)

    `conditions` are `Constraint` entries on the sizes that hold wherever
    the network is valid beyond its layers' own (``from_torch`` records the
    size conditions ``torch.export`` traced the model under); the network
    checks them as it checks every layer's constraints.
    """

    shape: tuple
    batch: object = N
    conditions: tuple = field(default=(), repr=False)
    arity = 0

    def __post_init__(self):
        if not isinstance(self.shape, (tuple, list)):
            raise CostGraphError(f"Input: shape must be a tuple of sizes, got {self.shape!r}", value=self.shape)
        dims = tuple(as_size(d, owner="Input", what="a size") for d in self.shape)
        batch = as_size(self.batch, owner="Input", what="batch")
        for d in dims + (batch,):
            if d.is_number and not d >= 1:
                raise CostGraphError(f"Input: sizes must be positive integers, got {d}", value=d)
        object.__setattr__(self, "shape", dims)
        object.__setattr__(self, "batch", batch)
        conditions = tuple(self.conditions) if isinstance(self.conditions, (tuple, list)) else None
        if conditions is None or not all(isinstance(c, Constraint) for c in conditions):
            raise CostGraphError(f"Input: conditions must be a tuple of Constraint entries, got {self.conditions!r}", value=self.conditions)
        object.__setattr__(self, "conditions", conditions)

    def output_shape(self):
        return (self.batch,) + self.shape

    def constraints(self, out):
        """`conditions`: the sizes this input (and the network) is valid for beyond its layers' own rules."""
        return self.conditions

    def other_flops(self, out):
        return sympy.Integer(0)

    def flop_terms(self, out):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: an input is data, not an operation autograd records."""
        return ()


@register_kind
@dataclass(frozen=True)
class Parameter(LayerKind):
    """A learned tensor of fixed `shape` fed to other layers (no batch dimension).

    Its elements are weights when `trainable` (an ``nn.Parameter``), nothing
    when not (a buffer).  It is not an activation: it exists once, whatever
    the batch.

    >>> scale = Parameter((96, 1, 1))
    >>> scale.output_shape(), scale.weights(), scale.materializes
    ((96, 1, 1), 96, False)
    """

    shape: tuple
    trainable: bool = True
    arity = 0

    def __post_init__(self):
        dims = tuple(sympy.Integer(d) for d in self.shape)
        if any(d < 1 for d in dims):
            raise CostGraphError(f"Parameter: sizes must be positive integers, got {self.shape}", value=self.shape)
        object.__setattr__(self, "shape", dims)

    @property
    def materializes(self):
        return False

    def output_shape(self):
        return self.shape

    def weights(self):
        return numel(self.shape) if self.trainable else sympy.Integer(0)

    def biases(self):
        return sympy.Integer(0)

    def macs(self, out):
        return sympy.Integer(0)

    def other_flops(self, out):
        return sympy.Integer(0)

    def flop_terms(self, out):
        """Data, read: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: a parameter is data; its bytes are parameters, not activations."""
        return ()

    def backward_macs(self, out, needs_input_grad=None):
        """None."""
        return sympy.Integer(0)
