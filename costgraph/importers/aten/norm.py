"""Converters: normalization (``batch_norm``, ``layer_norm``, ``rms_norm``)."""

from __future__ import annotations

from ...kinds import LayerNorm, RMSNorm
from ...kinds import norm as norm_kinds
from .table import aten_converter


def _used(call, *buffers):
    """Mark running statistics as read (they are buffers: counted apart, by the kind)."""
    for b in buffers:
        if b is not None and b.param is not None:
            call._importer.used.add(b.param)


def _batch_norm_kind(call, x):
    rank = {2: 1, 3: 1, 4: 2, 5: 3}.get(len(x.shape))
    if rank is None:
        call.unsupported(f"batch norm of a {len(x.shape)}-d input")
    return getattr(norm_kinds, f"BatchNorm{rank}d")


@aten_converter("aten::batch_norm")
def batch_norm(call):
    """``batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)``.

    One kind for both modes, as in the zoo: its counts are inference's and
    its saved tensors a training step's (``from_torch(..., training=True)``
    exports this op with ``training=True``).
    """
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    _used(call, call.args[3], call.args[4])
    kind = _batch_norm_kind(call, x)(int(x.shape[1]), float(call.arg(7, "eps", 1e-5)), float(call.arg(6, "momentum", 0.1)), weight is not None)
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::_native_batch_norm_legit_no_training")
def batch_norm_no_training(call):
    """``_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)``: three outputs."""
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    _used(call, call.args[3], call.args[4])
    kind = _batch_norm_kind(call, x)(int(x.shape[1]), float(call.arg(6, "eps", 1e-5)), float(call.arg(5, "momentum", 0.1)), weight is not None)
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


@aten_converter("aten::group_norm")
def group_norm(call):
    """``group_norm(input, num_groups, weight=None, bias=None, eps=1e-5)``."""
    x, groups, weight, bias = call.args[0], int(call.args[1]), call.arg(2, "weight"), call.arg(3, "bias")
    kind = norm_kinds.GroupNorm(groups, int(x.shape[1]), float(call.arg(4, "eps", 1e-5)), weight is not None, bias is not None)
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::instance_norm")
def instance_norm(call):
    """``instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled)``."""
    x, weight, bias = call.args[0], call.args[1], call.args[2]
    rank = len(x.shape) - 2
    if rank not in (1, 2, 3):
        call.unsupported(f"instance norm of a {len(x.shape)}-d input")
    running = call.args[3] is not None
    if running and call.arg(5, "use_input_stats", True):
        call.unsupported("instance norm with running statistics used in eval mode")
    _used(call, call.args[3], call.args[4])
    kind = getattr(norm_kinds, f"InstanceNorm{rank}d")(
        int(x.shape[1]), float(call.arg(7, "eps", 1e-5)), float(call.arg(6, "momentum", 0.1)), weight is not None, running,
        bias is not None,
    )  # fmt: skip
    return call.add(kind, x, owns=(weight, bias))


@aten_converter("aten::_weight_norm")
def weight_norm(call):
    """``torch._weight_norm(v, g, dim)`` (``nn.utils.parametrizations.weight_norm``, wav2vec2's and
    HuBERT's positional convolution): the layer reading the weight counts ``v``'s elements as its
    own, and ``g`` is counted as a parameter of its own.  Computing ``g * v / ||v||`` works on
    parameters only, once per forward whatever the input's size: it is not counted (no MACs;
    FlopCounterMode counts none either).  Nor, in training, are the computed weight and its norms
    that autograd keeps (as large as v, plus one norm per slice along `dim`): a known gap."""
    v, g = call.args[0], call.args[1]
    if not all(t.layer is None and t.param is not None for t in (v, g)):
        call.unsupported("weight normalization of computed tensors (only of parameters)")
    if tuple(v.shape) != tuple(call.out):
        call.unsupported(f"weight normalization to a shape {tuple(call.out)} other than v's {tuple(v.shape)}")
    call._importer.parameter_layer(g)  # g's elements are parameters torch counts
    return v
