"""Builder keyword checking: an unknown option is an error that lists the accepted ones.

Python's own ``TypeError`` (``got an unexpected keyword argument``) names
the stray keyword but not what would have been right, and a builder that
forwards ``**options`` would otherwise pass a typo on to a size name.
"""

from __future__ import annotations

import functools
import inspect

from ..errors import CostGraphError

__all__ = ["strict_options", "check_options"]


def check_options(owner: str, given, accepted) -> None:
    """Raise if some keyword in `given` is not in `accepted`.

    Raises
    ------
    CostGraphError
        Naming `owner`, the unknown keywords, and every accepted one.

    >>> check_options("decoder", {"layers": 2}, ["layers", "heads"])
    >>> check_options("decoder", {"master_dtype": "fp32"}, ["layers", "heads"])
    Traceback (most recent call last):
    ...
    costgraph.errors.CostGraphError: decoder: unknown option 'master_dtype'; accepted: heads, layers
    """
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise CostGraphError(
            f"{owner}: unknown option{plural} {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(accepted))}",
            value=unknown[0],
        )


def strict_options(builder):
    """Decorate `builder` so that unknown keyword arguments raise `CostGraphError` listing the accepted ones.

    Only for builders without ``**kwargs`` of their own (a builder that
    forwards ``**options`` is checked by the one it forwards to).

    Raises
    ------
    CostGraphError
        At call time, for an unknown keyword (see `check_options`).

    >>> @strict_options
    ... def block(width, *, bias=True):
    ...     return width
    >>> block(4, bias=False)
    4
    >>> block(4, biases=False)
    Traceback (most recent call last):
    ...
    costgraph.errors.CostGraphError: block: unknown option 'biases'; accepted: bias, width
    """
    parameters = inspect.signature(builder).parameters
    accepted = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(builder)
    def checked(*args, **kwargs):
        check_options(builder.__name__, kwargs, accepted)
        return builder(*args, **kwargs)

    return checked
