"""The one door from a record (`Totals`, a layer table, a `Network`) to the renderer above it.

Records live low in the package (they are what the graph returns) and must
not import `costgraph.render`, which sits above them and imports them.  A
record's ``__str__`` and Jupyter ``_repr_*_`` methods call `render` here; the
package (``costgraph/__init__.py``) installs the renderer on import, so the
dependency points downwards only.  Standard library only: importing this
costs nothing.

>>> render(object(), "text") is None or isinstance(render(object(), "text"), str)
True
"""

from __future__ import annotations

__all__ = ["install", "render"]

_renderer = None


def install(renderer) -> None:
    """Set the function ``renderer(record, form) -> str | None`` that `render` calls.

    Raises
    ------
    TypeError
        If `renderer` is not callable.
    """
    global _renderer
    if not callable(renderer):
        raise TypeError(f"a renderer must be callable, got {renderer!r}")
    _renderer = renderer


def render(record, form: str):
    """`record` rendered as `form` (``"text"``, ``"markdown"``, ``"latex"``, ``"html"``), or None.

    None when no renderer is installed or it has nothing for this record and
    form (Python and Jupyter then fall back to the plain repr).

    Raises
    ------
    Nothing of its own; a renderer's errors propagate.
    """
    return None if _renderer is None else _renderer(record, form)
