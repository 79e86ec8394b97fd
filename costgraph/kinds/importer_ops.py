"""Kinds the model importers need for operations that are not ``torch.nn`` modules.

* `Parameter`: a learned tensor used directly in ``forward`` (``self.scale * x``);
* `ScalarOp`: a tensor combined with a Python number (``x + 3``, ``x / 6``);
* `Sub`, `Div`: elementwise difference and quotient of tensors, with broadcasting;
* `Sum`: a sum over dimensions (``x.sum(1)``), the companion of `Mean`;
* `Contiguous`: ``.contiguous()`` on a permuted tensor, which copies it;
* `MatMul`: ``torch.matmul`` with batch broadcasting;
* `ScaledDotProductAttention`: ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .activation import Elementwise
from .base import LayerKind, Saved, format_shape, numel, register_kind, wants_grad
from .merge import _Elementwise2, broadcast_shapes

__all__ = ["Parameter", "ScalarOp", "Sub", "Div", "Sum", "Contiguous", "MatMul", "ScaledDotProductAttention"]


class _NoCost(LayerKind):
    def weights(self, *inputs):
        return sympy.Integer(0)

    def biases(self, *inputs):
        return sympy.Integer(0)

    def macs(self, out, *inputs):
        return sympy.Integer(0)


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
class Sum(_NoCost):
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

    def backward_macs(self, out, x, needs_input_grad=None):
        """None."""
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class Contiguous(_NoCost):
    """``.contiguous()`` on a tensor whose memory is not in order: a copy, no arithmetic."""

    def output_shape(self, x):
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: a copy's gradient is the output's."""
        return ()

    def backward_macs(self, out, x, needs_input_grad=None):
        """None."""
        return sympy.Integer(0)


def _matmul_shapes(a, b, owner):
    """(output shape, contracted size) of ``torch.matmul(a, b)`` for inputs of rank >= 2."""
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(f"{owner}: inputs must be at least 2-d, got {format_shape(a)} and {format_shape(b)}", value=(a, b))
    if sympy.expand(a[-1] - b[-2]) != 0:
        raise ShapeError(
            f"{owner}: inner sizes differ: {format_shape(a)} @ {format_shape(b)} ({a[-1]} vs {b[-2]})", value=(a, b)
        )
    batch = broadcast_shapes(owner, tuple(a[:-2]), tuple(b[:-2]))
    return batch + (a[-2], b[-1]), a[-1]


@register_kind
@dataclass(frozen=True)
class MatMul(_NoCost):
    """Matrix product of two tensors, as ``torch.matmul`` (batch dimensions broadcast).

    MACs: ``numel(output) * k`` for the contracted size ``k``; no other FLOPs.

    Raises
    ------
    ShapeError
        If an input is 1-d, or the inner sizes differ.

    >>> from costgraph.symbols import N, S
    >>> q, kt = (N, 12, S, 64), (N, 12, 64, S)
    >>> MatMul().output_shape(q, kt)
    (N, 12, S, S)
    >>> MatMul().macs((N, 12, S, S), q, kt)
    768*N*S**2
    """

    arity = 2

    def output_shape(self, a, b):
        return _matmul_shapes(a, b, "MatMul")[0]

    def macs(self, out, a, b):
        return numel(out) * _matmul_shapes(a, b, "MatMul")[1]

    def other_flops(self, out, a, b):
        return sympy.Integer(0)


@register_kind
@dataclass(frozen=True)
class ScaledDotProductAttention(_NoCost):
    """``softmax(q k^T * scale + mask) v``, as ``F.scaled_dot_product_attention`` (no dropout).

    For ``q`` of shape ``(..., L, E)``, ``k`` ``(..., S, E)`` and ``v``
    ``(..., S, Ev)``: MACs ``B*L*S*E`` (scores) plus ``B*L*S*Ev`` (weighted
    sum), ``B`` the batch dimensions; other FLOPs per score: one for the
    scale, 5 for the softmax (as `Softmax`), one for a mask or causal mask.
    The output ``(..., L, Ev)`` is a new tensor; the score matrix is an
    intermediate the fused kernel may never store, so it is not counted.

    >>> from costgraph.symbols import N, S
    >>> x = (N, 8, S, 64)
    >>> ScaledDotProductAttention().output_shape(x, x, x)
    (N, 8, S, 64)
    >>> ScaledDotProductAttention().macs((N, 8, S, 64), x, x, x)
    1024*N*S**2
    """

    masked: bool = False
    arity = None

    def _check(self, inputs):
        if len(inputs) not in (3, 4):
            raise ShapeError(f"ScaledDotProductAttention takes q, k, v (and a mask), got {len(inputs)} inputs", value=len(inputs))
        q, k, v = inputs[:3]
        scores, _ = _matmul_shapes(q, tuple(k[:-2]) + (k[-1], k[-2]), "ScaledDotProductAttention")
        out, _ = _matmul_shapes(scores, v, "ScaledDotProductAttention")
        return scores, out

    def output_shape(self, *inputs):
        return self._check(inputs)[1]

    def macs(self, out, *inputs):
        scores, _ = self._check(inputs)
        q, v = inputs[0], inputs[2]
        return numel(scores) * q[-1] + numel(scores) * v[-1]

    def other_flops(self, out, *inputs):
        scores, _ = self._check(inputs)
        per_score = 1 + 5 + (1 if self.masked or len(inputs) == 4 else 0)
        return numel(scores) * per_score
