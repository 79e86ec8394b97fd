"""The one exception hierarchy of costgraph.

Every error a user can provoke with bad input derives from `CostGraphError`,
itself a `ValueError`, so ``except ValueError`` keeps working for callers
that do not know costgraph.  Each error that concerns a layer carries the
layer's name in ``.layer`` and in its message.
"""

from __future__ import annotations

__all__ = [
    "CostGraphError",
    "ShapeError",
    "DomainError",
    "SizeError",
    "UnknownSizeError",
    "UnknownKindError",
    "CycleError",
    "NotAKindError",
]


class CostGraphError(ValueError):
    """Base class of every error costgraph raises on bad input.

    Parameters
    ----------
    message : str
        The full, human-readable message.
    layer : str, optional
        Name of the layer the error is about, if any.
    value : object, optional
        The offending value, for programs that want to inspect it.
    """

    def __init__(self, message: str, *, layer: str | None = None, value: object = None):
        super().__init__(message)
        self.layer = layer
        self.value = value


class ShapeError(CostGraphError):
    """A layer cannot take the shape(s) it is given (wrong rank, channel mismatch)."""


class DomainError(CostGraphError):
    """At the given sizes some layer's output would be empty or its input too small."""


class SizeError(CostGraphError):
    """A size value is not a positive integer."""


class UnknownSizeError(CostGraphError):
    """A size name is unknown to the network, or a needed size is missing."""


class UnknownKindError(CostGraphError):
    """A layer kind name is not registered, or an operation has no kind."""


class CycleError(CostGraphError):
    """The graph handed to costgraph is not acyclic."""


class NotAKindError(CostGraphError, TypeError):
    """A layer is not a `LayerKind` instance (also a `TypeError`, which it used to be)."""
