"""The contract every layer kind implements, and the one registry of kinds.

A kind holds its hyper-parameters (frozen, hashable, so identical blocks can
share their formulas) and states its costs as pure functions of shapes, the
way PyTorch's ``flop_counter.py`` passes shapes and the output shape to every
formula.  There are no default zeros: every cost method is abstract, so a kind
that truly costs nothing says ``return 0`` and a forgotten method fails the
moment the class is instantiated (fvcore's rule, made strict).

A shape is a tuple of sympy expressions, batch first: ``(N, C, H, W)`` for an
image tensor, ``(N, S, D)`` for a sequence.
"""

from __future__ import annotations

import abc
import numbers
from dataclasses import dataclass
from typing import ClassVar, Sequence

import sympy

from ..errors import CostGraphError, ShapeError, UnknownKindError

__all__ = [
    "Shape",
    "Constraint",
    "LayerKind",
    "KINDS",
    "register_kind",
    "kind_named",
    "numel",
    "pair",
    "positive_int",
    "nonnegative_int",
    "format_shape",
]

Shape = tuple  # of sympy.Expr, batch first


@dataclass(frozen=True)
class Constraint:
    """A condition ``expr >= 0`` that must hold at any size where the layer is valid.

    `message` is PyTorch's wording for the failure, e.g. "Kernel size can't be
    greater than actual input size".
    """

    expr: sympy.Expr
    message: str


class LayerKind(abc.ABC):
    """A layer type: hyper-parameters fixed at construction, costs as functions of shapes.

    Subclasses are frozen dataclasses registered with `register_kind`.  The
    class name is the kind's name and matches ``torch.nn`` where a module
    exists (``Conv2d``, ``MaxPool2d``, ``Linear``, ...).

    Every method receives the input shapes (and the output shape, where a
    cost needs it) as tuples of sympy expressions, batch first.
    """

    #: number of inputs the kind takes; None for any number >= 1
    arity: ClassVar[int | None] = 1

    @property
    def kind(self) -> str:
        """The registry name of this kind (its class name)."""
        return type(self).__name__

    @property
    def materializes(self) -> bool:
        """Whether the layer's output is a new tensor (False for in-place ops and views)."""
        return True

    @abc.abstractmethod
    def output_shape(self, *inputs: Shape) -> Shape:
        """The output shape; raise `ShapeError` if the inputs do not fit."""

    @abc.abstractmethod
    def weights(self, *inputs: Shape) -> sympy.Expr:
        """Number of weight parameters (an expression: a lazy Linear may depend on H)."""

    @abc.abstractmethod
    def biases(self, *inputs: Shape) -> sympy.Expr:
        """Number of bias parameters (shifts, including BatchNorm's beta)."""

    @abc.abstractmethod
    def macs(self, out: Shape, *inputs: Shape) -> sympy.Expr:
        """Multiply-accumulates of the layer's matrix products (conv, linear, matmul)."""

    @abc.abstractmethod
    def other_flops(self, out: Shape, *inputs: Shape) -> sympy.Expr:
        """FLOPs beyond ``2 * macs``: elementwise work, under the documented convention."""

    def constraints(self, out: Shape, *inputs: Shape) -> Sequence[Constraint]:
        """Conditions beyond "every output size is at least 1" (checked for every layer)."""
        return ()

    # Shown in per-layer tables; window layers override them.
    kernel = None
    stride = None
    padding = None

    def check_rank(self, shape: Shape, rank: int, what: str = "input") -> None:
        """Raise `ShapeError` unless `shape` has `rank` dimensions."""
        if len(shape) != rank:
            raise ShapeError(
                f"{self.kind} expects a {rank}-d {what} "
                f"({'N, C, H, W' if rank == 4 else 'batch first'}), "
                f"got {len(shape)}-d {format_shape(shape)}",
                value=shape,
            )


KINDS: dict[str, type[LayerKind]] = {}


def register_kind(cls: type[LayerKind]) -> type[LayerKind]:
    """Class decorator: make a `LayerKind` subclass known by its class name.

    A user registers a kind of their own in their own module; nothing in
    costgraph changes.  Registering a second, different class under a taken
    name is refused.

    Raises
    ------
    TypeError
        If `cls` is not a LayerKind subclass.
    CostGraphError
        If another class is already registered under the same name.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from costgraph.kinds import LayerKind, register_kind, kind_named
    >>> @register_kind
    ... @dataclass(frozen=True)
    ... class Square(LayerKind):
    ...     '''Elementwise x*x: one multiplication per element.'''
    ...     def output_shape(self, x): return x
    ...     def weights(self, x): return 0
    ...     def biases(self, x): return 0
    ...     def macs(self, out, x): return 0
    ...     def other_flops(self, out, x): return numel(out)
    >>> kind_named("Square") is Square
    True
    """
    if not (isinstance(cls, type) and issubclass(cls, LayerKind)):
        raise TypeError(f"register_kind expects a LayerKind subclass, got {cls!r}")
    name = cls.__name__
    existing = KINDS.get(name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise CostGraphError(
            f"layer kind {name!r} is already registered by {existing.__module__}.{existing.__qualname__}"
        )
    KINDS[name] = cls
    return cls


def kind_named(name: str) -> type[LayerKind]:
    """The registered kind class called `name`.

    Raises
    ------
    UnknownKindError
        If no kind of that name is registered.
    """
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(
            f"unknown layer kind {name!r}; known kinds: {', '.join(sorted(KINDS))}", value=name
        ) from None


def numel(shape: Shape) -> sympy.Expr:
    """Number of elements of a tensor of this shape."""
    return sympy.Mul(*shape)


def format_shape(shape: Shape) -> str:
    """``(N, 64, H, W)`` style text of a shape."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def positive_int(value, name: str, owner: str) -> int:
    """`value` as an int >= 1, or a `CostGraphError` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise CostGraphError(f"{owner}: {name} must be a positive integer, got {value!r}", value=value)
    return int(value)


def nonnegative_int(value, name: str, owner: str) -> int:
    """`value` as an int >= 0, or a `CostGraphError` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise CostGraphError(f"{owner}: {name} must be a non-negative integer, got {value!r}", value=value)
    return int(value)


def pair(value, name: str, owner: str, *, allow_zero: bool = False) -> tuple[int, int]:
    """An int or a pair of ints as a checked ``(height, width)`` pair."""
    check = nonnegative_int if allow_zero else positive_int
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise CostGraphError(f"{owner}: {name} must be an int or a pair, got {value!r}", value=value)
        return (check(value[0], name, owner), check(value[1], name, owner))
    value = check(value, name, owner)
    return (value, value)
