"""Fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import Constraint, LayerKind, Saved, numel, positive_int, register_kind, wants_grad

__all__ = ["Linear"]


@register_kind
@dataclass(frozen=True)
class Linear(LayerKind):
    """``y = x A^T + b`` over the last dimension, as ``torch.nn.Linear``.

    ``in_features=None`` takes the input's last size, whatever formula it is
    (like ``torch.nn.LazyLinear``): the seed's VGG16 flattens the last feature
    map straight into fc1, so fc1's weights grow with ``floor(H/32)*floor(W/32)``.
    A given `in_features` that differs from a numeric input size is a
    `ShapeError` at once; against a symbolic size it becomes a constraint,
    checked when sizes are given.

    MACs: ``in_features * out_features`` per row (every dimension but the last).

    >>> from costgraph.symbols import N, H, W
    >>> from costgraph.intmath import FloorDiv
    >>> fc1 = Linear(None, 4096)
    >>> x = (N, 512 * FloorDiv(H, 32) * FloorDiv(W, 32))
    >>> fc1.weights(x)
    2097152*floor(H/32)*floor(W/32)
    """

    in_features: int | None
    out_features: int
    bias: bool = True

    def __post_init__(self):
        if self.in_features is not None:
            positive_int(self.in_features, "in_features", "Linear")
        positive_int(self.out_features, "out_features", "Linear")
        object.__setattr__(self, "bias", bool(self.bias))

    def output_shape(self, x):
        if len(x) < 2:
            raise ShapeError(f"Linear expects at least a 2-d input (batch first), got {len(x)}-d", value=x)
        size = x[-1]
        if self.in_features is not None and size.is_number and size != self.in_features:
            raise ShapeError(f"Linear expects {self.in_features} input features, got {size}", value=size)
        return tuple(x[:-1]) + (sympy.Integer(self.out_features),)

    def constraints(self, out, x):
        if self.in_features is None or x[-1].is_number:
            return ()
        message = f"Linear expects {self.in_features} input features"
        # equality as two inequalities, both >= 0
        return (Constraint(x[-1] - self.in_features, message), Constraint(self.in_features - x[-1], message))

    def _in(self, x):
        return x[-1] if self.in_features is None else sympy.Integer(self.in_features)

    def weights(self, x):
        return self._in(x) * self.out_features

    def biases(self, x):
        return sympy.Integer(self.out_features if self.bias else 0)

    def macs(self, out, x):
        return numel(x[:-1]) * self._in(x) * self.out_features

    def flop_terms(self, out, x):
        """Cost terms beyond the MACs, for `costgraph.conventions`.

        ``bias``: one add per output element; ``param_rows``: the batch size
        (the first dimension only) times the parameters, torchinfo's count.
        """
        return {
            "bias": numel(out) if self.bias else 0,
            "param_rows": x[0] * (self.weights(x) + self.biases(x)),
        }

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, for the weight gradient (the weight is a parameter, counted once)."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """Grad of the weights (``grad_out^T x``) plus grad of the input (``grad_out A``) if needed.

        Each is a matrix product of the forward's size.

        >>> from costgraph.symbols import N
        >>> fc = Linear(25088, 4096)
        >>> fc.backward_macs((N, 4096), (N, 25088))        # 2 * 25088 * 4096 per row
        205520896*N
        """
        forward = self.macs(out, x)
        return forward * (2 if wants_grad(needs_input_grad, 0) else 1)
