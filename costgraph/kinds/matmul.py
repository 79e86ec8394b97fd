"""Matrix products between activations: `MatMul` (``torch.matmul``, broadcasting) and `BatchMatMul` (``torch.bmm``).

A product with a weight matrix is `costgraph.kinds.Linear`; attention built
from these parts is described in `costgraph.kinds.attention`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..symbols import as_size
from ..intmath import FloorDiv
from .arithmetic import broadcast_shapes
from .base import LayerKind, Saved, format_shape, numel, register_kind, wants_grad

__all__ = ['MatMul', 'BatchMatMul', 'causal_pairs']


def causal_pairs(queries, keys, factor=1) -> sympy.Expr:
    """``factor`` times the number of (query, key) pairs a causal mask keeps.

    PyTorch's ``is_causal`` mask is ``ones(Sq, Sk).tril()``: query i sees
    keys 0..i.  For ``Sq = Sk = S`` that is ``S*(S + 1)/2`` pairs; the
    result keeps integer coefficients (halving an even `factor`, else a
    `FloorDiv`).

    Raises
    ------
    ShapeError
        If Sq and Sk are different formulas (which is smaller is not known).

    >>> from costgraph.symbols import N, S
    >>> causal_pairs(S, S, 64 * N)          # 64*N*S*(S + 1)/2
    32*N*S**2 + 32*N*S
    >>> causal_pairs(3, 5), causal_pairs(5, 3)   # 1+2+3, and 1+2+3+3+3
    (6, 12)
    """
    queries, keys = (as_size(n, owner="causal_pairs", what="a length") for n in (queries, keys))
    factor = sympy.expand(as_size(factor, owner="causal_pairs", what="factor"))
    if queries.is_number and keys.is_number:
        q, k = int(queries), int(keys)
        pairs = q * (q + 1) // 2 if q <= k else k * (k + 1) // 2 + (q - k) * k
        return sympy.expand(factor * pairs)
    if sympy.expand(queries - keys) != 0:
        raise ShapeError(
            f"a causal count needs equal query and key lengths (or numbers), got {queries} and {keys}",
            value=(queries, keys),
        )
    square = sympy.expand(queries * (queries + 1))
    coeff, rest = factor.as_coeff_Mul()
    if coeff.is_Integer and coeff % 2 == 0:
        return sympy.expand(coeff // 2 * rest * square)
    return sympy.expand(factor * FloorDiv(square, 2))


def _matrix(shape, what, owner, rank=3):
    if len(shape) < rank:
        raise ShapeError(
            f"{owner} expects {what} of rank >= {rank} (batch first, then a matrix), got {format_shape(shape)}",
            value=shape,
        )


def _each_for_the_other(needs_input_grad):
    """Saved operands of a product of two activations: each one, if the other needs a gradient."""
    saved = []
    if wants_grad(needs_input_grad, 0):
        saved.append(Saved.input(1))
    if wants_grad(needs_input_grad, 1):
        saved.append(Saved.input(0))
    return tuple(saved)


@register_kind
@dataclass(frozen=True)
class MatMul(LayerKind):
    """``a @ b`` of two activations, as ``torch.matmul``, batch dimensions broadcast.

    Inputs ``(..., n, k)`` and ``(..., k, m)`` of rank >= 2; output
    ``(broadcast(...), n, m)``.  An operand without a batch dimension (an
    importer's `Parameter`) broadcasts.  MACs: ``n * m * k`` per output matrix.

    Broadcasting covers grouped-query attention without copying keys:
    queries ``(N, kv, g, S, d)`` times keys ``(N, kv, 1, d, S)``.

    `triangular` counts only what a causal mask keeps (see `causal_pairs`):
    ``"output"`` computes only the lower triangle of an ``(Sq, Sk)`` result
    (causal scores Q K^T), ``"left"`` skips the zeros of a lower-triangular
    left operand (causal weights times V).  None (default) counts everything,
    as ``torch.matmul`` does.

    >>> from costgraph.symbols import N, S
    >>> q, kt = (N, 12, S, 64), (N, 12, 64, S)
    >>> MatMul().output_shape(q, kt)
    (N, 12, S, S)
    >>> MatMul().macs((N, 12, S, S), q, kt)
    768*N*S**2
    >>> MatMul(triangular="output").macs((N, 12, S, S), q, kt)   # 768*N*S*(S+1)/2
    384*N*S**2 + 384*N*S
    """

    triangular: str | None = None
    arity = 2

    def __post_init__(self):
        if self.triangular not in (None, "output", "left"):
            raise CostGraphError(
                f"MatMul: triangular must be None, 'output' or 'left', got {self.triangular!r}", value=self.triangular
            )

    def output_shape(self, a, b):
        _matrix(a, "a left operand", "MatMul", rank=2)
        _matrix(b, "a right operand", "MatMul", rank=2)
        if sympy.expand(a[-1] - b[-2]) != 0:
            raise ShapeError(
                f"MatMul: inner dimensions must match, got {format_shape(a)} @ {format_shape(b)} ({a[-1]} and {b[-2]})",
                value=(a[-1], b[-2]),
            )
        batch = broadcast_shapes("MatMul", tuple(a[:-2]), tuple(b[:-2]))
        return batch + (a[-2], b[-1])

    def weights(self, a, b):
        return sympy.Integer(0)

    def biases(self, a, b):
        return sympy.Integer(0)

    def macs(self, out, a, b):
        batch = numel(out[:-2])
        if self.triangular == "output":
            return causal_pairs(out[-2], out[-1], batch * a[-1])
        if self.triangular == "left":
            return causal_pairs(a[-2], a[-1], batch * b[-1])
        return numel(out) * a[-1]

    def other_flops(self, out, a, b):
        return sympy.Integer(0)

    def saved_tensors(self, out, a, b, needs_input_grad=None):
        """Each operand, kept for the other's gradient (``mm``'s derivative formula).

        As ``bmm`` on views keeps them (Megatron's layout).  ``torch.matmul`` on
        permuted 4-d views first copies each operand to 3-d, and keeps the copies.
        """
        return _each_for_the_other(needs_input_grad)

    def backward_macs(self, out, a, b, needs_input_grad=None):
        """``dA = dC @ B^T`` and ``dB = A^T @ dC``: as many products as the forward
        (the same three sizes) for each operand that needs a gradient."""
        return self.macs(out, a, b) * (wants_grad(needs_input_grad, 0) + wants_grad(needs_input_grad, 1))

    def flop_terms(self, out, a, b):
        """Only MACs: no cost terms (`costgraph.conventions`)."""
        return {}


@register_kind
@dataclass(frozen=True)
class BatchMatMul(LayerKind):
    """``torch.bmm``: ``(B, n, k) @ (B, k, m) -> (B, n, m)``, no broadcasting.

    MACs: ``B * n * m * k``.

    >>> from costgraph.symbols import N, S
    >>> BatchMatMul().macs((12 * N, S, S), (12 * N, S, 64), (12 * N, 64, S))
    768*N*S**2
    """

    arity = 2

    def output_shape(self, a, b):
        if len(a) != 3 or len(b) != 3:
            raise ShapeError(f"BatchMatMul expects two 3-d inputs, got {format_shape(a)} and {format_shape(b)}", value=(a, b))
        if sympy.expand(a[0] - b[0]) != 0 or sympy.expand(a[2] - b[1]) != 0:
            raise ShapeError(f"BatchMatMul cannot multiply {format_shape(a)} by {format_shape(b)}", value=(a, b))
        return (a[0], a[1], b[2])

    def weights(self, a, b):
        return sympy.Integer(0)

    def biases(self, a, b):
        return sympy.Integer(0)

    def macs(self, out, a, b):
        return numel(out) * a[2]

    def other_flops(self, out, a, b):
        return sympy.Integer(0)

    def saved_tensors(self, out, a, b, needs_input_grad=None):
        """As `MatMul.saved_tensors`: each operand for the other's gradient."""
        return _each_for_the_other(needs_input_grad)

    def backward_macs(self, out, a, b, needs_input_grad=None):
        """As `MatMul.backward_macs`: one forward's worth per operand gradient."""
        return self.macs(out, a, b) * (wants_grad(needs_input_grad, 0) + wants_grad(needs_input_grad, 1))

    def flop_terms(self, out, a, b):
        """Only MACs: no cost terms (`costgraph.conventions`)."""
        return {}
