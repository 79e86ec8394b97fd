"""Converters: losses computed in ``forward`` (``cross_entropy``, ``nll_loss``, ``mse_loss``)."""

from __future__ import annotations

from ...kinds.activation import LogSoftmax
from ...kinds.loss import MSELoss, NLLLoss
from .table import TensorValue, aten_converter

#: torch's reduction enum (``torch.nn._reduction``): 0 none, 1 mean, 2 sum
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(call, index):
    value = call.arg(index, "reduction", 1)
    return _REDUCTIONS.get(value, value)


@aten_converter("aten::cross_entropy_loss")
def cross_entropy(call):
    """``F.cross_entropy(x, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0)``
    with class indices: ``log_softmax`` over the classes (dim 1, or 0 unbatched), then ``nll_loss``.
    Class weights, label smoothing and probability targets are refused (no kind yet)."""
    x, target = call.args[0], call.args[1]
    if call.arg(2, "weight") is not None or call.arg(5, "label_smoothing", 0.0):
        call.unsupported("cross_entropy with class weights or label smoothing")
    if not isinstance(target, TensorValue) or len(target.shape) != len(x.shape) - 1:
        call.unsupported("cross_entropy with class probabilities as the target")
    logp = call.add(LogSoftmax(1 if len(x.shape) > 1 else 0), x)
    return call.add(NLLLoss(_reduction(call, 3)), logp, target)


@aten_converter("aten::nll_loss", "aten::nll_loss_nd", "aten::nll_loss2d")
def nll_loss(call):
    """``F.nll_loss(logp, target, weight=None, reduction="mean", ignore_index=-100)``."""
    if call.arg(2, "weight") is not None:
        call.unsupported("nll_loss with class weights")
    return call.add(NLLLoss(_reduction(call, 3)), call.args[0], call.args[1])


@aten_converter("aten::mse_loss")
def mse_loss(call):
    """``F.mse_loss(x, target, reduction="mean")`` (export broadcasts the operands first)."""
    return call.add(MSELoss(_reduction(call, 2)), call.args[0], call.args[1])
