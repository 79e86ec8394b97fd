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

    `bounds` limits the sizes the network is valid for: ``(size, lower,
    upper)`` triples (`upper` None for no upper bound), each with the reason
    in `bounds_reason`.  ``costgraph.from_torch`` sets them from the ranges
    ``torch.export`` captured the model on (a forward that branches on a
    size holds only on one side of the branch).

    >>> from costgraph.symbols import H, W
    >>> Input((3, H, W)).output_shape()
    (N, 3, H, W)
    >>> [c.expr for c in Input((3, H, W), bounds=((H, 33, 256),)).constraints((N, 3, H, W))]
    [H - 33, 256 - H]
    """

    shape: tuple
    batch: object = N
    bounds: tuple = field(default=(), repr=False)
    bounds_reason: str = field(default="outside the sizes this input is valid for", repr=False, compare=False)
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
        bounds = []
        for bound in self.bounds:
            if not isinstance(bound, (tuple, list)) or len(bound) != 3:
                raise CostGraphError(f"Input: a bound is (size, lower, upper), got {bound!r}", value=bound)
            size = as_size(bound[0], owner="Input", what="a bounded size")
            lower = as_size(bound[1], owner="Input", what="a lower bound")
            upper = None if bound[2] is None else as_size(bound[2], owner="Input", what="an upper bound")
            if not lower.is_Integer or (upper is not None and not upper.is_Integer):
                raise CostGraphError(f"Input: bounds must be integers, got {bound!r}", value=bound)
            bounds.append((size, lower, upper))
        object.__setattr__(self, "bounds", tuple(bounds))

    def output_shape(self):
        return (self.batch,) + self.shape

    def other_flops(self, out):
        return sympy.Integer(0)

    def flop_terms(self, out):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: an input is data, not an operation autograd records."""
        return ()

    def constraints(self, out):
        """``size - lower >= 0`` and ``upper - size >= 0`` for each of `bounds`."""
        made = []
        for size, lower, upper in self.bounds:
            span = f"[{lower}, {upper}]" if upper is not None else f"[{lower}, oo)"
            message = f"{size} must lie in {span}: {self.bounds_reason}"
            made.append(Constraint(size - lower, message))
            if upper is not None:
                made.append(Constraint(upper - size, message))
        return tuple(made)


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
