"""torch's symbolic sizes as costgraph formulas: one mapping, one comparison.

``torch.export`` names every dynamic size ``s0, s1, ...`` and writes derived
sizes with its own integer functions (``torch.utils._sympy.functions``:
FloorDiv, CeilDiv, Mod, PythonMod, Min, Max, PowByNatural, ...).  `to_formula`
rebuilds such an expression over the user's size symbols with costgraph's
exact arithmetic (`costgraph.intmath.FloorDiv`, ``ceil_div``), so the two can
be compared as expressions: `same_shape` asks ``expand(a - b) == 0`` for
every dimension, which holds at every size, not only at the example's.

A division by a size formula (Swin pads a map to a multiple of its window,
``P = W + (7 - W % 7) % 7``, then divides ``P // (P // 7)``) is written
exactly only when the dividend is a polynomial multiple of the divisor
(`exact_quotient`); any other one is refused, naming the expression.
"""

from __future__ import annotations

import functools
import math

import sympy

from ...errors import CostGraphError
from ...intmath import FloorDiv, is_integer_valued

__all__ = ["to_formula", "same_shape", "shape_formula", "exact_quotient"]


def _torch_functions():
    from torch.utils._sympy import functions as f

    return f


def to_formula(expr, symbols: dict, pins: dict | None = None) -> sympy.Expr:
    """A torch size expression (int, SymInt or sympy) over `symbols` (torch symbol -> costgraph symbol).

    Raises
    ------
    CostGraphError
        If the expression uses a torch symbol not in `symbols` or a function
        with no exact integer counterpart here.

    Examples
    --------
    >>> import sympy
    >>> from torch.utils._sympy.functions import FloorDiv as TorchFloorDiv
    >>> from costgraph.symbols import H
    >>> s0 = sympy.Symbol("s0", integer=True, positive=True)
    >>> to_formula(TorchFloorDiv(s0 - 1, 4) + 1, {s0: H})      # torch's max pool after a stride-2 conv
    floor((H + 3)/4)
    """
    if isinstance(expr, bool):
        raise CostGraphError(f"a size must be an integer, got {expr!r}", value=expr)
    if isinstance(expr, int):
        return sympy.Integer(expr)
    node = getattr(expr, "node", None)  # a torch.SymInt
    if node is not None:
        expr = node.expr
    formula = _formula(sympy.sympify(expr), tuple(symbols.items()))
    # floors whose value the traced domain fixes (`guards.export_guards`): torch wrote some sizes
    # with them where they are 1 (Swin's last stage, one window), and costgraph's with the constant
    return formula.xreplace(pins) if pins and isinstance(formula, sympy.Basic) else formula


@functools.lru_cache(maxsize=65536)
def _formula(expr, symbols: tuple):
    """`_convert` then `_positive_floors`, once per torch expression (a network repeats each many times)."""
    return _positive_floors(_convert(expr, dict(symbols)))


@functools.lru_cache(maxsize=65536)
def _positive_floors(expr):
    """`expr` with every ``floor(-x/n)`` written ``-floor((x + n - 1)/n)`` (equal for integer x, n > 0).

    torch writes a ceiling as a floor of a negated size (``Mod(7 - a % 7, 7)``
    becomes ``-a - 7*floor(-a/7)``); products of two such floors
    (Swin's number of windows, rows times columns) have positive values but
    negative-looking terms, which `costgraph.counts` cannot prove
    non-negative.  A floor whose size terms are all negative is turned
    round; the constant inside is then kept in ``[0, n)`` by `FloorDiv`.
    """
    if not isinstance(expr, sympy.Basic) or not expr.has(FloorDiv):
        return expr
    if isinstance(expr, FloorDiv):
        base, divisor = _positive_floors(expr.args[0]), expr.args[1]
        terms = [t for t in sympy.Add.make_args(sympy.expand(base)) if not t.is_number]
        if terms and all(t.as_coeff_Mul()[0] < 0 for t in terms):
            return -FloorDiv(sympy.expand(-base) + divisor - 1, divisor)
        return FloorDiv(base, divisor)
    rebuilt = expr.func(*(_positive_floors(a) for a in expr.args))
    if isinstance(rebuilt, sympy.Add) and any(
        t.as_coeff_Mul()[0] < 0 and t.has(FloorDiv) for t in rebuilt.args
    ):
        # a difference of floors in one size (a + a % 2 = 2*floor(H/4) - 2*floor(H/8)): one floor if it is one
        coefficients = [int(t.as_coeff_Mul()[0]) for t in rebuilt.args]
        common = math.gcd(*coefficients)
        fitted = _single_floor(sympy.expand(rebuilt / common), 1) if common > 0 else None
        if fitted is not None:
            return common * fitted
    return rebuilt


def _convert(expr, symbols):
    f = _torch_functions()
    if isinstance(expr, sympy.Integer):
        return expr
    if isinstance(expr, sympy.Float):
        # a scale factor (1.5, 2.0): a binary float is exactly a rational; floors of it stay exact
        return sympy.Rational(float(expr))
    if isinstance(expr, sympy.Symbol):
        if expr not in symbols:
            raise CostGraphError(f"torch size {expr} is not one of the input sizes {sorted(map(str, symbols))}", value=expr)
        return symbols[expr]
    args = [_convert(a, symbols) for a in expr.args]
    if isinstance(expr, sympy.Add):
        return sympy.Add(*args)
    if isinstance(expr, sympy.Mul):
        return sympy.Mul(*args)
    if isinstance(expr, sympy.Pow) and isinstance(expr.exp, sympy.Integer) and expr.exp >= 0:
        return args[0] ** int(expr.exp)
    if isinstance(expr, f.PowByNatural):
        return args[0] ** args[1]
    if isinstance(expr, f.FloorDiv):
        return _floor_div(args[0], args[1], expr)
    if isinstance(expr, f.CeilDiv) or type(expr).__name__ == "CeilDiv":
        return -_floor_div(-args[0], args[1], expr)
    if isinstance(expr, (f.Mod, f.PythonMod)):
        return args[0] - args[1] * _floor_div(args[0], args[1], expr)
    if isinstance(expr, (f.Min, sympy.Min)):
        return sympy.Min(*args)
    if isinstance(expr, (f.Max, sympy.Max)):
        return sympy.Max(*args)
    if type(expr).__name__ == "ToFloat" and len(args) == 1:
        return args[0]  # an integer size read as a float: the same number
    if type(expr).__name__ in ("TruncToInt", "FloorToInt") and len(args) == 1:
        # F.interpolate's floor(scale * size); trunc equals floor on non-negative values
        numerator, denominator = sympy.fraction(sympy.together(args[0]))
        if denominator.is_Integer and denominator > 0 and _nonnegative(numerator):
            return _floor_div(sympy.expand(numerator), denominator, expr)
    if isinstance(expr, sympy.floor) and len(args) == 1:
        numerator, denominator = sympy.fraction(sympy.together(args[0]))
        if denominator.is_Integer:
            return _floor_div(numerator, denominator, expr)
    raise CostGraphError(f"torch size expression {expr} uses {type(expr).__name__}, which costgraph cannot write exactly", value=expr)


def _nonnegative(expr) -> bool:
    """Whether `expr` is a polynomial with non-negative coefficients in sizes (all at least 1)."""
    return all(term.as_coeff_Mul()[0] >= 0 for term in sympy.Add.make_args(sympy.expand(expr)))


def _floor_div(base, divisor, original):
    base, divisor = _positive_floors(base), _positive_floors(divisor)  # one written form, so that multiples show
    if isinstance(divisor, sympy.Integer) and divisor > 0:
        fitted = _single_floor(base, int(divisor))
        return fitted if fitted is not None else FloorDiv(base, divisor)
    quotient = exact_quotient(base, divisor)
    if quotient is None:
        raise CostGraphError(
            f"torch size expression {original}: division by a size ({divisor}) is supported only when the "
            f"dividend ({base}) is a polynomial multiple of it",
            value=original,
        )
    return quotient


#: longest period `_single_floor` scans (Swin's deepest: 4 * 2 * 2 * 2 * 7 * 2 is far below)
_MAX_PERIOD = 1 << 14


@functools.lru_cache(maxsize=65536)
def _single_floor(base, n: int):
    """``floor(base / n)`` as one floor ``floor((s*x + c) / L)`` when it is one, else None.

    torch writes Swin's patch merging (pad to even, then every other row) as
    ``(a + a % 2 + 1) // 2`` with ``a = H // 4``; expanded, that is
    ``floor(H/4) - floor(H/8)``, true but not provably non-negative to
    `costgraph.counts`.  It is ``floor((H + 4)/8)``.

    Why the fit is exact: `base` must be ``alpha*x + sum(beta_i * floor((a_i*x + c_i)/d_i)) + gamma``
    in one size ``x`` with integer coefficients.  With ``L = lcm(d_i) * n``,
    every inner floor grows by exactly ``a_i*L/d_i`` when ``x`` grows by
    ``L``, so `base` grows by a multiple ``t`` of ``n`` and
    ``e(x) = floor(base/n)`` by exactly ``s = t/n``: ``e(x + L) = e(x) + s``
    for every integer ``x``.  ``floor((s*x + c)/L)`` grows the same way.
    Two functions with the same growth over a period that agree on ``L``
    consecutive integers agree on all integers; ``c`` is chosen (by
    intervals) so that they agree on ``0 .. L-1``, or there is no fit.
    """
    symbols = base.free_symbols
    if len(symbols) != 1:
        return None
    (x,) = symbols
    inner = list(base.atoms(FloorDiv))
    if not inner:
        return None
    linear_inner = []
    for floor in inner:
        argument, d = floor.args
        if argument.has(FloorDiv):
            return None
        poly = sympy.Poly(argument, x)
        if poly.degree() > 1 or not all(c.is_Integer for c in poly.all_coeffs()):
            return None
        a_i, c_i = (int(c) for c in poly.all_coeffs()) if poly.degree() == 1 else (0, int(poly.all_coeffs()[0]))
        linear_inner.append((a_i, c_i, int(d)))
    stand_ins = sympy.symbols(f"_f0:{len(inner)}")
    flat = sympy.expand(base.xreplace(dict(zip(inner, stand_ins))))
    try:
        poly = sympy.Poly(flat, x, *stand_ins)
    except sympy.PolynomialError:
        return None
    if poly.total_degree() > 1 or not all(c.is_Integer for c in poly.coeffs()):
        return None
    alpha = int(poly.coeff_monomial(x))
    betas = [int(poly.coeff_monomial(f)) for f in stand_ins]
    gamma = int(poly.coeff_monomial(1))
    period = math.lcm(*(d for _, _, d in linear_inner)) * n
    if period > _MAX_PERIOD:
        return None

    def e(k):
        return (alpha * k + sum(b * ((a * k + c) // d) for b, (a, c, d) in zip(betas, linear_inner)) + gamma) // n

    values = [e(k) for k in range(period + 1)]
    slope = values[period] - values[0]
    low = max(period * v - slope * k for k, v in enumerate(values[:period]))
    high = min(period * v - slope * k + period - 1 for k, v in enumerate(values[:period]))
    if low > high:
        return None
    g = math.gcd(slope, period)
    c = -(-low // g) * g  # a multiple of gcd(slope, L) when one fits: FloorDiv then cancels it
    return FloorDiv(slope * x + (c if c <= high else low), period)


def _opaque(expr, atoms: dict):
    """`expr` as a polynomial over symbols, each non-polynomial part (a FloorDiv, Min, Max) made a fresh symbol.

    Returns None if a part is not integer-valued (a rational coefficient
    inside, a float, a function other than those), so the caller refuses.
    """
    if isinstance(expr, (sympy.Integer, sympy.Symbol)):
        return expr if (expr.is_Integer or expr.is_integer) else None
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        args = [_opaque(a, atoms) for a in expr.args]
        return None if any(a is None for a in args) else expr.func(*args)
    if isinstance(expr, sympy.Pow) and isinstance(expr.exp, sympy.Integer) and expr.exp >= 0:
        base = _opaque(expr.base, atoms)
        return None if base is None else base**expr.exp
    if isinstance(expr, (FloorDiv, sympy.Min, sympy.Max)) and is_integer_valued(expr):
        if expr not in atoms:
            atoms[expr] = sympy.Dummy(f"q{len(atoms)}", integer=True)
        return atoms[expr]
    return None


def exact_quotient(base, divisor):
    """``base // divisor`` for a divisor that is a size formula, when it divides `base` exactly; else None.

    Why it is exact: every part of `base` and `divisor` that is not a
    polynomial (a FloorDiv, Min or Max, each integer-valued) is replaced by
    a fresh integer symbol, and the two polynomials are divided over the
    rationals.  If the remainder is 0 and the quotient ``q`` has integer
    coefficients, then ``base = q * divisor`` holds identically (checked
    again by expansion), hence at every size, with ``q`` an integer there
    (integer coefficients over integer-valued parts).  So wherever the
    divisor is not 0, ``base / divisor = q`` is an integer, and
    ``floor(base / divisor) = q`` for either sign of the divisor (Python's
    ``//`` and torch's FloorDiv agree).  Where the divisor is 0, torch's own
    program fails too (a division by zero); costgraph's formula is only
    used where the exported graph is valid.  Parts kept opaque lose no
    soundness, only completeness: two equal parts written differently are
    two symbols, and the division is then refused.

    Returns
    -------
    sympy.Expr or None
        The quotient, or None when the division is not exact in this sense
        (a remainder, a rational coefficient, a divisor of 0, an unknown part).

    Examples
    --------
    >>> from costgraph.intmath import FloorDiv
    >>> from costgraph.symbols import H, W
    >>> windows = FloorDiv(W + 6, 7)                  # ceil(W / 7): W padded to a multiple of 7, in windows
    >>> exact_quotient(7 * windows, windows)           # the padded size over the number of windows
    7
    >>> exact_quotient(H * W + 2 * W, W)               # (H + 2) * W // W
    H + 2
    >>> exact_quotient(H + 1, W) is None, exact_quotient(W, 2 * W) is None   # a remainder; 1/2 is no integer
    (True, True)
    """
    atoms: dict = {}
    a, b = _opaque(sympy.sympify(base), atoms), _opaque(sympy.sympify(divisor), atoms)
    if a is None or b is None:
        return None
    gens = sorted(a.free_symbols | b.free_symbols, key=str)
    if not gens:  # two constants: a plain division (a constant divisor is handled before)
        return sympy.Integer(int(a) // int(b)) if b != 0 and a % b == 0 else None
    pa, pb = sympy.Poly(a, *gens, domain="QQ"), sympy.Poly(b, *gens, domain="QQ")
    if pb.is_zero:
        return None
    quotient, remainder = pa.div(pb)
    if not remainder.is_zero or not all(c.is_integer for c in quotient.coeffs()):
        return None
    q = quotient.as_expr()
    if sympy.expand(q * b - a) != 0:  # the identity the argument rests on, checked directly
        return None
    back = {symbol: part for part, symbol in atoms.items()}
    return sympy.expand(q.xreplace(back))


def shape_formula(shape, symbols: dict, pins: dict | None = None) -> tuple:
    """A torch shape (``torch.Size`` of ints and SymInts) as a tuple of costgraph formulas."""
    return tuple(to_formula(d, symbols, pins) for d in shape)


def same_shape(ours, theirs) -> bool:
    """Whether two shapes of formulas agree dimension by dimension (``expand(a - b) == 0``).

    >>> from costgraph.symbols import H
    >>> from costgraph.intmath import FloorDiv, ceil_div
    >>> same_shape((1, ceil_div(H, 2)), (1, FloorDiv(H - 1, 2) + 1))
    True
    """
    if len(ours) != len(theirs):
        return False
    return all(sympy.expand(sympy.sympify(a) - sympy.sympify(b)) == 0 for a, b in zip(ours, theirs))
