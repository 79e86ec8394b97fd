"""Converters: normalization (``batch_norm``, ``layer_norm``, ``rms_norm``)."""

from __future__ import annotations

from ...kinds import BatchNorm2d, LayerNorm, RMSNorm
from .table import aten_converter


def _used(call, *buffers):
    """Mark running statistics as read (they are buffers: counted apart, by the kind)."""
    for b in buffers:
        if b is not None and b.param is not None:
            call._importer.used.add(b.param)


@aten_converter("aten::batch_norm")
def batch_norm(call):
    """``batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)``."""
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    if call.arg(5, "training", False):
        call.unsupported("batch norm in training mode")
    if len(x.shape) != 4:
        call.unsupported(f"batch norm of a {len(x.shape)}-d input (costgraph's kind is 2-d)")
    _used(call, call.args[3], call.args[4])
    kind = BatchNorm2d(int(x.shape[1]), float(call.arg(7, "eps", 1e-5)), float(call.arg(6, "momentum", 0.1)), weight is not None)
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::_native_batch_norm_legit_no_training")
def batch_norm_no_training(call):
    """``_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)``: three outputs."""
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    if len(x.shape) != 4:
        call.unsupported(f"batch norm of a {len(x.shape)}-d input (costgraph's kind is 2-d)")
    _used(call, call.args[3], call.args[4])
    kind = BatchNorm2d(int(x.shape[1]), float(call.arg(6, "eps", 1e-5)), float(call.arg(5, "momentum", 0.1)), weight is not None)
    return (call.add(kind, x, owns=(weight, bias)), None, None)


@aten_converter("aten::layer_norm")
def layer_norm(call):
    """``layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)``."""
    x, shape, weight, bias = call.args[0], call.arg(1, "normalized_shape"), call.arg(2, "weight"), call.arg(3, "bias")
    if bias is not None and weight is None:
        call.unsupported("a layer norm with a bias but no weight")
    kind = LayerNorm(tuple(int(d) for d in shape), float(call.arg(4, "eps", 1e-5)), weight is not None, bias is not None)
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::rms_norm")
def rms_norm(call):
    """``rms_norm(input, normalized_shape, weight=None, eps=None)``."""
    x, shape, weight = call.args[0], call.arg(1, "normalized_shape"), call.arg(2, "weight")
    if len(shape) != 1:
        call.unsupported(f"normalized_shape {tuple(shape)} (costgraph's RMSNorm takes the last dimension)")
    eps = call.arg(3, "eps")
    return call.add(RMSNorm(int(shape[0]), None if eps is None else float(eps), weight is not None), x, owns=(weight,))
