"""Size values as the command line writes them: ``224``, ``224,256,320``, ``128:512:32``.

Standard library only (the fast path and the command line both parse sizes
before sympy is imported).  A value is an integer of at most `MAX_DIGITS`
digits, and a spec expands to at most `MAX_POINTS` values, so a typo such as
``1:100000000000`` is a one-line error, not an exhausted memory.

>>> parse_values("128:256:32")
[128, 160, 192, 224, 256]
>>> parse_values("224,300"), parse_values("7")
([224, 300], [7])
"""

from __future__ import annotations

__all__ = ["parse_values", "SizeSpecError", "MAX_POINTS", "MAX_DIGITS"]

#: most values one size spec may expand to (a sweep of more is a typo, or a job for the Python API)
MAX_POINTS = 100_000
#: longest integer accepted (Python's int() refuses 4,300 digits; sizes never need 40)
MAX_DIGITS = 40


class SizeSpecError(ValueError):
    """A size spec that is not integers, ranges and commas, or that expands past `MAX_POINTS`."""


def _integer(text: str, what: str) -> int:
    text = text.strip()
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(text) - len(digits) > 1:
        raise SizeSpecError(f"{what} {_shown(text)} is not an integer")
    if len(digits) > MAX_DIGITS:
        raise SizeSpecError(f"{what} has {len(digits)} digits; sizes are limited to {MAX_DIGITS} digits")
    return int(text)


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_values(text: str) -> list[int]:
    """The values of a size spec: ``224``, ``224,256,320`` or ``start:stop[:step]`` (stop included).

    Values are returned as written (zero and negative values included), so
    that the size check downstream names the size in its message.

    Raises
    ------
    SizeSpecError
        If a part is not an integer, the step is not positive, stop < start,
        or the spec expands to more than `MAX_POINTS` values.

    Examples
    --------
    >>> parse_values("1:5:2")
    [1, 3, 5]
    >>> parse_values("1:10000000000")
    Traceback (most recent call last):
    ...
    costgraph.size_ranges.SizeSpecError: '1:10000000000' expands to 10,000,000,000 values; at most 100,000 per size (use a larger step)
    """
    values: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if ":" in part:
            pieces = part.split(":")
            if len(pieces) not in (2, 3):
                raise SizeSpecError(f"{_shown(part)} is not start:stop or start:stop:step")
            start, stop = _integer(pieces[0], "start"), _integer(pieces[1], "stop")
            step = _integer(pieces[2], "step") if len(pieces) == 3 else 1
            if step < 1:
                raise SizeSpecError(f"{_shown(part)}: the step must be a positive integer, got {step}")
            if stop < start:
                raise SizeSpecError(f"{_shown(part)}: stop {stop} is below start {start}")
            count = (stop - start) // step + 1
            if len(values) + count > MAX_POINTS:
                raise SizeSpecError(
                    f"{_shown(part)} expands to {count:,} values; at most {MAX_POINTS:,} per size (use a larger step)"
                )
            values.extend(range(start, stop + 1, step))
        else:
            values.append(_integer(part, "size"))
            if len(values) > MAX_POINTS:
                raise SizeSpecError(f"more than {MAX_POINTS:,} values in one size spec")
    return values
