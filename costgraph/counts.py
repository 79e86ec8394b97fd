"""Checking the counts a layer kind returns: integers, never negative, before they enter a total.

`Network.add` checks every formula a kind returns (output sizes, weights,
biases, MACs, other FLOPs; the memory model checks saved tensors, backward
MACs and buffers the same way), so a kind that returns ``H/2``, ``1.5*H``,
``sqrt(H)`` or a count that can go negative is refused at once, naming the
layer and the formula, instead of failing (or printing a wrong number) at
evaluation.

What is proven, and how
-----------------------
**Integer-valued.**  The formula, expanded, must be a polynomial with
rational coefficients in *atoms*: size symbols (positive integers), `FloorDiv`
(integer by construction) and ``Min``/``Max`` of integer-valued formulas,
raised to non-negative integer powers.  Floats, roots, negative powers,
``sympy.floor`` and any other function are refused.  A non-integer
coefficient is allowed only if the polynomial is integer-valued whatever
integers the atoms take (``S*(S + 1)/2`` is, ``H/2`` is not): the part with
fractional coefficients is evaluated on the box ``{0..d_1} x ... x {0..d_k}``
(``d_i`` its degree in atom ``i``), which decides integer-valuedness on all of
``Z^k`` (Newton's forward differences in the binomial basis).

**Non-negative at every valid size.**  At a valid size every size is at
least 1 and every input and output size of the layer at least 1 (the checks
`Network.check_sizes` runs).  Each atom gets a lower bound: 1 for a size,
raised by an output or input size that is linear in it (``H - 2 >= 1`` gives
``H >= 3``); for a floor, the floor of its base's lower bound, or what a
size linear in it gives (``floor((H - 3)/2) + 1 >= 1``); for ``Min``/``Max``
the least/greatest of its arguments' bounds.  A positive multiple of one of
the layer's sizes (a lazy Linear's weights, ``10*(3*H*W - 6*H - 6*W + 12)``)
is proven at once, and a product (as the kind wrote it) when each of its
factors is.  Every atom must be provably
``>= 0``.  First every atom is written ``lower bound + u`` with ``u >= 0``
an unknown of its own; if the polynomial in the unknowns has non-negative
coefficients, the count is proven (``(F - 1)*(G - 1)`` with ``F, G >= 2``).
Else each term is bounded from below on its own: a positive term with every
atom at its lower bound plus an unknown; a negative term with every floor
replaced by its upper bound ``base/divisor`` (a ``Min`` by an argument's),
sizes kept exact; the sum of the bounds must have non-negative coefficients
(``H**2 - floor(H/2)**2``).  This is sound (a refusal means "not proven"); every count of
every kind in costgraph's zoo passes.

>>> from costgraph.symbols import H, N
>>> from costgraph.intmath import FloorDiv
>>> check_count(64 * N * (H - 2) ** 2, "macs", dims=[H - 2])     # H >= 3 at any valid size
>>> check_count(H * H - FloorDiv(H, 2) ** 2, "other FLOPs")      # H^2 - (H/2)^2 >= 0
>>> check_count(H / 2, "weights")
Traceback (most recent call last):
...
costgraph.errors.CostGraphError: weights H/2 is not an integer formula (a fractional coefficient; use FloorDiv for a division)
>>> check_count(H - 3, "macs")
Traceback (most recent call last):
...
costgraph.errors.CostGraphError: macs H - 3 can be negative (not proven >= 0 where every size is valid)
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction

import sympy

from .errors import CostGraphError
from .intmath import FloorDiv, is_integer_valued
from .polynomial import expand_sizes
from .symbols import _CANONICAL

__all__ = ["check_count", "check_integer_formula", "integer_form"]

_ATOMS = (FloorDiv, sympy.Min, sympy.Max)
_ONE: frozenset = frozenset()  # the monomial of a constant
_BOX_LIMIT = 4096  # points evaluated to decide integer-valuedness of a fractional part


class _Refused(Exception):
    """Why a formula is refused (the message's tail)."""


# -- formulas as {monomial: coefficient} -------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _polynomial(expr, expanded: bool = False) -> tuple:
    """`expr` expanded, as ``((monomial, Fraction), ...)``; a monomial is a frozenset of (atom, power).

    Raises `_Refused` for anything but a polynomial with rational coefficients in atoms.
    """
    terms: dict = {}
    for term in sympy.Add.make_args(expr if expanded else expand_sizes(expr)):
        coefficient, rest = term.as_coeff_Mul()
        if not coefficient.is_Rational:
            raise _Refused("a float coefficient" if coefficient.is_Float else f"a coefficient {coefficient}")
        powers: dict = {}
        for factor in sympy.Mul.make_args(rest):
            if factor == 1:
                continue
            base, exponent = factor.as_base_exp()
            if not (exponent.is_Integer and exponent > 0):
                raise _Refused(f"a power {factor}")
            if base.is_Symbol:
                if base not in _CANONICAL:
                    raise _Refused(f"a symbol {base} that is not a size")
            elif isinstance(base, _ATOMS):
                if not isinstance(base, FloorDiv):  # a floor is integer by construction
                    for arg in base.args:
                        _integer_valued(arg)
            elif base.is_Float:
                raise _Refused("a float")
            elif expanded and base.is_Add:  # not expanded after all
                return _polynomial(expr, False)
            else:
                raise _Refused(f"{base}, which is not a size, a FloorDiv, a Min or a Max")
            powers[base] = powers.get(base, 0) + int(exponent)
        monomial = frozenset(powers.items())
        terms[monomial] = terms.get(monomial, Fraction(0)) + Fraction(int(coefficient.p), int(coefficient.q))
    return tuple((m, c) for m, c in terms.items() if c)


def _integer_valued(expr, expanded: bool = False) -> None:
    """Raise `_Refused` unless `expr` is an integer at every integer value of its atoms."""
    fractional = [(m, c - math.floor(c)) for m, c in _polynomial(expr, expanded) if c.denominator != 1]
    if not fractional:
        return
    degrees: dict = {}
    for monomial, _ in fractional:
        for atom, power in monomial:
            degrees[atom] = max(degrees.get(atom, 0), power)
    atoms = list(degrees)
    if math.prod(d + 1 for d in degrees.values()) > _BOX_LIMIT:
        raise _Refused("a fractional coefficient")
    for point in itertools.product(*[range(degrees[a] + 1) for a in atoms]):
        at = dict(zip(atoms, point))
        value = sum(c * math.prod(at[a] ** p for a, p in m) for m, c in fractional)
        if value.denominator != 1:
            raise _Refused("a fractional coefficient; use FloorDiv for a division")


# -- lower and upper bounds of atoms ------------------------------------------------------------------


def _atoms_of(polynomial) -> set:
    return {atom for monomial, _ in polynomial for atom, _ in monomial}


def _bounds_from_dims(dims) -> dict:
    """Lower bounds that ``dim >= 1`` gives to the atom of every dim linear in one atom."""
    bounds: dict = {}
    for dim in dims:
        try:
            polynomial = _polynomial(dim)
        except _Refused:
            continue
        constant = sum((c for m, c in polynomial if not m), Fraction(0))
        linear = [(m, c) for m, c in polynomial if m]
        if len(linear) != 1 or len(linear[0][0]) != 1:
            continue
        ((atom, power),), a = tuple(linear[0][0]), linear[0][1]
        if power == 1 and a > 0:
            least = math.ceil((1 - constant) / a)
            bounds[atom] = max(bounds.get(atom, least), least)
    return bounds


class _Bounds:
    """Lower bounds of atoms (sizes, floors, Min, Max) given the layer's sizes are valid."""

    def __init__(self, dims=()):
        self.dims = dims
        self.cache: dict = {}

    @functools.cached_property
    def known(self) -> dict:
        return _bounds_from_dims(self.dims)

    @functools.cached_property
    def dim_polynomials(self) -> list:
        found = []
        for dim in self.dims:
            try:
                polynomial = dict(_polynomial(dim))
            except _Refused:
                continue
            if any(polynomial):  # not a constant
                found.append(polynomial)
        return found

    def multiple_of_a_dim(self, polynomial) -> bool:
        """Whether `polynomial` is a positive multiple of a size of the layer (>= 1 where valid)."""
        terms = dict(polynomial)
        for dim in self.dim_polynomials:
            if dim.keys() != terms.keys():
                continue
            ratios = {terms[m] / c for m, c in dim.items()}
            if len(ratios) == 1 and ratios.pop() > 0:
                return True
        return False

    def low(self, atom):
        """A lower bound of `atom` (an int), or None."""
        if atom in self.cache:
            return self.cache[atom]
        self.cache[atom] = None  # no cycles
        if atom.is_Symbol:
            found = 1
        elif isinstance(atom, FloorDiv):
            base = self.polynomial_low(atom.args[0])
            found = None if base is None else math.floor(base / int(atom.args[1]))
        elif isinstance(atom, sympy.Min):
            lows = [self.polynomial_low(a) for a in atom.args]
            found = None if None in lows else math.ceil(min(lows))
        elif isinstance(atom, sympy.Max):
            lows = [low for low in (self.polynomial_low(a) for a in atom.args) if low is not None]
            found = math.ceil(max(lows)) if lows else None
        else:
            found = None
        if atom in self.known:
            found = self.known[atom] if found is None else max(found, self.known[atom])
        self.cache[atom] = found
        return found

    def polynomial_low(self, expr):
        """A lower bound of a formula (a Fraction), or None if none is proven."""
        try:
            polynomial = _polynomial(expr)
        except _Refused:
            return None
        shifted = self.lower_bound_polynomial(polynomial)
        if shifted is None or any(c < 0 for m, c in shifted.items() if m):
            return None
        return shifted.get(_ONE, Fraction(0))

    def upper(self, atom):
        """An upper bound of atom as a polynomial in sizes only, or None."""
        if atom.is_Symbol:
            return {((atom, 1),): Fraction(1)}
        if isinstance(atom, FloorDiv):
            try:
                base = _polynomial(atom.args[0])
            except _Refused:
                return None
            if any(not a.is_Symbol for a in _atoms_of(base)):
                return None
            divisor = int(atom.args[1])
            return {m: c / divisor for m, c in base}
        if isinstance(atom, sympy.Min):
            for arg in atom.args:
                try:
                    polynomial = _polynomial(arg)
                except _Refused:
                    continue
                if all(a.is_Symbol for a in _atoms_of(polynomial)):
                    return dict(polynomial)
        return None

    def lower_bound_polynomial(self, polynomial, upper_in_negative_terms=False):
        """A polynomial in shifted sizes and unknowns (all >= 0) that is <= `polynomial`; None if none.

        Every atom becomes ``low + u`` (an independent unknown ``u >= 0``);
        with `upper_in_negative_terms`, a floor, Min or Max in a negative term
        becomes its upper bound instead (a polynomial in sizes).
        """
        for atom in _atoms_of(polynomial):
            low = self.low(atom)
            if low is None or low < 0:
                return None
        total: dict = {}
        for monomial, coefficient in polynomial:
            value = {_ONE: coefficient}
            for atom, power in monomial:
                if atom.is_Symbol or coefficient > 0 or not upper_in_negative_terms:
                    factor = {_ONE: Fraction(self.low(atom)), frozenset(((_Unknown(atom), 1),)): Fraction(1)}
                else:
                    upper = self.upper(atom)
                    if upper is None:
                        return None
                    factor = self.shift(upper)
                for _ in range(power):
                    value = _multiply(value, factor)
            for m, c in value.items():
                total[m] = total.get(m, Fraction(0)) + c
        return {m: c for m, c in total.items() if c}

    def shift(self, polynomial: dict) -> dict:
        """A polynomial in sizes, rewritten in ``s' = s - low(s)``."""
        result: dict = {}
        for monomial, coefficient in polynomial.items():
            value = {_ONE: coefficient}
            for atom, power in monomial:
                factor = {_ONE: Fraction(self.low(atom)), frozenset(((_Unknown(atom), 1),)): Fraction(1)}
                for _ in range(power):
                    value = _multiply(value, factor)
            for m, c in value.items():
                result[m] = result.get(m, Fraction(0)) + c
        return result


class _Unknown(tuple):
    """The variable ``atom - low(atom) >= 0``, a monomial key distinct from the atom itself."""

    def __new__(cls, atom):
        return super().__new__(cls, ("shifted", atom))


def _multiply(left: dict, right: dict) -> dict:
    product: dict = {}
    for ma, ca in left.items():
        for mb, cb in right.items():
            powers = dict(ma)
            for atom, power in mb:
                powers[atom] = powers.get(atom, 0) + power
            monomial = frozenset(powers.items())
            product[monomial] = product.get(monomial, Fraction(0)) + ca * cb
    return product


# -- the checks ---------------------------------------------------------------------------------------


def check_integer_formula(expr, what: str, expanded: bool = False) -> None:
    """Refuse `expr` unless it is an integer-valued formula (see the module docstring).

    Raises
    ------
    CostGraphError
        Naming `what` and the formula.
    """
    if is_integer_valued(expr):  # structurally: integers, sizes, floors, Min/Max, sums, products
        return
    try:
        _integer_valued(expr, expanded)
    except _Refused as reason:
        raise CostGraphError(f"{what} {expr} is not an integer formula ({reason})", value=expr) from None


def integer_form(expr):
    """An integer-valued `expr` (checked) written with integer coefficients only, for exact code.

    ``S*(S + 1)/2`` becomes ``floor((S**2 + S)/2)``: with ``q`` the least
    common denominator, ``q * expr`` is an integer polynomial and a multiple
    of ``q`` at every size, so the floor division is exact.

    >>> from costgraph.symbols import S
    >>> integer_form(S * (S + 1) / 2)
    floor((S**2 + S)/2)
    """
    if is_integer_valued(expr):
        return expr
    denominators = [c.denominator for _, c in _polynomial(expr) if c.denominator != 1]
    if not denominators:
        return expr
    q = math.lcm(*denominators)
    return FloorDiv(expand_sizes(q * expr), sympy.Integer(q))


def check_count(expr, what: str, dims=(), raw=None) -> None:
    """Refuse `expr` unless it is integer-valued and proven ``>= 0`` wherever `dims` are all ``>= 1``.

    `expr` is expanded (`costgraph.polynomial.expand_sizes`).  `dims` are the
    layer's input and output sizes (besides, every size symbol is ``>= 1``).  `raw`, the formula as the kind wrote it before expanding,
    helps the proof: a product is non-negative when each factor is.

    Raises
    ------
    CostGraphError
        Naming `what` and the formula: not an integer formula, or not proven non-negative.
    """
    if expr.is_Integer:
        if expr < 0:
            raise CostGraphError(f"{what} {expr} is negative", value=expr)
        return
    check_integer_formula(expr, what, expanded=True)
    bounds = _Bounds(dims)  # lazy: only a count the quick test cannot prove reads the dims
    if _proven_nonnegative(expr, bounds) or (raw is not None and _factors_nonnegative(raw, bounds, depth=3)):
        return
    raise CostGraphError(f"{what} {expr} can be negative (not proven >= 0 where every size is valid)", value=expr)


def _proven_nonnegative(expr, bounds: "_Bounds") -> bool:
    """The polynomial proof of the module docstring (False: not proven)."""
    if expr.is_Number:
        return expr >= 0
    try:
        polynomial = _polynomial(expr, True)
    except _Refused:
        return False
    if all(c >= 0 for _, c in polynomial) and _fast_nonnegative_atoms(polynomial):
        return True
    if bounds.multiple_of_a_dim(polynomial):
        return True
    if any(bounds.low(atom) is None or bounds.low(atom) < 0 for atom in _atoms_of(polynomial)):
        return False
    for candidate in (polynomial, _paired(polynomial)):
        for upper_in_negative_terms in (False, True):  # atoms as independent unknowns, then floors' upper bounds
            shifted = bounds.lower_bound_polynomial(candidate, upper_in_negative_terms)
            if shifted is not None and all(c >= 0 for c in shifted.values()):
                return True
    return False


def _factors_nonnegative(raw, bounds: "_Bounds", depth: int) -> bool:
    """A product (or sum) each of whose factors (terms) is proven non-negative, as the kind wrote it."""
    if _proven_nonnegative(expand_sizes(raw), bounds):
        return True
    if depth == 0 or not isinstance(raw, (sympy.Mul, sympy.Add)):
        return False
    return all(_factors_nonnegative(arg, bounds, depth - 1) for arg in raw.args)


def _paired(polynomial) -> tuple:
    """A lower bound of `polynomial` from pairing floors that differ by a constant.

    ``floor((B + c)/k) - floor(B/k)`` is at most ``ceil(c/k)`` and at least 0
    (for ``c >= 0``), so a negative term ``-b*m*floor((B + c)/k)`` beside a
    positive ``b*m*floor(B/k)`` is bounded below by ``-b*m*ceil(c/k)``, and a
    negative ``-b*m*floor(B/k)`` beside ``b*m*floor((B + c)/k)`` by 0 (``m >= 0``,
    checked by the caller).  This is what a divisibility indicator
    ``floor(n/d) - floor((n - 1)/d)`` (adaptive pooling's window sums) needs.
    """
    terms = dict(polynomial)
    index: dict = {}  # (rest of the monomial, divisor) -> [(floor, monomial)] of positive terms
    for monomial, coefficient in polynomial:
        if coefficient > 0:
            for atom, power in monomial:
                if power == 1 and isinstance(atom, FloorDiv):
                    index.setdefault((monomial - {(atom, 1)}, atom.args[1]), []).append((atom, monomial))
    for monomial, coefficient in polynomial:
        if coefficient >= 0:
            continue
        for atom, power in monomial:
            if power != 1 or not isinstance(atom, FloorDiv) or terms.get(monomial, 0) >= 0:
                continue
            rest = monomial - {(atom, 1)}
            for partner, partner_monomial in index.get((rest, atom.args[1]), ()):
                available = terms.get(partner_monomial, 0)
                difference = expand_sizes(atom.args[0] - partner.args[0])
                if available <= 0 or not difference.is_Integer:
                    continue
                moved = min(-terms[monomial], available)
                terms[monomial] += moved
                terms[partner_monomial] -= moved
                if difference > 0:
                    excess = -(-int(difference) // int(atom.args[1]))  # ceil(c/k)
                    terms[rest] = terms.get(rest, Fraction(0)) - moved * excess
                if terms[monomial] >= 0:
                    break
    return tuple((m, c) for m, c in terms.items() if c)


def _fast_nonnegative_atoms(polynomial) -> bool:
    """Every atom is a size or a floor/Min/Max of non-negative-coefficient formulas in such atoms."""
    return all(_plainly_nonnegative(atom) for atom in _atoms_of(polynomial))


@functools.lru_cache(maxsize=65536)
def _plainly_nonnegative(atom) -> bool:
    if atom.is_Symbol:
        return True
    if not isinstance(atom, _ATOMS):
        return False
    arguments = atom.args[:1] if isinstance(atom, FloorDiv) else atom.args
    for argument in arguments:
        polynomial = _polynomial(argument)
        if not all(c >= 0 for _, c in polynomial) or not _fast_nonnegative_atoms(polynomial):
            return False
    return True
