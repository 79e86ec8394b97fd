"""T5's relative position bias: a learned scalar per (bucket of key - query offset, head)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from .base import LayerKind, Saved, format_shape, positive_int, register_kind

__all__ = ["RelativePositionBias"]


@register_kind
@dataclass(frozen=True)
class RelativePositionBias(LayerKind):
    """The ``(1, heads, Sq, Sk)`` bias T5 adds to attention scores, looked up from `num_buckets` x `heads`.

    Input: the scores ``(N, heads, Sq, Sk)`` (only their shape is read: the
    bias depends on positions, not values).  Hugging Face's ``compute_bias``
    maps each offset ``k - q`` to one of `num_buckets` buckets (half per
    direction when `bidirectional`, log-spaced past ``num_buckets / 2``) and
    looks up ``relative_attention_bias``: a lookup, no MACs.  The bucket
    arithmetic (a few elementwise ops per (q, k) pair, independent of the
    batch and computed once per stack) is not counted.  Only the first
    layer of each stack owns the table; the later ones add the same tensor.

    Weights: ``num_buckets * heads``.

    >>> from costgraph.symbols import N, S
    >>> bias = RelativePositionBias(32, 8)
    >>> bias.output_shape((N, 8, S, S)), bias.weights((N, 8, S, S))
    ((1, 8, S, S), 256)
    """

    num_buckets: int
    heads: int
    bidirectional: bool = True

    def __post_init__(self):
        positive_int(self.num_buckets, "num_buckets", "RelativePositionBias")
        positive_int(self.heads, "heads", "RelativePositionBias")
        object.__setattr__(self, "bidirectional", bool(self.bidirectional))

    def output_shape(self, scores):
        if len(scores) != 4 or scores[1] != self.heads:
            raise ShapeError(f"RelativePositionBias expects scores (N, {self.heads}, Sq, Sk), got {format_shape(scores)}", value=scores)
        return (sympy.Integer(1), sympy.Integer(self.heads), scores[2], scores[3])

    def weights(self, scores):
        return sympy.Integer(self.num_buckets * self.heads)

    def biases(self, scores):
        return sympy.Integer(0)

    def macs(self, out, scores):
        return sympy.Integer(0)

    def other_flops(self, out, scores):
        return sympy.Integer(0)

    def saved_tensors(self, out, scores, needs_input_grad=None):
        """The int64 bucket of every (q, k) pair, to scatter the gradient into the table."""
        return (Saved.extra(scores[2] * scores[3], "index"),)

    def backward_macs(self, out, scores, needs_input_grad=None):
        """None: an indexed add into the table."""
        return sympy.Integer(0)

    def flop_terms(self, out, scores):
        """A lookup: no cost terms (`costgraph.conventions`)."""
        return {}
