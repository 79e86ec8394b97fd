"""Layout: views that move no data (flatten, permute, reshape, slice, expand, select), and copies that move data without arithmetic (contiguous, channel shuffle, concatenation)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import ShapeError
from ..symbols import as_formula, as_size
from ..intmath import is_integer_valued
from .base import ParameterFree, View, format_shape, numel, positive_int, register_kind

__all__ = ['ViewAs', 'Flatten', 'Permute', 'Transpose', 'Reshape', 'Slice', 'Expand', 'Select', 'Contiguous', 'ChannelShuffle', 'Concat', 'Stack', 'Repeat']


@register_kind
@dataclass(frozen=True)
class Flatten(View):
    """Merge dimensions ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``: a view.

    >>> from costgraph.symbols import N
    >>> Flatten().output_shape((N, 512, 7, 7))
    (N, 25088)
    """

    start_dim: int = 1
    end_dim: int = -1

    def output_shape(self, x):
        rank = len(x)
        start = self.start_dim % rank if -rank <= self.start_dim < rank else None
        end = self.end_dim % rank if -rank <= self.end_dim < rank else None
        if start is None or end is None or start > end:
            raise ShapeError(
                f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit a {rank}-d input", value=x
            )
        return tuple(x[:start]) + (sympy.expand(numel(x[start : end + 1])),) + tuple(x[end + 1 :])


def _axis(dim, rank, owner):
    if not -rank <= dim < rank:
        raise ShapeError(f"{owner}: dim {dim} out of range for a {rank}-d input", value=dim)
    return dim % rank


@register_kind
@dataclass(frozen=True)
class Permute(View):
    """Reorder dimensions, as ``Tensor.permute``: a view.

    >>> from costgraph.symbols import N, H, W
    >>> Permute((0, 2, 3, 1)).output_shape((N, 96, H, W))
    (N, H, W, 96)
    """

    dims: tuple

    def __post_init__(self):
        object.__setattr__(self, "dims", tuple(self.dims))

    def output_shape(self, x):
        axes = [_axis(d, len(x), "Permute") for d in self.dims]
        if sorted(axes) != list(range(len(x))):
            raise ShapeError(f"Permute: dims {self.dims} are not a permutation of a {len(x)}-d input", value=self.dims)
        return tuple(x[a] for a in axes)


@register_kind
@dataclass(frozen=True)
class Transpose(View):
    """Swap two dimensions, as ``Tensor.transpose``: a view."""

    dim0: int
    dim1: int

    def output_shape(self, x):
        a, b = _axis(self.dim0, len(x), "Transpose"), _axis(self.dim1, len(x), "Transpose")
        out = list(x)
        out[a], out[b] = out[b], out[a]
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class Reshape(View):
    """Reshape to `shape` (sizes may be formulas; one may be -1), as ``Tensor.view``.

    The batch dimension is kept: `shape` describes the dimensions after it.
    The -1 size must come out as an exact integer formula; the element count
    must be preserved, which is checked symbolically.

    >>> from costgraph.symbols import N, S
    >>> Reshape((S, 12, 64)).output_shape((N, S, 768))
    (N, S, 12, 64)
    """

    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(as_size(d, owner=type(self).__name__, what="a size") for d in _sizes(self.shape)))

    def output_shape(self, x):
        total = sympy.expand(numel(x[1:]))
        known = [d for d in self.shape if d != -1]
        if len(known) < len(self.shape) - 1:
            raise ShapeError(f"Reshape: at most one size may be -1, got {self.shape}", value=self.shape)
        if len(known) < len(self.shape):
            inferred = sympy.expand(sympy.cancel(total / numel(known)))
            if not is_integer_valued(inferred):
                raise ShapeError(f"Reshape: {total} elements do not divide into {self.shape}", value=self.shape)
            dims = tuple(inferred if d == -1 else d for d in self.shape)
        else:
            dims = self.shape
            if sympy.expand(numel(dims) - total) != 0:
                raise ShapeError(f"Reshape: cannot view {total} elements as {dims}", value=self.shape)
        return (x[0],) + dims


@register_kind
@dataclass(frozen=True)
class Slice(View):
    """``x[..., start:stop, ...]`` along `dim` (``chunk``/``split`` are slices): a view.

    `start` and `stop` are non-negative ints within the dimension; `stop=None`
    runs to the end.
    """

    dim: int
    start: int = 0
    stop: int | None = None

    def output_shape(self, x):
        axis = _axis(self.dim, len(x), "Slice")
        size = x[axis]
        stop = size if self.stop is None else sympy.Integer(self.stop)
        length = sympy.expand(stop - self.start)
        if self.start < 0 or (length.is_number and length < 1) or (size.is_number and stop > size):
            raise ShapeError(f"Slice: [{self.start}:{self.stop}] does not fit dimension {axis} of size {size}", value=x)
        out = list(x)
        out[axis] = length
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class Expand(View):
    """Broadcast to `shape` without copying, as ``Tensor.expand`` (-1 keeps a size): a view.

    `shape` is the whole output shape (batch first); new dimensions go in
    front, as torch puts them.

    Raises
    ------
    ShapeError
        If `shape` is shorter than the input, or an input size is neither 1
        nor the requested size.

    >>> from costgraph.symbols import N
    >>> Expand((N, -1, -1)).output_shape((1, 1, 768))     # ViT's class token, per sample
    (N, 1, 768)
    """

    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(as_size(d, owner=type(self).__name__, what="a size") for d in _sizes(self.shape)))

    def output_shape(self, x):
        new = len(self.shape) - len(x)
        if new < 0:
            raise ShapeError(f"Expand: {len(self.shape)} sizes for a {len(x)}-d input", value=self.shape)
        out = list(self.shape[:new])
        for size, target in zip(x, self.shape[new:]):
            size = as_formula(size, owner="Expand", what="an input size")
            if target == -1 or sympy.expand(target - size) == 0:
                out.append(size)
            elif size == 1:
                out.append(target)
            else:
                raise ShapeError(f"Expand: cannot expand size {size} to {target}", value=(size, target))
        if any(d == -1 for d in out[:new]):
            raise ShapeError(f"Expand: -1 is not allowed for a new dimension, got {self.shape}", value=self.shape)
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class Select(View):
    """``x.select(dim, index)`` (``x[:, 0]``): a view without dimension `dim`.

    Raises
    ------
    ShapeError
        If `dim` is out of range or the batch dimension, or `index` does
        not fit a numeric size.

    >>> from costgraph.symbols import N, S
    >>> Select(1, 0).output_shape((N, S + 1, 768))            # ViT's class token out
    (N, 768)
    """

    dim: int
    index: int = 0

    def output_shape(self, x):
        if not -len(x) < self.dim < len(x) or self.dim % len(x) == 0:
            raise ShapeError(f"Select: dim {self.dim} does not fit a {len(x)}-d input after its batch", value=self.dim)
        axis = self.dim % len(x)
        size = as_formula(x[axis], owner="Select", what="an input size")
        if self.index < 0 or (size.is_number and self.index >= size):
            raise ShapeError(f"Select: index {self.index} out of range for size {size}", value=self.index)
        return tuple(d for a, d in enumerate(x) if a != axis)


@register_kind
@dataclass(frozen=True)
class Contiguous(ParameterFree):
    """``.contiguous()`` on a tensor whose memory is not in order: a copy, no arithmetic."""

    def output_shape(self, x):
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy: no arithmetic, no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: a copy's gradient is the output's."""
        return ()


@register_kind
@dataclass(frozen=True)
class ChannelShuffle(ParameterFree):
    """Interleave `groups` channel groups, as ``torch.nn.ChannelShuffle``.

    torchvision's ``channel_shuffle`` views ``(N, C, H, W)`` as
    ``(N, g, C/g, H, W)``, swaps the two channel axes and calls
    ``.contiguous()``, which copies: the output is a new tensor (counted in
    activations), made without arithmetic (0 FLOPs).

    Raises
    ------
    CostGraphError
        If `groups` is not a positive integer.
    ShapeError
        If the input is not 4-d or `groups` does not divide its channels.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> shuffle = ChannelShuffle(2)
    >>> shuffle.output_shape((N, 116, H, W))
    (N, 116, H, W)
    >>> shuffle.materializes, shuffle.other_flops((N, 116, H, W), (N, 116, H, W))
    (True, 0)
    """

    groups: int

    def __post_init__(self):
        positive_int(self.groups, "groups", "ChannelShuffle")

    def output_shape(self, x):
        self.check_rank(x, 4)
        channels = as_formula(x[1], owner="ChannelShuffle", what="the channels")
        if not channels.is_Integer or int(channels) % self.groups:
            raise ShapeError(
                f"ChannelShuffle: groups={self.groups} must divide the channels, got {channels}", value=channels
            )
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: views and a copy; the gradient is shuffled back."""
        return ()


@register_kind
@dataclass(frozen=True)
class Concat(ParameterFree):
    """Concatenation along `dim` (default: channels), as ``torch.cat``.

    It writes a new tensor (counted as an activation) and does no arithmetic.

    >>> from costgraph.symbols import N, H, W
    >>> Concat().output_shape((N, 64, H, W), (N, 32, H, W))
    (N, 96, H, W)
    """

    dim: int = 1
    arity = None

    def output_shape(self, *inputs):
        if not inputs:
            raise ShapeError("Concat takes at least one input", value=0)
        rank = len(inputs[0])
        if any(len(s) != rank for s in inputs) or not -rank <= self.dim < rank:
            raise ShapeError(
                f"Concat along dim {self.dim} needs inputs of one rank, got "
                f"{' and '.join(format_shape(s) for s in inputs)}",
                value=inputs,
            )
        dim = self.dim % rank
        for axis in range(rank):
            if axis != dim and len({s[axis] for s in inputs}) > 1:
                raise ShapeError(
                    f"Concat along dim {dim}: dimension {axis} differs between inputs "
                    f"{' and '.join(format_shape(s) for s in inputs)}",
                    value=inputs,
                )
        out = list(inputs[0])
        out[dim] = sympy.expand(sympy.Add(*[s[dim] for s in inputs]))
        return tuple(out)

    def flop_terms(self, out, *inputs):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def other_flops(self, out, *inputs):
        return sympy.Integer(0)

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing: the gradient is sliced back into the inputs' parts."""
        return ()


@register_kind
@dataclass(frozen=True)
class Stack(ParameterFree):
    """``torch.stack(tensors, dim)``: equal shapes joined along a new dimension `dim`; a copy.

    Raises
    ------
    ShapeError
        If the inputs' shapes differ or `dim` does not fit.

    >>> from costgraph.symbols import N, S
    >>> Stack(1).output_shape((N, S), (N, S), (N, S))
    (N, 3, S)
    """

    dim: int = 0
    arity = None

    def output_shape(self, *inputs):
        if not inputs or any(len(s) != len(inputs[0]) or any(sympy.expand(a - b) != 0 for a, b in zip(s, inputs[0])) for s in inputs):
            raise ShapeError(f"Stack needs inputs of one shape, got {' and '.join(format_shape(s) for s in inputs)}", value=inputs)
        rank = len(inputs[0]) + 1
        if not -rank <= self.dim < rank:
            raise ShapeError(f"Stack: dim {self.dim} out of range for a {rank}-d output", value=self.dim)
        axis = self.dim % rank
        return tuple(inputs[0][:axis]) + (sympy.Integer(len(inputs)),) + tuple(inputs[0][axis:])

    def other_flops(self, out, *inputs):
        return sympy.Integer(0)

    def flop_terms(self, out, *inputs):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """Nothing: the gradient is unbound into the inputs' parts."""
        return ()


@register_kind
@dataclass(frozen=True)
class Repeat(ParameterFree):
    """``x.repeat(*repeats)``: tile the tensor, a copy; new leading dimensions when `repeats` is longer.

    Raises
    ------
    CostGraphError
        If a repeat is not a positive integer.
    ShapeError
        If `repeats` is shorter than the input's rank.

    >>> from costgraph.symbols import N, S
    >>> Repeat((1, 4, 1)).output_shape((N, S, 64))
    (N, 4*S, 64)
    """

    repeats: tuple

    def __post_init__(self):
        object.__setattr__(self, "repeats", tuple(positive_int(r, "repeats", "Repeat") for r in self.repeats))

    def output_shape(self, x):
        new = len(self.repeats) - len(x)
        if new < 0:
            raise ShapeError(f"Repeat: {len(self.repeats)} repeats for a {len(x)}-d input", value=self.repeats)
        tail = tuple(r * d for r, d in zip(self.repeats[new:], x))
        return tuple(sympy.Integer(r) for r in self.repeats[:new]) + tail

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """No arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient is summed back over the tiles (``repeat_backward``)."""
        return ()


def _sizes(shape) -> tuple:
    """A kind's `shape` argument as a tuple, or a `ShapeError` (a string is not a shape)."""
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"a shape must be a tuple of sizes, got {shape!r}", value=shape)
    return tuple(shape)


# ``ViewAs``: an exported ATen graph also merges the batch dimension with others
# (``x.view(-1, 768)``) and adds or drops leading ones (``unsqueeze(0)``); `Reshape` keeps the batch first.
@register_kind
@dataclass(frozen=True)
class ViewAs(View):
    """``x.view(shape)`` with `shape` whole (batch included): no new tensor, no arithmetic.

    Raises
    ------
    ShapeError
        If the element counts differ (checked symbolically).

    >>> from costgraph.symbols import N, S
    >>> ViewAs((N * S, 768)).output_shape((N, S, 768))
    (N*S, 768)
    >>> ViewAs((1, S)).output_shape((S,))
    (1, S)
    """

    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(as_size(d, owner="ViewAs") for d in self.shape))

    def output_shape(self, x):
        if sympy.expand(numel(self.shape) - numel(x)) != 0:
            raise ShapeError(f"ViewAs: cannot view {format_shape(x)} as {format_shape(self.shape)}", value=self.shape)
        return self.shape
