"""Compile size formulas into plain Python functions that stay exact, on ints and on arrays.

``sympy.lambdify`` prints ``floor(H/2)`` as ``floor(0.5*H)``, which is wrong
past 2**53.  Here every FloorDiv prints as ``//`` and every coefficient is an
integer, so the generated function computes with Python ints (exact at any
size) or with numpy integer arrays (vectorized).

numpy's int64 wraps silently on overflow, so array evaluation is guarded: a
second generated function bounds the absolute value of every intermediate
result (each coefficient replaced by its absolute value, each size by its
largest value, each ``a // n`` by ``|a| // n + 1``), evaluated once with
Python ints.  If that bound fits in int64 the arrays are evaluated in int64,
else in ``dtype=object`` arrays of Python ints: slower, never wrong.  The
bound needs no assumption about the formulas (monotone or not).

Generated code does no repeated work a network would otherwise pay for:
identical formulas are computed once, and every floor division (and Min,
Max) is computed once into a local and reused by every formula that has it.

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

from .errors import SizeError
from .intmath import FloorDiv

__all__ = ["compile_exprs", "expression_source", "CompiledFormulas", "INT64_MAX", "exact_scale"]

#: largest value numpy's int64 holds
INT64_MAX = 2**63 - 1

#: a flat ``a + b + ...`` of thousands of terms overflows CPython's compiler
#: recursion (the parser nests binary operators); above this many terms a sum
#: is printed as ``_sum((a, b, ...))``
FLAT_SUM_LIMIT = 200

_ATOMS = (FloorDiv, sympy.Min, sympy.Max)


class _ExactPrinter(PythonCodePrinter):
    """Python source for integer formulas; refuses anything that is not exact.

    With ``hoist`` set, every FloorDiv/Min/Max is printed once as an
    assignment to a local (collected in `lines`) and referred to by name.
    """

    def __init__(self, hoist: bool = False):
        super().__init__({"standard": "python3", "fully_qualified_modules": False, "strict": True})
        self._not_supported = set()
        self._number_symbols = set()
        self.hoist = hoist
        self.names: dict = {}
        self.lines: list[str] = []

    def _print(self, expr, **kwargs):
        if self.hoist and isinstance(expr, _ATOMS):
            name = self.names.get(expr)
            if name is None:
                text = super()._print(expr, **kwargs)
                name = self.names[expr] = f"_a{len(self.names)}"
                self.lines.append(f"{name} = {text}")
            return name
        return super()._print(expr, **kwargs)

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
        terms = sympy.Add.make_args(expr)
        if len(terms) > FLAT_SUM_LIMIT:
            return "_sum((" + ", ".join(self._print(t) for t in terms) + ",))"
        return super()._print_Add(expr, order)


class _BoundPrinter(_ExactPrinter):
    """Python source for an upper bound of ``|x|`` for every intermediate ``x``.

    Called with Python ints (each size at its largest value), the printed
    expression bounds the absolute value of the formula and of each of its
    partial sums and products, at every size up to those.  A floor
    division's base is computed before it is divided, so each base's bound is
    collected in `bases` and checked too.
    """

    printmethod = "_costgraph_bound"  # FloorDiv's `_pythoncode` must not be used here

    def __init__(self):
        super().__init__(hoist=True)
        self.bases: list[str] = []

    def _print(self, expr, **kwargs):
        if isinstance(expr, sympy.Integer):
            return str(abs(int(expr)))
        if isinstance(expr, sympy.Symbol):
            return expr.name
        if self.hoist and isinstance(expr, _ATOMS):
            return super()._print(expr, **kwargs)
        if isinstance(expr, sympy.Add):
            terms = [self._print(t) for t in expr.args]
            if len(terms) > FLAT_SUM_LIMIT:
                return "_sum((" + ", ".join(terms) + ",))"
            return "(" + " + ".join(terms) + ")"
        if isinstance(expr, sympy.Mul):
            # every factor's bound is >= 1, so the whole product bounds each partial product
            return "(" + "*".join(self._print(f) for f in expr.args) + ")"
        if isinstance(expr, sympy.Pow):
            exponent = expr.exp
            if not (isinstance(exponent, sympy.Integer) and exponent >= 0):
                raise TypeError(f"refusing to compile a non-integer power {expr}")
            return f"({self._print(expr.base)})**{int(exponent)}"
        if isinstance(expr, _ATOMS):
            return super()._print(expr, **kwargs)
        if isinstance(expr, (sympy.Rational, sympy.Float)):
            return super()._print(expr, **kwargs)  # refused
        raise TypeError(f"cannot bound {type(expr).__name__} in {expr}")

    def _print_FloorDiv(self, expr):
        base, divisor = expr.args
        name = f"_b{len(self.bases)}"
        self.lines.append(f"{name} = {self._print(base)}")
        self.bases.append(name)
        # |floor(a/n)| <= |a| // n + 1, and the + 1 keeps every factor's bound >= 1
        return f"({name} // {int(divisor)} + 1)"

    def _print_Min(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    _print_Max = _print_Min


def expression_source(expr: sympy.Expr) -> str:
    """The exact Python source of one formula (FloorDiv as ``//``).

    Raises
    ------
    TypeError
        If the formula has a non-integer coefficient, a float, or a function
        with no exact Python form.

    Examples
    --------
    >>> from costgraph.symbols import H
    >>> from costgraph.intmath import FloorDiv
    >>> expression_source(3 * FloorDiv(H + 1, 2) - 1)
    '3*((H + 1) // 2) - 1'
    """
    return _ExactPrinter()._print(sympy.sympify(expr))


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


#: names the generated code may call
RUNTIME = {"_min": _minimum, "_max": _maximum, "_sum": _total}


def formulas_source(names, exprs, function_name: str = "_costgraph_formulas") -> str:
    """Source of ``def function_name(*names)`` returning the tuple of `exprs`.

    Identical formulas are computed once; every FloorDiv/Min/Max once.

    Raises
    ------
    TypeError
        As `expression_source` raises.
    """
    printer = _ExactPrinter(hoist=True)
    seen: dict = {}
    results = []
    for expr in exprs:
        expr = sympy.sympify(expr)
        if expr.is_Integer:
            results.append(str(int(expr)))
            continue
        if expr not in seen:
            text = printer._print(expr)
            if expr.is_Symbol or isinstance(expr, _ATOMS):
                seen[expr] = text
            else:
                seen[expr] = f"_e{len(seen)}"
                printer.lines.append(f"{seen[expr]} = {text}")
        results.append(seen[expr])
    body = "".join(f"    {line}\n" for line in printer.lines)
    return (
        f"def {function_name}({', '.join(names)}):\n{body}"
        f"    return ({', '.join(results)}{',' if results else ''})\n"
    )


def bound_source(names, exprs, function_name: str = "_costgraph_bound") -> str:
    """Source of ``def function_name(*names)`` returning a bound of every intermediate's ``|x|``.

    Called with Python ints, each size at its largest value, it returns one
    int that bounds the absolute value of every intermediate result the
    function of `formulas_source` computes at any sizes up to those (each
    size being a positive integer).

    Raises
    ------
    TypeError
        As `expression_source` raises, or for a function it cannot bound.
    """
    printer = _BoundPrinter()
    seen: dict = {}
    for expr in exprs:
        expr = sympy.sympify(expr)
        if expr not in seen:
            seen[expr] = printer._print(expr)
    parts = list(seen.values()) + printer.bases
    body = "".join(f"    {line}\n" for line in printer.lines)
    # max() of a tuple, not nested calls, for the same reason as _sum
    return f"def {function_name}({', '.join(names)}):\n{body}    return max((1, {', '.join(parts)},))\n"


def _load(source: str, function_name: str):
    namespace = dict(RUNTIME)
    exec(compile(source, "<costgraph formulas>", "exec"), namespace)  # noqa: S102 (our own generated source)
    return namespace[function_name]


class CompiledFormulas:
    """Exact evaluation of a list of formulas at sizes given as ints or numpy integer arrays.

    Call it with one value per symbol, in the order of `symbols`.  With ints
    it returns a tuple of Python ints.  With numpy integer arrays (which
    broadcast together) it returns a tuple of arrays of that broadcast shape:
    int64 if no intermediate can exceed int64, else ``dtype=object`` arrays
    of Python ints.

    Attributes
    ----------
    source : str
        The generated Python source of the formulas.
    bound_source : str
        The generated source of the overflow bound (see the module docstring).

    Raises
    ------
    SizeError
        (on call) If the arrays do not broadcast together.
    """

    def __init__(self, symbols, exprs):
        self.symbols = list(symbols)
        self.names = [s.name for s in self.symbols]
        self.exprs = [sympy.sympify(e) for e in exprs]
        self.source = formulas_source(self.names, self.exprs)
        self._function = _load(self.source, "_costgraph_formulas")
        self._bound = None

    @property
    def bound_source(self) -> str:
        self._bound_function()
        return self._bound.source

    def _bound_function(self):
        # built on the first array call only: scalar callers never pay for it
        if self._bound is None:
            source = bound_source(self.names, self.exprs)
            self._bound = _load(source, "_costgraph_bound")
            self._bound.source = source
        return self._bound

    def __call__(self, *values, broadcast: bool = True) -> tuple:
        if not any(getattr(v, "ndim", 0) for v in values):
            # int() turns numpy scalars (which wrap) into Python ints (which do not)
            return self._function(*[int(v) for v in values])
        return self.evaluate_arrays(values, broadcast=broadcast)

    def bound(self, *maxima: int) -> int:
        """A bound of ``|x|`` for every intermediate ``x`` at sizes up to `maxima` (Python ints)."""
        return self._bound_function()(*[int(m) for m in maxima])

    def evaluate_arrays(self, values, *, broadcast: bool = True) -> tuple:
        """Evaluate at numpy arrays (and ints); see the class docstring.

        With ``broadcast=False`` a result that does not depend on the arrays
        is returned as it is computed (a Python int or a smaller array), which
        saves memory when the caller only compares it.
        """
        import numpy as np

        arrays = [np.asarray(v) for v in values]
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            shown = ", ".join(f"{n} {a.shape}" for n, a in zip(self.names, arrays) if a.ndim)
            raise SizeError(f"size arrays of shapes {shown} do not broadcast together", value=shown) from None
        maxima = [_largest(a) for a in arrays]
        if self.bound(*maxima) <= INT64_MAX:
            dtype = np.int64
            arguments = [a.astype(np.int64) if a.ndim else int(a) for a in arrays]
        else:
            dtype = object
            arguments = [_python_ints(a) if a.ndim else int(a) for a in arrays]
        results = self._function(*arguments)
        if not broadcast:
            return results
        return tuple(_full(r, shape, dtype) for r in results)


def _largest(array) -> int:
    if array.size == 0:
        return 1
    if array.dtype == object:
        return max(int(x) for x in array.flat)
    return int(array.max())


def _python_ints(array):
    import numpy as np

    result = np.empty(array.shape, dtype=object)
    result.flat[:] = [int(x) for x in array.flat]
    return result


def _full(value, shape, dtype):
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.shape == shape:
            return value
        return np.array(np.broadcast_to(value, shape), dtype=dtype)
    if dtype is object:
        result = np.empty(shape, dtype=object)
        result.fill(int(value))
        return result
    return np.full(shape, int(value), dtype=dtype)


def exact_scale(value, factor: int):
    """``value * factor`` exactly: an int64 array that would overflow becomes Python ints.

    >>> import numpy as np
    >>> exact_scale(np.array([2**62]), 4)[0] == 2**64
    True
    """
    if getattr(value, "dtype", None) is not None and value.dtype != object and getattr(value, "ndim", 0):
        if value.size and int(abs(value).max()) > INT64_MAX // max(abs(int(factor)), 1):
            value = _python_ints(value)
    return value * factor


def compile_exprs(symbols, exprs) -> CompiledFormulas:
    """A `CompiledFormulas`: ``f(*values)`` returns the tuple of `exprs` at those symbol values.

    Raises
    ------
    TypeError
        If a formula is not exactly printable (see `expression_source`).
    """
    return CompiledFormulas(symbols, exprs)
