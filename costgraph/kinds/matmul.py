"""Matrix products between activations: `MatMul` (``torch.matmul``, broadcasting), `BatchMatMul` (``torch.bmm``) and `Einsum` (``torch.einsum``, one or two operands).

A product with a weight matrix is `costgraph.kinds.Linear`; attention built
from these parts is described in `costgraph.kinds.attention`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..symbols import as_size
from ..intmath import FloorDiv
from .arithmetic import broadcast_shapes
from .base import LayerKind, Saved, format_shape, numel, register_kind, wants_grad

__all__ = ['MatMul', 'BatchMatMul', 'Einsum', 'FvcoreEinsumFlops', 'causal_pairs', 'parse_einsum']


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


_ELLIPSIS = "..."


class FvcoreEinsumFlops(sympy.Function):
    """fvcore's count for an ``aten::einsum`` it does not special-case, rounding included.

    fvcore (``fvcore/nn/jit_handles.py`` ``einsum_flop_jit``, 0.1.5) asks
    ``numpy.einsum_path(..., optimize="optimal")`` for its report, reads the
    line "Optimized FLOP count:  5.424e+05" -- printed to four significant
    digits -- and returns ``floor(that / 2)``.  The argument is numpy's
    ``_flop_count`` of the one contraction: the product of every label's
    size times the operation factor (2 for a product with a summed label, 1
    without); numpy reports that plus one (``opt_cost = sum(cost_list) + 1``
    in ``einsum_path``, numpy 1.x and 2.4 alike).  This reproduces the tool's float
    formatting with Python floats, as `ThopAdaptiveOps` does for thop: only
    to copy a tool's figure.

    >>> FvcoreEinsumFlops(1080), FvcoreEinsumFlops(105), FvcoreEinsumFlops(542412)
    (540, 53, 271200)
    """

    nargs = 1

    @classmethod
    def eval(cls, count):
        if isinstance(count, sympy.Integer):
            return sympy.Integer(int(float(f"{float(int(count) + 1):.3e}") // 2))
        return None

    def _eval_is_integer(self):
        return True

    def _eval_is_nonnegative(self):
        return True


def parse_einsum(equation) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """An einsum equation as (operands' labels, output labels); ``"..."`` is one label.

    The equation is a specification, never code: only ASCII letters, commas,
    at most one ``->`` and at most one ``...`` per term are accepted
    (spaces are ignored).  Without ``->`` the output is torch's implicit
    one: ``...`` first if any operand has it, then the letters that occur
    once, in alphabetical order.

    Raises
    ------
    CostGraphError
        For any other character, a malformed arrow or ellipsis, an output
        label twice or not in any operand, or an output without ``...`` when
        an operand has it.

    >>> parse_einsum("bhqd,bhkd->bhqk")
    ((('b', 'h', 'q', 'd'), ('b', 'h', 'k', 'd')), ('b', 'h', 'q', 'k'))
    >>> parse_einsum("...ij,jk")
    ((('...', 'i', 'j'), ('j', 'k')), ('...', 'i', 'k'))
    """
    if not isinstance(equation, str):
        raise CostGraphError(f"Einsum: the equation must be a string, got {equation!r}", value=equation)
    return _parse_einsum(equation)


@functools.lru_cache(maxsize=512)  # every cost method re-reads the equation; parsing is pure
def _parse_einsum(equation: str):
    text = equation.replace(" ", "")
    bad = sorted({c for c in text if not (c.isascii() and c.isalpha()) and c not in ",->."})
    if bad:
        raise CostGraphError(f"Einsum: unexpected characters {bad} in equation {equation!r}", value=equation)
    if text.count("->") > 1 or text.count("-") != text.count(">") or text.count("-") != text.count("->"):
        raise CostGraphError(f"Einsum: at most one '->' allowed, got {equation!r}", value=equation)
    lhs, arrow, rhs = text.partition("->")

    def labels(term: str) -> tuple[str, ...]:
        if term.count(".") not in (0, 3) or (term.count(".") == 3 and _ELLIPSIS not in term):
            raise CostGraphError(f"Einsum: '.' only as one '...' per term, got {term!r} in {equation!r}", value=equation)
        head, _, tail = term.partition(_ELLIPSIS)
        return tuple(head) + ((_ELLIPSIS,) if _ELLIPSIS in term else ()) + tuple(tail)

    if not lhs:
        raise CostGraphError(f"Einsum: no operands in equation {equation!r}", value=equation)
    operands = tuple(labels(term) for term in lhs.split(","))
    if "," in rhs:
        raise CostGraphError(f"Einsum: one output term allowed, got {rhs!r}", value=equation)
    has_ellipsis = any(_ELLIPSIS in op for op in operands)
    if arrow:
        output = labels(rhs)
        if len(set(output)) != len(output):
            raise CostGraphError(f"Einsum: output label repeated in {equation!r}", value=equation)
        known = {label for op in operands for label in op}
        missing = [label for label in output if label not in known]
        if missing:
            raise CostGraphError(f"Einsum: output labels {missing} appear in no operand of {equation!r}", value=equation)
        if has_ellipsis and _ELLIPSIS not in output:
            raise CostGraphError(f"Einsum: the output must keep '...' when an operand has it: {equation!r}", value=equation)
    else:
        counts: dict = {}
        for op in operands:
            for label in op:
                counts[label] = counts.get(label, 0) + 1
        output = ((_ELLIPSIS,) if has_ellipsis else ()) + tuple(
            sorted(label for label, n in counts.items() if n == 1 and label != _ELLIPSIS)
        )
    return operands, output


@register_kind
@dataclass(frozen=True)
class Einsum(LayerKind):
    """``torch.einsum(equation, a)`` or ``torch.einsum(equation, a, b)``: a general contraction.

    `equation` is parsed by `parse_einsum` (a specification, validated
    strictly; never evaluated).  Sizes of a label must agree across its
    operands (or be 1, which broadcasts); ``...`` dimensions broadcast.

    Costs follow what torch runs (``sumproduct_pair``, one ``bmm``):

    * labels summed in one operand only are summed first: ``n - m`` additions
      for an operand of ``n`` elements reduced to ``m``;
    * with labels contracted between the two operands, MACs are the product
      of the sizes of every remaining label: ``numel(out) * prod(contracted)``
      (what FlopCounterMode counts for the ``bmm``);
    * without any (an outer or elementwise product) torch multiplies: no
      MACs, one product per output element;
    * one operand: a permutation or diagonal (a view) or a sum.

    Three or more operands are refused: torch contracts them pairwise in an
    order that depends on whether ``opt_einsum`` is installed; write
    pairwise `Einsum` layers instead.

    Saved for backward (two operands): each operand for the other's
    gradient, as ``bmm`` (or ``mul``) keeps them; an operand summed first is
    kept as its new, reduced tensor.  (A permuted operand that ``bmm`` needs
    contiguous may be copied; the copy has the operand's size.)

    Raises
    ------
    CostGraphError
        For a malformed equation, or three or more operands.
    ShapeError
        If the inputs do not fit the equation.

    Examples
    --------
    >>> from costgraph.symbols import N, S
    >>> scores = Einsum("bhqd,bhkd->bhqk")
    >>> q = k = (N, 12, S, 64)
    >>> out = scores.output_shape(q, k); out
    (N, 12, S, S)
    >>> scores.macs(out, q, k)                                   # N*12*S*S outputs x 64
    768*N*S**2
    >>> Einsum("i,j->ij").macs((3, 4), (3,), (4,)), Einsum("i,j->ij").other_flops((3, 4), (3,), (4,))
    (0, 12)
    """

    equation: str
    arity = None

    def __post_init__(self):
        operands, _ = parse_einsum(self.equation)
        if len(operands) > 2:
            raise CostGraphError(
                f"Einsum: {len(operands)} operands in {self.equation!r}; torch's pairwise order depends on "
                f"opt_einsum, so give one Einsum per pair",
                value=self.equation,
            )

    # -- shapes -------------------------------------------------------------------------------
    def _sizes(self, *inputs):
        """({label: size}, broadcast ellipsis shape) of these inputs, checked."""
        operands, _ = parse_einsum(self.equation)
        if len(inputs) != len(operands):
            raise ShapeError(
                f"Einsum {self.equation!r} takes {len(operands)} operands, got {len(inputs)}", value=len(inputs)
            )
        sizes: dict = {}
        ellipses = []
        for labels, shape in zip(operands, inputs):
            letters = [label for label in labels if label != _ELLIPSIS]
            spare = len(shape) - len(letters)
            if spare < 0 or (spare > 0 and _ELLIPSIS not in labels):
                raise ShapeError(
                    f"Einsum {self.equation!r}: operand {''.join(labels)} does not fit shape {format_shape(shape)}",
                    value=shape,
                )
            axis = 0
            for label in labels:
                if label == _ELLIPSIS:
                    ellipses.append(tuple(shape[axis : axis + spare]))
                    axis += spare
                    continue
                size = sympy.sympify(shape[axis])
                axis += 1
                seen = sizes.get(label)
                if seen is None or seen == 1:
                    sizes[label] = size
                elif size != 1 and sympy.expand(seen - size) != 0:
                    raise ShapeError(
                        f"Einsum {self.equation!r}: label {label!r} has sizes {seen} and {size}", value=(seen, size)
                    )
        ellipsis = broadcast_shapes("Einsum", *ellipses) if ellipses else ()
        return sizes, ellipsis

    def output_shape(self, *inputs):
        sizes, ellipsis = self._sizes(*inputs)
        _, output = parse_einsum(self.equation)
        shape = []
        for label in output:
            shape.extend(ellipsis if label == _ELLIPSIS else (sizes[label],))
        return tuple(shape)

    # -- costs --------------------------------------------------------------------------------
    @staticmethod
    def _numel_of(labels, sizes, ellipsis):
        return sympy.Mul(*[sympy.Mul(*ellipsis) if label == _ELLIPSIS else sizes[label] for label in labels])

    def _plan(self, *inputs):
        """(contracted labels, [(operand, numel before, numel after its own sums)]) and sizes."""
        operands, output = parse_einsum(self.equation)
        sizes, ellipsis = self._sizes(*inputs)
        reductions = []
        for i, labels in enumerate(operands):
            others = {label for j, op in enumerate(operands) if j != i for label in op}
            alone = [label for label in dict.fromkeys(labels) if label not in output and label not in others]
            if alone:
                kept = [label for label in dict.fromkeys(labels) if label not in alone]
                # a repeated label is a diagonal (a view) first: count the distinct labels' sizes
                before = self._numel_of(dict.fromkeys(labels), sizes, ellipsis)
                after = self._numel_of(kept, sizes, ellipsis)
                reductions.append((i, before, after))
        contracted = []
        if len(operands) == 2:
            contracted = [label for label in dict.fromkeys(operands[0]) if label in operands[1] and label not in output]
        return contracted, reductions, sizes

    def macs(self, out, *inputs):
        contracted, _, sizes = self._plan(*inputs)
        if not contracted:
            return sympy.Integer(0)
        return numel(out) * numel([sizes[label] for label in contracted])

    def other_flops(self, out, *inputs):
        contracted, reductions, _ = self._plan(*inputs)
        sums = sympy.Add(*[before - after for _, before, after in reductions])
        if len(inputs) == 2 and not contracted:
            return sums + numel(out)
        return sums

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: the first sums as additions; products without
        contraction as products; the MACs themselves are no term.  And ``einsum_fvcore``, what
        fvcore's ``einsum_flop_jit`` reports (see `FvcoreEinsumFlops`).

        >>> from costgraph.symbols import N, S
        >>> q = k = (N, 12, S, 64)
        >>> Einsum("bhqd,bhkd->bhqk").flop_terms((N, 12, S, S), q, k)["einsum_fvcore"]
        FvcoreEinsumFlops(1536*N*S**2)
        >>> Einsum("bij,bik->bjk").flop_terms((N, 4, 5), (N, 3, 4), (N, 3, 5))["einsum_fvcore"]   # special-cased
        60*N
        """
        contracted, reductions, sizes = self._plan(*inputs)
        terms = {}
        if reductions:
            terms["add"] = sympy.Add(*[before - after for _, before, after in reductions])
        if len(inputs) == 2 and not contracted:
            terms["mul"] = numel(out)
        terms["einsum_fvcore"] = self._fvcore_count(out, sizes, *inputs)
        return terms

    def _fvcore_count(self, out, sizes, *inputs):
        # fvcore/nn/jit_handles.py einsum_flop_jit: letters renamed a, b, c, ... in order of appearance;
        # two batched-matmul equations are counted exactly, any other goes through numpy's einsum_path
        equation = self.equation.replace(" ", "")
        order = {}
        for char in equation:
            if char.isalpha():
                order.setdefault(char, chr(97 + len(order)))
        renamed = "".join(order.get(char, char) for char in equation)
        if renamed in ("abc,abd->acd", "abc,adc->adb"):
            return self.macs(out, *inputs)
        # numpy's _flop_count over the one contraction: all labels' sizes x (terms - 1, at least 1,
        # + 1 when a label is summed away)
        operands, output = parse_einsum(self.equation)
        _, ellipsis = self._sizes(*inputs)
        labels = list(dict.fromkeys(label for op in operands for label in op))
        overall = self._numel_of(labels, sizes, ellipsis)
        summed = any(label not in output for label in labels)
        return FvcoreEinsumFlops(overall * (max(1, len(inputs) - 1) + summed))

    @property
    def materializes(self):
        operands, output = parse_einsum(self.equation)
        # one operand, nothing summed: a permutation or diagonal of its input (a view)
        return not (len(operands) == 1 and set(operands[0]) == set(output))

    def weights(self, *inputs):
        return sympy.Integer(0)

    def biases(self, *inputs):
        return sympy.Integer(0)

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Each of two operands for the other's gradient (reduced first, a new tensor); nothing for one."""
        if len(inputs) == 1:
            return ()
        _, reductions, _ = self._plan(*inputs)
        reduced = {i: after for i, _, after in reductions}
        saved = []
        for keep, other in ((1, 0), (0, 1)):
            if wants_grad(needs_input_grad, other):
                saved.append(Saved.extra(reduced[keep]) if keep in reduced else Saved.input(keep))
        return tuple(saved)

    def backward_macs(self, out, *inputs, needs_input_grad=None):
        """One forward's worth of MACs per operand that needs a gradient (``bmm``'s backward)."""
        forward = self.macs(out, *inputs)
        return forward * sum(wants_grad(needs_input_grad, i) for i in range(len(inputs)))
