"""Human-readable numbers: ``138.4M`` parameters, ``6.7B``, ``61.0 MB``, ``1,792``.

One convention for every output of costgraph (tables, summaries, plots,
docs): counts in powers of 1000 with K, M, B, T (thousand, million,
billion, trillion: Llama 2 7B has 6.7B parameters, VGG16 does 15.5B MACs at
224), and bytes in powers of 1000 with kB, MB, GB, TB (SI, as torchinfo's
"MB" and disk sizes; ``binary=True`` gives KiB, MiB, GiB where asked for).
Rounding is done in integer arithmetic (half up on the tenths), so a count
is never pushed through a float on its way to the screen.

>>> human_count(138357544), human_count(1792), human_count(999), human_count(6738415616)
('138.4M', '1.8K', '999', '6.7B')
>>> human_bytes(60950432), human_bytes(60950432, binary=True)
('61.0 MB', '58.1 MiB')
>>> thousands(15470264320)
'15,470,264,320'
"""

from __future__ import annotations

import numbers

__all__ = ["human_count", "human_bytes", "thousands", "shape_text"]

_COUNT_SUFFIXES = ("", "K", "M", "B", "T")  # thousand, million, billion, trillion
_BINARY_SUFFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_DECIMAL_SUFFIXES = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def _check_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected an integer count, got {value!r} ({type(value).__name__})")
    return int(value)


def _scaled(value: int, base: int, suffixes: tuple, separator: str) -> str:
    """``value / base**k`` with one decimal (half up), k chosen so the mantissa is below `base`."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < base:
        return f"{sign}{value}{separator}{suffixes[0]}".rstrip() if suffixes[0] else f"{sign}{value}"
    power = 0
    while power + 1 < len(suffixes) and value >= base ** (power + 1):
        power += 1
    tenths, rest = divmod(value * 10, base**power)
    if 2 * rest >= base**power:
        tenths += 1
    if tenths >= 10 * base and power + 1 < len(suffixes):
        # 999.96K rounds to 1000.0K: show it as 1.0M instead
        power += 1
        tenths, rest = divmod(value * 10, base**power)
        if 2 * rest >= base**power:
            tenths += 1
    return f"{sign}{tenths // 10}.{tenths % 10}{separator}{suffixes[power]}"


def human_count(value) -> str:
    """A count with one decimal and a suffix K, M, B or T, as the seed writes ``138M``.

    Counts below 1000 are printed exactly; from 1000 T on, in T (``1500.0T``).

    Raises
    ------
    TypeError
        If `value` is not an integer (a count is never a float).

    Examples
    --------
    >>> human_count(15470264320), human_count(0), human_count(999_960)
    ('15.5B', '0', '1.0M')
    """
    return _scaled(_check_int(value), 1000, _COUNT_SUFFIXES, "")


def human_bytes(value, *, binary: bool = False) -> str:
    """A byte count in decimal units (kB, MB, GB: costgraph's convention) or binary ones (KiB, MiB, GiB).

    Raises
    ------
    TypeError
        If `value` is not an integer.

    Examples
    --------
    >>> human_bytes(512), human_bytes(2**30), human_bytes(2**30, binary=True)
    ('512 B', '1.1 GB', '1.0 GiB')
    """
    value = _check_int(value)
    if binary:
        return _scaled(value, 1024, _BINARY_SUFFIXES, " ")
    return _scaled(value, 1000, _DECIMAL_SUFFIXES, " ")


def thousands(value) -> str:
    """An exact integer with comma thousands separators.

    Raises
    ------
    TypeError
        If `value` is not an integer.
    """
    return f"{_check_int(value):,}"


def shape_text(dims, separator: str = "x") -> str:
    """Dimensions joined the way the seed writes them: ``224x224``.

    Examples
    --------
    >>> shape_text((64, 112, 112))
    '64x112x112'
    """
    return separator.join(str(d) for d in dims)
