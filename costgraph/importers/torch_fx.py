"""``costgraph.from_torch``: an ``nn.Module`` traced with ``torch.fx``, rebuilt symbolically.

How it works:

1. ``torch.fx`` traces ``module.forward`` into a graph of calls (leaf
   ``torch.nn`` modules, functions, tensor methods, attribute reads).  The
   tracer keeps in-place operators (``out += identity``) as ``operator.iadd``,
   which plain fx turns into an out-of-place add.
2. The graph runs once on the example input (on the meta device when the
   module is on it: shapes only, nothing computed) to record every node's
   traced shape, or value for size arithmetic such as ``x.size(0) // 2``.
3. Each node goes through its converter (`TORCH_CONVERTERS`, keyed by module
   class, function or method name), which reads the module's hyper-parameters
   (kernel, stride, padding, dilation, groups, ceil_mode, features, ...) and
   returns a costgraph kind.  The symbolic shapes come from costgraph's own
   formulas; sizes read from a tensor (``x.shape[2]``) are symbolic too.
4. Every node's symbolic shape, evaluated at the example's sizes, must equal
   its traced shape, or the import fails naming the node.

Only torch and the module's own ``forward`` run; nothing else is executed.
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass, field

import sympy
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from ..errors import CostGraphError, ShapeError
from ..intmath import FloorDiv
from ..kinds import (
    GELU,
    AdaptiveAvgPool2d,
    Add,
    AvgPool2d,
    BatchNorm2d,
    ChannelShuffle,
    Concat,
    Conv2d,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Identity,
    Input,
    LayerKind,
    LayerNorm,
    Linear,
    MaxPool2d,
    Mean,
    Mul,
    Permute,
    ReLU,
    ReLU6,
    Reshape,
    Sigmoid,
    SiLU,
    Slice,
    Softmax,
    StochasticDepth,
    Tanh,
    Transpose,
    format_shape,
)
from ..kinds.base import numel
from ..kinds.matmul import BatchMatMul, MatMul
from ..kinds.attention import ScaledDotProductAttention
from ..kinds.attention import MultiheadAttention
from ..kinds.embedding import Embedding
from ..kinds.norm import RMSNorm
from ..kinds.arithmetic import Div, ScalarOp, Sub
from ..kinds.inputs import Parameter
from ..kinds.reduction import Sum
from ..kinds.reshape import Contiguous, Expand, Select
from ..network import Network
from ..symbols import N, size_symbol
from . import TORCH_CONVERTERS, UnsupportedOperationError, register_converter

__all__ = ["from_torch", "Call", "TensorValue", "DEFAULT_DYNAMIC", "UnusedParametersWarning"]


class UnusedParametersWarning(UserWarning):
    """A module has parameters its (eval-mode) forward never uses, e.g. auxiliary heads."""

#: symbolic dimensions by input rank when `dynamic` is not given
DEFAULT_DYNAMIC = {4: {"N": 0, "H": 2, "W": 3}, 3: {"N": 0, "S": 1}, 2: {"N": 0}}


@dataclass(frozen=True)
class TensorValue:
    """A tensor of the network being built: the layer that makes it and its symbolic shape."""

    layer: str
    shape: tuple


@dataclass(frozen=True)
class _ParamValue:
    """A parameter or buffer read with ``get_attr``; a `Parameter` layer only once used as data."""

    path: str
    shape: tuple
    trainable: bool


class _Unknown:
    """The value of a node downstream of an unsupported operation."""


_UNKNOWN = _Unknown()


class _Unsupported(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Call:
    """One traced call, as a converter sees it.

    Attributes
    ----------
    target : object
        The module instance (``call_module``), function (``call_function``)
        or method name (``call_method``).
    args, kwargs
        Arguments with tensors as `TensorValue` and sizes as sympy expressions.
    node : str
        The fx node name; `where` says where it is in the module tree.
    """

    target: object
    args: tuple
    kwargs: dict
    node: str
    where: str
    _importer: "_Importer" = field(repr=False)
    target_path: str = ""
    _index: int = 0

    def arg(self, index: int, name: str, default=None):
        """Argument `name`, given by position `index` or keyword, else `default`."""
        if name in self.kwargs:
            return self.kwargs[name]
        if index is not None and index < len(self.args):
            return self.args[index]
        return default

    def tensors(self) -> list:
        """Every tensor among the arguments, in order (lists such as ``torch.cat``'s flattened)."""
        found = []

        def visit(value):
            if isinstance(value, (TensorValue, _ParamValue)):
                found.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    visit(item)

        for value in list(self.args) + list(self.kwargs.values()):
            visit(value)
        return found

    def add(self, kind: LayerKind, *inputs) -> TensorValue:
        """Add `kind` fed by `inputs` (tensors) to the network; return its output tensor."""
        base = self.target_path or self.node
        name = base if self._index == 0 else f"{base}_{self._index}"
        first = self._index == 0 and bool(self.target_path) and next(self.target.parameters(), None) is not None
        self._index += 1
        importer = self._importer
        # a module called again uses the same parameters: count them once
        shares = importer.module_layers.get(self.target_path) if first else None
        value = importer.add(importer.fresh(name), kind, inputs, shares=shares)
        if first and shares is None:
            importer.module_layers[self.target_path] = value.layer
        return value

    def unsupported(self, reason: str):
        """Reject this call (it is listed with the other unsupported operations)."""
        raise _Unsupported(reason)


class _Tracer(fx.Tracer):
    """fx tracer that records the module path of every node and keeps in-place operators."""

    def __init__(self):
        super().__init__()
        self._paths = []

    def call_module(self, m, forward, args, kwargs):
        self._paths.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._paths.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["costgraph_path"] = self._paths[-1] if self._paths else ""
        return node

    def proxy(self, node):
        return _InplaceProxy(node, self)


class _InplaceProxy(fx.Proxy):
    def __iadd__(self, other):
        return self.tracer.create_proxy("call_function", operator.iadd, (self, other), {})

    def __isub__(self, other):
        return self.tracer.create_proxy("call_function", operator.isub, (self, other), {})

    def __imul__(self, other):
        return self.tracer.create_proxy("call_function", operator.imul, (self, other), {})

    def __itruediv__(self, other):
        return self.tracer.create_proxy("call_function", operator.itruediv, (self, other), {})


class _Recorder(fx.Interpreter):
    """Runs the traced graph once and keeps a light summary of every node's value."""

    def __init__(self, gm):
        super().__init__(gm)
        self.seen = {}

    def run_node(self, n):
        value = super().run_node(n)
        self.seen[n.name] = _summary(value)
        return value


def _summary(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.is_contiguous())
    if isinstance(value, (tuple, list)) and not isinstance(value, torch.Size):
        return tuple(_summary(v) for v in value)
    if isinstance(value, torch.Size):
        return tuple(value)
    return value


class _Importer:
    def __init__(self, gm, recorded, values_at_example, name, lazy_linear):
        self.gm = gm
        self.recorded = recorded
        self.at = values_at_example
        self.net = Network(name)
        self.lazy_linear = lazy_linear
        self.env = {}
        self.params = {}
        self.module_layers = {}
        self.unsupported = []
        self.node = None

    def add(self, name, kind, inputs, shares=None):
        names = []
        for tensor in inputs:
            if isinstance(tensor, _ParamValue):
                tensor = self.parameter(tensor)
            if not isinstance(tensor, TensorValue):
                raise CostGraphError(f"node {self.node.name!r}: {kind.kind} input {tensor!r} is not a tensor", layer=name)
            names.append(tensor.layer)
        self.net.add(name, kind, *names, shares=shares)
        return TensorValue(name, self.net.shape(name))

    def fresh(self, name):
        """`name`, or `name` with a suffix if a layer has it (a module called twice)."""
        candidate, count = name, 1
        while candidate in self.net:
            candidate, count = f"{name}_{count}", count + 1
        return candidate

    def parameter(self, value: _ParamValue) -> TensorValue:
        if value.path not in self.params:
            name = self.fresh(value.path)
            self.net.add(name, Parameter(value.shape, value.trainable))
            self.params[value.path] = TensorValue(name, self.net.shape(name))
        return self.params[value.path]

    def where(self, node):
        path = node.meta.get("costgraph_path", "")
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            return f"module {node.target!r} ({type(module).__name__})"
        inside = f" in module {path!r}" if path else " in the top-level forward"
        return f"node {node.name!r}{inside}"

    def describe(self, node):
        if node.op == "call_module":
            cls = type(self.gm.get_submodule(node.target))
            return f"{cls.__module__}.{cls.__qualname__}"
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        target = node.target
        module = getattr(target, "__module__", None) or ""
        return f"{module + '.' if module else ''}{getattr(target, '__name__', str(target))}"

    def run(self):
        for node in self.gm.graph.nodes:
            self.node = node
            if node.op == "output":
                continue
            args = fx.node.map_arg(node.args, lambda n: self.env[n.name])
            kwargs = fx.node.map_arg(node.kwargs, lambda n: self.env[n.name])
            if _contains_unknown(args) or _contains_unknown(kwargs):
                # downstream of an unsupported call: list it too if it has no converter either
                if not self.has_converter(node):
                    self.unsupported.append((self.describe(node), self.where(node), "no converter is registered"))
                self.env[node.name] = _UNKNOWN
                continue
            try:
                value = self.convert(node, args, kwargs)
            except _Unsupported as reason:
                self.unsupported.append((self.describe(node), self.where(node), reason.reason))
                self.env[node.name] = _UNKNOWN
                continue
            except CostGraphError as error:
                raise type(error)(f"{self.where(node)}: {error}", layer=node.name, value=error.value) from None
            self.check(node, value)
            self.env[node.name] = value
        if self.unsupported:
            self.raise_unsupported()
        self.warn_unused_parameters()
        return self.net

    def warn_unused_parameters(self):
        """Warn about parameters forward never reads: they are not in the network's counts."""
        used = set()
        for node in self.gm.graph.nodes:
            if node.op == "get_attr":
                used.add(node.target)
            elif node.op == "call_module":
                prefix = node.target + "." if node.target else ""
                used.update(prefix + name for name, _ in self.gm.get_submodule(node.target).named_parameters())
        # the GraphModule keeps only the submodules forward calls: ask the original module
        unused = [(name, p.numel()) for name, p in self.module.named_parameters() if name not in used]
        if unused:
            shown = ", ".join(f"{name} ({count})" for name, count in unused[:8]) + (", ..." if len(unused) > 8 else "")
            warnings.warn(
                f"{self.net.name}: {len(unused)} parameter tensor(s), {sum(c for _, c in unused)} elements, are not used "
                f"by forward (in eval mode) and are not counted: {shown}",
                UnusedParametersWarning,
                stacklevel=4,
            )

    def has_converter(self, node):
        if node.op == "call_module":
            return _module_converter(type(self.gm.get_submodule(node.target))) is not None
        if node.op in ("call_function", "call_method"):
            return node.target in TORCH_CONVERTERS or node.target in _SIZE_FUNCTIONS or _qualified_name(node.target) in TORCH_CONVERTERS
        return True

    def convert(self, node, args, kwargs):
        if node.op == "placeholder":
            return self.env[node.name]
        if node.op == "get_attr":
            value = _get_attr(self.gm, node.target)
            if isinstance(value, torch.Tensor):
                return _ParamValue(node.target, tuple(value.shape), isinstance(value, nn.Parameter) and value.requires_grad)
            return value
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            converter = _module_converter(type(module))
            target = module
        else:
            target = node.target
            if node.op == "call_function" and not _has_tensor(args, kwargs):
                return _python_call(target, args, kwargs)
            converter = TORCH_CONVERTERS.get(target) or TORCH_CONVERTERS.get(_qualified_name(target))
        if converter is None:
            raise _Unsupported("no converter is registered")
        path = node.target if node.op == "call_module" else ""
        call = Call(target, tuple(args), dict(kwargs), node.name, self.where(node), self, path)
        result = converter(call)
        if isinstance(result, LayerKind):
            result = call.add(result, *call.tensors())
        return result

    def check(self, node, value):
        traced = self.recorded.get(node.name)
        if traced is None or node.op == "get_attr":
            return
        ours = self.instantiate(value)
        theirs = _strip(traced)
        if ours != theirs:
            raise ShapeError(
                f"{self.where(node)} ({self.describe(node)}): costgraph's formulas give {_show(value)}, "
                f"which is {ours} at the example's sizes, but torch traced {theirs}",
                layer=node.name,
                value=(ours, theirs),
            )

    def instantiate(self, value):
        if isinstance(value, TensorValue):
            return tuple(_int(sympy.sympify(d).xreplace(self.at)) for d in value.shape)
        if isinstance(value, _ParamValue):
            return value.shape
        if isinstance(value, (tuple, list)):
            return tuple(self.instantiate(v) for v in value)
        if isinstance(value, sympy.Basic):
            return _int(value.xreplace(self.at))
        return value

    def raise_unsupported(self):
        lines = [f"  - {op} at {where}: {reason}" for op, where, reason in self.unsupported]
        raise UnsupportedOperationError(
            f"{self.net.name}: {len(self.unsupported)} operation(s) have no costgraph converter, "
            "so their costs are unknown (costgraph never counts them as zero):\n"
            + "\n".join(lines)
            + "\nTeach the importer an operation with costgraph.importers.register_converter(target), where target "
            "is the module class, function or tensor method name, and return a registered costgraph kind "
            "(costgraph.register_kind for a kind of your own).",
            operations=[(op, where) for op, where, _ in self.unsupported],
            value=self.unsupported,
        )


def _int(expr):
    expr = sympy.sympify(expr)
    return int(expr) if expr.is_Integer else expr


def _strip(traced):
    if isinstance(traced, tuple) and len(traced) == 3 and traced[0] == "tensor":
        return traced[1]
    if isinstance(traced, tuple):
        return tuple(_strip(t) for t in traced)
    return traced


def _show(value):
    if isinstance(value, TensorValue):
        return format_shape(value.shape)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


def _contains_unknown(value):
    if value is _UNKNOWN:
        return True
    if isinstance(value, (tuple, list)):
        return any(_contains_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    return False


def _has_tensor(args, kwargs):
    def visit(value):
        if isinstance(value, (TensorValue, _ParamValue)):
            return True
        if isinstance(value, (list, tuple)):
            return any(visit(v) for v in value)
        return False

    return visit(args) or visit(list(kwargs.values()))


def _get_attr(gm, target):
    value = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _qualified_name(target):
    """``"package.module.function"`` of a function, the key of converters for libraries
    costgraph does not import (``"torchvision.ops.stochastic_depth.stochastic_depth"``)."""
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None)
    return f"{module}.{name}" if module and name else None


def _module_converter(cls):
    converter = TORCH_CONVERTERS.get(cls) or TORCH_CONVERTERS.get(_qualified_name(cls))
    if converter is not None:
        return converter
    converter = TORCH_CONVERTERS.get(cls)
    if converter is not None:
        return converter
    # a subclass that keeps its base's forward computes the same thing
    for base in cls.__mro__[1:]:
        if base in TORCH_CONVERTERS and getattr(base, "forward", None) is getattr(cls, "forward", None):
            return TORCH_CONVERTERS[base]
    return None


_SIZE_ARITHMETIC = {
    operator.add: operator.add,
    operator.sub: operator.sub,
    operator.mul: operator.mul,
    operator.neg: operator.neg,
}


_COMPARISONS = {
    operator.eq: sympy.Eq,
    operator.ne: sympy.Ne,
    operator.lt: sympy.Lt,
    operator.le: sympy.Le,
    operator.gt: sympy.Gt,
    operator.ge: sympy.Ge,
}

_SIZE_FUNCTIONS = {operator.floordiv, operator.getitem, getattr, int, math.floor, torch._assert, *_SIZE_ARITHMETIC, *_COMPARISONS}


def _python_call(target, args, kwargs):
    """Size arithmetic between ints and symbolic sizes (``x.size(2) // 2``), kept exact."""
    if target is operator.floordiv:
        a, b = args
        if isinstance(b, int) and b > 0:
            return _py(FloorDiv(sympy.sympify(a), sympy.Integer(b))) if isinstance(a, sympy.Basic) else a // b
        raise _Unsupported(f"floor division of sizes by {b!r} (only by a positive int)")
    if target in _SIZE_ARITHMETIC:
        result = _SIZE_ARITHMETIC[target](*args)
        return _py(result) if isinstance(result, sympy.Basic) else result
    if target is operator.getitem:
        return args[0][args[1]]
    if target is getattr:
        return getattr(*args)
    if target in (int, math.floor) and isinstance(args[0], (int, sympy.Integer)):
        return int(args[0])
    if target in _COMPARISONS:
        relation = _COMPARISONS[target](sympy.sympify(args[0]), sympy.sympify(args[1]))
        return bool(relation) if relation in (sympy.true, sympy.false) else relation
    if target is torch._assert:
        condition, message = args[0], args[1] if len(args) > 1 else ""
        if condition is True or condition == sympy.true:
            return None
        if isinstance(condition, sympy.Basic) and condition != sympy.false:
            raise CostGraphError(
                f"the module asserts {condition} ({message!s}), which does not hold at every size: "
                "make the size(s) in it fixed (leave them out of `dynamic`)",
                value=condition,
            )
        raise CostGraphError(f"the module's assertion fails at the example: {message!s}", value=condition)
    raise _Unsupported("no converter is registered (it takes no tensor, and is not size arithmetic)")


def _dims_of(value, rank):
    dims = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return tuple(int(d) for d in dims)


# -- converters: modules -------------------------------------------------------------------

def _conv2d(call):
    m = call.target
    if isinstance(m.padding, str):
        padding = m.padding
    else:
        padding = tuple(m.padding)
    return Conv2d(m.in_channels, m.out_channels, tuple(m.kernel_size), tuple(m.stride), padding, tuple(m.dilation), m.groups, m.bias is not None)


def _linear_kind(call, in_features, out_features, bias):
    x = call.args[0]
    if call._importer.lazy_linear and not sympy.sympify(x.shape[-1]).is_number:
        return Linear(None, out_features, bias)
    return Linear(in_features, out_features, bias)


def _max_pool(call, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
    if return_indices:
        call.unsupported("return_indices=True")
    stride = kernel if stride is None or stride == [] or stride == () else stride
    return MaxPool2d(_pair(kernel), _pair(stride), _pair(padding), _pair(dilation), bool(ceil_mode))


def _avg_pool(call, kernel, stride, padding, ceil_mode, count_include_pad):
    stride = kernel if stride is None or stride == [] or stride == () else stride
    return AvgPool2d(_pair(kernel), _pair(stride), _pair(padding), bool(ceil_mode), bool(count_include_pad))


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else value


def _check_rank(call, rank, owner):
    x = call.args[0]
    if len(x.shape) != rank:
        call.unsupported(f"{owner} on a {len(x.shape)}-d input (costgraph's kind takes {rank}-d)")


def _batchnorm(call):
    m = call.target
    _check_rank(call, 4, "BatchNorm")
    return BatchNorm2d(m.num_features, m.eps, m.momentum if m.momentum is not None else 0.1, m.affine)


def _layernorm(call):
    m = call.target
    return LayerNorm(tuple(m.normalized_shape), m.eps, m.elementwise_affine, m.bias is not None)


def _dropout(call):
    m = call.target
    return Dropout(m.p, m.inplace)


register_converter(nn.Conv2d)(_conv2d)
register_converter(nn.Linear)(lambda call: _linear_kind(call, call.target.in_features, call.target.out_features, call.target.bias is not None))
register_converter(nn.MaxPool2d)(
    lambda call: _max_pool(call, call.target.kernel_size, call.target.stride, call.target.padding, call.target.dilation, call.target.ceil_mode, call.target.return_indices)
)
register_converter(nn.AvgPool2d)(
    lambda call: _avg_pool(call, call.target.kernel_size, call.target.stride, call.target.padding, call.target.ceil_mode, call.target.count_include_pad)
)
register_converter(nn.AdaptiveAvgPool2d)(lambda call: AdaptiveAvgPool2d(_pair(call.target.output_size)))
register_converter(nn.ReLU)(lambda call: ReLU(call.target.inplace))
register_converter(nn.ReLU6)(lambda call: ReLU6(call.target.inplace))
register_converter(nn.Sigmoid)(lambda call: Sigmoid())
register_converter(nn.Hardsigmoid)(lambda call: Hardsigmoid(call.target.inplace))
register_converter(nn.Hardswish)(lambda call: Hardswish(call.target.inplace))
register_converter(nn.SiLU)(lambda call: SiLU(call.target.inplace))
register_converter(nn.GELU)(lambda call: GELU(call.target.approximate))
register_converter(nn.Tanh)(lambda call: Tanh())
register_converter(nn.Identity)(lambda call: Identity())
for _cls in (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout):
    register_converter(_cls)(_dropout)
register_converter(nn.Softmax)(lambda call: Softmax(call.target.dim if call.target.dim is not None else -1))
register_converter(nn.BatchNorm2d)(_batchnorm)
register_converter(nn.LayerNorm)(_layernorm)
register_converter(nn.Flatten)(lambda call: Flatten(call.target.start_dim, call.target.end_dim))
register_converter(nn.ChannelShuffle)(lambda call: ChannelShuffle(call.target.groups))


# -- converters: functions and methods ---------------------------------------------------------

def _register(*targets):
    def decorate(converter):
        for target in targets:
            register_converter(target)(converter)
        return converter

    return decorate


def _activation(kind_cls, inplace_default=False, *, inplace_arg=1):
    def convert(call):
        inplace = call.arg(inplace_arg, "inplace", inplace_default)
        return kind_cls(inplace=bool(inplace))

    return convert


_register(F.relu, torch.relu, "relu")(_activation(ReLU))
_register(F.relu_, torch.relu_, "relu_")(_activation(ReLU, True, inplace_arg=99))
_register(F.relu6)(_activation(ReLU6))
_register(F.hardsigmoid)(_activation(Hardsigmoid))
_register(F.hardswish)(_activation(Hardswish))
_register(F.silu)(_activation(SiLU))
_register(torch.sigmoid, F.sigmoid, "sigmoid")(lambda call: Sigmoid())
_register("sigmoid_")(lambda call: Sigmoid(inplace=True))
_register(torch.tanh, F.tanh, "tanh")(lambda call: Tanh())
_register(F.gelu)(lambda call: GELU(call.arg(None, "approximate", "none")))


@_register(F.dropout, F.dropout2d, F.dropout1d)
def _f_dropout(call):
    return Dropout(call.arg(1, "p", 0.5), bool(call.arg(3, "inplace", False)))


@_register(torch.flatten, "flatten")
def _flatten(call):
    return Flatten(call.arg(1, "start_dim", 0), call.arg(2, "end_dim", -1))


def _binary(tensor_kind, op_name, inplace=False, *, reverse_ok=True):
    def convert(call):
        a, b = call.args[0], call.args[1] if len(call.args) > 1 else call.kwargs.get("other")
        if call.kwargs.get("alpha", 1) != 1:
            call.unsupported("alpha != 1")
        tensors = [v for v in (a, b) if isinstance(v, (TensorValue, _ParamValue))]
        if len(tensors) == 2:
            return tensor_kind(inplace=inplace)
        if isinstance(b, (int, float)) or isinstance(a, (int, float)):
            return ScalarOp(op_name, inplace)
        call.unsupported(f"operands {a!r} and {b!r}")

    return convert


_register(operator.add, torch.add, "add")(_binary(Add, "add"))
_register(operator.iadd, "add_")(_binary(Add, "add", True))
_register(operator.mul, torch.mul, "mul")(_binary(Mul, "mul"))
_register(operator.imul, "mul_")(_binary(Mul, "mul", True))
_register(operator.sub, torch.sub, "sub")(_binary(Sub, "sub"))
_register(operator.isub, "sub_")(_binary(Sub, "sub", True))
_register(operator.truediv, torch.div, "div")(_binary(Div, "div"))
_register(operator.itruediv, "div_")(_binary(Div, "div", True))


@_register(torch.cat, torch.concat)
def _cat(call):
    tensors = call.arg(0, "tensors")
    return call.add(Concat(call.arg(1, "dim", 0)), *tensors)


def _reduce(kind_cls):
    def convert(call):
        dims = call.arg(1, "dim")
        if dims is None:
            call.unsupported(f"{kind_cls.__name__} over every dimension (dim=None)")
        return kind_cls(_dims_of(dims, len(call.args[0].shape)), bool(call.arg(2, "keepdim", False)))

    return convert


_register(torch.mean, "mean")(_reduce(Mean))
_register(torch.sum, "sum")(_reduce(Sum))


@_register(F.adaptive_avg_pool2d)
def _f_adaptive_avg_pool(call):
    return AdaptiveAvgPool2d(_pair(call.arg(1, "output_size")))


@_register(F.max_pool2d, torch.max_pool2d)
def _f_max_pool(call):
    return _max_pool(
        call,
        call.arg(1, "kernel_size"),
        call.arg(2, "stride"),
        call.arg(3, "padding", 0),
        call.arg(4, "dilation", 1),
        call.arg(5, "ceil_mode", False),
        call.arg(6, "return_indices", False),
    )


@_register(F.avg_pool2d)
def _f_avg_pool(call):
    if call.arg(6, "divisor_override") is not None:
        call.unsupported("divisor_override")
    return _avg_pool(
        call, call.arg(1, "kernel_size"), call.arg(2, "stride"), call.arg(3, "padding", 0), call.arg(4, "ceil_mode", False), call.arg(5, "count_include_pad", True)
    )


@_register(F.conv2d)
def _f_conv2d(call):
    weight = call.arg(1, "weight")
    bias = call.arg(2, "bias")
    if not isinstance(weight, _ParamValue) or (bias is not None and not isinstance(bias, _ParamValue)):
        call.unsupported("a weight computed in forward (only parameters are supported)")
    out_ch, per_group, kh, kw = weight.shape
    groups = call.arg(6, "groups", 1)
    padding = call.arg(4, "padding", 0)
    return call.add(
        Conv2d(per_group * groups, out_ch, (kh, kw), _pair(call.arg(3, "stride", 1)), _pair(padding), _pair(call.arg(5, "dilation", 1)), groups, bias is not None),
        call.args[0],
    )


@_register(F.linear)
def _f_linear(call):
    weight, bias = call.arg(1, "weight"), call.arg(2, "bias")
    if not isinstance(weight, _ParamValue) or (bias is not None and not isinstance(bias, _ParamValue)):
        call.unsupported("a weight computed in forward (only parameters are supported)")
    out_features, in_features = weight.shape
    return call.add(_linear_kind(call, in_features, out_features, bias is not None), call.args[0])


@_register(F.layer_norm)
def _f_layer_norm(call):
    shape = call.arg(1, "normalized_shape")
    weight, bias = call.arg(2, "weight"), call.arg(3, "bias")
    kind = LayerNorm(_dims_of(shape, 0), call.arg(4, "eps", 1e-5), weight is not None, bias is not None)
    return call.add(kind, call.args[0])


@_register(F.batch_norm)
def _f_batch_norm(call):
    x = call.args[0]
    _check_rank(call, 4, "batch_norm")
    weight = call.arg(3, "weight")
    return call.add(BatchNorm2d(int(x.shape[1]), affine=weight is not None), x)


@_register(F.softmax, torch.softmax, "softmax")
def _softmax(call):
    return Softmax(call.arg(1, "dim", -1))


@_register(torch.matmul, operator.matmul, torch.mm, "matmul", "mm")
def _matmul(call):
    return MatMul()


@_register(torch.bmm, "bmm")
def _bmm(call):
    return BatchMatMul()


@_register(F.scaled_dot_product_attention)
def _sdpa(call):
    if call.arg(4, "dropout_p", 0.0):
        call.unsupported("dropout_p > 0 (costgraph counts inference)")
    if call.arg(6, "scale") is not None and not isinstance(call.arg(6, "scale"), (int, float)):
        call.unsupported("a scale computed from tensors")
    mask = call.arg(3, "attn_mask")
    inputs = [call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")] + ([mask] if mask is not None else [])
    kind = ScaledDotProductAttention(is_causal=bool(call.arg(5, "is_causal", False)), enable_gqa=bool(call.arg(7, "enable_gqa", False)))
    return call.add(kind, *inputs)


@_register("torchvision.ops.stochastic_depth.stochastic_depth")
def _stochastic_depth(call):
    # traced in eval mode, where torchvision's stochastic_depth returns its input
    return StochasticDepth(call.arg(1, "p", 0.0), call.arg(2, "mode", "row"))


@_register(nn.MultiheadAttention)
def _multihead_attention(call):
    m = call.target
    query, key, value = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    if not (query == key == value):
        call.unsupported("attention whose query, key and value differ (costgraph's kind is self-attention)")
    if not m.batch_first:
        call.unsupported("batch_first=False (costgraph's kind takes (N, S, E))")
    if m.bias_k is not None or m.kdim != m.embed_dim or m.vdim != m.embed_dim:
        call.unsupported("add_bias_kv, kdim or vdim")
    if call.arg(3, "key_padding_mask") is not None or call.arg(5, "attn_mask") is not None:
        call.unsupported("an attention mask")
    if call.arg(4, "need_weights", True):
        call.unsupported("need_weights=True (the averaged attention weights are another tensor)")
    out = call.add(MultiheadAttention(m.embed_dim, m.num_heads, m.in_proj_bias is not None, is_causal=bool(call.arg(7, "is_causal", False))), query)
    return (out, None)


@_register(nn.Embedding)
def _embedding(call):
    m = call.target
    if m.max_norm is not None:
        call.unsupported("max_norm (it renormalizes rows in place)")
    return Embedding(m.num_embeddings, m.embedding_dim)


@_register(F.embedding)
def _f_embedding(call):
    weight = call.arg(1, "weight")
    if not isinstance(weight, _ParamValue):
        call.unsupported("a table computed in forward (only parameters are supported)")
    return call.add(Embedding(*weight.shape), call.args[0])


def _rms_norm(call):
    m = call.target
    if len(m.normalized_shape) != 1:
        call.unsupported(f"normalized_shape {tuple(m.normalized_shape)} (costgraph's RMSNorm takes the last dimension)")
    return RMSNorm(m.normalized_shape[0], m.eps, m.elementwise_affine)


if hasattr(nn, "RMSNorm"):  # torch >= 2.4
    register_converter(nn.RMSNorm)(_rms_norm)


@_register("expand")
def _expand(call):
    sizes = _sizes_arg(call)
    return Expand(tuple(sympy.sympify(s) for s in sizes))


@_register(F.channel_shuffle, torch.channel_shuffle)
def _channel_shuffle(call):
    return ChannelShuffle(call.arg(1, "groups"))


def _sizes_arg(call):
    sizes = call.args[1:] if "shape" not in call.kwargs else (call.kwargs["shape"],)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(sizes)


@_register("view", "reshape", torch.reshape)
def _reshape(call):
    x = call.args[0]
    sizes = _sizes_arg(call)
    if not sizes:
        call.unsupported("reshape without sizes")
    sizes = tuple(sympy.sympify(s) for s in sizes)
    rest = tuple(x.shape[1:])
    if sympy.expand(sizes[0] - x.shape[0]) == 0:
        return Reshape(sizes[1:])
    if sizes[0] == -1 and -1 not in sizes[1:] and sympy.expand(numel(sizes[1:]) - numel(rest)) == 0:
        return Reshape(sizes[1:])
    call.unsupported(
        f"a reshape to {sizes} that does not keep the batch dimension {x.shape[0]} first "
        "(costgraph's Reshape keeps it; pass the batch as x.size(0) or -1)"
    )


@_register("permute", torch.permute)
def _permute(call):
    dims = _sizes_arg(call) if "dims" not in call.kwargs else tuple(call.kwargs["dims"])
    return Permute(tuple(int(d) for d in dims))


@_register("transpose", torch.transpose)
def _transpose(call):
    return Transpose(call.arg(1, "dim0"), call.arg(2, "dim1"))


@_register("contiguous")
def _contiguous(call):
    # a copy happens exactly when the input's memory is not in order, as traced
    node = call._importer.node
    traced = call._importer.recorded.get(node.args[0].name)
    if isinstance(traced, tuple) and len(traced) == 3 and traced[0] == "tensor" and traced[2]:
        return call.args[0]
    return Contiguous()


def _py(size):
    """A size as a Python int when it is a number (as torch hands it to the code), else the formula."""
    size = sympy.sympify(size)
    return int(size) if size.is_Integer else size


@_register("size")
def _size(call):
    x = call.args[0]
    dim = call.arg(1, "dim")
    return tuple(_py(d) for d in x.shape) if dim is None else _py(x.shape[dim])


@_register("dim")
def _dim(call):
    return len(call.args[0].shape)


@_register(getattr)
def _getattr(call):
    x, attribute = call.args[0], call.args[1]
    if isinstance(x, (TensorValue, _ParamValue)) and attribute == "shape":
        return tuple(_py(d) for d in x.shape)
    if isinstance(x, (TensorValue, _ParamValue)) and attribute == "ndim":
        return len(x.shape)
    call.unsupported(f"reading attribute {attribute!r} of a tensor")


@_register(operator.getitem)
def _getitem(call):
    source, index = call.args
    if isinstance(source, (tuple, list)):
        return source[index]
    if not isinstance(source, TensorValue):
        call.unsupported(f"indexing {source!r}")
    index = index if isinstance(index, tuple) else (index,)
    out = source
    for axis, item in enumerate(index):
        if item == slice(None):
            continue
        if isinstance(item, slice) and item.step in (None, 1) and all(isinstance(v, (int, type(None))) for v in (item.start, item.stop)):
            size = out.shape[axis]
            start = item.start or 0
            stop = item.stop
            if start < 0 or (stop is not None and stop < 0):
                call.unsupported("negative slice bounds")
            if stop is not None and sympy.sympify(size).is_number and stop >= int(size):
                stop = None
            out = call.add(Slice(axis, start, stop), out)
            continue
        if isinstance(item, int) and axis > 0:
            out = call.add(Select(axis, item), out)
            # the selected axis is gone: later indices refer to the next axes
            return _getitem_rest(call, out, index[axis + 1 :], axis)
        call.unsupported(f"tensor index {item!r} (only x[..., a:b] slices and integers after the batch)")
    return out


def _getitem_rest(call, out, rest, axis):
    if any(item != slice(None) for item in rest):
        call.unsupported("indexing after an integer index")
    return out


def _split_sizes(call, size, dim, sizes):
    if not sympy.sympify(size).is_number:
        call.unsupported(f"splitting a symbolic dimension {size}")
    x = call.args[0]
    start, outs = 0, []
    for length in sizes:
        stop = start + length
        outs.append(call.add(Slice(dim, start, None if stop >= int(size) else stop), x))
        start = stop
    return tuple(outs)


@_register("chunk", torch.chunk)
def _chunk(call):
    x = call.args[0]
    chunks, dim = call.arg(1, "chunks"), call.arg(2, "dim", 0)
    size = x.shape[dim]
    if not sympy.sympify(size).is_number:
        call.unsupported(f"chunking a symbolic dimension {size}")
    step = -(-int(size) // chunks)
    return _split_sizes(call, size, dim, [min(step, int(size) - i) for i in range(0, int(size), step)])


@_register("split", torch.split)
def _split(call):
    x = call.args[0]
    split, dim = call.arg(1, "split_size_or_sections"), call.arg(2, "dim", 0)
    size = x.shape[dim]
    if not sympy.sympify(size).is_number:
        call.unsupported(f"splitting a symbolic dimension {size}")
    if isinstance(split, int):
        sizes = [min(split, int(size) - i) for i in range(0, int(size), split)]
    else:
        sizes = list(split)
    return _split_sizes(call, size, dim, sizes)


# -- the entry point --------------------------------------------------------------------------

def _example_tensors(example_input, device):
    def one(value):
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (tuple, list, torch.Size)) and all(isinstance(v, int) for v in value):
            return torch.empty(tuple(value), device=device)
        raise CostGraphError(f"from_torch: an example input must be a tensor or a shape, got {value!r}", value=value)

    if isinstance(example_input, torch.Tensor) or (
        isinstance(example_input, (tuple, list, torch.Size)) and example_input and all(isinstance(v, int) for v in example_input)
    ):
        return [one(example_input)]
    if isinstance(example_input, (tuple, list)) and example_input:
        return [one(v) for v in example_input]
    raise CostGraphError(f"from_torch: example_input must be a tensor, a shape, or a list of them, got {example_input!r}", value=example_input)


def _symbol_for(name):
    if isinstance(name, sympy.Symbol):
        return name
    return size_symbol(name)


def _input_shapes(examples, dynamic):
    """Symbolic shape of each input, and the example's value of every size symbol."""
    if dynamic is None:
        if len(examples) != 1 or examples[0].dim() not in DEFAULT_DYNAMIC:
            raise CostGraphError(
                "from_torch: say which input dimensions are sizes with dynamic={'H': 2, ...} "
                "(name -> dim, or (input index, dim) with several inputs)"
            )
        dynamic = DEFAULT_DYNAMIC[examples[0].dim()]
        if examples[0].dim() == 2 and not examples[0].is_floating_point():
            dynamic = {"N": 0, "S": 1}  # token ids
    shapes = [list(sympy.Integer(s) for s in x.shape) for x in examples]
    values = {}
    for name, where in dynamic.items():
        index, dim = (0, where) if isinstance(where, int) else tuple(where)
        if not 0 <= index < len(examples) or not -examples[index].dim() <= dim < examples[index].dim():
            raise CostGraphError(f"from_torch: dynamic size {name!r} at {where!r} does not fit the example inputs", value=where)
        symbol = _symbol_for(name)
        example_value = int(examples[index].shape[dim])
        if example_value < 1:
            raise CostGraphError(f"from_torch: dynamic size {name!r} is {example_value} in the example", value=example_value)
        if values.get(symbol, example_value) != example_value:
            raise CostGraphError(f"from_torch: size {name!r} has two different values in the example", value=example_value)
        values[symbol] = example_value
        shapes[index][dim] = symbol
    return [tuple(s) for s in shapes], values


def _trace(module):
    tracer = _Tracer()
    try:
        graph = tracer.trace(module)
    except Exception as error:  # fx raises TraceError, TypeError, ... on dynamic control flow
        raise CostGraphError(
            f"from_torch: torch.fx cannot trace {type(module).__name__}: {type(error).__name__}: {error}", value=module
        ) from error
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


def from_torch(module, example_input, dynamic=None, *, name=None, lazy_linear=False) -> Network:
    """Trace `module` with ``torch.fx`` and rebuild it as a symbolic costgraph `Network`.

    Parameters
    ----------
    module : torch.nn.Module
        The model.  Build it on the meta device (``with torch.device("meta"):``)
        to import a big model in a fraction of a second; a module with real
        weights works too (it runs once on `example_input`).
    example_input : Tensor, shape tuple, or list of them
        One example per ``forward`` argument, batch first.  A shape makes an
        empty tensor on the module's device.  Give distinct sizes (e.g.
        ``(2, 3, 64, 48)``): the traced shapes check the symbolic ones, and
        equal sizes cannot tell H from W.
    dynamic : dict, optional
        Which input dimensions are sizes: ``{name: dim}``, or
        ``{name: (input index, dim)}`` with several inputs, e.g.
        ``{"N": 0, "H": 2, "W": 3}``.  Names "N", "H", "W", "S" are
        costgraph's symbols; others become ``size_symbol(name)``.  Every
        other dimension is fixed at the example's size.  By default a 4-d
        input has N, H, W at 0, 2, 3; a 3-d input N, S; a 2-d input N
        (N, S for integer token ids).
    name : str, optional
        The network's name (default: the module's class name).
    lazy_linear : bool
        Import every linear layer whose input features depend on the sizes
        as a lazy Linear (its weights follow the input, like the seed's
        VGG16 table, where fc1 is sized for each input).  By default a linear
        layer keeps its ``in_features``, and the network is valid only at
        sizes that produce them.

    Returns
    -------
    Network
        Layers are named after the module path (``features.0``) or fx node.

    Raises
    ------
    UnsupportedOperationError
        Listing every operation without a converter and where it occurs.
    ShapeError
        If a layer's symbolic shape, at the example's sizes, differs from the
        traced shape (naming the node), or the layers do not fit together.
    CostGraphError
        For a bad `example_input` or `dynamic`, or when fx cannot trace
        the module (data-dependent control flow).

    Examples
    --------
    >>> import torch
    >>> import costgraph
    >>> with torch.device("meta"):
    ...     model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.MaxPool2d(2))
    >>> net = costgraph.from_torch(model, (1, 3, 32, 24))   # N, H, W: dims 0, 2, 3
    >>> net.shape("1")                                      # the module path in the Sequential
    (N, 8, floor(H/2), floor(W/2))
    >>> net.totals().params                                 # 8*3*3*3 weights + 8 biases
    224
    """
    if not isinstance(module, nn.Module):
        raise CostGraphError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}", value=module)
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    examples = _example_tensors(example_input, device)
    shapes, values = _input_shapes(examples, dynamic)
    # costgraph counts inference: trace and run in eval mode (dropout and
    # stochastic depth are identities there), then restore the caller's mode
    was_training = module.training
    module.eval()
    try:
        gm = _trace(module)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(examples):
            raise CostGraphError(
                f"from_torch: forward takes {len(placeholders)} input(s), got {len(examples)} example(s)", value=len(examples)
            )
        recorder = _Recorder(gm)
        try:
            with torch.no_grad():
                recorder.run(*examples)
        except Exception as error:
            raise CostGraphError(f"from_torch: the module fails on the example input: {type(error).__name__}: {error}") from error
    finally:
        module.train(was_training)
    importer = _Importer(gm, recorder.seen, values, name or type(module).__name__, lazy_linear)
    importer.module = module
    for node, shape in zip(placeholders, shapes):
        batch, rest = shape[0], shape[1:]
        layer = node.name
        importer.net.add(layer, Input(rest, batch=batch))
        importer.env[node.name] = TensorValue(layer, importer.net.shape(layer))
    return importer.run()
