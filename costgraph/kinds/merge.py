"""Layers that combine several inputs: residual Add, elementwise Mul, channel Concat."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from ..errors import CostGraphError
from .base import ParameterFree, Saved, format_shape, numel, register_kind, wants_grad

__all__ = ["Add", "Mul", "Concat", "broadcast_shapes"]


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
            saved.append(Saved.extra(numel(inputs[0])) if self.inplace else Saved.input(0))
        return tuple(saved)


@register_kind
@dataclass(frozen=True)
class Concat(ParameterFree):
    """Concatenation along `dim` (default: channels), as ``torch.cat``.

    It writes a new tensor (counted as an activation) and does no arithmetic.

    >>> from costgraph.symbols import N, H, W
    >>> Concat().output_shape((N, 64, H, W), (N, 32, H, W))
    (N, 96, H, W)
    """

    dim: int = 1
    arity = None

    def output_shape(self, *inputs):
        if not inputs:
            raise ShapeError("Concat takes at least one input", value=0)
        rank = len(inputs[0])
        if any(len(s) != rank for s in inputs) or not -rank <= self.dim < rank:
            raise ShapeError(
                f"Concat along dim {self.dim} needs inputs of one rank, got "
                f"{' and '.join(format_shape(s) for s in inputs)}",
                value=inputs,
            )
        dim = self.dim % rank
        for axis in range(rank):
            if axis != dim and len({s[axis] for s in inputs}) > 1:
                raise ShapeError(
                    f"Concat along dim {dim}: dimension {axis} differs between inputs "
                    f"{' and '.join(format_shape(s) for s in inputs)}",
                    value=inputs,
                )
        out = list(inputs[0])
        out[dim] = sympy.expand(sympy.Add(*[s[dim] for s in inputs]))
        return tuple(out)

    def flop_terms(self, out, *inputs):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def other_flops(self, out, *inputs):
        return sympy.Integer(0)

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing: the gradient is sliced back into the inputs' parts."""
        return ()
