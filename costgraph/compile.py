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

Generated code never uses a size's own name as an identifier: the function
takes its sizes as positional locals ``_s0, _s1, ...`` (`size_locals`), so a
size may be called anything (``_a0``, ``lambda``, ``None``, ``max``, ``np``)
without meeting a local, a keyword or a builtin of the generated code.

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

from .errors import SizeError
from .intmath import FloorDiv

__all__ = ["compile_exprs", "expression_source", "formulas_source", "bound_source", "SourceWriter", "size_locals", "CompiledFormulas", "INT64_MAX", "exact_scale", "exact_sum"]

#: largest value numpy's int64 holds
INT64_MAX = 2**63 - 1

#: a flat ``a + b + ...`` of thousands of terms overflows CPython's compiler
#: recursion (the parser nests binary operators); above this many terms a sum
#: is printed as ``_sum((a, b, ...))``
FLAT_SUM_LIMIT = 200

_ATOMS = (FloorDiv, sympy.Min, sympy.Max)


class SourceWriter:
    """Writes exact Python source for integer formulas; refuses anything that is not exact.

    Only what size formulas are made of is accepted: integers, size symbols,
    sums, products, non-negative integer powers, `FloorDiv`, ``Min`` and
    ``Max``.  A rational or float coefficient, or any other function, raises
    `TypeError`: it would not be exact, or not Python.  sympy's own code
    printers sort terms and query assumptions for every node (about a
    millisecond per formula); this writer walks each formula once.

    With ``hoist``, every FloorDiv/Min/Max is written once, as an assignment
    to a local (collected in `lines`), and referred to by name.

    With ``bound``, the writer produces instead an upper bound of the
    absolute value of the formula and of each of its partial sums and
    products, for sizes up to the values passed (see the module docstring);
    each floor division's base is bounded separately (collected in `bases`),
    since it is computed before it is divided, and so is its divisor (numpy
    cannot divide an int64 array by an int past int64).

    With ``sizes`` (a dict from size name to the local it is passed in, see
    `size_locals`), every size is written as its local and a symbol not in
    it raises `TypeError`; without it, sizes are written by name (for
    display, as `expression_source` does: such text is never executed).
    """

    def __init__(self, hoist: bool = False, bound: bool = False, sizes: dict | None = None):
        self.hoist = hoist or bound
        self.bound = bound
        self.sizes = sizes
        self.names: dict = {}
        self.lines: list[str] = []
        self.bases: list[str] = []

    def text(self, expr) -> str:
        """The source of `expr` (a sum is not parenthesized at the top)."""
        if expr.is_Integer:
            value = int(expr)
            return str(abs(value)) if self.bound else str(value)
        if expr.is_Symbol:
            if self.sizes is None:
                return expr.name
            local = self.sizes.get(expr.name)
            if local is None:
                raise TypeError(f"refusing to compile {expr.name!r}: not one of the sizes {sorted(self.sizes)}")
            return local
        if isinstance(expr, _ATOMS):
            if not self.hoist:
                return self._atom(expr)
            name = self.names.get(expr)
            if name is None:
                text = self._atom(expr)
                name = self.names[expr] = f"_a{len(self.names)}"
                self.lines.append(f"{name} = {text}")
            return name
        if expr.is_Add:
            return self._sum(expr.args)
        if expr.is_Mul:
            return "*".join(self._factor(f) for f in expr.args)
        if expr.is_Pow:
            exponent = expr.exp
            if not (exponent.is_Integer and exponent >= 0):
                raise TypeError(f"refusing to compile a power with exponent {exponent} in {expr}")
            return f"{self._factor(expr.base)}**{int(exponent)}"
        if expr.is_Rational:
            raise TypeError(f"refusing to compile a non-integer coefficient {expr}")
        if expr.is_Float:
            raise TypeError(f"refusing to compile a float {expr}")
        raise TypeError(f"refusing to compile {type(expr).__name__} (no exact Python form): {expr}")

    def _factor(self, expr) -> str:
        text = self.text(expr)
        if expr.is_Add or expr.is_Mul or (expr.is_Integer and int(expr) < 0 and not self.bound):
            return f"({text})"
        return text

    def _sum(self, terms) -> str:
        if self.bound:
            parts = [self.text(t) for t in terms]
            if len(parts) > FLAT_SUM_LIMIT:
                return "_sum((" + ", ".join(parts) + ",))"
            return " + ".join(parts)
        if len(terms) > FLAT_SUM_LIMIT:
            # sum() over a tuple; a flat `a + b + ...` this long overflows CPython's compiler
            return "_sum((" + ", ".join(self.text(t) for t in terms) + ",))"
        # as people write sums: added terms, then subtracted ones, then the constant
        terms = sorted(terms, key=lambda t: (t.is_Integer, _negated(t) is not None))
        text = ""
        for term in terms:
            negated = _negated(term)
            if negated is not None:
                text += (" - " if text else "-") + self.text(negated)
            else:
                text += (" + " if text else "") + self.text(term)
        return text

    def _atom(self, expr) -> str:
        if isinstance(expr, FloorDiv):
            base, divisor = expr.args
            if not self.bound:
                return f"(({self.text(base)}) // {int(divisor)})"
            name = f"_b{len(self.bases)}"
            self.lines.append(f"{name} = {self.text(base)}")
            self.bases.append(name)
            self.bases.append(str(int(divisor)))
            # |floor(a/n)| <= |a| // n + 1; the + 1 keeps every factor's bound >= 1,
            # so a product's bound also bounds each of its partial products
            return f"({name} // {int(divisor)} + 1)"
        if self.bound:
            return "max(" + ", ".join(self.text(a) for a in expr.args) + ")"
        name = "_min" if isinstance(expr, sympy.Min) else "_max"
        text = self.text(expr.args[0])
        for arg in expr.args[1:]:
            text = f"{name}({text}, {self.text(arg)})"
        return text


def _negated(term):
    """``-term`` if `term` has a negative coefficient (to print ``a - b``), else None."""
    if term.is_Integer and int(term) < 0:
        return -term
    if term.is_Mul and term.args[0].is_Integer and int(term.args[0]) < 0:
        return -term
    return None


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
    return SourceWriter().text(sympy.sympify(expr))


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


def size_locals(names) -> dict:
    """The local each size is passed in to generated code: ``{name: "_s0", ...}``, by position.

    The one place a size's name meets generated source: it never becomes an
    identifier there, whatever it is.

    >>> size_locals(["H", "lambda", "_a0"])
    {'H': '_s0', 'lambda': '_s1', '_a0': '_s2'}
    """
    return {name: f"_s{index}" for index, name in enumerate(names)}


def _parameters(names) -> str:
    return ", ".join(size_locals(names).values())


def formulas_source(names, exprs, function_name: str = "_costgraph_formulas") -> str:
    """Source of ``def function_name(*names)`` returning the tuple of `exprs`.

    Identical formulas are computed once; every FloorDiv/Min/Max once.

    Raises
    ------
    TypeError
        As `expression_source` raises.
    """
    printer = SourceWriter(hoist=True, sizes=size_locals(names))
    seen: dict = {}
    results = []
    for expr in exprs:
        expr = sympy.sympify(expr)
        if expr.is_Integer:
            results.append(str(int(expr)))
            continue
        if expr not in seen:
            text = printer.text(expr)
            if expr.is_Symbol or isinstance(expr, _ATOMS):
                seen[expr] = text
            else:
                seen[expr] = f"_e{len(seen)}"
                printer.lines.append(f"{seen[expr]} = {text}")
        results.append(seen[expr])
    body = "".join(f"    {line}\n" for line in printer.lines)
    return (
        f"def {function_name}({_parameters(names)}):\n{body}"
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
    printer = SourceWriter(bound=True, sizes=size_locals(names))
    seen: dict = {}
    for expr in exprs:
        expr = sympy.sympify(expr)
        if expr not in seen:
            seen[expr] = printer.text(expr)
    parts = list(seen.values()) + printer.bases
    body = "".join(f"    {line}\n" for line in printer.lines)
    # max() of a tuple, not nested calls, for the same reason as _sum
    return f"def {function_name}({_parameters(names)}):\n{body}    return max((1, {', '.join(parts)},))\n"


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


def exact_sum(*values):
    """``values[0] + values[1] + ...`` exactly: int64 arrays whose sum could overflow become Python ints.

    Each array was computed within int64, but their sum is bounded as a
    whole: the sum of the largest ``|x|`` of each term.  Ints, sympy
    expressions and ``dtype=object`` arrays add as they are.

    >>> import numpy as np
    >>> exact_sum(np.array([2**62]), np.array([2**62]), 1)[0] == 2**63 + 1
    True
    """
    arrays = [v for v in values if getattr(v, "dtype", None) is not None and v.dtype != object and getattr(v, "ndim", 0)]
    if arrays:
        bound = sum(abs(int(v)) for v in values if isinstance(v, int))
        bound += sum(int(abs(a).max()) if a.size else 0 for a in arrays)
        if bound > INT64_MAX:
            values = [_python_ints(v) if any(v is a for a in arrays) else v for v in values]
    result = 0
    for value in values:
        result = result + value
    return result


def compile_exprs(symbols, exprs) -> CompiledFormulas:
    """A `CompiledFormulas`: ``f(*values)`` returns the tuple of `exprs` at those symbol values.

    Raises
    ------
    TypeError
        If a formula is not exactly printable (see `expression_source`).
    """
    return CompiledFormulas(symbols, exprs)
