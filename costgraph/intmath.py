"""Exact integer arithmetic on size formulas: `FloorDiv` and the conv/pool size rules.

sympy's own ``floor`` does not fold ``floor(floor(H/2)/2)`` into
``floor(H/4)``, queries assumptions every time one is built (about 7x slower
on VGG16), and ``lambdify`` prints it with float coefficients (``floor(0.5*H)``),
which is wrong past 2**53.  `FloorDiv` instead folds nested divisions by
structure only (``isinstance`` and integer arithmetic, as sympy's guide for
custom functions asks), and prints as ``//`` for code generation, so compiled
formulas stay exact for integers of any size.

Every rule in `FloorDiv.eval` holds for an integer-valued base and a positive
integer divisor; both are checked when a FloorDiv is built.

>>> from costgraph.intmath import FloorDiv
>>> from costgraph.symbols import H
>>> FloorDiv(FloorDiv(H, 2), 2)          # floor(floor(H/2)/2) = floor(H/4)
floor(H/4)
>>> FloorDiv(FloorDiv(H + 1, 2) + 1, 2)  # a constant between floors folds in: (H+1+2)//4
floor((H + 3)/4)
>>> FloorDiv(H - 1, 2) + 1               # the constant is kept in [0, 2): this is ceil(H/2)
floor((H + 1)/2)
"""

from __future__ import annotations

import math

import sympy
from sympy.core.function import Function

from .errors import CostGraphError
from .symbols import as_size

__all__ = ["FloorDiv", "ceil_div", "conv_out", "pool_out", "is_integer_valued"]


def is_integer_valued(expr: sympy.Expr) -> bool:
    """True if `expr` is built only from integers, integer symbols, FloorDiv, Min/Max.

    A structural test, not an assumption query: it is cheap, and it refuses
    rational coefficients, where folding floors would be wrong.
    """
    if isinstance(expr, sympy.Integer):
        return True
    if isinstance(expr, sympy.Symbol):
        return bool(expr.is_integer)
    if isinstance(expr, FloorDiv):
        return True
    if isinstance(expr, (sympy.Add, sympy.Mul, sympy.Min, sympy.Max)):
        return all(is_integer_valued(arg) for arg in expr.args)
    if isinstance(expr, sympy.Pow):
        exp = expr.exp
        return isinstance(exp, sympy.Integer) and exp >= 0 and is_integer_valued(expr.base)
    return False


def _split(term: sympy.Expr) -> tuple[int, sympy.Expr]:
    """`term` as (integer coefficient, rest); the rest is 1 for a constant."""
    coeff, rest = term.as_coeff_Mul()
    return int(coeff), rest


class FloorDiv(Function):
    """``floor(base / divisor)`` for an integer-valued base and a positive integer divisor.

    Folding rules, each exact for integer ``a, t`` and positive integers ``m, n``:

    1. literals: ``FloorDiv(7, 2) = 3``; ``FloorDiv(a, 1) = a``;
    2. nesting: ``FloorDiv(FloorDiv(a, m) + t, n) = FloorDiv(a + m*t, m*n)``
       (Concrete Mathematics eq. 3.11, with an integer ``t`` added inside);
    3. exact multiples leave: ``FloorDiv(n*k*t + r, n) = k*t + FloorDiv(r, n)``,
       and the constant left inside is kept in ``[0, n)``, so that
       ``FloorDiv(H - 1, 2) + 1`` and ``FloorDiv(H + 1, 2)`` are the same expression;
    4. a common factor cancels: ``FloorDiv(g*a, g*n) = FloorDiv(a, n)``;
    5. minimum: ``FloorDiv(Min(a, b) + t, n) = Min(FloorDiv(a + t, n), FloorDiv(b + t, n))``
       (floor is monotone).

    An inner floor that is multiplied is never folded:
    ``FloorDiv(3*FloorDiv(H, 32), 7)`` differs from ``FloorDiv(3*H, 224)``.

    Raises
    ------
    CostGraphError
        If the divisor is not a positive integer or the base is not built from
        integers (a rational coefficient would make the folds wrong).

    Examples
    --------
    >>> from costgraph.symbols import H
    >>> FloorDiv(H + 6, 4)            # 6 = 1*4 + 2
    floor((H + 2)/4) + 1
    >>> FloorDiv(6*H + 3, 9)          # gcd 3 cancels
    floor((2*H + 1)/3)
    >>> FloorDiv(H, 32).subs(H, 224)  # 224 // 32
    7
    """

    is_integer = True

    def __new__(cls, base, divisor, **options):
        # sympy's Function would sympify a string argument, i.e. parse and run it: refuse strings first
        if isinstance(base, str) or isinstance(divisor, str):
            raise CostGraphError(f"FloorDiv takes formulas, not strings: got {base!r}, {divisor!r}", value=(base, divisor))
        return super().__new__(cls, base, divisor, **options)

    @classmethod
    def eval(cls, base, divisor):
        if not (isinstance(divisor, sympy.Integer) and divisor > 0):
            raise CostGraphError(f"FloorDiv needs a positive integer divisor, got {divisor}")
        n = int(divisor)
        if isinstance(base, sympy.Integer):
            return sympy.Integer(int(base) // n)
        if not is_integer_valued(base):
            raise CostGraphError(f"FloorDiv needs an integer-valued base, got {base}")
        if n == 1:
            return base
        terms = sympy.Add.make_args(base)

        # Rules 2 and 5: a single inner floor (or minimum) with coefficient 1.
        inner = [t for t in terms if isinstance(t, (FloorDiv, sympy.Min))]
        if len(inner) == 1:
            (nested,) = inner
            rest = sympy.Add(*[t for t in terms if t is not nested])
            if isinstance(nested, FloorDiv):
                a, m = nested.args
                return cls(a + m * rest, m * n)
            return sympy.Min(*[cls(arg + rest, divisor) for arg in nested.args])

        # Rule 3: pull out exact multiples, keep the constant in [0, n).
        outside, inside = [], []
        for term in terms:
            coeff, rest = _split(term)
            if coeff % n == 0:
                outside.append((coeff // n) * rest)
            elif rest == 1 and not 0 <= coeff < n:
                quotient, remainder = divmod(coeff, n)
                outside.append(sympy.Integer(quotient))
                inside.append(sympy.Integer(remainder))
            else:
                inside.append(term)
        if outside:
            return sympy.Add(*outside) + cls(sympy.Add(*inside), divisor)

        # Rule 4: cancel a common factor of every coefficient and the divisor.
        g = n
        for term in terms:
            g = math.gcd(g, _split(term)[0])
            if g == 1:
                return None
        return cls(sympy.Add(*[(_split(t)[0] // g) * _split(t)[1] for t in terms]), n // g)

    # -- printing: readable for people, `//` for generated code -----------------
    def _sympystr(self, printer):
        base, divisor = self.args
        text = printer._print(base)
        if isinstance(base, (sympy.Add, sympy.Mul)) and len(base.args) > 1:
            text = f"({text})"
        return f"floor({text}/{divisor})"

    def _latex(self, printer, exp=None):
        # sympy's LaTeX printer passes `exp` when the floor is raised to a power (floor(H/16)**2)
        base, divisor = self.args
        tex = rf"\left\lfloor \frac{{{printer._print(base)}}}{{{divisor}}} \right\rfloor"
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _pythoncode(self, printer):
        base, divisor = self.args
        return f"(({printer._print(base)}) // {divisor})"

    _numpycode = _pythoncode
    _lambdacode = _pythoncode

    def _eval_is_nonnegative(self):
        return self.args[0].is_nonnegative


def ceil_div(base, divisor: int) -> sympy.Expr:
    """``ceil(base / divisor)``, written as ``FloorDiv(base + divisor - 1, divisor)``.

    One operator (FloorDiv) to fold, print and test, as in PyTorch's CeilDiv.

    >>> from costgraph.symbols import H
    >>> ceil_div(H, 32)
    floor((H + 31)/32)
    """
    return FloorDiv(as_size(base, owner="ceil_div", what="base") + divisor - 1, sympy.Integer(divisor))


def conv_out(size, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> sympy.Expr:
    """Output length of a convolution or a floor-mode pooling along one axis.

    PyTorch's rule (``torch/_meta_registrations.py``, ``_formula``):
    ``(size + 2*padding - dilation*(kernel - 1) - 1) // stride + 1``.

    >>> from costgraph.symbols import H
    >>> conv_out(H, kernel=7, stride=2, padding=3)   # (H - 1)//2 + 1, canonical form
    floor((H + 1)/2)
    >>> conv_out(conv_out(H, 7, 2, 3), 3, 2, 1)      # ResNet's stem: ceil(H/4)
    floor((H + 3)/4)
    >>> conv_out(224, 3, 1, 1)
    224
    """
    numerator = as_size(size, owner="conv_out", what="size") + 2 * padding - dilation * (kernel - 1) - 1
    return FloorDiv(numerator, sympy.Integer(stride)) + 1


def pool_out(
    size, kernel: int, stride: int, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> sympy.Expr:
    """Output length of max/avg pooling along one axis, with PyTorch's ceil_mode rule.

    With ``ceil_mode`` PyTorch rounds up, then drops the last window if it
    would start in the right padding: ``out -= 1`` when
    ``(out - 1) * stride >= size + padding`` (``pooling_output_shape_pad_lr``).
    With ``o = ceil(x / stride)`` for ``x = size + 2p - d(k-1) - 1`` that is
    ``1 + min(o, floor((size + padding - 1) / stride))``.

    The minimum is always decided by the parameters alone: with ``e =
    dilation*(kernel-1) + 1``, ``o = floor((size + 2p - e + stride - 1) / stride)``
    and the last start ``floor((size + p - 1) / stride)`` are floors of
    numerators that differ by the constant ``c = stride + p - e`` over the
    same divisor, and a floor is monotone.  So when ``c <= 0`` (every
    ceil-mode pool in torchvision's models) the correction never fires and
    the plain ceiling is returned, and when ``c > 0`` (the stride passes the
    kernel's reach) the last start is the minimum.  (The formula itself
    needs ``p <= e``, which PyTorch's rule ``2p <= e`` guarantees; a larger
    padding keeps the unfolded minimum.)  No ``Min`` is built, so chained
    pools keep one floor per axis instead of a minimum whose terms
    multiply layer after layer.

    >>> from costgraph.symbols import H
    >>> pool_out(H, 3, 2, ceil_mode=True)            # ceil((H - 3)/2) + 1
    floor(H/2)
    >>> pool_out(H, 1, 2, ceil_mode=True)   # 1x1 kernel, stride 2: the correction decides
    floor((H + 1)/2)
    >>> pool_out(5, 2, 2, ceil_mode=True)
    3
    """
    if not ceil_mode:
        return conv_out(size, kernel, stride, padding, dilation)
    size = as_size(size, owner="pool_out", what="size")
    effective = dilation * (kernel - 1) + 1
    rounded_up = ceil_div(size + 2 * padding - effective, stride)
    if stride + padding <= effective:
        return rounded_up + 1
    last_start = FloorDiv(size + padding - 1, sympy.Integer(stride))
    if padding <= effective:
        return last_start + 1
    return sympy.Min(rounded_up, last_start) + 1
