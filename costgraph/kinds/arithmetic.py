"""Elementwise arithmetic on tensors: sums, differences, products, quotients, with broadcasting.

* `Add`, `Sub`, `Mul`, `Div`: two (or more) tensors, broadcast as numpy/torch do;
* `ScalarOp`: a tensor and a Python number (``x + 3``, ``x / 6``);
* `Scale`: a product by a constant (attention scores by ``1/sqrt(d)``);
* `LayerScale`: ConvNeXt's learned per-channel scale, whose ``C`` parameters count.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .activation import Elementwise
from .base import LayerKind, ParameterFree, Saved, format_shape, numel, positive_int, register_kind, wants_grad

__all__ = ['Add', 'Sub', 'Mul', 'Div', 'ScalarOp', 'Scale', 'LayerScale', 'broadcast_shapes', 'Binary', 'BINARY_OPS', 'Ternary', 'TERNARY_OPS']


def broadcast_shapes(kind: str, *shapes) -> tuple:
    """numpy/torch broadcasting of symbolic shapes; sizes must be equal or 1.

    Two symbolic sizes are equal when their canonical forms are (FloorDiv keeps
    one form per value, so ``floor((H-1)/2) + 1`` and ``floor((H+1)/2)`` agree).

    >>> from costgraph.symbols import N, H, W
    >>> broadcast_shapes("Mul", (N, 64, H, W), (N, 64, 1, 1))
    (N, 64, H, W)
    """
    rank = max(len(s) for s in shapes)
    padded = [(sympy.Integer(1),) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(rank):
        sizes = {s[axis] for s in padded} - {sympy.Integer(1)}
        if len(sizes) > 1:
            raise ShapeError(
                f"{kind} cannot broadcast shapes {' and '.join(format_shape(s) for s in shapes)}: "
                f"dimension {axis} differs ({', '.join(str(x) for x in sizes)})",
                value=shapes,
            )
        out.append(sizes.pop() if sizes else sympy.Integer(1))
    return tuple(out)


class _Elementwise2(ParameterFree):
    arity = None  # two or more inputs

    def output_shape(self, *inputs):
        if len(inputs) < 2:
            raise ShapeError(f"{self.kind} takes at least two inputs, got {len(inputs)}", value=len(inputs))
        return broadcast_shapes(self.kind, *inputs)

    @property
    def materializes(self):
        return not getattr(self, "inplace", False)

    def other_flops(self, out, *inputs):
        # one operation per output element for each input after the first
        return numel(out) * (len(inputs) - 1)

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: ``add`` or ``mul``, per output element per extra input."""
        return {self.kind.lower(): numel(out) * (len(inputs) - 1)}

    def _first_operand_kept(self, inputs):
        """What autograd keeps of ``a`` (in ``a * b``, ``a / b``) for ``b``'s gradient: ``a`` itself,
        or a copy of it when the op runs in place (``a.mul_(b)`` overwrites ``a``)."""
        return Saved.extra(numel(inputs[0])) if self.inplace else Saved.input(0)


@register_kind
@dataclass(frozen=True)
class Add(_Elementwise2):
    """Elementwise sum (a residual connection), with broadcasting.

    ``inplace=True`` (``out += identity`` in torchvision's ResNet) makes no new tensor.
    """

    inplace: bool = False

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing: the gradient passes through (summed over broadcast axes)."""
        return ()


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
class Mul(_Elementwise2):
    """Elementwise product with broadcasting (squeeze-and-excitation scaling)."""

    inplace: bool = False

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Each factor, kept for the gradient of the other (``mul``'s derivative formula).

        In place (``a.mul_(b)``), ``a`` is overwritten, so autograd keeps a
        copy of it when ``b`` needs a gradient.

        Raises
        ------
        CostGraphError
            For more than two factors (a chain of products keeps its
            intermediate products; build it from two-input `Mul` layers).

        >>> from costgraph.symbols import N, H, W
        >>> x, s = (N, 64, H, W), (N, 64, 1, 1)
        >>> [e.index for e in Mul().saved_tensors(x, s, x)]       # the input, then the scale
        [1, 0]
        >>> Mul().saved_tensors(x, s, x, needs_input_grad=(True, False))
        (Saved(source='input', index=1, numel=None, element='activation'),)
        """
        if len(inputs) != 2:
            raise CostGraphError(f"Mul: the saved-tensor rule covers two factors, got {len(inputs)}", value=len(inputs))
        saved = []
        if wants_grad(needs_input_grad, 0):
            saved.append(Saved.input(1))
        if wants_grad(needs_input_grad, 1):
            saved.append(self._first_operand_kept(inputs))
        return tuple(saved)


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
            saved.append(self._first_operand_kept(inputs))
        return tuple(saved)


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

    def flop_terms(self, out, x):
        """Cost term for `costgraph.conventions`: an add (add, sub), a product (mul, div) or, for
        another op, an elementwise function (``unary``) per element.  (Elementwise's default named
        the term ``scalarop``, which no convention knows, so every tool preset refused the layer.)"""
        term = {"add": "add", "sub": "add", "mul": "mul", "div": "mul"}.get(self.op, "unary")
        return {term: numel(out)}

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
class Scale(ParameterFree):
    """Multiply by a constant (attention scores by ``1/sqrt(d)``): 1 FLOP per element.

    `factor` only documents the constant; it never enters a count.
    """

    factor: float = 1.0

    def output_shape(self, x):
        return tuple(x)

    def other_flops(self, out, x):
        return numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient is scaled by the same constant."""
        return ()

    def flop_terms(self, out, x):
        """One product per element (`costgraph.conventions`)."""
        return {"mul": numel(out)}


@register_kind
@dataclass(frozen=True)
class LayerScale(LayerKind):
    """Multiply each channel of ``(N, C, H, W)`` by a learned scale: ConvNeXt's ``layer_scale``.

    torchvision's CNBlock holds ``nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)``
    and computes ``self.layer_scale * self.block(input)``: `channels`
    parameters (counted as weights; `init` is their initial value and costs
    nothing), one multiplication per element, and a new tensor.

    Raises
    ------
    CostGraphError
        If `channels` is not a positive integer.
    ShapeError
        If the input is not 4-d with `channels` channels.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> scale = LayerScale(96)
    >>> scale.weights((N, 96, H, W)), scale.biases((N, 96, H, W))
    (96, 0)
    >>> scale.other_flops((N, 96, H, W), (N, 96, H, W))
    96*H*N*W
    """

    channels: int
    init: float = 1e-6

    def __post_init__(self):
        positive_int(self.channels, "channels", "LayerScale")

    def output_shape(self, x):
        self.check_rank(x, 4)
        if x[1] != self.channels:
            raise ShapeError(f"LayerScale expects {self.channels} channels, got {x[1]}", value=x[1])
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.channels)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return numel(out)

    def flop_terms(self, out, x):
        """One product per element (`costgraph.conventions`)."""
        return {"mul": numel(out)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, for the scale's gradient (the scale itself is a parameter)."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: elementwise products and per-channel sums."""
        return sympy.Integer(0)


# -- elementwise functions of two or three tensors, added for ATen import (branch ops) -----------

#: op -> what backward keeps when both operands are tensors, and when one is a number (the
#: tensor is then input 0), per derivatives.yaml and measured with saved_tensors_hooks:
#: "input0"/"input1" an operand, "output" the result
BINARY_OPS = {
    "pow": (("input0", "input1", "output"), ("input0", "output")),  # pow_backward_self/_exponent; 2 ** x keeps x, result
    "floor_divide": ((), ()),  # zeros_like(grad): no gradient
    "remainder": (("input0", "input1"), ()),  # other: -grad * self.div(other, rounding_mode="floor")
    "fmod": (("input0", "input1"), ()),  # other: -grad * self.div(other, rounding_mode="trunc")
    "atan2": (("input0", "input1"), ("input0",)),  # atan2_backward(grad, self, other, ...)
}


@register_kind
@dataclass(frozen=True)
class Binary(ParameterFree):
    """An elementwise function of two operands named by `op` (one of `BINARY_OPS`), with broadcasting:
    ``torch.pow(a, b)``, ``2 ** x``, ``a // b``, ``a % b``, ``torch.fmod``, ``torch.atan2``.

    One or two tensor inputs: a number operand is not an input (``x % 3``,
    ``2 ** x``).  1 FLOP per output element.  Backward keeps what
    `BINARY_OPS` says (``pow`` of two tensors: both operands and the result;
    ``floor_divide``: nothing, it has no gradient).

    Raises
    ------
    CostGraphError
        If `op` is not one of `BINARY_OPS`.
    ShapeError
        If the inputs do not broadcast, or there are more than two.

    >>> from costgraph.symbols import N, S
    >>> Binary("pow").output_shape((N, 1, S), (8, 1))
    (N, 8, S)
    >>> [s.source for s in Binary("pow").saved_tensors((N, 8, S), (N, 1, S), (8, 1))]
    ['input', 'input', 'output']
    >>> Binary("floor_divide").saved_tensors((N, S), (N, S))
    ()
    """

    op: str
    arity = None

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it
        (pow/floor_divide/remainder/fmod/atan2 are no module, no op ptflops patches (only torch.add/mul,
        Tensor.add/mul), and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every tool
        preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def __post_init__(self):
        if self.op not in BINARY_OPS:
            raise CostGraphError(f"Binary: op must be one of {', '.join(BINARY_OPS)}, got {self.op!r}", value=self.op)

    def output_shape(self, *inputs):
        if not 1 <= len(inputs) <= 2:
            raise ShapeError(f"Binary {self.op}: one or two tensor inputs, got {len(inputs)}", value=len(inputs))
        return broadcast_shapes(f"Binary {self.op}", *inputs)

    def other_flops(self, out, *inputs):
        return numel(out)

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """The operands and result `BINARY_OPS` names for this many tensor inputs."""
        both, one = BINARY_OPS[self.op]
        rule = both if len(inputs) == 2 else one
        return tuple(Saved.output() if what == "output" else Saved.input(int(what[-1])) for what in rule)


#: op -> (FLOPs per element with value 1, FLOPs with another value)
TERNARY_OPS = {"addcmul": (2, 3), "addcdiv": (2, 3), "lerp": (3, 3)}


@register_kind
@dataclass(frozen=True)
class Ternary(ParameterFree):
    """``torch.addcmul(x, t1, t2, value)`` (``x + value * t1 * t2``), ``addcdiv`` (``x + value * t1 / t2``)
    and ``torch.lerp(start, end, weight)`` (``start + weight * (end - start)``), with broadcasting.

    Inputs: the three tensors, or for ``lerp`` with a number weight the two
    (`value` is then the weight).  FLOPs per output element: addcmul and
    addcdiv 2 (product or quotient, sum), 3 when `value` is not 1 (its
    product); lerp 3.  Saved (measured with ``saved_tensors_hooks``):
    addcmul and addcdiv keep ``t1`` and ``t2``; lerp with a tensor weight
    keeps all three, with a number nothing.

    Raises
    ------
    CostGraphError
        If `op` is not one of `TERNARY_OPS`.
    ShapeError
        If the inputs do not broadcast, or their number does not fit `op`.

    >>> from costgraph.symbols import N
    >>> x = (N, 8)
    >>> Ternary("addcmul", 0.5).other_flops(x, x, x, x), Ternary("addcmul").other_flops(x, x, x, x)
    (24*N, 16*N)
    >>> [s.index for s in Ternary("addcdiv").saved_tensors(x, x, x, x)], Ternary("lerp", 0.3).saved_tensors(x, x, x)
    ([1, 2], ())
    """

    op: str
    value: float = 1.0
    arity = None

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (addcmul/addcdiv/lerp are no module,
        no op ptflops patches, and no aten handle in fvcore, FlopCounterMode or ptflops' aten backend): every
        tool preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def __post_init__(self):
        if self.op not in TERNARY_OPS:
            raise CostGraphError(f"Ternary: op must be one of {', '.join(TERNARY_OPS)}, got {self.op!r}", value=self.op)

    def output_shape(self, *inputs):
        allowed = (2, 3) if self.op == "lerp" else (3,)
        if len(inputs) not in allowed:
            raise ShapeError(f"Ternary {self.op}: {len(inputs)} tensor inputs", value=len(inputs))
        return broadcast_shapes(f"Ternary {self.op}", *inputs)

    def other_flops(self, out, *inputs):
        plain, scaled = TERNARY_OPS[self.op]
        return numel(out) * (plain if self.value == 1 else scaled)

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """addcmul/addcdiv: ``t1`` and ``t2``; lerp: all three tensors (none with a number weight)."""
        if self.op == "lerp":
            return tuple(Saved.input(i) for i in range(3)) if len(inputs) == 3 else ()
        return (Saved.input(1), Saved.input(2))
