"""Converters: reductions over dimensions (``mean``, ``sum``)."""

from __future__ import annotations

from ...kinds import Mean, Sum
from ...kinds import reduction as reduction_kinds
from ...kinds.matmul import Einsum
from .table import aten_converter


def _dims(call, rank):
    dims = call.arg(1, "dim")
    if dims is None or dims == []:
        return tuple(range(rank))
    return tuple(int(d) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))


@aten_converter("aten::mean")
def mean(call):
    """``mean(x, dims, keepdim=False)``; over dimension 0 (which `Mean` keeps as the batch), a sum
    divided in place: the same FLOPs (``n - 1`` additions and a division per output element)."""
    x = call.args[0]
    dims, keepdim = _dims(call, len(x.shape)), bool(call.arg(2, "keepdim", False))
    if x.shape and 0 in {d % len(x.shape) for d in dims}:
        from ...kinds.arithmetic import ScalarOp

        return call.add(ScalarOp("div", inplace=True), call.add(Sum(dims, keepdim), x))
    return Mean(dims, keepdim)


@aten_converter("aten::sum")
def sum_(call):
    """``sum(x, dims, keepdim=False)``."""
    x = call.args[0]
    return Sum(_dims(call, len(x.shape)), bool(call.arg(2, "keepdim", False)))


def _dims_or_none(call, index=1):
    dims = call.arg(index, "dim")
    if dims is None or dims == []:
        return None
    return tuple(int(d) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))


@aten_converter("aten::amax", "aten::amin")
def amax(call):
    """``amax(x, dims, keepdim)`` / ``amin``."""
    cls = reduction_kinds.Amax if "amax" in call.op else reduction_kinds.Amin
    return cls(_dims_or_none(call), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::max.dim", "aten::min.dim")
def max_dim(call):
    """``max(x, dim, keepdim)``: values and indices."""
    from ...kinds.creation import ExtraOutput

    cls = reduction_kinds.MaxDim if call.op.startswith("aten::max") else reduction_kinds.MinDim
    values = call.add(cls(int(call.args[1]), bool(call.arg(2, "keepdim", False))), call.args[0])
    # the int64 indices, a tensor of their own (``x.max(-1)[1]`` is an argmax); no gradient flows from them
    return (values, call.add(ExtraOutput(tuple(call.out[1]), "max indices", False), values))


@aten_converter("aten::prod")
def prod(call):
    """``prod(x, dim, keepdim)``."""
    return reduction_kinds.Prod(_dims_or_none(call), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::var", "aten::std")
def var(call):
    """``var``/``std`` in their overloads: ``.correction(x, dim=None, *, correction=None, keepdim=False)``,
    ``.dim(x, dim, unbiased=True, keepdim=False)`` and ``.default(x, unbiased=True)``."""
    cls = reduction_kinds.Var if call.op.startswith("aten::var") else reduction_kinds.Std
    overload = call.op.rpartition(".")[2]
    if overload == "dim":
        correction = 1 if call.arg(2, "unbiased", True) else 0
        keepdim = call.arg(3, "keepdim", False)
    elif overload == "default":
        return cls(None, 1 if call.arg(1, "unbiased", True) else 0, False)
    else:
        correction = call.kwargs.get("correction", 1)
        keepdim = call.kwargs.get("keepdim", False)
    return cls(_dims_or_none(call), int(1 if correction is None else correction), bool(keepdim))


@aten_converter("aten::logsumexp")
def logsumexp(call):
    """``logsumexp(x, dims, keepdim)``."""
    return reduction_kinds.LogSumExp(_dims_or_none(call), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::linalg_vector_norm")
def vector_norm(call):
    """``linalg_vector_norm(x, ord=2, dim=None, keepdim=False)``."""
    return reduction_kinds.VectorNorm(float(call.arg(1, "ord", 2)), _dims_or_none(call, 2), bool(call.arg(3, "keepdim", False)))


@aten_converter("aten::cumsum", "aten::cumprod")
def cumulative(call):
    """``cumsum(x, dim)`` / ``cumprod``."""
    cls = reduction_kinds.Cumsum if "cumsum" in call.op else reduction_kinds.Cumprod
    return cls(int(call.args[1]))


@aten_converter("aten::einsum")
def einsum(call):
    """``einsum(equation, tensors)``."""
    return call.add(Einsum(call.args[0]), *call.args[1])
