"""torch's symbolic sizes as costgraph formulas: one mapping, one comparison.

``torch.export`` names every dynamic size ``s0, s1, ...`` and writes derived
sizes with its own integer functions (``torch.utils._sympy.functions``:
FloorDiv, CeilDiv, Mod, PythonMod, Min, Max, PowByNatural, ...).  `to_formula`
rebuilds such an expression over the user's size symbols with costgraph's
exact arithmetic (`costgraph.intmath.FloorDiv`, ``ceil_div``), so the two can
be compared as expressions: `same_shape` asks ``expand(a - b) == 0`` for
every dimension, which holds at every size, not only at the example's.
"""

from __future__ import annotations

import sympy

from ...errors import CostGraphError
from ...intmath import FloorDiv

__all__ = ["to_formula", "same_shape", "shape_formula"]


def _torch_functions():
    from torch.utils._sympy import functions as f

    return f


def to_formula(expr, symbols: dict) -> sympy.Expr:
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
    return _convert(sympy.sympify(expr), symbols)


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
    poly = sympy.expand(expr)
    terms = poly.args if isinstance(poly, sympy.Add) else (poly,)
    for term in terms:
        coefficient, _ = term.as_coeff_Mul()
        if coefficient < 0:
            return False
    return True


def _floor_div(base, divisor, original):
    if not (isinstance(divisor, sympy.Integer) and divisor > 0):
        raise CostGraphError(f"torch size expression {original}: division by a size ({divisor}) is not supported", value=original)
    return FloorDiv(base, divisor)


def shape_formula(shape, symbols: dict) -> tuple:
    """A torch shape (``torch.Size`` of ints and SymInts) as a tuple of costgraph formulas."""
    return tuple(to_formula(d, symbols) for d in shape)


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
