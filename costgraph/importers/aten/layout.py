"""Converters: views and copies that move data without arithmetic (view, permute, slice, cat, split, expand).

A view's target shape is export's own output shape (already over the user's
sizes): the kind then checks that the element count is kept.  Views that
keep the batch dimension first use the zoo's kinds (`Reshape`, `Flatten`,
`Select`); the others (``x.view(-1, 768)``, ``unsqueeze(0)``) a `ViewAs`.
"""

from __future__ import annotations

import sympy

from ...kinds import Concat, Contiguous, Expand, Flatten, Permute, Reshape, Select, Slice, Transpose
from ...kinds.indexing import StridedSlice
from ...kinds.reshape import ViewAs
from .table import TensorValue, aten_converter

#: the end of a slice that runs to the end, as export writes it (INT64_MAX)
_TO_THE_END = 2**63 - 1


def _same(a, b) -> bool:
    return sympy.expand(sympy.sympify(a) - sympy.sympify(b)) == 0


def _view(call, x, out):
    """A view of `x` as `out`: Reshape when the batch stays first, else ViewAs."""
    if len(x.shape) >= 1 and len(out) >= 1 and _same(x.shape[0], out[0]) and x.layer is not None:
        return call.add(Reshape(out[1:]), x)
    return call.add(ViewAs(out), x)


def _reshape_copies(call) -> bool:
    """Whether ``reshape`` must copy: the input's strides (at the example's sizes) allow no view.

    ``repeat_kv``'s expanded keys, reshaped to more heads, are a copy, and
    autograd keeps that copy for the attention product.
    """
    import torch

    source, val = call.node.args[0].meta.get("val"), call.node.meta.get("val")
    if not isinstance(source, torch.Tensor) or not isinstance(val, torch.Tensor):
        return False
    def hint(d):  # the example's value, read without guarding (int() would fix the size)
        return int(d.node.hint) if isinstance(d, torch.SymInt) else int(d)

    try:
        probe = torch.empty_strided([hint(d) for d in source.shape], [hint(d) for d in source.stride()], device="meta")
        probe.view([hint(d) for d in val.shape])
    except RuntimeError:
        return True
    except Exception:
        return False
    return False


@aten_converter("aten::view", "aten::reshape", "aten::_unsafe_view", "aten::unsqueeze", "aten::squeeze", "aten::view_as", "aten::reshape_as", "aten::unflatten")
def view(call):
    """``view``/``reshape``/``unsqueeze``/``squeeze``: a view to export's output shape (``reshape`` copies when no view fits)."""
    x = call.args[0]
    if call.op.startswith(("aten::reshape", "aten::reshape_as")) and _reshape_copies(call):
        x = call.add(Contiguous(), x)
    if tuple(x.shape) == tuple(call.out):
        return x
    return _view(call, x, call.out)


@aten_converter("aten::flatten")
def flatten(call):
    """``flatten(x, start_dim, end_dim)``."""
    x = call.args[0]
    start, end = int(call.arg(1, "start_dim", 0)), int(call.arg(2, "end_dim", -1))
    rank = len(x.shape)
    if rank and start % rank > 0:
        return call.add(Flatten(start, end), x)
    return x if tuple(x.shape) == tuple(call.out) else _view(call, x, call.out)


@aten_converter("aten::permute")
def permute(call):
    """``permute(x, dims)``."""
    return Permute(tuple(int(d) for d in call.arg(1, "dims")))


@aten_converter("aten::transpose", "aten::swapaxes", "aten::swapdims")
def transpose(call):
    """``transpose(x, dim0, dim1)``."""
    return Transpose(int(call.args[1]), int(call.args[2]))


@aten_converter("aten::cat", "aten::concat", "aten::concatenate")
def cat(call):
    """``cat(tensors, dim=0)``: a new tensor, even of one input (torch copies it)."""
    tensors = [t for t in call.arg(0, "tensors") if not _empty(t)]
    return call.add(Concat(int(call.arg(1, "dim", 0))), *tensors)


def _empty(value):
    """An empty tensor (a zero size): nothing to concatenate."""
    return value.layer is None and value.param is None and any(sympy.sympify(d).is_number and int(d) == 0 for d in value.shape)


def _bound(value, size):
    value = sympy.sympify(value)
    if value.is_number and int(value) < 0:
        value = size + value
    return value


@aten_converter("aten::slice")
def slice_(call):
    """``slice(x, dim, start, end, step=1)``: a view; `Slice` for integer bounds, `StridedSlice` otherwise."""
    x = call.args[0]
    dim = int(call.arg(1, "dim", 0)) % len(x.shape)
    start, end, step = call.arg(2, "start"), call.arg(3, "end"), int(call.arg(4, "step", 1))
    size = x.shape[dim]
    start = sympy.Integer(0) if start is None else _bound(start, size)
    end = size if end is None or (isinstance(end, int) and end >= _TO_THE_END) else _bound(end, size)
    if sympy.sympify(size).is_number and sympy.sympify(end).is_number and int(end) >= int(size):
        end = size
    if step == 1 and _same(start, 0) and _same(end, size):
        return x
    if any(sympy.sympify(d).is_number and int(d) == 0 for d in call.out):
        return TensorValue(None, tuple(call.out))  # empty (Phi-3's x[..., rotary_dim:] of a full rotation)
    stop = None if _same(end, size) else end
    if step == 1 and start.is_Integer and int(start) >= 0 and (stop is None or sympy.sympify(stop).is_Integer):
        return call.add(Slice(dim, int(start), None if stop is None else int(stop)), x)
    return call.add(StridedSlice(dim, start, stop, step), x)


@aten_converter("aten::select")
def select(call):
    """``select(x, dim, index)`` (``x[:, 0]``): a view without that dimension."""
    x = call.args[0]
    dim, index = int(call.args[1]) % len(x.shape), call.args[2]
    index = sympy.sympify(index)
    if index.is_Integer and int(index) < 0:
        index = x.shape[dim] + index
    if not index.is_Integer:
        call.unsupported(f"selecting index {index} (a size formula)")
    if dim > 0:
        return call.add(Select(dim, int(index)), x)
    # the batch dimension: costgraph's Select keeps it, so a one-long slice then a view without it
    return call.add(ViewAs(call.out), call.add(Slice(0, int(index), int(index) + 1), x))


def _slices(call, x, dim, sizes):
    dim %= len(x.shape)
    full = x.shape[dim]
    start, outs = sympy.Integer(0), []
    for size in sizes:
        stop = sympy.expand(start + size)
        if not start.is_Integer:
            call.unsupported(f"splitting dimension {dim} at a symbolic offset {start}")
        if _same(start, 0) and _same(stop, full):
            outs.append(x)
        elif _same(stop, full):
            outs.append(call.add(Slice(dim, int(start), None), x))
        elif stop.is_Integer:
            outs.append(call.add(Slice(dim, int(start), int(stop)), x))
        else:
            call.unsupported(f"splitting dimension {dim} at a symbolic offset {stop}")
        start = stop
    return outs


@aten_converter("aten::split", "aten::split_with_sizes", "aten::chunk", "aten::tensor_split")
def split(call):
    """``split``/``chunk``: slices of export's output sizes along `dim`."""
    x = call.args[0]
    dim = int(call.arg(2, "dim", 0))
    sizes = [shape[dim % len(shape)] for shape in call.out]
    return _slices(call, x, dim, sizes)


@aten_converter("aten::unbind")
def unbind(call):
    """``unbind(x, dim)``: one select per index (views)."""
    x = call.args[0]
    dim = int(call.arg(1, "dim", 0)) % len(x.shape)
    size = sympy.sympify(x.shape[dim])
    if not size.is_Integer:
        call.unsupported(f"unbinding a symbolic dimension {size}")
    outs = []
    for index in range(int(size)):
        if dim > 0:
            outs.append(call.add(Select(dim, index), x))
        else:
            outs.append(call.add(ViewAs(call.out[index]), call.add(Slice(0, index, index + 1), x)))
    return outs


@aten_converter("aten::expand", "aten::expand_as", "aten::broadcast_to")
def expand(call):
    """``expand(x, sizes)``: broadcast without copying, to export's output shape."""
    x = call.args[0]
    if tuple(x.shape) == tuple(call.out):
        return x
    if any(sympy.sympify(d).is_number and int(d) == 0 for d in call.out):
        return TensorValue(None, tuple(call.out))  # empty: Swin3d's mask fills a 0-long slice when its window is the whole clip
    return call.add(Expand(tuple(call.out)), x)


@aten_converter("aten::numpy_T", "aten::mT", "aten::mH", "aten::adjoint")
def matrix_transpose(call):
    """``w.T`` / ``x.mT``: of a parameter, the parameter read transposed (Falcon's ``x @ self.weight.T``), else a view."""
    x = call.args[0]
    if x.layer is None and x.param is not None and len(x.shape) == 2:
        return TensorValue(None, tuple(reversed(x.shape)), param=x.param, trainable=x.trainable, dtype=x.dtype)
    if call.op.startswith("aten::numpy_T"):
        return call.add(Permute(tuple(reversed(range(len(x.shape))))), x)
    return call.add(Transpose(-2, -1), x)


@aten_converter("aten::copy_")
def copy_into(call):
    """``dst.copy_(src)`` (``x[a:b] = y``): src written into dst's storage in place, no arithmetic, no new tensor.

    The result is dst itself; src must broadcast to it.  Swin and MViT build
    their attention masks and relative positions this way.
    """
    dst, src = call.args[0], call.args[1]
    if isinstance(src, TensorValue):
        from ...kinds.arithmetic import broadcast_shapes

        if broadcast_shapes("copy_", tuple(dst.shape), tuple(src.shape)) != tuple(dst.shape):
            call.unsupported(f"copy_ of {tuple(src.shape)} into {tuple(dst.shape)}")
    return dst


@aten_converter("aten::zero_", "aten::fill_")
def fill_in_place(call):
    """``x.zero_()`` / ``x.fill_(v)``: x's elements overwritten in place, no arithmetic, no new tensor.

    Swin v2 zeroes the key part of its qkv bias this way (``qkv_bias[C:2C].zero_()``).
    """
    if isinstance(call.arg(1, "value", None), TensorValue):
        call.unsupported("fill_ with a tensor value")
    return call.args[0]
