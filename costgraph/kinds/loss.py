"""Losses a model's ``forward`` may compute: `NLLLoss` (``cross_entropy`` is a `LogSoftmax` then this)
and `MSELoss`.

``reduction`` is torch's: "mean" (a 0-d output), "sum" (0-d) or "none"
(one value per sample or element).  FLOPs: one per element combined, and
one division for the mean.  No counting tool weighs a loss (FlopCounterMode
counts 0), so they declare no cost terms.  Saved (measured with
``saved_tensors_hooks``): ``nll_loss`` keeps its input, the int64 target and
a 0-d total weight; ``mse_loss`` both of its operands.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .base import ParameterFree, Saved, format_shape, numel, register_kind

__all__ = ["NLLLoss", "MSELoss", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum", "none")


def _reduction(owner, reduction):
    if reduction not in REDUCTIONS:
        raise CostGraphError(f"{owner}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}", value=reduction)


@register_kind
@dataclass(frozen=True)
class NLLLoss(ParameterFree):
    """``F.nll_loss(logp, target, reduction)``: minus the log-probability of each target class.

    Inputs: log-probabilities (N, C) or (N, C, d1, ...) and the int64 target
    (N,) or (N, d1, ...).  FLOPs: one per target element (its negated value
    summed, or written for "none"), and one division for "mean".  Saved:
    the input, the target and a one-element total weight.

    Raises
    ------
    CostGraphError
        For an unknown `reduction`.
    ShapeError
        If the target's shape is not the input's without its class dimension.

    >>> from costgraph.symbols import N, S
    >>> loss = NLLLoss()
    >>> loss.output_shape((N * S, 32000), (N * S,)), loss.other_flops((), (N * S, 32000), (N * S,))
    ((), N*S + 1)
    >>> NLLLoss("none").output_shape((N, 10, S), (N, S))
    (N, S)
    """

    reduction: str = "mean"
    arity = 2

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (nn.NLLLoss has no hook in thop or
        ptflops and no parameters for torchinfo; aten::nll_loss* has no handle in fvcore, FlopCounterMode or
        ptflops' aten backend): every tool preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def __post_init__(self):
        _reduction("NLLLoss", self.reduction)

    def output_shape(self, logp, target):
        expected = tuple(logp[:1]) + tuple(logp[2:]) if len(logp) > 1 else ()
        if len(target) != len(expected) or any(sympy.expand(a - b) != 0 for a, b in zip(target, expected)):
            raise ShapeError(f"NLLLoss: target {format_shape(target)} does not fit input {format_shape(logp)}", value=target)
        return tuple(target) if self.reduction == "none" else ()

    def other_flops(self, out, logp, target):
        return numel(target) + (1 if self.reduction == "mean" else 0)

    def saved_tensors(self, out, logp, target, needs_input_grad=None):
        """The input, the target and the 0-d total weight."""
        return (Saved.input(0), Saved.input(1), Saved.extra(1, "activation"))


@register_kind
@dataclass(frozen=True)
class MSELoss(ParameterFree):
    """``F.mse_loss(x, target, reduction)``: the squared differences, summed or averaged.

    FLOPs per element: subtraction, square and (reduced) sum, 3; for "none"
    2; one division more for "mean".  Saved: both operands.

    Raises
    ------
    CostGraphError
        For an unknown `reduction`.
    ShapeError
        If the shapes differ.

    >>> from costgraph.symbols import N
    >>> MSELoss().output_shape((N, 8), (N, 8)), MSELoss().other_flops((), (N, 8), (N, 8))
    ((), 24*N + 1)
    """

    reduction: str = "mean"
    arity = 2

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (nn.MSELoss has no hook in thop or
        ptflops and no parameters for torchinfo; aten::mse_loss has no handle in fvcore, FlopCounterMode or
        ptflops' aten backend): every tool preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def __post_init__(self):
        _reduction("MSELoss", self.reduction)

    def output_shape(self, x, target):
        if len(x) != len(target) or any(sympy.expand(a - b) != 0 for a, b in zip(x, target)):
            raise ShapeError(f"MSELoss: input {format_shape(x)} and target {format_shape(target)} differ", value=target)
        return tuple(x) if self.reduction == "none" else ()

    def other_flops(self, out, x, target):
        if self.reduction == "none":
            return 2 * numel(x)
        return 3 * numel(x) + (1 if self.reduction == "mean" else 0)

    def saved_tensors(self, out, x, target, needs_input_grad=None):
        """Both operands."""
        return (Saved.input(0), Saved.input(1))
