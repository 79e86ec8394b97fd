"""Root-mean-square normalization (Llama, T5)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import LayerKind, Saved, format_shape, numel, positive_int, register_kind

__all__ = ["RMSNorm"]


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
