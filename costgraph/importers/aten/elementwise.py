"""Converters: elementwise arithmetic, activations, comparisons, softmax, dropout and dtype casts."""

from __future__ import annotations

from ...kinds import GELU, Add, Contiguous, Div, Dropout, Hardsigmoid, Hardswish, Mul, ReLU, ReLU6, ScalarOp, Sigmoid, SiLU, Softmax, Sub, Tanh
from ...kinds.activation import ELU, Hardtanh, LeakyReLU, LogSoftmax, Mish, PReLU, Softplus
from ...kinds.comparison import Compare
from ...kinds.unary import UNARY_OPS, Clamp, PowScalar, Unary
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
    """``hardtanh(x, 0, 6)`` is ReLU6 (torchvision's MobileNet); other bounds a Hardtanh."""
    low, high = call.arg(1, "min_val", -1.0), call.arg(2, "max_val", 1.0)
    if (low, high) == (0.0, 6.0):
        return ReLU6(inplace=_inplace(call))
    return Hardtanh(float(low), float(high), inplace=_inplace(call))


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
    """``dropout(x, p, train)``: a `Dropout` of probability p, in eval or train mode alike.

    The kind is the same: costgraph counts inference (dropout the identity)
    and its training memory keeps the mask; only the p a model passes may
    differ between the modes (``from_torch(..., training=True)``).
    """
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
    return call.add(Contiguous(), call.args[0])  # type_as's second tensor only lends its dtype


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
    "minimum": "minimum", "maximum": "maximum", "min.other": "minimum", "max.other": "maximum",
}  # fmt: skip


@aten_converter(*(f"aten::{name}" for name in _COMPARISONS))
def compare(call):
    """``a == b``, ``a < b``, ``a & b``, ``~a``, ``minimum(a, b)`` (``min.other``) ..."""
    name = call.op.partition("::")[2]
    op = _COMPARISONS.get(name) or _COMPARISONS[name.split(".")[0]]
    tensors = [a for a in call.args if isinstance(a, TensorValue)]
    return call.add(Compare(op), *tensors)


@aten_converter("aten::leaky_relu", "aten::leaky_relu_")
def leaky_relu(call):
    """``leaky_relu(x, negative_slope=0.01)``."""
    return LeakyReLU(float(call.arg(1, "negative_slope", 0.01)), inplace=_inplace(call))


@aten_converter("aten::elu", "aten::elu_")
def elu(call):
    """``elu(x, alpha=1, scale=1, input_scale=1)``."""
    if call.arg(2, "scale", 1) != 1 or call.arg(3, "input_scale", 1) != 1:
        call.unsupported("elu with scale or input_scale (selu, celu)")
    return ELU(float(call.arg(1, "alpha", 1.0)), inplace=_inplace(call))


@aten_converter("aten::softplus")
def softplus(call):
    """``softplus(x, beta=1, threshold=20)``."""
    return Softplus(float(call.arg(1, "beta", 1.0)), float(call.arg(2, "threshold", 20.0)))


@aten_converter("aten::mish", "aten::mish_")
def mish(call):
    """``mish(x)``."""
    return Mish(inplace=_inplace(call))


@aten_converter("aten::log_softmax", "aten::_log_softmax")
def log_softmax(call):
    """``log_softmax(x, dim)``."""
    return LogSoftmax(int(call.arg(1, "dim")))


@aten_converter("aten::prelu", "aten::_prelu_kernel")
def prelu(call):
    """``prelu(x, weight)``: one learned slope per channel (or one for all)."""
    x, weight = call.args[0], call.args[1]
    if weight.param is None:
        call.unsupported("prelu with a computed slope")
    return call.add(PReLU(int(weight.shape[0]) if weight.shape else 1), x, owns=(weight,))


@aten_converter(*(f"aten::{op}{s}" for op in UNARY_OPS for s in ("", "_")))
def unary(call):
    """``exp``, ``log``, ``sqrt``, ``rsqrt``, ``reciprocal``, ``neg``, ``abs``, ``sin``, ``cos``, ``erf`` (and in place)."""
    op = call.op.partition("::")[2].split(".")[0].rstrip("_")
    return Unary(op, inplace=_inplace(call))


@aten_converter("aten::pow", "aten::pow_")
def power(call):
    """``pow(x, exponent)`` with a number exponent; ``pow(number, x)`` and two tensors have no kind."""
    x, exponent = call.args[0], call.args[1]
    if not isinstance(x, TensorValue) or isinstance(exponent, TensorValue):
        call.unsupported("pow with a tensor exponent")
    return PowScalar(exponent, inplace=_inplace(call))


@aten_converter("aten::clamp", "aten::clamp_", "aten::clamp_min", "aten::clamp_min_", "aten::clamp_max", "aten::clamp_max_")
def clamp(call):
    """``clamp(x, min, max)``, ``clamp_min(x, min)``, ``clamp_max(x, max)`` with number bounds."""
    name = call.op.partition("::")[2].split(".")[0].rstrip("_")
    bounds = [a for a in call.args[1:] if a is not None]
    if any(isinstance(b, TensorValue) for b in bounds):
        call.unsupported("clamp with tensor bounds")
    if name == "clamp_min":
        low, high = call.args[1], None
    elif name == "clamp_max":
        low, high = None, call.args[1]
    else:
        low, high = call.arg(1, "min"), call.arg(2, "max")
    return Clamp(None if low is None else float(low), None if high is None else float(high), inplace=_inplace(call))


@aten_converter("aten::diff")
def diff(call):
    """``diff(x, n=1, dim=-1, prepend=None, append=None)``: ``x[1:] - x[:-1]`` along `dim`, after the concatenation."""
    from ...kinds import Concat
    from ...kinds.indexing import StridedSlice

    x, n, dim = call.args[0], call.arg(1, "n", 1), int(call.arg(2, "dim", -1))
    prepend, append = call.arg(3, "prepend"), call.arg(4, "append")
    if n != 1:
        call.unsupported(f"diff of order {n}")
    parts = [t for t in (prepend, x, append) if t is not None]
    whole = call.add(Concat(dim), *parts) if len(parts) > 1 else x
    later = call.add(StridedSlice(dim, 1, None), whole)
    earlier = call.add(StridedSlice(dim, 0, -1), whole)
    return call.add(Sub(), later, earlier)


# -- converters added for any model's ATen ops (branch ops) --------------------------------------
from ...kinds.activation import CELU, GLU, SELU, LogSigmoid  # noqa: E402
from ...kinds.arithmetic import Binary, Ternary  # noqa: E402


@aten_converter("aten::multiply", "aten::multiply_")
def multiply(call):
    """``torch.multiply``: ``mul`` by another name."""
    return _binary(call, "mul")


@aten_converter("aten::subtract", "aten::subtract_")
def subtract(call):
    """``torch.subtract``: ``sub`` by another name."""
    return _binary(call, "sub")


@aten_converter("aten::true_divide", "aten::true_divide_", "aten::divide.Tensor", "aten::divide.Scalar")
def true_divide(call):
    """``torch.true_divide`` / ``torch.divide`` without a rounding mode: ``div``."""
    return _binary(call, "div")


aten_converter("aten::clip", "aten::clip_")(clamp)


@aten_converter("aten::relu6", "aten::relu6_")
def relu6(call):
    """``F.relu6(x)``."""
    return ReLU6(inplace=_inplace(call))


@aten_converter("aten::square", "aten::square_")
def square(call):
    """``torch.square(x)``: ``x ** 2`` (keeps x, as ``pow`` does)."""
    return PowScalar(2, inplace=_inplace(call))


def _binary_function(call, op):
    tensors = [a for a in call.args[:2] if isinstance(a, TensorValue)]
    if not tensors:
        call.unsupported(f"{op} of two numbers")
    if _inplace(call):
        call.unsupported(f"in-place {op}")
    return call.add(Binary(op), *tensors)


@aten_converter("aten::pow.Tensor_Tensor", "aten::pow.Scalar")
def tensor_power(call):
    """``torch.pow(a, b)`` of two tensors, and ``2 ** x`` (a number to a tensor power)."""
    return _binary_function(call, "pow")


@aten_converter("aten::floor_divide", "aten::div.Tensor_mode", "aten::div.Scalar_mode", "aten::divide.Tensor_mode", "aten::divide.Scalar_mode")
def floor_divide(call):
    """``a // b`` (``floor_divide``, ``div(..., rounding_mode="floor")``); "trunc" rounding has no kind."""
    if call.op.startswith(("aten::div", "aten::divide")) and call.kwargs.get("rounding_mode", call.arg(2, "rounding_mode")) != "floor":
        call.unsupported(f"division with rounding_mode={call.kwargs.get('rounding_mode')!r}")
    return _binary_function(call, "floor_divide")


@aten_converter("aten::remainder", "aten::fmod", "aten::atan2")
def binary_function(call):
    """``a % b`` (``remainder``), ``torch.fmod(a, b)``, ``torch.atan2(a, b)``; b may be a number."""
    return _binary_function(call, call.op.partition("::")[2].split(".")[0])


@aten_converter("aten::addcmul", "aten::addcdiv")
def addcmul(call):
    """``addcmul(x, t1, t2, value=1)`` / ``addcdiv``."""
    op = call.op.partition("::")[2].split(".")[0]
    value = call.kwargs.get("value", call.args[3] if len(call.args) > 3 else 1)
    if isinstance(value, TensorValue):
        call.unsupported(f"{op} with a tensor value")
    return call.add(Ternary(op, float(value)), *call.args[:3])


@aten_converter("aten::lerp")
def lerp(call):
    """``torch.lerp(start, end, weight)``, the weight a number or a tensor."""
    start, end, weight = call.arg(0, "self"), call.arg(1, "end"), call.arg(2, "weight")
    if isinstance(weight, TensorValue):
        return call.add(Ternary("lerp"), start, end, weight)
    return call.add(Ternary("lerp", float(weight)), start, end)


@aten_converter("aten::glu")
def glu(call):
    """``F.glu(x, dim=-1)``."""
    return GLU(int(call.arg(1, "dim", -1)))


@aten_converter("aten::log_sigmoid")
def log_sigmoid(call):
    """``F.logsigmoid(x)``."""
    return LogSigmoid()


@aten_converter("aten::selu", "aten::selu_")
def selu(call):
    """``F.selu(x)``."""
    return SELU(inplace=_inplace(call))


@aten_converter("aten::celu", "aten::celu_")
def celu(call):
    """``F.celu(x, alpha=1)``."""
    return CELU(float(call.arg(1, "alpha", 1.0)), inplace=_inplace(call))


@aten_converter("aten::isnan", "aten::isinf", "aten::isfinite")
def value_test(call):
    """``torch.isnan(x)``, ``isinf``, ``isfinite``: a boolean per element (no gradient)."""
    from ...kinds.comparison import Compare

    return call.add(Compare(call.op.partition("::")[2].split(".")[0]), call.args[0])
