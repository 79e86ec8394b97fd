"""The values of one size at which a network is valid, read off its own validity formulas.

A network is valid at some sizes when every layer's output sizes are at
least 1 and every layer constraint is at least 0 (`Network.check_sizes`).
With the other sizes fixed, each of these conditions ``g(x) >= 0`` is a
formula in the one size ``x`` searched, made of integers, sums, products,
integer powers, `FloorDiv` by positive integers, ``Min`` and ``Max``.

Such a formula is often provably monotone in ``x`` on the integers of a
half-line ``x >= d``, by these rules (`direction`), each exact:

* ``x`` grows, an integer is constant;
* a sum, ``Min`` or ``Max`` of terms that all grow (or are constant) grows,
  and likewise for terms that all shrink;
* ``c * f`` for an integer ``c`` grows as ``f`` does if ``c > 0``, shrinks if ``c < 0``;
* a product (or power) of growing factors that are all ``>= 0`` at ``x = d``
  grows (each stays ``>= 0``, and ``a b <= a' b'`` when ``0 <= a <= a'``, ``0 <= b <= b'``);
* ``FloorDiv(f, n)`` for a positive integer ``n`` moves as ``f`` does (floor is monotone);
* a polynomial in ``x`` (or in one floor that grows with ``x``) whose forward
  difference, shifted to start at ``d``, has coefficients of one sign
  (`_polynomial_direction`: an expanded ``(H - 3)(H - 5)`` grows from H = 4).

A growing condition holds from some value on and a shrinking one up to
some value, each threshold found exactly by bisection on the conditions
themselves; so the valid values are one interval ``[low, high]`` (a
pinned size: ``low == high``; Whisper's encoder positions are 1500).  A
factor that may be negative makes a product unprovable on ``x >= 1``
(a flattened ``512 h w`` with ``h = floor(H / 32) - 1``, negative at
small H); but nothing below the growing conditions' threshold is
valid, so the half-line is raised to that threshold and the rules are
tried again (there ``h >= 1``), until nothing changes.  A condition the
rules still cannot place leaves the question open: `valid_interval`
raises `NotProvedInterval` and the caller may scan instead.

>>> from costgraph.models import whisper_small, alexnet
>>> valid_interval(whisper_small(), "S", T=448)       # the encoder's 1500 positions, added whole
(1500, 1500)
>>> valid_interval(whisper_small(), "T", S=1500)      # the decoder's 448 learned positions
(1, 448)
>>> valid_interval(alexnet(), "H")[0]    # conv 11/4 then three 3/2 max pools: 63 is the least
63
"""

from __future__ import annotations

import sympy

from .compile import compile_exprs
from .errors import CostGraphError
from .intmath import FloorDiv

__all__ = ["valid_interval", "pinned_sizes", "direction", "NotProvedInterval", "LIMIT"]

#: the largest value searched (also `costgraph.fit`'s): a figure still within budget there has no largest size
LIMIT = 2**62


class NotProvedInterval(CostGraphError):
    """Some validity condition is not provably monotone in the size: the valid values are not known to be one interval."""


def direction(expr: sympy.Expr, x: sympy.Symbol, start: int, _memo: dict | None = None):
    """How `expr` moves with `x` on the integers ``x >= start``: 1 (never down), -1 (never up), 0 (constant) or None (not proved).

    Raises
    ------
    Nothing: a formula outside the rules is None.

    Examples
    --------
    >>> from costgraph.symbols import H
    >>> direction(FloorDiv(H - 32, 32) + 1, H, 1), direction(25088 - 512 * H**2, H, 1)
    (1, -1)
    >>> square = (FloorDiv(H, 32) - 1) ** 2      # -1 at H = 1: falls, then rises
    >>> direction(square, H, 1), direction(square, H, 32)
    (None, 1)
    """
    memo = {} if _memo is None else _memo
    key = expr
    if key in memo:
        return memo[key]
    if expr == x:
        result = 1
    elif expr.is_Integer:
        result = 0
    elif isinstance(expr, (sympy.Min, sympy.Max)):
        result = _combined([direction(a, x, start, memo) for a in expr.args])
    elif isinstance(expr, FloorDiv):
        base, divisor = expr.args
        result = direction(base, x, start, memo) if divisor.is_Integer and divisor > 0 else None
    elif expr.is_Add or expr.is_Mul or expr.is_Pow:
        if expr.is_Add:
            result = _combined([direction(a, x, start, memo) for a in expr.args])
        else:
            result = _product_direction(expr, x, start, memo)
        if result is None:
            result = _polynomial_direction(expr, x, start, memo)
    else:
        result = None
    memo[key] = result
    return result


def _combined(directions):
    """The direction of a sum (or Min, Max) of terms moving as `directions`."""
    if None in directions:
        return None
    moving = {d for d in directions if d != 0}
    if len(moving) > 1:
        return None
    return moving.pop() if moving else 0


def _product_direction(expr, x, start, memo):
    if expr.is_Pow:
        base, exponent = expr.args
        if not (exponent.is_Integer and exponent > 0):
            return None
        factors, coefficient = [base] * int(exponent), 1
    else:
        coefficient, rest = expr.as_coeff_Mul()
        if not coefficient.is_Integer:
            return None
        factors = list(sympy.Mul.make_args(rest))
    if len(factors) == 1:
        inner = direction(factors[0], x, start, memo)
    else:
        inner = 0
        for factor in factors:
            moves = direction(factor, x, start, memo)
            if moves is None or moves < 0 or int(factor.xreplace({x: start})) < 0:
                return None  # a shrinking or possibly negative factor: not proved
            inner = max(inner, moves)
    if inner is None:
        return None
    return inner * (1 if coefficient > 0 else -1 if coefficient < 0 else 0)


def _polynomial_direction(expr, x, start, memo):
    """A polynomial ``p(u)`` in one integer-valued generator ``u`` (``x``, or a floor that moves with it).

    ``p`` never falls on the integers ``u >= u0`` when its forward difference
    ``p(u + 1) - p(u)``, written in powers of ``u - u0``, has no negative
    coefficient (likewise never rises with no positive one); ``u0`` is the
    generator's value at ``x = start``.  (``(H - 3)(H - 5)`` expands to
    ``H**2 - 8 H + 15``: its difference ``2 H - 7`` is ``2 t + 3`` from H = 5.)
    """
    try:
        polynomial = sympy.Poly(expr)
    except sympy.PolynomialError:
        return None
    if len(polynomial.gens) != 1:
        return None
    generator = polynomial.gens[0]
    moves = 1 if generator == x else direction(generator, x, start, memo)
    if moves not in (1, -1) or not (generator == x or isinstance(generator, (FloorDiv, sympy.Min, sympy.Max))):
        return None
    u0 = int(generator.xreplace({x: start}))
    if moves == -1:
        return None  # u shrinks without bound below: u0 is not a lower end
    coefficients = (polynomial.shift(1) - polynomial).shift(u0).all_coeffs()
    if all(c >= 0 for c in coefficients):
        return 0 if all(c == 0 for c in coefficients) else 1
    if all(c <= 0 for c in coefficients):
        return -1
    return None


def _conditions(net, size: str, fixed: dict):
    """(the searched symbol, the distinct non-constant conditions ``g >= 0``), or None if a constant one fails."""
    values = net._resolve({**fixed, size: 1})  # checks the fixed sizes; W follows H unless fixed
    searched = next(s for s in values if s.name == size)
    follows = {s for s in values if s.name == "W" and size == "H" and "W" not in fixed}
    substitution = {s: (searched if s == searched or s in follows else sympy.Integer(v)) for s, v in values.items()}
    exprs, spans = net._checks()
    least = []
    for _name, start, rank, n_constraints in spans:
        least.extend([1] * rank + [0] * n_constraints)
    seen, conditions = set(), []
    for expr, bound in zip(exprs, least):
        if (expr, bound) in seen:
            continue
        seen.add((expr, bound))
        condition = sympy.sympify(sympy.sympify(expr).xreplace(substitution) - bound)
        if condition.is_Integer:
            if condition < 0:
                return searched, None
            continue
        conditions.append(condition)
    return searched, conditions


def _first(holds, low: int):
    """The smallest ``v >= low`` with ``holds(v)``, for `holds` false then true; None if false up to LIMIT."""
    if holds(low):
        return low
    bad, step = low, 1
    while True:
        probe = min(low + step, LIMIT)
        if holds(probe):
            break
        if probe == LIMIT:
            return None
        bad, step = probe, step * 2
    good = probe
    while good - bad > 1:
        middle = (good + bad) // 2
        if holds(middle):
            good = middle
        else:
            bad = middle
    return good


def valid_interval(net, size: str, **fixed):
    """The valid values of `size` (the others fixed) as ``(low, high)``, or None if there are none.

    `high` is at most 2**62 (a size valid from `low` on gives that bound).

    Raises
    ------
    NotProvedInterval
        If some validity condition is not provably monotone (see the module docstring).
    UnknownSizeError, SizeError
        For fixed sizes the network does not have or that are not positive integers.

    Examples
    --------
    >>> from costgraph.models import resnet50
    >>> valid_interval(resnet50(), "H")          # adaptive pooling: any H from 1 on
    (1, 4611686018427387904)
    """
    x, conditions = _conditions(net, size, fixed)
    if conditions is None:
        return None
    start, growing, shrinking, unplaced = 1, [], [], list(conditions)
    while True:
        memo: dict = {}
        placed = [(c, direction(c, x, start, memo)) for c in unplaced]
        growing += [c for c, d in placed if d == 1]
        shrinking += [c for c, d in placed if d == -1]
        unplaced = [c for c, d in placed if d is None]
        raised = start
        if growing:  # nothing below the growing conditions' threshold is valid
            grows = compile_exprs([x], growing)
            raised = _first(lambda v: all(g >= 0 for g in grows(v)), start)
            if raised is None:
                return None
        if not unplaced or raised == start:
            start = raised
            break
        start = raised
    if unplaced:
        shown = ", ".join(str(c) for c in unplaced[:3])
        raise NotProvedInterval(f"{net.name}: validity in {size} is not provably monotone ({shown} >= 0)", value=size)
    if not shrinking:
        return start, LIMIT
    shrinks = compile_exprs([x], shrinking)
    if not all(g >= 0 for g in shrinks(start)):
        return None
    first_bad = _first(lambda v: not all(g >= 0 for g in shrinks(v)), start)
    return start, (LIMIT if first_bad is None else first_bad - 1)


def pinned_sizes(net, sizes: dict) -> dict:
    """``{name: value}`` for each size of `net` with one valid value when the others are at `sizes`.

    `sizes` gives every size (W follows H, N defaults to 1); a size whose
    validity is not provably an interval is not reported.

    Raises
    ------
    UnknownSizeError, SizeError
        As `valid_interval`, for sizes the network does not have or bad values.

    Examples
    --------
    >>> from costgraph.models import whisper_small
    >>> pinned_sizes(whisper_small(), {"S": 1500, "T": 448})      # 448 positions bound T, not pin it
    {'S': 1500}
    """
    pinned = {}
    for symbol in net.symbols:
        name = symbol.name
        if name == "W" and "W" not in sizes:
            continue  # follows H
        others = {k: v for k, v in sizes.items() if k != name and not (name == "H" and k == "W" and sizes.get("W") == sizes.get("H"))}
        try:
            interval = valid_interval(net, name, **others)
        except NotProvedInterval:
            continue
        if interval is not None and interval[0] == interval[1]:
            pinned[name] = interval[0]
    return pinned
