"""Lookups and learned tokens: embeddings, learned positions, a class token.

A lookup copies rows of a table: it has parameters but does no arithmetic,
so it counts no MACs and no FLOPs (Chinchilla's appendix F counts the token
embedding as a one-hot matrix product, ``2 * seq_len * vocab * d_model``;
the LLM formula tests assert that difference).  Adding learned positions to
a sequence is elementwise work: one FLOP per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..symbols import as_formula
from .base import Constraint, LayerKind, Saved, format_shape, nonnegative_int, numel, positive_int, register_kind

__all__ = ["Embedding", "PositionalEmbedding", "ClassToken", "table_size"]


def table_size(value, name: str, owner: str) -> sympy.Expr:
    """A table size: a positive int, or a positive-integer size symbol kept symbolic.

    Raises
    ------
    CostGraphError
        If `value` is neither (floats, zero, non-integer symbols).
    """
    if isinstance(value, sympy.Symbol):
        if not (value.is_integer and value.is_positive):
            raise CostGraphError(f"{owner}: {name} must be a positive-integer size symbol, got {value!r}", value=value)
        return value
    return sympy.Integer(positive_int(value, name, owner))


@register_kind
@dataclass(frozen=True)
class Embedding(LayerKind):
    """A lookup table of `num_embeddings` rows of `embedding_dim`, as ``torch.nn.Embedding``.

    Input: integer ids of shape ``(N, *)``; output ``(N, *, embedding_dim)``.
    Weights: ``num_embeddings * embedding_dim``; no MACs, no FLOPs (a copy).
    `num_embeddings` may be a size symbol (e.g. ``size_symbol("V")``) to keep
    the vocabulary symbolic.

    >>> from costgraph.symbols import N, S, size_symbol
    >>> wte = Embedding(50257, 768)
    >>> wte.output_shape((N, S)), wte.weights((N, S))
    ((N, S, 768), 38597376)
    >>> Embedding(size_symbol("V"), 768).weights((N, S))
    768*V
    """

    num_embeddings: object
    embedding_dim: int

    def __post_init__(self):
        object.__setattr__(self, "num_embeddings", table_size(self.num_embeddings, "num_embeddings", "Embedding"))
        positive_int(self.embedding_dim, "embedding_dim", "Embedding")

    def output_shape(self, ids):
        return tuple(ids) + (sympy.Integer(self.embedding_dim),)

    def weights(self, ids):
        return self.num_embeddings * self.embedding_dim

    def biases(self, ids):
        return sympy.Integer(0)

    def macs(self, out, ids):
        return sympy.Integer(0)

    def other_flops(self, out, ids):
        return sympy.Integer(0)

    def saved_tensors(self, out, ids, needs_input_grad=None):
        """The ids (their storage, int64: see `input_element`), to scatter the gradient into the table's rows."""
        return (Saved.input(0),)

    def input_element(self, index):
        """``"index"``: the ids are int64 (an importer that sees int32 ids states so for their layer)."""
        return "index"

    def backward_macs(self, out, ids, needs_input_grad=None):
        """None: the weight gradient is an indexed add (``embedding_dense_backward``)."""
        return sympy.Integer(0)

    def flop_terms(self, out, ids):
        """A lookup, no arithmetic; only the batch x table size (torchinfo's rule for a layer with a
        weight) as a term (`costgraph.conventions`)."""
        return {"param_rows": ids[0] * self.weights(ids)}


@register_kind
@dataclass(frozen=True)
class PositionalEmbedding(LayerKind):
    """Learned absolute positions added to a sequence ``(N, S, D)``: ``x + table[:S]``.

    Covers GPT-2's and BERT's ``wpe``/``position_embeddings`` (an
    ``nn.Embedding(num_positions, D)`` looked up at ``arange(S)`` and added)
    and ViT's ``pos_embedding`` (a ``(1, S, D)`` parameter added).

    `num_positions` is the table's length: an int (then ``S <= num_positions``
    is a constraint, or ``S == num_positions`` with ``whole_table=True``: a
    ``(1, P, D)`` parameter added whole, as ViT's, broadcasts only to a
    sequence of exactly P), or None for a table exactly as long as the
    input sequence (torchvision's ViT built for the image size at hand, so
    its parameters follow the number of patches).  With an `offset` the
    rows ``offset .. offset + S - 1`` are looked up (OPT's positions start at
    2, RoBERTa's after the padding id), so ``S <= num_positions - offset``.

    Weights: ``num_positions * D``.  FLOPs: one add per element.

    >>> from costgraph.symbols import N, S
    >>> PositionalEmbedding(1024, 768).weights((N, S, 768))
    786432
    >>> PositionalEmbedding(None, 768).weights((N, S + 1, 768))
    768*S + 768
    """

    num_positions: int | None
    embedding_dim: int
    whole_table: bool = False
    offset: int = 0  #: the first row looked up (OPT's 2, RoBERTa's padding id + 1): S <= num_positions - offset

    def __post_init__(self):
        if self.num_positions is not None:
            positive_int(self.num_positions, "num_positions", "PositionalEmbedding")
        positive_int(self.embedding_dim, "embedding_dim", "PositionalEmbedding")
        nonnegative_int(self.offset, "offset", "PositionalEmbedding")
        if self.offset and (self.num_positions is None or self.whole_table or self.offset >= self.num_positions):
            raise CostGraphError(
                f"PositionalEmbedding: offset={self.offset} needs a table longer than it, looked up by rows", value=self.offset
            )
        object.__setattr__(self, "whole_table", bool(self.whole_table) and self.num_positions is not None)

    def output_shape(self, x):
        if len(x) != 3 or x[2] != self.embedding_dim:
            raise ShapeError(
                f"PositionalEmbedding expects (N, S, {self.embedding_dim}), got {format_shape(x)}", value=x
            )
        length = as_formula(x[1], owner="PositionalEmbedding", what="the length")
        if self.num_positions is not None and length.is_number:
            if length > self.num_positions - self.offset or (self.whole_table and length != self.num_positions):
                raise ShapeError(
                    f"PositionalEmbedding has {self.num_positions} positions, the sequence has {length}", value=length
                )
        return tuple(x)

    def constraints(self, out, x):
        if self.num_positions is None or as_formula(x[1], owner="PositionalEmbedding", what="the length").is_number:
            return ()
        usable = self.num_positions - self.offset
        longer = Constraint(usable - x[1], f"sequence longer than the {usable} learned positions")
        if not self.whole_table:
            return (longer,)
        shorter = Constraint(x[1] - self.num_positions, f"sequence shorter than the {self.num_positions} learned positions")
        return (longer, shorter)

    def weights(self, x):
        rows = x[1] if self.num_positions is None else sympy.Integer(self.num_positions)
        return rows * self.embedding_dim

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """A looked-up table keeps its int64 position ids (``(1, S)``); a table added whole keeps nothing."""
        if self.num_positions is None or self.whole_table:
            return ()
        return (Saved.extra(x[1], "index"),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: an add, and an indexed add into the table."""
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """One add per element (`costgraph.conventions`)."""
        return {"add": numel(out)}


@register_kind
@dataclass(frozen=True)
class ClassToken(LayerKind):
    """A learned token prepended to a sequence: ``cat([token.expand(N, 1, D), x], dim=1)``.

    torchvision's ViT ``class_token`` (BERT's [CLS] is an ordinary token id).
    Weights: D.  The concatenation writes a new tensor and does no arithmetic.

    >>> from costgraph.symbols import N, S
    >>> ClassToken(768).output_shape((N, S, 768))
    (N, S + 1, 768)
    """

    embedding_dim: int

    def __post_init__(self):
        positive_int(self.embedding_dim, "embedding_dim", "ClassToken")

    def output_shape(self, x):
        if len(x) != 3 or x[2] != self.embedding_dim:
            raise ShapeError(f"ClassToken expects (N, S, {self.embedding_dim}), got {format_shape(x)}", value=x)
        return (x[0], sympy.expand(x[1] + 1), x[2])

    def weights(self, x):
        return sympy.Integer(self.embedding_dim)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient is sliced back (``cat``)."""
        return ()

    def backward_macs(self, out, x, needs_input_grad=None):
        """None."""
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}
