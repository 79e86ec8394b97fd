"""The size symbols, and turning ``name=value`` keywords into substitutions.

Sizes that vary between runs (height, width, batch, sequence length, ...) are
sympy symbols with ``integer=True, positive=True``.  Everything else (channels,
kernels, strides) is a plain Python ``int``, which keeps every formula a
polynomial in a few symbols and a few floor atoms.

``Symbol('H', integer=True, positive=True) == Symbol('H')`` is False in sympy,
so ``expr.subs({'H': 224})`` silently does nothing.  That is why costgraph
never lets sympy turn names into symbols: `size_symbol` and `resolve_sizes`
map names to the one canonical symbol per name.

>>> from costgraph.symbols import H, size_symbol
>>> size_symbol("H") is H
True
>>> H.is_integer, H.is_positive
(True, True)
"""

from __future__ import annotations

import functools
import numbers
from typing import Iterable, Mapping

import sympy

from .errors import CostGraphError, SizeError, UnknownSizeError

__all__ = ["H", "W", "N", "S", "size_symbol", "as_size", "as_formula", "known_sizes", "resolve_sizes", "sort_symbols"]

_SYMBOLS: dict[str, sympy.Symbol] = {}
_CANONICAL: set = set()  # the symbols in _SYMBOLS, for a quick membership test


def size_symbol(name: str) -> sympy.Symbol:
    """Return the canonical positive-integer size symbol called `name`.

    The first call with a new name creates it (a model may declare sizes of
    its own, e.g. a vocabulary size); later calls return the same object.

    Raises
    ------
    SizeError
        If `name` is not a Python identifier.
    """
    symbol = _SYMBOLS.get(name)
    if symbol is None:
        if not isinstance(name, str) or not name.isidentifier():
            raise SizeError(f"a size name must be an identifier, got {name!r}", value=name)
        symbol = _SYMBOLS[name] = sympy.Symbol(name, integer=True, positive=True)
        _CANONICAL.add(symbol)
    return symbol


H = size_symbol("H")  #: input height
W = size_symbol("W")  #: input width
N = size_symbol("N")  #: batch size
S = size_symbol("S")  #: sequence length


def as_size(value, *, owner: str, what: str = "size") -> sympy.Expr:
    """A size given to a layer, as a sympy expression: never code.

    Accepted: a Python or numpy integer (not a bool), the *name* of a size
    (an identifier, made the canonical symbol by `size_symbol`), or a sympy
    expression whose symbols are all size symbols and which holds no float.
    A string is never parsed: ``"H + 1"`` is refused, ``"H"`` is the size H.
    This is the one door through which a kind turns a user's value into a
    formula, so no string from a user or a file is ever evaluated.

    Raises
    ------
    SizeError
        If `value` is anything else; the message names `owner` and `what`.

    Examples
    --------
    >>> from costgraph.symbols import H, as_size
    >>> as_size(3, owner="Input"), as_size("H", owner="Input"), as_size(H + 1, owner="Input")
    (3, H, H + 1)
    >>> as_size("__import__('os')", owner="Input")
    Traceback (most recent call last):
    ...
    costgraph.errors.SizeError: Input: size must be an integer, a size name or a formula in sizes, got "__import__('os')"
    """
    if isinstance(value, str) and value.isidentifier():
        return size_symbol(value)
    formula = _formula_or_none(value)
    if formula is None:
        raise SizeError(
            f"{owner}: {what} must be an integer, a size name or a formula in sizes, got {value!r}",
            value=value,
        )
    return formula


def as_formula(value, *, owner: str, what: str = "count") -> sympy.Expr:
    """A formula a layer kind states or returns, as a sympy expression: never code, never a name.

    Accepted: a Python or numpy integer (not a bool), or a sympy expression
    whose symbols are all size symbols and which holds no float.  Anything
    else, a string above all (``"H"`` too: a kind returns formulas, not
    names), is refused, so a value a kind returns cannot run code or slip a
    foreign symbol (``Symbol("H")`` without costgraph's assumptions) into a count.

    Raises
    ------
    CostGraphError
        If `value` is anything else; the message names `owner` and `what`.

    Examples
    --------
    >>> from costgraph.symbols import H, as_formula
    >>> as_formula(3, owner="MyKind"), as_formula(2 * H, owner="MyKind")
    (3, 2*H)
    >>> as_formula("H", owner="MyKind", what="weights")
    Traceback (most recent call last):
    ...
    costgraph.errors.CostGraphError: MyKind: weights must be an integer or a sympy formula in size symbols (no floats, no strings), got 'H'
    """
    formula = _formula_or_none(value)
    if formula is None:
        raise CostGraphError(
            f"{owner}: {what} must be an integer or a sympy formula in size symbols (no floats, no strings), got {value!r}",
            value=value,
        )
    return formula


def _formula_or_none(value):
    """`value` as a sympy expression if it is an int or a float-free formula in size symbols, else None."""
    if isinstance(value, sympy.Expr):  # the common case first: isinstance on an ABC is slow
        if value.is_Integer or value in _CANONICAL or _float_free_in_sizes(value):
            return value
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return sympy.Integer(int(value))
    return None


@functools.lru_cache(maxsize=65536)
def _float_free_in_sizes(expr) -> bool:
    # cached: the same sizes come back at every layer of a stage
    return expr.free_symbols <= _CANONICAL and not expr.has(sympy.Float)


def known_sizes() -> list[str]:
    """Names of every size symbol created so far, in creation order."""
    return list(_SYMBOLS)


def sort_symbols(symbols: Iterable[sympy.Symbol]) -> list[sympy.Symbol]:
    """Size symbols in a stable, readable order: H, W, then others by name, N last."""
    order = {"H": 0, "W": 1, "S": 2, "N": 99}
    return sorted(symbols, key=lambda s: (order.get(s.name, 50), s.name))


def _check_size_value(name: str, value: object) -> int:
    # bool is an int subclass, and numpy integers are not ints: accept the
    # latter, refuse the former and every float (a float must never reach a count).
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SizeError(
            f"size {name} must be a positive integer, got {value!r} "
            f"(a {type(value).__name__})",
            value=value,
        )
    value = int(value)
    if value < 1:
        raise SizeError(f"size {name} must be a positive integer, got {value}", value=value)
    return value


def resolve_sizes(
    needed: Iterable[sympy.Symbol], sizes: Mapping[str, object], *, network: str = "network"
) -> dict[sympy.Symbol, object]:
    """Map ``name=value`` keywords to ``{symbol: int}`` for the symbols in `needed`.

    ``W`` defaults to ``H`` when only ``H`` is given, and ``N`` (batch)
    defaults to 1.  Values may also be numpy integer arrays (vectorized
    evaluation); they are checked elementwise.

    Raises
    ------
    UnknownSizeError
        If a name is not one of the network's sizes, or a needed size is missing.
    SizeError
        If a value is not a positive integer (floats, bools, zero and
        negative values are refused).

    Examples
    --------
    >>> from costgraph.symbols import H, W, N, resolve_sizes
    >>> resolve_sizes([H, W, N], {"H": 224})
    {H: 224, W: 224, N: 1}
    """
    needed = sort_symbols(set(needed))
    by_name = {s.name: s for s in needed}
    unknown = sorted(set(sizes) - set(by_name))
    if unknown:
        raise UnknownSizeError(
            f"{network} has no size {unknown[0]!r}; its sizes are "
            f"{', '.join(by_name) or '(none)'}",
            value=unknown[0],
        )
    values = dict(sizes)
    if "W" in by_name and "W" not in values and "H" in values:
        values["W"] = values["H"]
    if "N" in by_name and "N" not in values:
        values["N"] = 1
    missing = [name for name in by_name if name not in values]
    if missing:
        raise UnknownSizeError(
            f"{network} needs size {missing[0]} (its sizes are {', '.join(by_name)})",
            value=missing[0],
        )
    resolved: dict[sympy.Symbol, object] = {}
    for name, symbol in by_name.items():
        value = values[name]
        if _is_array(value):
            resolved[symbol] = _check_size_array(name, value)
        else:
            resolved[symbol] = _check_size_value(name, value)
    return resolved


def _is_array(value: object) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "shape") and getattr(value, "ndim", 0) > 0


def _check_size_array(name: str, value):
    import numpy as np  # only reached when the caller already uses numpy

    if value.dtype.kind not in "iu" and value.dtype != object:
        raise SizeError(
            f"size {name} must be an integer array, got dtype {value.dtype}", value=value
        )
    if value.dtype == object:
        for item in value.flat:
            _check_size_value(name, item)
    elif value.size and int(np.min(value)) < 1:
        raise SizeError(
            f"size {name} must be a positive integer, got {int(np.min(value))} in the array",
            value=value,
        )
    return value
