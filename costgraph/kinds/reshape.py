"""Views and the network's inputs: layers that move no data."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..symbols import N
from .base import LayerKind, numel, register_kind

__all__ = ["Input", "Flatten"]


@register_kind
@dataclass(frozen=True)
class Input(LayerKind):
    """A network input of shape ``(batch, *shape)``; it is counted as an activation.

    >>> from costgraph.symbols import H, W
    >>> Input((3, H, W)).output_shape()
    (N, 3, H, W)
    """

    shape: tuple
    batch: object = N
    arity = 0

    def __post_init__(self):
        dims = tuple(sympy.sympify(d) for d in self.shape)
        for d in dims:
            if d.is_number and not (d.is_Integer and d >= 1):
                raise CostGraphError(f"Input: sizes must be positive integers, got {d}", value=d)
        object.__setattr__(self, "shape", dims)
        object.__setattr__(self, "batch", sympy.sympify(self.batch))

    def output_shape(self):
        return (self.batch,) + self.shape

    def weights(self):
        return sympy.Integer(0)

    def biases(self):
        return sympy.Integer(0)

    def macs(self, out):
        return sympy.Integer(0)

    def other_flops(self, out):
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class Flatten(LayerKind):
    """Merge dimensions ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``: a view.

    >>> from costgraph.symbols import N
    >>> Flatten().output_shape((N, 512, 7, 7))
    (N, 25088)
    """

    start_dim: int = 1
    end_dim: int = -1

    @property
    def materializes(self):
        return False

    def output_shape(self, x):
        rank = len(x)
        start = self.start_dim % rank if -rank <= self.start_dim < rank else None
        end = self.end_dim % rank if -rank <= self.end_dim < rank else None
        if start is None or end is None or start > end:
            raise ShapeError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit a {rank}-d input", value=x
            )
        return tuple(x[:start]) + (sympy.expand(numel(x[start : end + 1])),) + tuple(x[end + 1 :])

    def weights(self, x):
        return sympy.Integer(0)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return sympy.Integer(0)
