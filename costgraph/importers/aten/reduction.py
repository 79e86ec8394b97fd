"""Converters: reductions over dimensions (``mean``, ``sum``)."""

from __future__ import annotations

from ...kinds import Mean, Sum
from .table import aten_converter


def _dims(call, rank):
    dims = call.arg(1, "dim")
    if dims is None or dims == []:
        return tuple(range(rank))
    return tuple(int(d) for d in (dims if isinstance(dims, (list, tuple)) else [dims]))


@aten_converter("aten::mean")
def mean(call):
    """``mean(x, dims, keepdim=False)``."""
    x = call.args[0]
    return Mean(_dims(call, len(x.shape)), bool(call.arg(2, "keepdim", False)))


@aten_converter("aten::sum")
def sum_(call):
    """``sum(x, dims, keepdim=False)``."""
    x = call.args[0]
    return Sum(_dims(call, len(x.shape)), bool(call.arg(2, "keepdim", False)))
