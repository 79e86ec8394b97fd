"""Compile size formulas into plain Python functions that stay exact.

``sympy.lambdify`` prints ``floor(H/2)`` as ``floor(0.5*H)``, which is wrong
past 2**53.  Here every FloorDiv prints as ``//`` and every coefficient is an
integer, so the generated function computes with Python ints (exact at any
size) or with numpy integer arrays (vectorized).

>>> from costgraph.symbols import H, W
>>> from costgraph.intmath import FloorDiv
>>> f = compile_exprs([H, W], [H * W + FloorDiv(H, 2)])
>>> h = 2**60 + 3                      # far past 2**53, where floats lose integers
>>> f(h, 1) == (h + h // 2,)
True
"""

from __future__ import annotations

import sympy
from sympy.printing.pycode import PythonCodePrinter

__all__ = ["compile_exprs", "expression_source"]


class _ExactPrinter(PythonCodePrinter):
    """Python source for integer formulas; refuses anything that is not exact."""

    def _print_Rational(self, expr):
        raise TypeError(f"refusing to compile a non-integer coefficient {expr}")

    def _print_Float(self, expr):
        raise TypeError(f"refusing to compile a float {expr}")

    def _print_Min(self, expr):
        return self._fold("_min", expr.args)

    def _print_Max(self, expr):
        return self._fold("_max", expr.args)

    def _fold(self, name, args):
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{name}({text}, {self._print(arg)})"
        return text

    def _print_Add(self, expr, order=None):
        # A flat `a + b + ...` of thousands of terms overflows CPython's
        # compiler recursion; sum() over a tuple does not.
        terms = sympy.Add.make_args(expr)
        if len(terms) > 200:
            return "_sum((" + ", ".join(self._print(t) for t in terms) + ",))"
        return super()._print_Add(expr, order)


def expression_source(expr: sympy.Expr) -> str:
    """The exact Python source of one formula (FloorDiv as ``//``)."""
    return _ExactPrinter({"standard": "python3", "fully_qualified_modules": False}).doprint(expr)


def _minimum(a, b):
    # works on ints and, elementwise, on numpy arrays
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy

        return numpy.minimum(a, b)
    return min(a, b)


def _maximum(a, b):
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy

        return numpy.maximum(a, b)
    return max(a, b)


def _total(terms):
    result = 0
    for term in terms:
        result = result + term
    return result


def compile_exprs(symbols, exprs):
    """A function ``f(*values)`` returning the tuple of `exprs` at those symbol values."""
    names = [s.name for s in symbols]
    body = ", ".join(expression_source(sympy.sympify(e)) for e in exprs)
    source = f"def _costgraph_formulas({', '.join(names)}):\n    return ({body}{',' if exprs else ''})\n"
    namespace = {"_min": _minimum, "_max": _maximum, "_sum": _total}
    exec(compile(source, "<costgraph formulas>", "exec"), namespace)  # noqa: S102 (our own generated source)
    function = namespace["_costgraph_formulas"]
    function.source = source
    return function
