"""Expanding size formulas quickly: the same result as ``sympy.expand``, a few times faster.

Every cost formula is a polynomial with integer coefficients in a few atoms:
size symbols and `FloorDiv`/``Min``/``Max`` of such polynomials.
``sympy.expand`` walks every node with a dozen hints and assumption queries
(about a millisecond for a conv layer's product of four sums).  Here the
formula is multiplied out as a dict ``{monomial: coefficient}`` with Python
ints, and the result is built once with sympy's own ``Add`` and ``Mul``, so
it is the same canonical expression ``sympy.expand`` returns.

Anything else (a rational coefficient, a negative power, another function)
is left to ``sympy.expand`` unchanged.

>>> from costgraph.symbols import H, W, N
>>> from costgraph.intmath import FloorDiv
>>> expand_sizes(N * 16 * (H - 2) * (FloorDiv(W, 2) - 1))
16*H*N*floor(W/2) - 16*H*N - 32*N*floor(W/2) + 32*N
>>> import sympy
>>> e = (H + 1) ** 2 * FloorDiv(W * (H + 1), 3)
>>> expand_sizes(e) == sympy.expand(e)
True
"""

from __future__ import annotations

import sympy

from .intmath import FloorDiv

__all__ = ["expand_sizes"]

_ATOMS = (FloorDiv, sympy.Min, sympy.Max)
_ONE: frozenset = frozenset()


class _NotPolynomial(Exception):
    """A node this module does not multiply out; sympy.expand takes the formula."""


def expand_sizes(expr) -> sympy.Expr:
    """``sympy.expand(expr)`` for integer polynomials in size symbols and floors, computed directly.

    Raises
    ------
    sympy.SympifyError
        If `expr` is not a sympy expression or a number.
    """
    expr = sympy.sympify(expr, strict=True)  # strict: a string is refused, never parsed
    try:
        terms = _terms(expr)
    except _NotPolynomial:
        return sympy.expand(expr)
    built = []
    for monomial, coefficient in terms.items():
        factors = [atom if power == 1 else sympy.Pow(atom, power) for atom, power in monomial]
        built.append(sympy.Mul(sympy.Integer(coefficient), *factors) if factors else sympy.Integer(coefficient))
    return sympy.Add(*built)


def _terms(expr) -> dict:
    """`expr` as ``{frozenset of (atom, power): int coefficient}``, zero coefficients dropped."""
    if expr.is_Integer:
        value = int(expr)
        return {_ONE: value} if value else {}
    if expr.is_Symbol:
        return {frozenset(((expr, 1),)): 1}
    if isinstance(expr, _ATOMS):
        # as sympy.expand(deep=True) does: expand inside, and let the atom fold again
        args = tuple(expand_sizes(arg) for arg in expr.args)
        atom = expr if args == expr.args else expr.func(*args)
        if not isinstance(atom, _ATOMS):
            return _terms(atom)
        return {frozenset(((atom, 1),)): 1}
    if expr.is_Add:
        total: dict = {}
        for arg in expr.args:
            for monomial, coefficient in _terms(arg).items():
                total[monomial] = total.get(monomial, 0) + coefficient
        return {m: c for m, c in total.items() if c}
    if expr.is_Mul:
        product = {_ONE: 1}
        for arg in expr.args:
            product = _multiply(product, _terms(arg))
        return product
    if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) >= 0:
        base = _terms(expr.base)
        power = {_ONE: 1}
        for _ in range(int(expr.exp)):
            power = _multiply(power, base)
        return power
    raise _NotPolynomial


def _multiply(left: dict, right: dict) -> dict:
    product: dict = {}
    for monomial_a, coefficient_a in left.items():
        for monomial_b, coefficient_b in right.items():
            if monomial_a and monomial_b:
                powers = dict(monomial_a)
                for atom, power in monomial_b:
                    powers[atom] = powers.get(atom, 0) + power
                monomial = frozenset(powers.items())
            else:
                monomial = monomial_a or monomial_b
            product[monomial] = product.get(monomial, 0) + coefficient_a * coefficient_b
    return {m: c for m, c in product.items() if c}
