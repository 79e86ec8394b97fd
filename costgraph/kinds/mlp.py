"""The gated feed-forward block of Llama-style transformers (SwiGLU, GEGLU)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .activation import GELU, SiLU
from .base import LayerKind, Saved, format_shape, numel, positive_int, register_kind, wants_grad

__all__ = ["GatedMLP"]

#: gate activations and their FLOPs per element (the activation kinds' own convention)
_ACTIVATIONS = {"silu": SiLU.flops_per_element, "gelu": GELU.flops_per_element}


@register_kind
@dataclass(frozen=True)
class GatedMLP(LayerKind):
    """``down(act(gate(x)) * up(x))`` over the last dimension, as one node.

    Llama's ``LlamaMLP`` with ``activation="silu"`` (SwiGLU, Shazeer 2020);
    ``"gelu"`` is GEGLU.  The three projections are ``d_model x d_ff``.

    Weights: ``3 * d_model * d_ff``; biases ``2 * d_ff + d_model`` with
    `bias`.  MACs: every weight once per row.  Other FLOPs per hidden
    element: the activation (SiLU 5, GELU 8) and the gating product 1.  The
    same costs as the block built from `Linear`, `SiLU` and `Mul` nodes.

    >>> from costgraph.symbols import N, S
    >>> mlp = GatedMLP(4096, 11008)
    >>> mlp.weights((N, S, 4096))
    135266304
    >>> mlp.macs((N, S, 4096), (N, S, 4096)), mlp.other_flops((N, S, 4096), (N, S, 4096))
    (135266304*N*S, 66048*N*S)
    """

    d_model: int
    d_ff: int
    activation: str = "silu"
    bias: bool = False

    def __post_init__(self):
        positive_int(self.d_model, "d_model", "GatedMLP")
        positive_int(self.d_ff, "d_ff", "GatedMLP")
        if self.activation not in _ACTIVATIONS:
            raise CostGraphError(
                f"GatedMLP: activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}", value=self.activation
            )
        object.__setattr__(self, "bias", bool(self.bias))

    def output_shape(self, x):
        if len(x) < 2 or x[-1] != self.d_model:
            raise ShapeError(f"GatedMLP expects a last dimension of {self.d_model}, got {format_shape(x)}", value=x)
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(3 * self.d_model * self.d_ff)

    def biases(self, x):
        return sympy.Integer(2 * self.d_ff + self.d_model if self.bias else 0)

    def macs(self, out, x):
        return numel(x[:-1]) * self.weights(x)

    def other_flops(self, out, x):
        return numel(x[:-1]) * self.d_ff * (_ACTIVATIONS[self.activation] + 1)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, and four hidden tensors: gate and up outputs, the activation, the product
        (what the same block built from `Linear`, the activation and `Mul` keeps)."""
        hidden = numel(x[:-1]) * self.d_ff
        return (Saved.input(0),) + tuple(Saved.extra(hidden, "activation") for _ in range(4))

    def backward_macs(self, out, x, needs_input_grad=None):
        """Weight gradients of all three projections; the input gradient of gate and up
        only if `x` needs one, of down always (its input comes from the weights)."""
        rows, block = numel(x[:-1]), self.d_model * self.d_ff
        return rows * block * (3 + 2 * wants_grad(needs_input_grad, 0) + 1)

    def flop_terms(self, out, x):
        """The activation and the gating product per hidden element, and bias adds (`costgraph.conventions`)."""
        hidden = numel(x[:-1]) * self.d_ff
        return {self.activation: hidden, "mul": hidden, "bias": numel(x[:-1]) * self.biases(x)}
