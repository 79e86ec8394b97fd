"""Converters: elementwise arithmetic, activations, comparisons, softmax, dropout and dtype casts."""

from __future__ import annotations

from ...kinds import GELU, Add, Contiguous, Div, Dropout, Hardsigmoid, Hardswish, Mul, ReLU, ReLU6, ScalarOp, Sigmoid, SiLU, Softmax, Sub, Tanh
from ...kinds.comparison import Compare
from .table import TensorValue, aten_converter


def _inplace(call):
    """Whether the call is an in-place overload (``add_``, ``relu_``): its name ends in ``_``."""
    return call.op.partition("::")[2].split(".")[0].endswith("_")


_BINARY = {"add": Add, "sub": Sub, "mul": Mul, "div": Div}


def _binary(call, op):
    a, b = call.args[0], call.args[1]
    inplace = _inplace(call)
    alpha = call.arg(2, "alpha", 1) if op in ("add", "sub") else 1
    if call.kwargs.get("rounding_mode") is not None:
        call.unsupported(f"division with rounding_mode={call.kwargs['rounding_mode']!r}")
    if isinstance(a, TensorValue) and isinstance(b, TensorValue):
        if alpha != 1:
            call.unsupported(f"{op} with alpha={alpha}")
        return call.add(_BINARY[op](inplace=inplace), a, b)
    tensor, number = (a, b) if isinstance(a, TensorValue) else (b, a)
    if not isinstance(tensor, TensorValue):
        call.unsupported(f"{op} of two numbers")
    return call.add(ScalarOp(op, inplace=inplace), tensor)


@aten_converter("aten::add", "aten::add_")
def add(call):
    """``a + b`` (a tensor or a number), ``alpha`` 1."""
    return _binary(call, "add")


@aten_converter("aten::sub", "aten::sub_", "aten::rsub")
def sub(call):
    """``a - b``; ``rsub(a, b)`` is ``b - a``."""
    return _binary(call, "sub")


@aten_converter("aten::mul", "aten::mul_")
def mul(call):
    """``a * b``."""
    return _binary(call, "mul")


@aten_converter("aten::div", "aten::div_")
def div(call):
    """``a / b``."""
    return _binary(call, "div")


@aten_converter("aten::relu", "aten::relu_")
def relu(call):
    """``relu(x)``."""
    return ReLU(inplace=_inplace(call))


@aten_converter("aten::hardtanh", "aten::hardtanh_")
def hardtanh(call):
    """``hardtanh(x, 0, 6)`` is ReLU6 (torchvision's MobileNet); other bounds have no kind."""
    low, high = call.arg(1, "min_val", -1.0), call.arg(2, "max_val", 1.0)
    if (low, high) != (0.0, 6.0):
        call.unsupported(f"hardtanh({low}, {high}) (only ReLU6's 0, 6)")
    return ReLU6(inplace=_inplace(call))


@aten_converter("aten::sigmoid", "aten::sigmoid_")
def sigmoid(call):
    """``sigmoid(x)``."""
    return Sigmoid(inplace=_inplace(call))


@aten_converter("aten::hardsigmoid", "aten::hardsigmoid_")
def hardsigmoid(call):
    """``hardsigmoid(x)``."""
    return Hardsigmoid(inplace=_inplace(call))


@aten_converter("aten::hardswish", "aten::hardswish_")
def hardswish(call):
    """``hardswish(x)``."""
    return Hardswish(inplace=_inplace(call))


@aten_converter("aten::silu", "aten::silu_")
def silu(call):
    """``silu(x)``."""
    return SiLU(inplace=_inplace(call))


@aten_converter("aten::gelu", "aten::gelu_")
def gelu(call):
    """``gelu(x, approximate="none")``."""
    if _inplace(call):
        call.unsupported("in-place gelu_")
    return GELU(call.arg(1, "approximate", "none"))


@aten_converter("aten::tanh", "aten::tanh_")
def tanh(call):
    """``tanh(x)``."""
    return Tanh(inplace=_inplace(call))


@aten_converter("aten::softmax", "aten::_softmax")
def softmax(call):
    """``softmax(x, dim, dtype=None)``."""
    return Softmax(int(call.arg(1, "dim")))


@aten_converter("aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::alpha_dropout", "aten::feature_alpha_dropout")
def dropout(call):
    """``dropout(x, p, train)``: the identity at inference, as costgraph counts."""
    if call.arg(2, "train", False):
        call.unsupported("dropout in training mode")
    return Dropout(float(call.arg(1, "p", 0.5)), inplace=_inplace(call))


def _dtype_of_input(call):
    source = call.node.args[0]
    val = source.meta.get("val") if hasattr(source, "meta") else None
    return getattr(val, "dtype", None)


@aten_converter("aten::to", "aten::type_as")
def cast(call):
    """``x.to(dtype)``: the tensor itself when the dtype does not change, else a copy (no arithmetic)."""
    val = call.node.meta.get("val")
    if val is not None and _dtype_of_input(call) == val.dtype and not call.kwargs.get("copy", False):
        return call.args[0]
    return Contiguous()


@aten_converter("aten::_to_copy", "aten::clone")
def copy(call):
    """``clone(x)`` and ``_to_copy(x, dtype)``: a new tensor, no arithmetic."""
    return call.add(Contiguous(), call.args[0])


@aten_converter("aten::contiguous")
def contiguous(call):
    """``x.contiguous()``: a copy exactly when x's memory is not in order (as export traced it)."""
    source = call.node.args[0].meta.get("val")
    if source is not None and source.is_contiguous():
        return call.args[0]
    return Contiguous()


@aten_converter("aten::alias", "aten::detach", "aten::detach_", "aten::lift_fresh_copy", "aten::lift_fresh")
def alias(call):
    """The same tensor (no new storage)."""
    return call.args[0]


_COMPARISONS = {
    "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge",
    "__and__": "and", "bitwise_and": "and", "logical_and": "and",
    "__or__": "or", "bitwise_or": "or", "logical_or": "or",
    "bitwise_xor": "xor", "logical_xor": "xor", "bitwise_not": "not", "logical_not": "not",
}  # fmt: skip


@aten_converter(*(f"aten::{name}" for name in _COMPARISONS))
def compare(call):
    """``a == b``, ``a < b``, ``a & b``, ``~a`` ...: a boolean tensor."""
    op = _COMPARISONS[call.op.partition("::")[2].split(".")[0]]
    tensors = [a for a in call.args if isinstance(a, TensorValue)]
    return call.add(Compare(op), *tensors)
