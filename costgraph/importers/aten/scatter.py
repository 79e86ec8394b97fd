"""Converters: writing into tensors at indices, and filling (``scatter``, ``scatter_add``, ``index_add``,
``index_put_``, ``one_hot``, ``fill_``, ``zero_``)."""

from __future__ import annotations

import sympy

from ...kinds.creation import Constant, Fill
from ...kinds.reshape import ViewAs
from ...kinds.scatter import IndexAdd, IndexPut, Scatter
from .table import TensorValue, aten_converter


def _inplace(call):
    return call.op.partition("::")[2].split(".")[0].endswith("_")


@aten_converter("aten::scatter", "aten::scatter_", "aten::scatter_add", "aten::scatter_add_", "aten::scatter_reduce", "aten::scatter_reduce_")
def scatter(call):
    """``x.scatter(dim, index, src | value)``, ``scatter_add``, ``scatter_reduce(..., "sum")``."""
    name = call.op.partition("::")[2].split(".")[0].rstrip("_")
    x, dim, index, src = call.args[0], int(call.args[1]), call.args[2], call.arg(3, "src")
    accumulate = name == "scatter_add"
    if name == "scatter_reduce":
        if call.arg(4, "reduce") != "sum" or not call.arg(5, "include_self", True):
            call.unsupported(f"scatter_reduce with reduce={call.arg(4, 'reduce')!r} (only 'sum', including x)")
        accumulate = True
    elif call.kwargs.get("reduce") is not None:
        if call.kwargs["reduce"] != "add":
            call.unsupported(f"scatter with reduce={call.kwargs['reduce']!r}")
        accumulate = True
    sources = (src,) if isinstance(src, TensorValue) else ()
    return call.add(Scatter(dim, accumulate, inplace=_inplace(call)), x, index, *sources)


@aten_converter("aten::index_add", "aten::index_add_")
def index_add(call):
    """``x.index_add(dim, index, source, alpha=1)``."""
    x, dim, index, source = call.args[0], int(call.args[1]), call.args[2], call.args[3]
    alpha = call.arg(4, "alpha", 1)
    return call.add(IndexAdd(dim, float(alpha), inplace=_inplace(call)), x, index, source)


@aten_converter("aten::index_put", "aten::index_put_")
def index_put(call):
    """``x[i0, i1, ...] = values`` (``index_put_(x, indices, values, accumulate=False)``); a boolean
    mask writes as many elements as it holds true, but costs no arithmetic either way."""
    x, indices, values = call.args[0], call.args[1], call.args[2]
    given = [i for i in indices if i is not None]
    if not isinstance(values, TensorValue):
        call.unsupported("index_put with a number value")
    return call.add(IndexPut(bool(call.arg(3, "accumulate", False)), inplace=_inplace(call)), x, values, *given)


@aten_converter("aten::fill_", "aten::zero_", "aten::fill")
def fill(call):
    """``x.fill_(value)``, ``x.zero_()``: x overwritten in place; ``torch.fill(x, v)``: a new tensor."""
    x = call.args[0]
    value = 0.0 if call.op.startswith("aten::zero_") else call.arg(1, "value")
    value = 0.0 if isinstance(value, TensorValue) else float(value)  # a 0-d tensor's value is not read
    return call.add(Fill(value, inplace=_inplace(call)), x)


@aten_converter("aten::one_hot")
def one_hot(call):
    """``F.one_hot(index, num_classes)``, as ATen computes it: int64 zeros, then ``scatter_`` of ones
    at ``index.unsqueeze(-1)``.  ``num_classes=-1`` reads the data (export then refuses the size)."""
    index = call.args[0]
    zeros = call.add(Constant(tuple(call.out), "zeros"))
    column = call.add(ViewAs(tuple(index.shape) + (sympy.Integer(1),)), index)
    return call.add(Scatter(-1, inplace=True), zeros, column)


