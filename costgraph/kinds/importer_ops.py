"""Kinds the model importers need for operations that are not ``torch.nn`` modules.

* `Parameter`: a learned tensor used directly in ``forward`` (``self.scale * x``);
* `ScalarOp`: a tensor combined with a Python number (``x + 3``, ``x / 6``);
* `Sub`, `Div`: elementwise difference and quotient of tensors, with broadcasting;
* `Sum`: a sum over dimensions (``x.sum(1)``), the companion of `Mean`;
* `Contiguous`: ``.contiguous()`` on a permuted tensor, which copies it;
* `Expand`: ``x.expand(...)``, a broadcasting view (ViT's class token);
* `Select`: ``x[:, 0]``, a view without the indexed dimension.

Matrix products and attention are `costgraph.kinds.attention`'s `MatMul`,
`BatchMatMul` and `ScaledDotProductAttention`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .activation import Elementwise
from .base import LayerKind, ParameterFree, Saved, View, numel, register_kind, wants_grad
from .merge import _Elementwise2, broadcast_shapes

__all__ = ["Parameter", "ScalarOp", "Sub", "Div", "Sum", "Contiguous", "MatMul", "ScaledDotProductAttention"]


@register_kind
@dataclass(frozen=True)
class Parameter(LayerKind):
    """A learned tensor of fixed `shape` fed to other layers (no batch dimension).

    Its elements are weights when `trainable` (an ``nn.Parameter``), nothing
    when not (a buffer).  It is not an activation: it exists once, whatever
    the batch.

    >>> scale = Parameter((96, 1, 1))
    >>> scale.output_shape(), scale.weights(), scale.materializes
    ((96, 1, 1), 96, False)
    """

    shape: tuple
    trainable: bool = True
    arity = 0

    def __post_init__(self):
        dims = tuple(sympy.Integer(d) for d in self.shape)
        if any(d < 1 for d in dims):
            raise CostGraphError(f"Parameter: sizes must be positive integers, got {self.shape}", value=self.shape)
        object.__setattr__(self, "shape", dims)

    @property
    def materializes(self):
        return False

    def output_shape(self):
        return self.shape

    def weights(self):
        return numel(self.shape) if self.trainable else sympy.Integer(0)

    def biases(self):
        return sympy.Integer(0)

    def macs(self, out):
        return sympy.Integer(0)

    def other_flops(self, out):
        return sympy.Integer(0)

    def saved_tensors(self, out, needs_input_grad=None):
        """Nothing: a parameter is data; its bytes are parameters, not activations."""
        return ()

    def backward_macs(self, out, needs_input_grad=None):
        """None."""
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class ScalarOp(Elementwise):
    """A tensor combined with a Python number (`op` is "add", "sub", "mul", "div", "pow", ...).

    One FLOP per element; ``inplace=True`` (``x += 1``) makes no new tensor.

    >>> from costgraph.symbols import N
    >>> ScalarOp("add").other_flops((N, 8), (N, 8))
    8*N
    """

    op: str = "mul"
    inplace: bool = False

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing for ``x + c``, ``x - c``, ``x * c``, ``x / c`` (their gradients need only ``c``).

        Raises
        ------
        CostGraphError
            For another op (``x ** c`` keeps ``x``; ``c / x`` keeps ``1/x``):
            no rule is declared for it.
        """
        if self.op in ("add", "sub", "mul", "div"):
            return ()
        raise CostGraphError(f"ScalarOp: no saved-tensor rule for op {self.op!r}", value=self.op)


@register_kind
@dataclass(frozen=True)
class Sub(_Elementwise2):
    """Elementwise difference with broadcasting: one FLOP per output element."""

    inplace: bool = False

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing: the gradients are the output's, negated for the second input."""
        return ()


@register_kind
@dataclass(frozen=True)
class Div(_Elementwise2):
    """Elementwise quotient with broadcasting: one FLOP per output element."""

    inplace: bool = False

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """``a / b`` keeps ``b`` for either gradient and ``a`` for ``b``'s (``derivatives.yaml``).

        In place (``a.div_(b)``), ``a`` is overwritten, so autograd keeps a
        copy of it when ``b`` needs a gradient.

        Raises
        ------
        CostGraphError
            For other than two inputs.
        """
        if len(inputs) != 2:
            raise CostGraphError(f"Div: the saved-tensor rule covers two inputs, got {len(inputs)}", value=len(inputs))
        saved = []
        if wants_grad(needs_input_grad, 0) or wants_grad(needs_input_grad, 1):
            saved.append(Saved.input(1))
        if wants_grad(needs_input_grad, 1):
            saved.append(Saved.extra(numel(inputs[0])) if self.inplace else Saved.input(0))
        return tuple(saved)


@register_kind
@dataclass(frozen=True)
class Sum(ParameterFree):
    """Sum over the dimensions `dims`, as ``Tensor.sum(dims, keepdim)``.

    FLOPs: ``numel(input) - numel(output)`` additions.

    Raises
    ------
    ShapeError
        If a dimension is out of range or repeated.

    >>> from costgraph.symbols import N, H, W
    >>> Sum((1,), keepdim=True).output_shape((N, 8, H, W))
    (N, 1, H, W)
    """

    dims: tuple
    keepdim: bool = False

    def __post_init__(self):
        dims = tuple(self.dims) if isinstance(self.dims, (tuple, list)) else (self.dims,)
        if any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
            raise CostGraphError(f"Sum: dims must be ints, got {self.dims!r}", value=self.dims)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "keepdim", bool(self.keepdim))

    def output_shape(self, x):
        rank = len(x)
        if any(not -rank <= d < rank for d in self.dims) or len({d % rank for d in self.dims}) != len(self.dims):
            raise ShapeError(f"Sum: dims {self.dims} do not fit a {rank}-d input", value=self.dims)
        axes = {d % rank for d in self.dims}
        if self.keepdim:
            return tuple(sympy.Integer(1) if a in axes else d for a, d in enumerate(x))
        return tuple(d for a, d in enumerate(x) if a not in axes)

    def other_flops(self, out, x):
        return numel(x) - numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: ``sum``'s gradient needs only the input's sizes."""
        return ()


@register_kind
@dataclass(frozen=True)
class Contiguous(ParameterFree):
    """``.contiguous()`` on a tensor whose memory is not in order: a copy, no arithmetic."""

    def output_shape(self, x):
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: a copy's gradient is the output's."""
        return ()


@register_kind
@dataclass(frozen=True)
class Expand(View):
    """Broadcast to `shape` without copying, as ``Tensor.expand`` (-1 keeps a size): a view.

    `shape` is the whole output shape (batch first); new dimensions go in
    front, as torch puts them.

    Raises
    ------
    ShapeError
        If `shape` is shorter than the input, or an input size is neither 1
        nor the requested size.

    >>> from costgraph.symbols import N
    >>> Expand((N, -1, -1)).output_shape((1, 1, 768))     # ViT's class token, per sample
    (N, 1, 768)
    """

    shape: tuple

    #: like the other importer-only kinds (Parameter, Sum, Contiguous) it declares no
    #: convention terms, so a term-weighing convention refuses it rather than take View's
    flop_terms = None

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(sympy.sympify(d) for d in self.shape))

    def output_shape(self, x):
        new = len(self.shape) - len(x)
        if new < 0:
            raise ShapeError(f"Expand: {len(self.shape)} sizes for a {len(x)}-d input", value=self.shape)
        out = list(self.shape[:new])
        for size, target in zip(x, self.shape[new:]):
            size = sympy.sympify(size)
            if target == -1 or sympy.expand(target - size) == 0:
                out.append(size)
            elif size == 1:
                out.append(target)
            else:
                raise ShapeError(f"Expand: cannot expand size {size} to {target}", value=(size, target))
        if any(d == -1 for d in out[:new]):
            raise ShapeError(f"Expand: -1 is not allowed for a new dimension, got {self.shape}", value=self.shape)
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class Select(View):
    """``x.select(dim, index)`` (``x[:, 0]``): a view without dimension `dim`.

    Raises
    ------
    ShapeError
        If `dim` is out of range or the batch dimension, or `index` does
        not fit a numeric size.

    >>> from costgraph.symbols import N, S
    >>> Select(1, 0).output_shape((N, S + 1, 768))            # ViT's class token out
    (N, 768)
    """

    dim: int
    index: int = 0

    #: like the other importer-only kinds (Parameter, Sum, Contiguous) it declares no
    #: convention terms, so a term-weighing convention refuses it rather than take View's
    flop_terms = None

    def output_shape(self, x):
        if not -len(x) < self.dim < len(x) or self.dim % len(x) == 0:
            raise ShapeError(f"Select: dim {self.dim} does not fit a {len(x)}-d input after its batch", value=self.dim)
        axis = self.dim % len(x)
        size = sympy.sympify(x[axis])
        if self.index < 0 or (size.is_number and self.index >= size):
            raise ShapeError(f"Select: index {self.index} out of range for size {size}", value=self.index)
        return tuple(d for a, d in enumerate(x) if a != axis)

