"""Moving and selecting elements: padding, rolling, strided slices, gathers, masked fills and selects.

Copies (`Pad`, `Roll`, `IndexSelect`, `IndexTensor`, `Gather`) do no
arithmetic: 0 FLOPs and no cost terms, as `Concat`.  `MaskedFill` and
`Where` choose between two values per element: 1 FLOP per output element
(cost term ``select``, which every tool preset weighs 0).  `StridedSlice`
is a view.  What backward keeps follows ``derivatives.yaml``: reflection and
replication padding and ``gather`` keep their input (their backward
formulas take ``self``), index ops keep their int64 index, masked fill and
``where`` their boolean mask.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..intmath import FloorDiv, is_integer_valued
from ..symbols import as_size
from .arithmetic import broadcast_shapes
from .base import Constraint, ParameterFree, Saved, View, format_shape, numel, register_kind

__all__ = ["AdvancedIndex", "Pad", "Roll", "StridedSlice", "IndexSelect", "IndexTensor", "Gather", "MaskedFill", "Where", "Triangular", "SlidingWindows"]


def _int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise CostGraphError(f"{owner}: {name} must be an integer, got {value!r}", value=value)
    return int(value)


def _amount(value):
    """A pad amount: an int, or an integer-valued formula in sizes (an integer formula becomes an int)."""
    if isinstance(value, sympy.Basic) and not isinstance(value, sympy.Integer):
        formula = as_size(value, owner="Pad", what="a pad amount")
        if not is_integer_valued(formula):
            raise CostGraphError(f"Pad: a pad amount must be integer-valued, got {formula}", value=value)
        return formula
    if isinstance(value, sympy.Integer):
        return int(value)
    return _int(value, "pad", "Pad")


def _axis(dim, rank: int, owner: str) -> int:
    if not -rank <= dim < rank:
        raise ShapeError(f"{owner}: dim {dim} out of range for a {rank}-d input", value=dim)
    return dim % rank


PAD_MODES = ("constant", "reflect", "replicate", "circular")


@register_kind
@dataclass(frozen=True)
class Pad(ParameterFree):
    """``F.pad(x, pad, mode, value)``: widen the last dimensions, a new tensor, no arithmetic.

    `pad` is torch's: pairs ``(left, right)`` from the last dimension
    backwards, ``(w_left, w_right, h_top, h_bottom, ...)``.  Negative
    amounts crop (constant mode).  Reflection needs each amount below the
    size, circular at most the size (constraints checked at every size).
    An amount may be an integer-valued formula in sizes (Swin pads a map
    to a multiple of its window: ``(7 - W % 7) % 7``); outside constant
    mode such an amount must not be negative, a constraint checked at
    every size, as the output size (at least 1) is.
    Saved for backward: the input for ``reflect`` and ``replicate``
    (``reflection_pad2d_backward(grad, self, padding)``), nothing otherwise.

    Raises
    ------
    CostGraphError
        For an odd-length or empty `pad`, a non-integer amount, an unknown
        mode, or a negative amount outside constant mode.
    ShapeError
        If `pad` covers more dimensions than the input has.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> Pad((1, 1, 2, 0), mode="reflect").output_shape((N, 3, H, W))
    (N, 3, H + 2, W + 2)
    >>> Pad((1, 1, 2, 0), mode="reflect").saved_tensors((N, 3, H + 2, W + 2), (N, 3, H, W))
    (Saved(source='input', index=0, numel=None, element='activation'),)
    >>> from costgraph.intmath import FloorDiv
    >>> to_multiple = 7 * FloorDiv(W + 6, 7) - W          # (7 - W % 7) % 7: W padded up to a multiple of 7
    >>> Pad((to_multiple, 0)).output_shape((N, 3, H, W))
    (N, 3, H, 7*floor((W + 6)/7))
    """

    pad: tuple
    mode: str = "constant"
    value: float = 0.0

    def __post_init__(self):
        pad = tuple(self.pad) if isinstance(self.pad, (tuple, list)) else None
        if not pad or len(pad) % 2:
            raise CostGraphError(f"Pad: pad must be a non-empty sequence of pairs, got {self.pad!r}", value=self.pad)
        pad = tuple(_amount(p) for p in pad)
        if self.mode not in PAD_MODES:
            raise CostGraphError(f"Pad: mode must be one of {', '.join(PAD_MODES)}, got {self.mode!r}", value=self.mode)
        if self.mode != "constant" and min((p for p in pad if isinstance(p, int)), default=0) < 0:
            raise CostGraphError(f"Pad: negative padding needs mode 'constant', got {pad} in {self.mode!r}", value=pad)
        object.__setattr__(self, "pad", pad)

    def _pairs(self, x):
        dims = len(self.pad) // 2
        if dims > len(x):
            raise ShapeError(f"Pad: {dims} padded dimensions for a {len(x)}-d input", value=self.pad)
        return [(len(x) - 1 - i, self.pad[2 * i], self.pad[2 * i + 1]) for i in range(dims)]

    def output_shape(self, x):
        out = list(x)
        for axis, left, right in self._pairs(x):
            out[axis] = sympy.expand(x[axis] + left + right)
        return tuple(out)

    def constraints(self, out, x):
        # an amount that is a formula may not be negative outside constant mode (an int is checked when built)
        signs = tuple(
            Constraint(p, f"negative padding needs mode 'constant' (mode {self.mode!r})")
            for p in self.pad
            if self.mode != "constant" and not isinstance(p, int)
        )
        if self.mode == "reflect":  # torch: "Padding size should be less than the corresponding input dimension"
            return signs + tuple(
                Constraint(x[a] - p - 1, "Padding size should be less than the corresponding input dimension")
                for a, left, right in self._pairs(x)
                for p in (left, right)
            )
        if self.mode == "circular":
            return signs + tuple(
                Constraint(x[a] - p, "Padding value causes wrapping around more than once")
                for a, left, right in self._pairs(x)
                for p in (left, right)
            )
        return signs

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input for reflect and replicate; nothing for constant and circular (slices and cat)."""
        return (Saved.input(0),) if self.mode in ("reflect", "replicate") else ()


@register_kind
@dataclass(frozen=True)
class Roll(ParameterFree):
    """``torch.roll(x, shifts, dims)``: a shifted copy (Swin's shifted windows), no arithmetic.

    >>> from costgraph.symbols import N, H, W
    >>> Roll((-3, -3), (1, 2)).output_shape((N, H, W, 96))
    (N, H, W, 96)
    """

    shifts: tuple
    dims: tuple | None = None

    def __post_init__(self):
        shifts = self.shifts if isinstance(self.shifts, (tuple, list)) else (self.shifts,)
        object.__setattr__(self, "shifts", tuple(_int(s, "shifts", "Roll") for s in shifts))
        if self.dims is not None:
            dims = self.dims if isinstance(self.dims, (tuple, list)) else (self.dims,)
            dims = tuple(_int(d, "dims", "Roll") for d in dims)
            if len(dims) != len(self.shifts):
                raise CostGraphError(f"Roll: {len(self.shifts)} shifts for {len(dims)} dims", value=dims)
            object.__setattr__(self, "dims", dims)
        elif len(self.shifts) != 1:
            raise CostGraphError("Roll: without dims, one shift (of the flattened tensor)", value=self.shifts)

    def output_shape(self, x):
        for d in self.dims or ():
            _axis(d, len(x), "Roll")
        return tuple(x)

    def other_flops(self, out, x):
        return sympy.Integer(0)

    def flop_terms(self, out, x):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: the gradient is rolled back."""
        return ()


#: torch.export writes "to the end" as a huge stop (sys.maxsize); anything past this is the end
_TO_THE_END = 2**62


@register_kind
@dataclass(frozen=True)
class StridedSlice(View):
    """``x[..., start:stop:step, ...]`` along `dim` (``aten.slice``): a view.

    `start` and `stop` are ints (negative counts from the end), size names or
    formulas in sizes (``S - 1``); `stop=None` (or a huge int, as export
    writes it) runs to the end.  Length: ``ceil((stop - start) / step)``.
    Numeric bounds are clamped to a numeric size, as Python slices are.

    Raises
    ------
    CostGraphError
        If `step` is not a positive integer, or a bound is not a size.
    ShapeError
        If `dim` is out of range.

    >>> from costgraph.symbols import N, S
    >>> StridedSlice(1, 1, None, 2).output_shape((N, S, 64))         # x[:, 1::2]
    (N, floor(S/2), 64)
    >>> StridedSlice(1, 0, -1).output_shape((N, S, 64))              # x[:, :-1]
    (N, S - 1, 64)
    """

    dim: int
    start: object = 0
    stop: object = None
    step: int = 1

    def __post_init__(self):
        if isinstance(self.step, bool) or not isinstance(self.step, numbers.Integral) or self.step < 1:
            raise CostGraphError(f"StridedSlice: step must be a positive integer, got {self.step!r}", value=self.step)
        stop = None if isinstance(self.stop, numbers.Integral) and not isinstance(self.stop, bool) and self.stop >= _TO_THE_END else self.stop
        object.__setattr__(self, "stop", stop)
        for name in ("start", "stop"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
                object.__setattr__(self, name, as_size(value, owner="StridedSlice", what=name))

    def _bound(self, value, size):
        if isinstance(value, numbers.Integral):
            value = int(value)
            bound = size + value if value < 0 else sympy.Integer(value)
            if size.is_number:  # Python's clamping
                bound = sympy.Integer(min(max(int(bound), 0), int(size)))
            return sympy.expand(bound)
        return value

    def output_shape(self, x):
        axis = _axis(self.dim, len(x), "StridedSlice")
        size = sympy.sympify(x[axis])
        start = self._bound(self.start, size)
        stop = size if self.stop is None else self._bound(self.stop, size)
        span = sympy.expand(stop - start)
        if span.is_number and span < 1:
            raise ShapeError(f"StridedSlice: [{self.start}:{self.stop}] is empty for size {size}", value=x)
        length = span if self.step == 1 else FloorDiv(span + self.step - 1, sympy.Integer(self.step))
        out = list(x)
        out[axis] = length
        return tuple(out)


@register_kind
@dataclass(frozen=True)
class IndexSelect(ParameterFree):
    """``torch.index_select(x, dim, index)``: rows picked by a 1-d int64 `index` (input 1), copied.

    The output has the index's length along `dim`.  Saved: the index.

    >>> from costgraph.symbols import N, S
    >>> IndexSelect(1).output_shape((N, S, 64), (10,))
    (N, 10, 64)
    """

    dim: int
    arity = 2

    def output_shape(self, x, index):
        if len(index) != 1:
            raise ShapeError(f"IndexSelect expects a 1-d index, got {format_shape(index)}", value=index)
        axis = _axis(self.dim, len(x), "IndexSelect")
        return tuple(x[:axis]) + (index[0],) + tuple(x[axis + 1 :])

    def other_flops(self, out, x, index):
        return sympy.Integer(0)

    def flop_terms(self, out, x, index):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, index, needs_input_grad=None):
        """The index, to scatter the gradient back (``index_select_backward``)."""
        return (Saved.input(1),)

    def input_element(self, index):
        """The index is int64 (`costgraph.memory.output_elements`)."""
        return "index" if index == 1 else None


@register_kind
@dataclass(frozen=True)
class IndexTensor(ParameterFree):
    """``x[:, ..., index, ...]`` with one integer index tensor (input 1) at dimension `dim`
    (``aten.index.Tensor``): that dimension is replaced by the index's shape.  A copy.

    Boolean masks are refused: the output size depends on the data.

    >>> from costgraph.symbols import N, S
    >>> IndexTensor(1).output_shape((N, 49, 12), (S, S))             # a relative-position table lookup
    (N, S, S, 12)
    """

    dim: int
    arity = 2

    def output_shape(self, x, index):
        axis = _axis(self.dim, len(x), "IndexTensor")
        return tuple(x[:axis]) + tuple(index) + tuple(x[axis + 1 :])

    def other_flops(self, out, x, index):
        return sympy.Integer(0)

    def flop_terms(self, out, x, index):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, index, needs_input_grad=None):
        """The index (``index_backward`` scatters the gradient through it)."""
        return (Saved.input(1),)

    def input_element(self, index):
        """The index is int64 (`costgraph.memory.output_elements`)."""
        return "index" if index == 1 else None


@register_kind
@dataclass(frozen=True)
class Gather(ParameterFree):
    """``torch.gather(x, dim, index)``: the output has the index's shape (input 1, int64). A copy.

    Saved: the input and the index (``gather_backward(grad, self, dim, index)``).

    >>> from costgraph.symbols import N, S
    >>> Gather(2).output_shape((N, S, 100), (N, S, 5))
    (N, S, 5)
    """

    dim: int
    arity = 2

    def output_shape(self, x, index):
        if len(index) != len(x):
            raise ShapeError(
                f"Gather: index {format_shape(index)} and input {format_shape(x)} must have one rank", value=index
            )
        _axis(self.dim, len(x), "Gather")
        return tuple(index)

    def other_flops(self, out, x, index):
        return sympy.Integer(0)

    def flop_terms(self, out, x, index):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, index, needs_input_grad=None):
        """The input and the index."""
        return (Saved.input(0), Saved.input(1))

    def input_element(self, index):
        """The index is int64 (`costgraph.memory.output_elements`)."""
        return "index" if index == 1 else None


@register_kind
@dataclass(frozen=True)
class MaskedFill(ParameterFree):
    """``x.masked_fill(mask, value)``: a boolean mask (input 1) broadcast to ``x``; 1 FLOP per element.

    Saved: the mask.  ``inplace=True`` (``masked_fill_``) makes no new tensor.

    >>> from costgraph.symbols import N, S
    >>> MaskedFill(float("-inf")).output_shape((N, 12, S, S), (1, 1, S, S))   # a causal mask
    (N, 12, S, S)
    """

    value: float = 0.0
    inplace: bool = False
    arity = 2

    def output_shape(self, x, mask):
        if broadcast_shapes("MaskedFill", x, mask) != tuple(x):
            raise ShapeError(f"MaskedFill: mask {format_shape(mask)} does not broadcast to {format_shape(x)}", value=mask)
        return tuple(x)

    @property
    def materializes(self):
        return not self.inplace

    def other_flops(self, out, x, mask):
        return numel(out)

    def flop_terms(self, out, x, mask):
        """Cost term for `costgraph.conventions`: the elements selected (every tool counts 0)."""
        return {"select": numel(out)}

    def saved_tensors(self, out, x, mask, needs_input_grad=None):
        """The mask (``grad.masked_fill(mask, 0)``)."""
        return (Saved.input(1),)

    def input_element(self, index):
        """The mask is bool (`costgraph.memory.output_elements`)."""
        return "bool" if index == 1 else None


@register_kind
@dataclass(frozen=True)
class Where(ParameterFree):
    """``torch.where(condition, a, b)``: inputs (condition, a, b), or (condition, a) with a number
    for ``b``, all broadcast; 1 FLOP per output element.  Saved: the condition.

    >>> from costgraph.symbols import N, S
    >>> Where().output_shape((1, 1, S, S), (N, 12, S, S), (1,))
    (N, 12, S, S)
    """

    arity = None

    def output_shape(self, *inputs):
        if len(inputs) not in (2, 3):
            raise ShapeError(f"Where takes a condition and one or two tensors, got {len(inputs)} inputs", value=len(inputs))
        return broadcast_shapes("Where", *inputs)

    def other_flops(self, out, *inputs):
        return numel(out)

    def flop_terms(self, out, *inputs):
        """Cost term for `costgraph.conventions`: the elements selected (every tool counts 0)."""
        return {"select": numel(out)}

    def saved_tensors(self, out, *inputs, needs_input_grad=None):
        """The condition (``where(condition, grad, 0)``)."""
        return (Saved.input(0),)

    def input_element(self, index):
        """The condition is bool (`costgraph.memory.output_elements`)."""
        return "bool" if index == 0 else None


@register_kind
@dataclass(frozen=True)
class Triangular(ParameterFree):
    """``torch.tril(x, diagonal)`` or ``torch.triu`` (`upper`): zero one side of the last two
    dimensions' diagonal; 1 FLOP (a select) per output element.  Keeps nothing for backward
    (the gradient is masked the same way).

    >>> from costgraph.symbols import S
    >>> Triangular().output_shape((S, S)), Triangular(upper=True, diagonal=1).saved_tensors((S, S), (S, S))
    ((S, S), ())
    """

    diagonal: int = 0
    upper: bool = False

    def __post_init__(self):
        _int(self.diagonal, "diagonal", "Triangular")

    def output_shape(self, x):
        if len(x) < 2:
            raise ShapeError(f"Triangular expects a matrix (rank >= 2), got {format_shape(x)}", value=x)
        return tuple(x)

    def other_flops(self, out, x):
        return numel(out)

    def flop_terms(self, out, x):
        """Cost term for `costgraph.conventions`: the elements selected (every tool counts 0)."""
        return {"select": numel(out)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing."""
        return ()


# ``AdvancedIndex``: attention-mask code (Hugging Face's ``sdpa_mask``) indexes with two tensors,
# ``x[batch_idx, kv_idx]``; `IndexTensor` takes one.
@register_kind
@dataclass(frozen=True)
class AdvancedIndex(ParameterFree):
    """``x[..., i0, ..., i1, ...]`` with integer index tensors at the dimensions `dims` (inputs x, i0, i1, ...).

    The indices broadcast to one shape B.  As torch (numpy's rule): when
    `dims` are adjacent, B replaces them in place; otherwise B comes first,
    followed by the dimensions not indexed.  A copy, no arithmetic; the
    indices are saved (``index_backward`` scatters the gradient through them).

    Raises
    ------
    CostGraphError
        If `dims` is empty or repeats a dimension.
    ShapeError
        If the number of indices differs from `dims`, or they do not broadcast.

    >>> from costgraph.symbols import N, S
    >>> AdvancedIndex((0, 1)).output_shape((N, S), (N, 1, 1, 1), (1, 1, S, 1))
    (N, 1, S, 1)
    >>> AdvancedIndex((0, 2)).output_shape((N, 8, S), (N, 1), (1, S))
    (N, S, 8)
    """

    dims: tuple
    arity = None

    def __post_init__(self):
        dims = tuple(int(d) for d in self.dims)
        if not dims or len(set(dims)) != len(dims):
            raise CostGraphError(f"AdvancedIndex: dims must be distinct and not empty, got {self.dims!r}", value=self.dims)
        object.__setattr__(self, "dims", dims)

    def output_shape(self, x, *indices):
        if len(indices) != len(self.dims):
            raise ShapeError(f"AdvancedIndex: {len(self.dims)} dims but {len(indices)} indices", value=len(indices))
        if any(not -len(x) <= d < len(x) for d in self.dims):
            raise ShapeError(f"AdvancedIndex: dims {self.dims} do not fit a {len(x)}-d input", value=self.dims)
        axes = sorted(d % len(x) for d in self.dims)
        batch = broadcast_shapes("AdvancedIndex", *indices)
        rest = [x[a] for a in range(len(x)) if a not in axes]
        if axes == list(range(axes[0], axes[-1] + 1)):
            return tuple(x[: axes[0]]) + tuple(batch) + tuple(x[axes[-1] + 1 :])
        return tuple(batch) + tuple(rest)

    def other_flops(self, out, x, *indices):
        return sympy.Integer(0)

    def flop_terms(self, out, x, *indices):
        """A copy, no arithmetic: no cost terms (`costgraph.conventions`)."""
        return {}

    def saved_tensors(self, out, x, *indices, needs_input_grad=None):
        """The indices (``index_backward`` scatters the gradient through them)."""
        return tuple(Saved.input(i + 1) for i in range(len(indices)))

    def input_element(self, index):
        """The indices are int64 (`costgraph.memory.output_elements`)."""
        return "index" if index >= 1 else None


# ``SlidingWindows``: ``Tensor.unfold`` (framing audio, chunking long sequences), a strided view.
@register_kind
@dataclass(frozen=True)
class SlidingWindows(View):
    """``x.unfold(dim, size, step)``: windows of `size` elements every `step` along `dim`, as a view
    (``as_strided``): `dim` becomes the number of windows, ``(length - size) // step + 1``, and a
    last dimension of `size` is added.  No copy, no arithmetic, nothing saved.

    Raises
    ------
    CostGraphError
        If `size` or `step` is not a positive integer.
    ShapeError
        If `dim` is out of range or a numeric length is shorter than `size`.

    >>> from costgraph.symbols import N, S
    >>> SlidingWindows(1, 400, 160).output_shape((N, S))          # 25 ms frames every 10 ms at 16 kHz
    (N, floor((S + 80)/160) - 2, 400)
    """

    dim: int
    size: int
    step: int = 1

    def __post_init__(self):
        for name in ("size", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise CostGraphError(f"SlidingWindows: {name} must be a positive integer, got {value!r}", value=value)

    def output_shape(self, x):
        axis = _axis(self.dim, max(len(x), 1), "SlidingWindows")
        length = sympy.sympify(x[axis]) if x else sympy.Integer(1)
        if length.is_number and int(length) < self.size:
            raise ShapeError(f"SlidingWindows: windows of {self.size} do not fit a length of {length}", value=x)
        windows = FloorDiv(length - self.size, sympy.Integer(self.step)) + 1
        out = list(x)
        if out:
            out[axis] = windows
        return tuple(out) + (sympy.Integer(self.size),)

    def constraints(self, out, x):
        axis = self.dim % max(len(x), 1)
        return [Constraint(x[axis] - self.size, "maximum size for tensor at dimension is smaller than size")] if x else []
