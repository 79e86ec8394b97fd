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
from ..symbols import as_formula

__all__ = [
    "Shape",
    "Constraint",
    "Saved",
    "ELEMENT_CLASSES",
    "wants_grad",
    "LayerKind",
    "ParameterFree",
    "View",
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


#: what a tensor holds, which fixes its element size (see `costgraph.memory.element_bytes`): the
#: activation dtype, int64 indices, dropout's mask, normalization statistics, then the fixed
#: dtypes of tensors no gradient flows through (comparison results, other integers)
ELEMENT_CLASSES = ("activation", "index", "mask", "statistic", "bool", "int32", "int16", "int8", "uint8")


@dataclass(frozen=True)
class Saved:
    """One tensor a layer's backward needs, as autograd keeps it.

    Build it with `Saved.input`, `Saved.output` or `Saved.extra`:

    * ``Saved.input(i)``: the layer's input `i` (its storage, shared with
      whatever else keeps it, in the dtype of the layer that made it:
      `LayerKind.output_element`, a bool mask 1 byte an element);
    * ``Saved.output()``: the layer's output (for an in-place layer, the
      storage of its input);
    * ``Saved.extra(numel, element)``: a tensor the layer makes only for its
      backward, `numel` elements of class `element`: ``"activation"`` (the
      activation dtype; e.g. the copy an in-place Hardswish keeps),
      ``"index"`` (int64, max pooling's argmax), ``"mask"`` (dropout's
      mask: bool on CUDA, the activation dtype on the CPU) or
      ``"statistic"`` (batch norm's per-channel mean and inverse std: fp32
      for 16-bit activations on CUDA, the activation dtype on the CPU).

    Parameters (weights) that autograd also keeps are not declared: they
    are counted once, as parameters.

    >>> Saved.input(0), Saved.extra(64, "index").element
    (Saved(source='input', index=0, numel=None, element='activation'), 'index')
    """

    source: str
    index: int = 0
    numel: object = None
    element: str = "activation"

    @classmethod
    def input(cls, index: int = 0) -> "Saved":
        """Input `index` of the layer."""
        return cls("input", index)

    @classmethod
    def output(cls) -> "Saved":
        """The layer's output."""
        return cls("output")

    @classmethod
    def extra(cls, numel, element: str = "activation") -> "Saved":
        """A new tensor of `numel` elements of class `element`, kept only for backward.

        Raises
        ------
        CostGraphError
            If `element` is not one of `ELEMENT_CLASSES`.
        """
        if element not in ELEMENT_CLASSES:
            raise CostGraphError(f"Saved.extra: element must be one of {ELEMENT_CLASSES}, got {element!r}", value=element)
        return cls("extra", 0, as_formula(numel, owner="Saved.extra", what="numel"), element)


def wants_grad(needs_input_grad, index: int) -> bool:
    """Whether input `index` needs a gradient (`needs_input_grad`: None for all, or a tuple of bools)."""
    return True if needs_input_grad is None else bool(needs_input_grad[index])


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

    # -- training: what backward keeps and computes (see costgraph.memory) --------
    # Not abstract, so kinds written before these rules still build networks,
    # but never a silent zero: a kind that declares nothing makes
    # `Network.memory` (and backward totals) raise, naming the kind.
    def saved_tensors(self, out: Shape, *inputs: Shape, needs_input_grad=None) -> tuple:
        """The tensors autograd keeps for this layer's backward, as `Saved` entries.

        `needs_input_grad` (None for all, else a bool per input) says which
        inputs need a gradient; it matters to kinds such as `Mul`, which keep
        each factor only for the other's gradient.  Called only for layers
        that autograd records (some input needs a gradient, or the layer has
        parameters).

        Raises
        ------
        CostGraphError
            Always, here: a kind states its own rule.
        """
        raise CostGraphError(f"{self.kind} declares no saved_tensors rule (what autograd keeps for its backward)")

    def backward_macs(self, out: Shape, *inputs: Shape, needs_input_grad=None) -> sympy.Expr:
        """Multiply-accumulates of the backward pass: gradients of the inputs and of the weights.

        Only the products counted as forward `macs` have backward MACs (a
        convolution's or a matrix product's); elementwise gradients are not
        MACs.  The gradient of an input that needs none is not computed.

        Raises
        ------
        CostGraphError
            Always, here: a kind states its own rule.
        """
        raise CostGraphError(f"{self.kind} declares no backward_macs rule")

    def output_element(self, *inputs: str) -> str:
        """The element class of the output (one of `ELEMENT_CLASSES`), given the inputs' classes.

        ``"activation"`` (the network's dtype) unless the kind makes
        another dtype: a comparison's ``"bool"``, an argmax's int64
        ``"index"``.  An importer that knows the real dtype of a tensor
        (torch.export's ``meta["val"].dtype``) states it for the layer
        instead (`costgraph.memory.set_output_element`).  A tensor that is
        not ``"activation"`` has no gradient, and where autograd keeps it,
        its bytes are its own dtype's.
        """
        return "activation"

    def input_element(self, index: int) -> str | None:
        """The element class input `index` must have (an embedding's int64 ids), or None for any.

        A network input that states no class of its own takes it from
        the layer that reads it (`costgraph.memory.output_elements`).
        """
        return None

    def output_alias(self, training: bool) -> int | None:
        """Index of the input whose storage the output shares (in place, view), or None if new.

        `training` is True for a training forward pass (dropout then makes a
        new tensor) and False for inference.  By default it follows
        `materializes`: a layer that makes no new tensor works on input 0.
        """
        return None if self.materializes else 0

    def buffers(self, *inputs: Shape) -> tuple:
        """Non-parameter state the layer keeps (batch norm's running statistics).

        A tuple of ``(numel, dtype)`` pairs; `dtype` is ``"activation"``
        (the model's dtype) or a fixed name such as ``"int64"``.  Most kinds
        have none.
        """
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


class ParameterFree(LayerKind):
    """Base of kinds with no parameters and no matrix products: activations, pools, views, ...

    It states, once, the zeros such a kind would otherwise write out: no
    weights, no biases, no multiply-accumulates, and so no backward
    multiply-accumulates either (only the products counted as `macs` have
    any).  A subclass still states its own `output_shape`, `other_flops`
    and `saved_tensors` (and ``flop_terms`` for the conventions); a kind
    with a parameter or a matrix product is not parameter-free and states
    its own costs.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from costgraph.kinds import ParameterFree, numel
    >>> from costgraph.symbols import N
    >>> @dataclass(frozen=True)
    ... class Negate(ParameterFree):
    ...     '''Elementwise -x: one FLOP per element.'''
    ...     def output_shape(self, x): return x
    ...     def other_flops(self, out, x): return numel(out)
    ...     def saved_tensors(self, out, x, needs_input_grad=None): return ()
    >>> x = (N, 8)
    >>> Negate().weights(x), Negate().macs(x, x), Negate().backward_macs(x, x), Negate().other_flops(x, x)
    (0, 0, 0, 8*N)
    """

    def weights(self, *inputs: Shape) -> sympy.Expr:
        """None: the kind has no parameters."""
        return sympy.Integer(0)

    def biases(self, *inputs: Shape) -> sympy.Expr:
        """None: the kind has no parameters."""
        return sympy.Integer(0)

    def macs(self, out: Shape, *inputs: Shape) -> sympy.Expr:
        """None: the kind has no matrix product."""
        return sympy.Integer(0)

    def backward_macs(self, out: Shape, *inputs: Shape, needs_input_grad=None) -> sympy.Expr:
        """None: without a forward product, the gradients have no products to accumulate."""
        return sympy.Integer(0)


class View(ParameterFree):
    """Base of views (``Tensor.view``, ``permute``, ``transpose``, slicing): no new tensor, no arithmetic.

    A view shares its input's storage (`materializes` is False, so in the
    memory model `output_alias` is input 0), does no arithmetic
    (`other_flops` 0, no cost terms for the conventions) and keeps nothing
    for its backward, which only reshapes the gradient (or sums it, for an
    expand).  A subclass states only its `output_shape`.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from costgraph.kinds import View
    >>> from costgraph.symbols import N
    >>> @dataclass(frozen=True)
    ... class Squeeze(View):
    ...     '''``x.squeeze(dim)`` of a size-1 dimension.'''
    ...     dim: int
    ...     def output_shape(self, x): return x[: self.dim] + x[self.dim + 1 :]
    >>> x = (N, 1, 768)
    >>> Squeeze(1).output_shape(x), Squeeze(1).materializes, Squeeze(1).output_alias(training=True)
    ((N, 768), False, 0)
    >>> Squeeze(1).other_flops((N, 768), x), Squeeze(1).flop_terms((N, 768), x), Squeeze(1).saved_tensors((N, 768), x)
    (0, {}, ())
    """

    @property
    def materializes(self) -> bool:
        """False: the output is the input's storage."""
        return False

    def other_flops(self, out: Shape, *inputs: Shape) -> sympy.Expr:
        """None: a view does no arithmetic."""
        return sympy.Integer(0)

    def flop_terms(self, out: Shape, *inputs: Shape) -> dict:
        """A view: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out: Shape, *inputs: Shape, needs_input_grad=None) -> tuple:
        """Nothing: a view's backward only reshapes the gradient (sums it, for an expand)."""
        return ()


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
    # The same class defined again by re-running its module (a reload, a notebook
    # cell) may replace itself; a class from anywhere else may not.
    same_definition = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if existing is not None and existing is not cls and not same_definition:
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
