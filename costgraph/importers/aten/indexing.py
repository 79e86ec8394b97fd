"""Converters: padding, rolling, indexing and selecting (``constant_pad_nd``, ``roll``, ``index``, ``gather``, ``where``)."""

from __future__ import annotations

import sympy

from ...kinds.indexing import Gather, IndexSelect, IndexTensor, MaskedFill, Pad, Roll, Where
from ...kinds.indexing import AdvancedIndex
from .table import TensorValue, aten_converter


def _amounts(call):
    """The pad amounts: ints, or integer-valued size formulas (Swin pads to a multiple of its window: (7 - W % 7) % 7).

    A formula amount beside an integer one is written as export's output
    size minus costgraph's input size (less the integer): the same value
    (both shapes were checked against export's), but the padded size is
    then export's own expression (``7*floor((W + 52)/56)``), so the window
    reshapes that follow cancel against it term by term.
    """
    amounts = [int(p) if isinstance(p, sympy.Integer) else p for p in call.arg(1, "pad")]
    x, out = call.args[0], call.out
    if isinstance(x, TensorValue) and out is not None and len(out) == len(x.shape):
        for i in range(len(amounts) // 2):
            axis, left, right = len(x.shape) - 1 - i, amounts[2 * i], amounts[2 * i + 1]
            grown = sympy.expand(sympy.sympify(out[axis]) - x.shape[axis])
            if isinstance(left, int) and not isinstance(right, int):
                amounts[2 * i + 1] = sympy.expand(grown - left)
            elif isinstance(right, int) and not isinstance(left, int):
                amounts[2 * i] = sympy.expand(grown - right)
    return tuple(amounts)


@aten_converter("aten::constant_pad_nd")
def constant_pad(call):
    """``constant_pad_nd(input, pad, value=0)``."""
    return Pad(_amounts(call), "constant", float(call.arg(2, "value", 0)))


_PAD_MODES = {"reflection": "reflect", "replication": "replicate", "_pad_circular": "circular"}


@aten_converter(*(f"aten::{m}_pad{d}d" for m in ("reflection", "replication") for d in (1, 2, 3)), "aten::_pad_circular")
def mode_pad(call):
    """``reflection_pad2d(input, pad)``, ``replication_pad*``, ``_pad_circular``."""
    name = call.op.partition("::")[2].split(".")[0]
    mode = _PAD_MODES.get(name.split("_pad")[0], "circular")
    return Pad(_amounts(call), mode)


@aten_converter("aten::pad")
def pad(call):
    """``pad(input, pad, mode="constant", value=None)``."""
    return Pad(_amounts(call), call.arg(2, "mode", "constant"), float(call.arg(3, "value", 0) or 0))


@aten_converter("aten::roll")
def roll(call):
    """``roll(input, shifts, dims=[])``."""
    shifts, dims = call.arg(1, "shifts"), call.arg(2, "dims", ())
    shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    if any(not sympy.sympify(s).is_Integer for s in shifts):
        call.unsupported("a roll by a size formula")
    return Roll(tuple(int(s) for s in shifts), tuple(int(d) for d in dims) or None)


@aten_converter("aten::index_select")
def index_select(call):
    """``index_select(input, dim, index)``."""
    x, dim, index = call.args[0], int(call.args[1]), call.args[2]
    return call.add(IndexSelect(dim), x, index)


@aten_converter("aten::gather")
def gather(call):
    """``gather(input, dim, index)``."""
    x, dim, index = call.args[0], int(call.args[1]), call.args[2]
    return call.add(Gather(dim), x, index)


def _dtype(call, position):
    source = call.node.args[0] if position is None else call.node.args[1][position]
    val = source.meta.get("val") if hasattr(source, "meta") else None
    return getattr(val, "dtype", None)


@aten_converter("aten::index")
def index(call):
    """``x[i0, i1, ...]`` with integer index tensors (``aten.index.Tensor``); a boolean mask depends on the data."""
    import torch

    x, indices = call.args[0], list(call.args[1])
    for position, item in enumerate(indices):
        if item is not None and _dtype(call, position) in (torch.bool, torch.uint8):
            call.unsupported("indexing with a boolean mask: the output size depends on the data", data_dependent=True)
    given = [(d, i) for d, i in enumerate(indices) if i is not None]
    if len(given) == 1:
        dim, item = given[0]
        return call.add(IndexTensor(dim), x, item)
    return call.add(AdvancedIndex(tuple(d for d, _ in given)), x, *(i for _, i in given))


@aten_converter("aten::masked_fill", "aten::masked_fill_")
def masked_fill(call):
    """``masked_fill(x, mask, value)`` (a number; a 0-d tensor value is refused)."""
    x, mask, value = call.args[0], call.args[1], call.args[2]
    if isinstance(value, TensorValue):
        call.unsupported("masked_fill with a tensor value")
    return call.add(MaskedFill(float(value), inplace=call.op.split(".")[0].endswith("_")), x, mask)


@aten_converter("aten::where")
def where(call):
    """``where(condition, a, b)``; a number for `a` or `b` is not an input."""
    tensors = [a for a in call.args[:3] if isinstance(a, TensorValue)]
    if len(call.args) < 3 or len(tensors) < 2:
        call.unsupported("where with one argument (the indices of true elements: data-dependent)", data_dependent=True)
    return call.add(Where(), *tensors)
