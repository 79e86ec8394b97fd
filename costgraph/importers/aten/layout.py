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
    if x.layer is None and x.param is not None and tuple(x.shape) != tuple(call.out):
        # a parameter viewed (Mamba's ``conv1d.weight.view(...)``): still the parameter, so the layer
        # reading it owns its elements (a view of the parameter's layer for any other reader)
        return TensorValue(None, tuple(call.out), param=x.param, trainable=x.trainable, dtype=x.dtype)
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


# -- converters added for any model's ATen ops (branch ops) --------------------------------------
from ...kinds import Repeat, Stack  # noqa: E402
from ...kinds.indexing import Triangular  # noqa: E402


def _ints(call, values, what):
    """`values` (ints or size formulas) as ints, or the call is refused (a size formula has no kind)."""
    found = []
    for value in values:
        value = sympy.sympify(value)
        if not value.is_Integer:
            call.unsupported(f"{what} given by a size formula {value}")
        found.append(int(value))
    return tuple(found)


@aten_converter("aten::stack")
def stack(call):
    """``torch.stack(tensors, dim=0)``: a new tensor."""
    return call.add(Stack(int(call.arg(1, "dim", 0))), *call.arg(0, "tensors"))


@aten_converter("aten::repeat")
def repeat(call):
    """``x.repeat(*repeats)``: a tiled copy.  Repeats given by size formulas (Bloom's
    ``alibi.repeat(batch_size, 1, 1)``) take ATen's own steps: a view with a one before each
    dimension, expanded to the repeats (a view), copied, viewed as the result."""
    x = call.args[0]
    repeats = [sympy.sympify(r) for r in call.arg(1, "repeats")]
    if all(r.is_Integer for r in repeats):
        return call.add(Repeat(tuple(int(r) for r in repeats)), x)
    shape = (sympy.Integer(1),) * (len(repeats) - len(x.shape)) + tuple(x.shape)
    ones = tuple(d for size in shape for d in (sympy.Integer(1), size))
    spread = tuple(d for r, size in zip(repeats, shape) for d in (r, size))
    copied = call.add(Contiguous(), call.add(Expand(spread), _view(call, x, ones)))
    return _view(call, copied, tuple(call.out))


@aten_converter("aten::tile")
def tile(call):
    """``x.tile(dims)``: ``repeat`` with `dims` padded by leading ones to x's rank."""
    x = call.args[0]
    dims = _ints(call, call.arg(1, "dims"), "tile repeats")
    return call.add(Repeat((1,) * (len(x.shape) - len(dims)) + dims), x)


@aten_converter("aten::repeat_interleave.self_int")
def repeat_interleave(call):
    """``x.repeat_interleave(repeats, dim)`` with a number of repeats, as ATen computes it:
    ``x.unsqueeze(dim + 1).expand(...)`` (views), a contiguous copy, then a view to the result
    (without `dim`: of x flattened).  A tensor of repeats makes as many elements as its values
    say (export then gives a data-dependent size)."""
    x = call.args[0]
    repeats = sympy.sympify(call.arg(1, "repeats"))
    dim = call.arg(2, "dim")
    if dim is None:
        x = _view(call, x, (sympy.expand(sympy.Mul(*x.shape)),)) if len(x.shape) != 1 else x
        dim = 0
    axis = int(dim) % len(x.shape)
    spread = tuple(x.shape[: axis + 1]) + (repeats,) + tuple(x.shape[axis + 1 :])
    unsqueezed = _view(call, x, tuple(x.shape[: axis + 1]) + (sympy.Integer(1),) + tuple(x.shape[axis + 1 :]))
    copied = call.add(Contiguous(), call.add(Expand(spread), unsqueezed))
    return _view(call, copied, tuple(call.out))


@aten_converter("aten::flip")
def flip(call):
    """``x.flip(dims)``: a reordered copy, no arithmetic (its backward flips the gradient, keeping nothing)."""
    return call.add(Contiguous(), call.args[0])


@aten_converter("aten::tril", "aten::triu", "aten::tril_", "aten::triu_")
def triangular(call):
    """``torch.tril(x, diagonal=0)`` / ``triu``; the in-place forms are counted as a new tensor."""
    upper = call.op.partition("::")[2].startswith("triu")
    return call.add(Triangular(int(call.arg(1, "diagonal", 0)), upper=upper), call.args[0])


@aten_converter("aten::narrow")
def narrow(call):
    """``x.narrow(dim, start, length)``: a slice (a view)."""
    from ...kinds.indexing import StridedSlice

    x = call.args[0]
    dim = int(call.args[1]) % len(x.shape)
    start = _bound(call.args[2], x.shape[dim])
    stop = sympy.expand(start + sympy.sympify(call.args[3]))
    if _same(start, 0) and _same(stop, x.shape[dim]):
        return x
    return call.add(StridedSlice(dim, start, None if _same(stop, x.shape[dim]) else stop), x)


@aten_converter("aten::movedim", "aten::moveaxis")
def movedim(call):
    """``x.movedim(source, destination)``: a permutation (a view)."""
    x = call.args[0]
    rank = len(x.shape)
    source, destination = call.args[1], call.args[2]
    source = [int(s) % rank for s in (source if isinstance(source, (list, tuple)) else [source])]
    destination = [int(d) % rank for d in (destination if isinstance(destination, (list, tuple)) else [destination])]
    order = [None] * rank
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(a for a in range(rank) if a not in source)
    order = [a if a is not None else next(rest) for a in order]
    return call.add(Permute(tuple(order)), x)


@aten_converter("aten::broadcast_tensors")
def broadcast_tensors(call):
    """``torch.broadcast_tensors(*tensors)``: each one expanded (a view) to export's shape."""
    outs = []
    for x, shape in zip(call.arg(0, "tensors"), call.out):
        outs.append(x if tuple(x.shape) == tuple(shape) else call.add(Expand(tuple(shape)), x))
    return outs


@aten_converter("aten::unfold")
def unfold_view(call):
    """``x.unfold(dim, size, step)``: sliding windows as a view."""
    from ...kinds.indexing import SlidingWindows

    x = call.args[0]
    size, step = sympy.sympify(call.args[2]), sympy.sympify(call.args[3])
    if not (size.is_Integer and step.is_Integer):
        call.unsupported(f"unfold with a window {size} or step {step} given by a size formula")
    return call.add(SlidingWindows(int(call.args[1]), int(size), int(step)), x)


@aten_converter("aten::hstack", "aten::vstack")
def hstack(call):
    """``torch.hstack(tensors)`` (along dim 1, or 0 for vectors) and ``torch.vstack`` (along dim 0,
    vectors first viewed as rows): a concatenation."""
    tensors = list(call.arg(0, "tensors"))
    if call.op.startswith("aten::vstack"):
        tensors = [call.add(ViewAs((sympy.Integer(1),) + tuple(t.shape)), t) if len(t.shape) == 1 else t for t in tensors]
        return call.add(Concat(0), *tensors)
    return call.add(Concat(0 if len(tensors[0].shape) == 1 else 1), *tensors)
