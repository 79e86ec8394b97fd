"""Converters: selecting by value and whole-tensor reductions (``argmax``, ``topk``, ``sort``, ``histc``,
``max()``, ``all``/``any``, ``var_mean``).

An op with two outputs (``topk``'s values and indices) is its kind, fed by
its input, and an `ExtraOutput` layer for the second tensor, fed by the
first: the work is counted once, each tensor holds its memory.
"""

from __future__ import annotations

import sympy

from ...kinds import reduction as reduction_kinds
from ...kinds.creation import ExtraOutput
from ...kinds.reduction import LogicalReduction
from ...kinds.reduction import ArgMax, ArgMin
from ...kinds.sorting import Histogram, Sort, TopK
from .table import aten_converter


def _dims(call, index=1):
    dims = call.arg(index, "dim")
    if dims is None or dims == []:
        return None
    return tuple(int(d) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))


def _with_second(call, kind, x, what, gradient=False):
    """`kind` of x, and the second output (export's shape) as an `ExtraOutput` of it (indices,
    without a gradient, unless `gradient`)."""
    first = call.add(kind, x)
    return (first, call.add(ExtraOutput(tuple(call.out[1]), what, gradient), first))


@aten_converter("aten::argmax", "aten::argmin")
def argmax(call):
    """``x.argmax(dim=None, keepdim=False)`` / ``argmin``."""
    cls = ArgMax if call.op.startswith("aten::argmax") else ArgMin
    return cls(_dims(call), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::max.default", "aten::min.default")
def max_all(call):
    """``x.max()`` / ``x.min()`` over every element: ``amax`` (saves the input and the result)."""
    cls = reduction_kinds.Amax if call.op.startswith("aten::max") else reduction_kinds.Amin
    return cls(None, False)


@aten_converter("aten::all", "aten::any")
def logical(call):
    """``x.all(dim=None, keepdim=False)`` / ``any``."""
    op = call.op.partition("::")[2].split(".")[0]
    return LogicalReduction(op, _dims(call), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::topk")
def topk(call):
    """``x.topk(k, dim=-1, largest=True, sorted=True)``: values and int64 indices."""
    x = call.args[0]
    k = sympy.sympify(call.arg(1, "k"))
    if not k.is_Integer:
        call.unsupported(f"topk of a size formula k={k}")
    kind = TopK(int(k), int(call.arg(2, "dim", -1)), bool(call.arg(3, "largest", True)))
    return _with_second(call, kind, x, "topk indices")


@aten_converter("aten::sort")
def sort(call):
    """``x.sort(dim=-1, descending=False)`` (and ``stable=``): values and the int64 permutation."""
    x = call.args[0]
    if call.op.endswith(".stable"):
        dim, descending = call.kwargs.get("dim", -1), call.kwargs.get("descending", False)
    else:
        dim, descending = call.arg(1, "dim", -1), call.arg(2, "descending", False)
    return _with_second(call, Sort(int(dim), bool(descending)), x, "sort indices")


@aten_converter("aten::histc")
def histc(call):
    """``torch.histc(x, bins=100, min=0, max=0)``."""
    return Histogram(int(call.arg(1, "bins", 100)))


@aten_converter("aten::var_mean", "aten::std_mean")
def var_mean(call):
    """``torch.var_mean(x, dim, unbiased / correction, keepdim)`` / ``std_mean``: the variance (or
    standard deviation) kind, and the mean it computes on the way as an `ExtraOutput`."""
    x = call.args[0]
    if call.op.endswith(".default"):  # var_mean(self, unbiased=True): over every element
        kind = (reduction_kinds.Var if call.op.startswith("aten::var") else reduction_kinds.Std)(None, 1 if call.arg(1, "unbiased", True) else 0)
        return _with_second(call, kind, x, "mean", gradient=True)
    if call.op.endswith(".dim"):  # var_mean.dim(self, dim, unbiased=True, keepdim=False)
        correction = 1 if call.arg(2, "unbiased", True) else 0
        keepdim = call.arg(3, "keepdim", False)
    else:
        correction = call.kwargs.get("correction", 1)
        correction = 1 if correction is None else correction
        keepdim = call.kwargs.get("keepdim", False)
    cls = reduction_kinds.Var if call.op.startswith("aten::var") else reduction_kinds.Std
    kind = cls(_dims(call), int(correction), bool(keepdim))
    return _with_second(call, kind, x, "mean", gradient=True)


@aten_converter("aten::argsort")
def argsort(call):
    """``x.argsort(dim=-1, descending=False)`` (ViT-MAE's random masking): a sort whose values are
    dropped; the result is its int64 permutation (an `ExtraOutput` of the sort)."""
    x = call.args[0]
    if call.op.endswith(".stable"):
        dim, descending = call.kwargs.get("dim", -1), call.kwargs.get("descending", False)
    else:
        dim, descending = call.arg(1, "dim", -1), call.arg(2, "descending", False)
    values = call.add(Sort(int(dim), bool(descending)), x)
    return call.add(ExtraOutput(tuple(call.out), "argsort indices", False), values)
