"""``costgraph.from_onnx``: an ONNX model read with the ``onnx`` package, rebuilt symbolically.

The file is parsed as protobuf data and nothing else: no operator is run,
no custom-op library is loaded, external weight files are not opened (only
the tensors' dimensions are needed).  A malformed or truncated file is a
`CostGraphError`.

Named input dimensions (``dim_param``) become size symbols: "batch" (and
"N", "batch_size") is costgraph's ``N``, "height" ``H``, "width" ``W``,
"sequence"/"seq_len" ``S``; any other name becomes ``size_symbol(name)``,
made an identifier.  Every node is then rebuilt with costgraph's own shape
formulas.  Shape arithmetic that exporters write into the graph (``Shape``,
``Gather``, ``Unsqueeze``, ``Concat`` feeding a ``Reshape``) is evaluated
symbolically.

The file is checked against itself: attributes against the tensors they
describe (a Conv's ``kernel_shape`` against its weights, a norm's scale
against the channels), axes and indices against ranks and lengths.  Any
failure of a converter is a `CostGraphError` naming the node; an exception
of any other type that a converter lets escape is turned into one as a last
resort, so no malformed file ends in a raw ``IndexError``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import sympy

try:
    import onnx as _onnx
    from onnx import numpy_helper as _numpy_helper
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("costgraph.from_onnx needs the onnx package: pip install 'costgraph[onnx]'") from error

from ..errors import CostGraphError, ShapeError
from ..intmath import FloorDiv
from ..kinds import (
    GELU,
    AdaptiveAvgPool2d,
    Add,
    AvgPool2d,
    BatchNorm2d,
    Concat,
    Conv2d,
    Flatten,
    Hardsigmoid,
    Hardswish,
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
    Softmax,
    Tanh,
)
from ..kinds.base import numel
from ..kinds.matmul import MatMul
from ..kinds.arithmetic import Div, ScalarOp, Sub
from ..kinds.inputs import Parameter
from ..kinds.reshape import Slice
from ..network import Network
from ..symbols import H, N, S, W, size_symbol
from . import ONNX_CONVERTERS, UnsupportedOperationError, register_converter

__all__ = ["from_onnx", "Call", "dim_symbol"]

_CANONICAL = {
    "batch": N, "batch_size": N, "n": N, "N": N, "b": N,
    "height": H, "h": H, "H": H,
    "width": W, "w": W, "W": W,
    "sequence": S, "seq": S, "seq_len": S, "sequence_length": S, "s": S, "S": S,
}


def dim_symbol(name: str) -> sympy.Symbol:
    """The size symbol for an ONNX ``dim_param`` name.

    >>> dim_symbol("batch"), dim_symbol("height"), dim_symbol("num-tokens")
    (N, H, num_tokens)
    """
    if name in _CANONICAL:
        return _CANONICAL[name]
    if name.lower() in _CANONICAL:
        return _CANONICAL[name.lower()]
    cleaned = re.sub(r"\W", "_", name)
    if not cleaned or cleaned[0].isdigit():
        cleaned = "d_" + cleaned
    return size_symbol(cleaned)


@dataclass(frozen=True)
class TensorValue:
    """A tensor of the network being built: the layer that makes it and its symbolic shape."""

    layer: str
    shape: tuple


@dataclass(frozen=True)
class Weight:
    """An initializer (or constant) tensor: its dimensions, and its values when small and integer."""

    name: str
    dims: tuple
    values: tuple | None = None


@dataclass(frozen=True)
class Sizes:
    """A small integer tensor computed from shapes (``Shape`` -> ``Gather`` -> ...), held symbolically."""

    values: tuple
    scalar: bool = False


class _Unknown:
    pass


_UNKNOWN = _Unknown()


class _Unsupported(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Call:
    """One ONNX node, as a converter sees it.

    ``inputs`` hold `TensorValue`, `Weight` (initializers), `Sizes` or None
    (an omitted optional input); ``attrs`` the node's attributes as Python
    values.
    """

    op_type: str
    inputs: list
    attrs: dict
    node: str
    where: str
    n_outputs: int
    _importer: "_Importer" = field(repr=False)
    proto: object = field(default=None, repr=False)
    _index: int = 0

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def add(self, kind: LayerKind, *inputs, weight: "Weight | None" = None) -> TensorValue:
        """Add `kind` fed by `inputs` (`TensorValue` or `Weight`) to the network.

        `weight` names the initializer holding the layer's weights: a second
        layer with the same initializer shares them (counted once).
        """
        name = self.node if self._index == 0 else f"{self.node}_{self._index}"
        self._index += 1
        importer = self._importer
        shares = importer.weight_layers.get(weight.name) if weight is not None else None
        value = importer.add(name, kind, inputs, shares=shares)
        if weight is not None and shares is None:
            importer.weight_layers[weight.name] = value.layer
        return value

    def unsupported(self, reason: str):
        """Reject this node (it is listed with the other unsupported nodes)."""
        raise _Unsupported(reason)

    def _input(self, index: int) -> str:
        return self.proto.input[index]

    def _output(self, index: int) -> str:
        return self.proto.output[index] if index < len(self.proto.output) else ""

    def tensor(self, index: int) -> TensorValue:
        value = self.inputs[index] if index < len(self.inputs) else None
        if not isinstance(value, TensorValue):
            self.unsupported(f"input {index} must be a tensor computed by the graph, got {_describe(value)}")
        return value

    def weight(self, index: int, optional=False):
        value = self.inputs[index] if index < len(self.inputs) else None
        if value is None and optional:
            return None
        if not isinstance(value, Weight):
            self.unsupported(f"input {index} must be an initializer (weights), got {_describe(value)}")
        return value


def _describe(value):
    if isinstance(value, TensorValue):
        return f"a computed tensor {value.shape}"
    if isinstance(value, Weight):
        return f"initializer {value.name!r} of shape {value.dims}"
    if isinstance(value, Sizes):
        return f"sizes {value.values}"
    return repr(value)


def _load(model):
    if isinstance(model, _onnx.ModelProto):
        proto, source = model, "the given model"
    elif isinstance(model, (bytes, bytearray)):
        data, source = bytes(model), "the given bytes"
    elif isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise CostGraphError(f"from_onnx: cannot read {source!r}: {error}", value=source) from None
    else:
        raise CostGraphError(f"from_onnx expects a path, bytes or an onnx.ModelProto, got {type(model).__name__}", value=model)
    if not isinstance(model, _onnx.ModelProto):
        proto = _onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception as error:  # protobuf's DecodeError and friends
            raise CostGraphError(f"from_onnx: {source} is not a valid ONNX model (malformed or truncated): {error}", value=source) from None
    if not proto.graph.node and not proto.graph.input:
        raise CostGraphError(f"from_onnx: {source} holds no ONNX graph (empty, truncated or not an ONNX file)", value=source)
    try:
        _onnx.checker.check_model(proto)
    except Exception as error:
        raise CostGraphError(
            f"from_onnx: {source} is malformed or truncated: it fails ONNX's model checker: {error}", value=source
        ) from None
    return proto


def _attrs(node):
    out = {}
    for attribute in node.attribute:
        value = _onnx.helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, _onnx.TensorProto):
            value = _weight_of(value)
        out[attribute.name] = value
    return out


def _weight_of(tensor):
    dims = tuple(int(d) for d in tensor.dims)
    values = None
    size = 1
    for d in dims:
        size *= d
    small_integers = tensor.data_type in (_onnx.TensorProto.INT64, _onnx.TensorProto.INT32)
    if small_integers and size <= 64 and tensor.data_location != _onnx.TensorProto.EXTERNAL:
        values = tuple(int(v) for v in _numpy_helper.to_array(tensor).reshape(-1))
    elif size == 1 and tensor.data_location != _onnx.TensorProto.EXTERNAL:
        values = tuple(_numpy_helper.to_array(tensor).reshape(-1).tolist())
    return Weight(tensor.name, dims, values)


class _Importer:
    def __init__(self, proto, name, lazy_linear, inplace_activations):
        self.proto = proto
        self.graph = proto.graph
        self.net = Network(name)
        self.lazy_linear = lazy_linear
        self.inplace_activations = inplace_activations
        self.env = {}
        self.params = {}
        self.weight_layers = {}
        self.unsupported = []
        self.consumers = {}
        self.readers = {}
        self.fused = {}  # node index -> the value its output takes (a bias add folded into a Linear)
        for index, node in enumerate(self.graph.node):
            for source in node.input:
                if source:
                    self.consumers[source] = self.consumers.get(source, 0) + 1
                    self.readers.setdefault(source, []).append(index)
        for output in self.graph.output:
            self.consumers[output.name] = self.consumers.get(output.name, 0) + 1

    def fresh(self, name):
        candidate, count = name, 1
        while candidate in self.net:
            candidate, count = f"{name}_{count}", count + 1
        return candidate

    def add(self, name, kind, inputs, shares=None):
        names = []
        for value in inputs:
            if isinstance(value, Weight):
                value = self.parameter(value)
            if not isinstance(value, TensorValue):
                raise _Unsupported(f"{kind.kind} input {_describe(value)} is not a tensor")
            names.append(value.layer)
        name = self.fresh(name)
        self.net.add(name, kind, *names, shares=shares)
        return TensorValue(name, self.net.shape(name))

    def parameter(self, weight):
        if weight.name not in self.params:
            name = self.fresh(weight.name or "constant")
            self.net.add(name, Parameter(weight.dims or (1,)))
            self.params[weight.name] = TensorValue(name, self.net.shape(name))
        return self.params[weight.name]

    def inputs(self):
        initializers = {t.name for t in self.graph.initializer}
        for tensor in self.graph.initializer:
            try:
                self.env[tensor.name] = _weight_of(tensor)
            except Exception as error:  # a tensor whose data does not match its dims or type
                raise CostGraphError(
                    f"from_onnx: initializer {tensor.name!r} is malformed ({type(error).__name__}: {error})", layer=tensor.name
                ) from None
            if any(d < 0 for d in self.env[tensor.name].dims):
                raise CostGraphError(f"from_onnx: initializer {tensor.name!r} has a negative dimension {list(tensor.dims)}", layer=tensor.name)
        for value in self.graph.input:
            if value.name in initializers:
                continue
            dims = []
            kind = value.type.WhichOneof("value")
            if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
                raise CostGraphError(f"from_onnx: graph input {value.name!r} has no tensor shape", layer=value.name)
            for index, dim in enumerate(value.type.tensor_type.shape.dim):
                if dim.HasField("dim_param") and dim.dim_param:
                    dims.append(dim_symbol(dim.dim_param))
                elif dim.HasField("dim_value") and dim.dim_value > 0:
                    dims.append(sympy.Integer(dim.dim_value))
                else:
                    raise CostGraphError(
                        f"from_onnx: dimension {index} of input {value.name!r} has neither a size nor a name", layer=value.name
                    )
            if not dims:
                raise CostGraphError(f"from_onnx: graph input {value.name!r} is a scalar", layer=value.name)
            name = self.fresh(value.name)
            self.net.add(name, Input(tuple(dims[1:]), batch=dims[0]))
            self.env[value.name] = TensorValue(name, self.net.shape(name))

    def run(self):
        self.inputs()
        for index, node in enumerate(self.graph.node):
            if index in self.fused:
                self.env[node.output[0]] = self.fused[index]
                continue
            name = node.name or f"{node.op_type}_{index}"
            where = f"node {index} {name!r} ({node.op_type})"
            inputs = [self.env.get(i, _UNKNOWN) if i else None for i in node.input]
            missing = [i for i, v in zip(node.input, inputs) if v is _UNKNOWN and i not in self.env]
            if missing and not any(v is _UNKNOWN and i in self.env for i, v in zip(node.input, inputs)):
                unknown_input = [i for i in missing if i]
                if unknown_input:
                    raise CostGraphError(f"from_onnx: {where} reads {unknown_input[0]!r}, which nothing defines before it", layer=name)
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            if any(v is _UNKNOWN for v in inputs):
                # downstream of an unsupported node: list it too if it has no converter either
                if key not in ONNX_CONVERTERS:
                    self.unsupported.append((key, where, "no converter is registered"))
                for output in node.output:
                    self.env[output] = _UNKNOWN
                continue
            converter = ONNX_CONVERTERS.get(key)
            try:
                if converter is None:
                    raise _Unsupported("no converter is registered")
                call = Call(node.op_type, inputs, _attrs(node), name, where, len(node.output), self, node)
                result = converter(call)
                if isinstance(result, LayerKind):
                    result = call.add(result, *[v for v in inputs if isinstance(v, (TensorValue, Weight))])
            except _Unsupported as reason:
                self.unsupported.append((key, where, reason.reason))
                for output in node.output:
                    self.env[output] = _UNKNOWN
                continue
            except CostGraphError as error:
                raise type(error)(f"from_onnx: {where}: {error}", layer=name, value=error.value) from None
            except Exception as error:  # last resort: a converter met input it does not check for
                raise CostGraphError(
                    f"from_onnx: {where}: malformed or unexpected node ({type(error).__name__}: {error})", layer=name
                ) from None
            results = result if isinstance(result, list) else [result]
            for output, value in zip(node.output, results):
                self.env[output] = value
        if self.unsupported:
            lines = [f"  - {op} at {where}: {reason}" for op, where, reason in self.unsupported]
            raise UnsupportedOperationError(
                f"{self.net.name}: {len(self.unsupported)} ONNX node(s) have no costgraph converter, so their costs "
                "are unknown (costgraph never counts them as zero):\n"
                + "\n".join(lines)
                + "\nTeach the importer an op with costgraph.importers.register_converter('OpType', onnx=True), "
                "returning a registered costgraph kind (costgraph.register_kind for a kind of your own).",
                operations=[(op, where) for op, where, _ in self.unsupported],
                value=self.unsupported,
            )
        self.check_outputs()
        return self.net

    def check_outputs(self):
        """The graph's declared output sizes (where it declares them) must equal costgraph's."""
        for output in self.graph.output:
            value = self.env.get(output.name)
            if not isinstance(value, TensorValue) or not output.type.tensor_type.HasField("shape"):
                continue
            declared = output.type.tensor_type.shape.dim
            if len(declared) != len(value.shape):
                raise ShapeError(
                    f"from_onnx: output {output.name!r} is declared {len(declared)}-d, costgraph computes {value.shape}",
                    layer=value.layer,
                )
            for axis, (dim, ours) in enumerate(zip(declared, value.shape)):
                if dim.HasField("dim_value") and dim.dim_value > 0 and sympy.sympify(ours).is_number and int(ours) != dim.dim_value:
                    raise ShapeError(
                        f"from_onnx: output {output.name!r} dimension {axis} is declared {dim.dim_value}, "
                        f"costgraph computes {ours}",
                        layer=value.layer,
                    )


def from_onnx(model, *, name=None, lazy_linear=False, inplace_activations=False) -> Network:
    """Read an ONNX model and rebuild it as a symbolic costgraph `Network`.

    Parameters
    ----------
    model : str, os.PathLike, bytes or onnx.ModelProto
        The model; a path is read as bytes and parsed, nothing in it is run.
    name : str, optional
        The network's name (default: the ONNX graph's name).
    lazy_linear : bool
        A ``Gemm``/``MatMul`` with a weight matrix whose input features
        depend on the sizes becomes a lazy Linear (weights follow the input),
        as `costgraph.from_torch` does with the same option.
    inplace_activations : bool
        ONNX has no in-place operators.  With True, an elementwise activation
        (Relu, Sigmoid, ...) whose input feeds nothing else is counted in
        place, as torch's ``nn.ReLU(inplace=True)`` is; use it to compare with
        a torch model written that way.

    Raises
    ------
    CostGraphError
        For a file that cannot be read, is malformed or truncated, fails
        ONNX's checker, or has an input without sizes.
    UnsupportedOperationError
        Listing every node without a converter.
    ShapeError
        If the layers do not fit together, or a declared output size differs.

    Examples
    --------
    >>> import onnx
    >>> from onnx import helper, TensorProto
    >>> weight = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
    >>> graph = helper.make_graph(
    ...     [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ...      helper.make_node("Relu", ["y"], ["z"])],
    ...     "tiny",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
    ...     [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 8, "height", "width"])],
    ...     [weight])
    >>> net = from_onnx(helper.make_model(graph))
    >>> net.totals().macs                  # 8 * (3*3*3) per output position
    216*H*N*W
    """
    proto = _load(model)
    try:
        importer = _Importer(proto, name or proto.graph.name or "onnx", lazy_linear, inplace_activations)
        return importer.run()
    except CostGraphError:
        raise
    except Exception as error:  # last resort: inputs, initializers or outputs the checks above missed
        raise CostGraphError(f"from_onnx: malformed or unexpected model ({type(error).__name__}: {error})") from None


# -- converters ---------------------------------------------------------------------

def _ints(call, name, default, length=None, least=None):
    """Attribute `name` as a tuple of ints (`default` if absent), checked for `length` and a `least` value."""
    value = call.attr(name, default)
    if value is None:
        return None
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise CostGraphError(f"attribute {name}={list(values)} is not a list of integers", value=values)
    if length is not None and len(values) != length:
        raise CostGraphError(f"attribute {name}={list(values)} should have {length} values", value=values)
    if least is not None and any(v < least for v in values):
        raise CostGraphError(f"attribute {name}={list(values)} has a value below {least}", value=values)
    return values


def _int(call, name, default, least=None):
    value = call.attr(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or (least is not None and value < least):
        raise CostGraphError(f"attribute {name}={value!r} is not an integer" + (f" >= {least}" if least is not None else ""), value=value)
    return value


def _axis_in(call, axis, rank, name="axis"):
    """`axis` (ONNX counts from the end when negative) as 0..rank-1, or a CostGraphError."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise CostGraphError(f"{name} {axis!r} is out of range for a {rank}-d tensor", value=axis)
    return axis % rank


def _check_weight(call, weight, rank, what):
    if len(weight.dims) != rank or any(d < 1 for d in weight.dims):
        raise CostGraphError(f"{what} {weight.name!r} has shape {list(weight.dims)}, expected {rank} positive sizes", value=weight.dims)


def _fixed(size):
    """`size` as an int if it is a number, else None."""
    size = sympy.sympify(size)
    return int(size) if size.is_number else None


def _register(*ops):
    def decorate(converter):
        for op in ops:
            register_converter(op, onnx=True)(converter)
        return converter

    return decorate


def _spatial_pads(call, rank=2):
    pads = list(_ints(call, "pads", [0] * (2 * rank), 2 * rank, 0))
    begin, end = pads[:rank], pads[rank:]
    if begin != end:
        call.unsupported(f"asymmetric padding {pads} (costgraph's kinds pad both sides alike)")
    return tuple(begin)


def _auto_pad(call):
    mode = call.attr("auto_pad", "NOTSET")
    if mode in ("NOTSET", ""):
        return None
    if mode == "VALID":
        return "valid"
    return "same"


@_register("Conv")
def _conv(call):
    x = call.tensor(0)
    weight = call.weight(1)
    bias = call.weight(2, optional=True)
    if len(weight.dims) != 4:
        call.unsupported(f"a {len(weight.dims) - 2}-d convolution (costgraph has Conv2d)")
    _check_weight(call, weight, 4, "the weight")
    out_channels, per_group, kh, kw = weight.dims
    # the weight tensor is what the file holds; an attribute that disagrees is an error, not believed
    kernel = _ints(call, "kernel_shape", (kh, kw), 2, 1)
    if kernel != (kh, kw):
        raise CostGraphError(f"kernel_shape {list(kernel)} disagrees with the weight {weight.name!r} of shape {list(weight.dims)}", value=kernel)
    groups = _int(call, "group", 1, 1)
    if out_channels % groups:
        raise CostGraphError(f"{out_channels} output channels do not split into group={groups}", value=groups)
    if bias is not None and bias.dims != (out_channels,):
        raise CostGraphError(f"bias {bias.name!r} of shape {list(bias.dims)} for {out_channels} output channels", value=bias.dims)
    channels = _fixed(x.shape[1]) if len(x.shape) == 4 else None
    if channels is not None and channels != per_group * groups:
        raise CostGraphError(
            f"the input has {channels} channels, the weight {weight.name!r} expects {per_group} x group {groups}", value=channels
        )
    strides = _ints(call, "strides", (1, 1), 2, 1)
    dilations = _ints(call, "dilations", (1, 1), 2, 1)
    mode = _auto_pad(call)
    if mode == "same":
        if strides != (1, 1):
            call.unsupported(f"auto_pad={call.attr('auto_pad')} with strides {strides}")
        padding = "same"
    elif mode == "valid":
        padding = (0, 0)
    else:
        padding = _spatial_pads(call)
    kind = Conv2d(per_group * groups, out_channels, kernel, strides, padding, dilations, groups, bias is not None)
    return call.add(kind, x, weight=weight)


def _pool_window(call):
    kernel = _ints(call, "kernel_shape", None, least=1)
    if kernel is None:
        raise CostGraphError("a pool without kernel_shape")
    if len(kernel) != 2:
        call.unsupported(f"a {len(kernel)}-d pool (costgraph's pools are 2-d)")
    strides = _ints(call, "strides", (1, 1), 2, 1)  # ONNX's default stride is 1, torch's the kernel
    mode = _auto_pad(call)
    if mode == "same":
        call.unsupported(f"auto_pad={call.attr('auto_pad')} on a pool")
    padding = (0, 0) if mode == "valid" else _spatial_pads(call)
    return kernel, strides, padding


@_register("MaxPool")
def _max_pool(call):
    if call.n_outputs > 1 and call._importer.consumers.get(call._output(1), 0):
        call.unsupported("the indices output")
    kernel, strides, padding = _pool_window(call)
    kind = MaxPool2d(kernel, strides, padding, _ints(call, "dilations", (1, 1), 2, 1), bool(_int(call, "ceil_mode", 0, 0)))
    return call.add(kind, call.tensor(0))


@_register("AveragePool")
def _avg_pool(call):
    kernel, strides, padding = _pool_window(call)
    if _ints(call, "dilations", (1, 1), 2, 1) != (1, 1):
        call.unsupported("dilated average pooling")
    kind = AvgPool2d(kernel, strides, padding, bool(_int(call, "ceil_mode", 0, 0)), bool(_int(call, "count_include_pad", 0, 0)))
    return call.add(kind, call.tensor(0))


@_register("GlobalAveragePool")
def _global_avg_pool(call):
    return call.add(AdaptiveAvgPool2d(1), call.tensor(0))


def _linear(call, x, weight, transposed, bias):
    """A Linear layer for ``x @ W`` with W the initializer `weight` (``[out, in]`` if `transposed`)."""
    out_features, in_features = weight.dims if transposed else weight.dims[::-1]
    if call._importer.lazy_linear and not sympy.sympify(x.shape[-1]).is_number:
        kind = Linear(None, out_features, bias)
    else:
        kind = Linear(in_features, out_features, bias)
    return call.add(kind, x, weight=weight)


@_register("Gemm")
def _gemm(call):
    if _int(call, "transA", 0, 0):
        call.unsupported("transA=1")
    a = call.tensor(0)
    b = call.inputs[1]
    bias = call.inputs[2] if len(call.inputs) > 2 else None
    if isinstance(b, Weight) and (bias is None or isinstance(bias, Weight)):
        _check_weight(call, b, 2, "matrix B")
        if len(a.shape) != 2:
            raise CostGraphError(f"Gemm's input A is {len(a.shape)}-d {a.shape}; Gemm multiplies 2-d matrices", value=a.shape)
        out_features = b.dims[0] if _int(call, "transB", 0, 0) else b.dims[1]
        if bias is not None and bias.dims not in ((out_features,), (1, out_features)):
            call.unsupported(f"a bias of shape {bias.dims} for {out_features} outputs")
        return _linear(call, a, b, bool(call.attr("transB", 0)), bias is not None)
    call.unsupported("a Gemm whose matrix B is computed by the graph")


def _bias_add(call, out_features):
    """Index of the Add node that adds a bias of `out_features` to this node's only output, if any."""
    importer = call._importer
    readers = importer.readers.get(call._output(0), [])
    if len(readers) != 1 or importer.consumers.get(call._output(0), 0) != 1:
        return None
    node = importer.graph.node[readers[0]]
    if node.op_type != "Add" or node.domain not in ("", "ai.onnx"):
        return None
    other = [importer.env.get(i) for i in node.input if i != call._output(0)]
    if len(other) == 1 and isinstance(other[0], Weight) and other[0].dims == (out_features,):
        return readers[0]
    return None


@_register("MatMul")
def _matmul(call):
    a, b = call.inputs[0], call.inputs[1]
    if isinstance(a, TensorValue) and isinstance(b, Weight) and len(b.dims) == 2:
        # exporters write nn.Linear on a 3-d input as MatMul then Add(bias): one Linear
        add = _bias_add(call, b.dims[1])
        out = _linear(call, a, b, False, add is not None)
        if add is not None:
            call._importer.fused[add] = out
        return out
    if isinstance(a, TensorValue) and isinstance(b, TensorValue):
        return call.add(MatMul(), a, b)
    call.unsupported(f"MatMul of {_describe(a)} and {_describe(b)}")


_ACTIVATIONS = {
    "Relu": ReLU,
    "Sigmoid": Sigmoid,
    "HardSigmoid": Hardsigmoid,
    "HardSwish": Hardswish,
    "Tanh": Tanh,
}


def _activation(call):
    x = call.tensor(0)
    cls = _ACTIVATIONS[call.op_type]
    importer = call._importer
    inplace = importer.inplace_activations and importer.consumers.get(call._input(0), 0) == 1
    return call.add(cls(inplace=inplace), x)


for _op in _ACTIVATIONS:
    _register(_op)(_activation)


@_register("Clip")
def _clip(call):
    x = call.tensor(0)
    low = call.attr("min", _scalar_of(call.inputs[1]) if len(call.inputs) > 1 and call.inputs[1] is not None else None)
    high = call.attr("max", _scalar_of(call.inputs[2]) if len(call.inputs) > 2 and call.inputs[2] is not None else None)
    importer = call._importer
    inplace = importer.inplace_activations and importer.consumers.get(call._input(0), 0) == 1
    if low == 0 and high == 6:
        return call.add(ReLU6(inplace=inplace), x)
    if low == 0 and high is None:
        return call.add(ReLU(inplace=inplace), x)
    call.unsupported(f"Clip to [{low}, {high}] (costgraph knows ReLU and ReLU6)")


@_register("Gelu")
def _gelu(call):
    return call.add(GELU(call.attr("approximate", "none")), call.tensor(0))


@_register("Softmax")
def _softmax(call):
    return call.add(Softmax(call.attr("axis", -1)), call.tensor(0))


@_register("Identity", "Dropout")
def _identity(call):
    value = call.inputs[0]
    return [value] + [_UNKNOWN] * (call.n_outputs - 1)


@_register("BatchNormalization")
def _batch_norm(call):
    x = call.tensor(0)
    scale = call.weight(1)
    _check_weight(call, scale, 1, "the scale")
    if len(x.shape) != 4:
        call.unsupported(f"batch normalization of a {len(x.shape)}-d tensor (costgraph has BatchNorm2d)")
    channels = _fixed(x.shape[1])
    if channels is not None and channels != scale.dims[0]:
        raise CostGraphError(f"a scale of {scale.dims[0]} values for {channels} channels", value=scale.dims)
    for index in range(2, min(len(call.inputs), 5)):
        other = call.inputs[index]
        if isinstance(other, Weight) and other.dims != scale.dims:
            raise CostGraphError(f"input {index} {other.name!r} of shape {list(other.dims)}, the scale's is {list(scale.dims)}", value=other.dims)
    epsilon, momentum = call.attr("epsilon", 1e-5), call.attr("momentum", 0.9)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (epsilon, momentum)):
        raise CostGraphError(f"epsilon {epsilon!r} and momentum {momentum!r} must be numbers", value=(epsilon, momentum))
    return call.add(BatchNorm2d(scale.dims[0], epsilon, 1 - momentum), x)


@_register("LayerNormalization")
def _layer_norm(call):
    x = call.tensor(0)
    scale = call.weight(1)
    bias = call.weight(2, optional=True)
    axis = _axis_in(call, call.attr("axis", -1), len(x.shape))
    if axis == 0:
        call.unsupported("normalizing over the batch dimension too (axis 0)")
    normalized = tuple(int(d) for d in x.shape[axis:]) if all(sympy.sympify(d).is_number for d in x.shape[axis:]) else None
    if normalized is None:
        call.unsupported(f"normalizing over symbolic sizes {x.shape[axis:]}")
    if numel(scale.dims) != numel(normalized):
        call.unsupported(f"a scale of shape {scale.dims} for normalized shape {normalized}")
    return call.add(LayerNorm(normalized, call.attr("epsilon", 1e-5), True, bias is not None), x)


def _scalar_of(value):
    if isinstance(value, Weight) and value.values is not None and len(value.values) == 1:
        return value.values[0]
    if isinstance(value, Sizes) and len(value.values) == 1:
        return value.values[0]
    return None


_SIZE_OPS = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: _floor_div(a, b),
}


def _floor_div(a, b):
    b = sympy.sympify(b)
    if not (b.is_Integer and b > 0):
        raise _Unsupported(f"size division by {b}")
    return FloorDiv(sympy.sympify(a), b)


def _sizes_of(value):
    if isinstance(value, Sizes):
        return value
    if isinstance(value, Weight) and value.values is not None and all(isinstance(v, int) for v in value.values):
        return Sizes(tuple(sympy.Integer(v) for v in value.values), scalar=value.dims == ())
    return None


def _binary(tensor_kind, op_name):
    def convert(call):
        a, b = call.inputs[0], call.inputs[1]
        sa, sb = _sizes_of(a), _sizes_of(b)
        if sa is not None and sb is not None:
            # shape arithmetic: elementwise with broadcasting of length-1 vectors
            va, vb = sa.values, sb.values
            length = max(len(va), len(vb))
            va = va * length if len(va) == 1 else va
            vb = vb * length if len(vb) == 1 else vb
            return Sizes(tuple(_SIZE_OPS[call.op_type](x, y) for x, y in zip(va, vb)), sa.scalar and sb.scalar)
        tensors = [v for v in (a, b) if isinstance(v, TensorValue)]
        if len(tensors) == 2:
            return call.add(tensor_kind(), a, b)
        other = b if isinstance(a, TensorValue) else a
        if len(tensors) == 1 and _scalar_of(other) is not None:
            return call.add(ScalarOp(op_name), tensors[0])
        if len(tensors) == 1 and isinstance(other, Weight):
            return call.add(tensor_kind(), a, b)
        call.unsupported(f"{call.op_type} of {_describe(a)} and {_describe(b)}")

    return convert


_register("Add")(_binary(Add, "add"))
_register("Mul")(_binary(Mul, "mul"))
_register("Sub")(_binary(Sub, "sub"))
_register("Div")(_binary(Div, "div"))


@_register("Concat")
def _concat(call):
    axis = call.attr("axis")
    if all(_sizes_of(v) is not None for v in call.inputs):
        return Sizes(sum((_sizes_of(v).values for v in call.inputs), ()))
    tensors = [call.tensor(i) for i in range(len(call.inputs))]
    return call.add(Concat(axis), *tensors)


@_register("Flatten")
def _flatten(call):
    x = call.tensor(0)
    axis = call.attr("axis", 1) % max(len(x.shape), 1)
    if axis == 0:
        call.unsupported("Flatten with axis=0 (it folds the batch into the features)")
    if axis == 1:
        return call.add(Flatten(1), x)
    # ONNX's Flatten is always 2-d: (prod(dims[:axis]), prod(dims[axis:]))
    call.unsupported(f"Flatten with axis={axis} (the batch would merge with dims 1..{axis - 1})")


def _shape_argument(call, index):
    sizes = _sizes_of(call.inputs[index]) if index < len(call.inputs) else None
    if sizes is None:
        call.unsupported(f"a shape computed in a way costgraph cannot follow ({_describe(call.inputs[index])})")
    return sizes.values


@_register("Reshape")
def _reshape(call):
    x = call.tensor(0)
    sizes = list(_shape_argument(call, 1))
    if not call.attr("allowzero", 0):
        sizes = [x.shape[i] if s == 0 else s for i, s in enumerate(sizes)]
    if not sizes:
        call.unsupported("a reshape to a scalar")
    if sympy.expand(sizes[0] - x.shape[0]) == 0:
        return call.add(Reshape(tuple(sizes[1:])), x)
    if sizes[0] == -1 and -1 not in sizes[1:] and sympy.expand(numel(sizes[1:]) - numel(x.shape[1:])) == 0:
        return call.add(Reshape(tuple(sizes[1:])), x)
    call.unsupported(f"a reshape to {tuple(sizes)} that does not keep the batch dimension {x.shape[0]} first")


@_register("Transpose")
def _transpose(call):
    x = call.tensor(0)
    perm = call.attr("perm", tuple(reversed(range(len(x.shape)))))
    return call.add(Permute(tuple(perm)), x)


@_register("ReduceMean")
def _reduce_mean(call):
    x = call.tensor(0)
    axes = call.attr("axes")
    if axes is None and len(call.inputs) > 1 and call.inputs[1] is not None:
        axes = [int(v) for v in _shape_argument(call, 1)]
    if not axes:
        call.unsupported("a mean over every dimension")
    return call.add(Mean(tuple(axes), bool(call.attr("keepdims", 1))), x)


@_register("Shape")
def _shape(call):
    value = call.inputs[0]
    dims = value.shape if isinstance(value, TensorValue) else tuple(sympy.Integer(d) for d in getattr(value, "dims", ()))
    start, end = call.attr("start", 0), call.attr("end", None)
    return Sizes(tuple(dims[start:end]))


@_register("Constant")
def _constant(call):
    if "value" in call.attrs:
        weight = call.attrs["value"]
        return Weight(call.node, weight.dims, weight.values)
    for key in ("value_int", "value_ints"):
        if key in call.attrs:
            value = call.attrs[key]
            values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            return Sizes(tuple(sympy.Integer(v) for v in values), scalar=key == "value_int")
    call.unsupported(f"a constant given as {sorted(call.attrs)}")


@_register("Gather")
def _gather(call):
    sizes = _sizes_of(call.inputs[0])
    indices = _sizes_of(call.inputs[1])
    if sizes is None or indices is None:
        call.unsupported("Gather on a tensor (only on shapes)")
    _axis_in(call, call.attr("axis", 0), 1)  # a shape is 1-d: axis 0 (or -1)
    length = len(sizes.values)
    picked = []
    for index in indices.values:
        index = _fixed(index)
        if index is None or not -length <= index < length:
            raise CostGraphError(f"index {index} out of range for {length} sizes {sizes.values}", value=index)
        picked.append(sizes.values[index])
    return Sizes(tuple(picked), scalar=indices.scalar)


@_register("Unsqueeze")
def _unsqueeze(call):
    sizes = _sizes_of(call.inputs[0])
    if sizes is None:
        call.unsupported("Unsqueeze on a tensor (only on shapes)")
    return Sizes(sizes.values, scalar=False)


@_register("Squeeze")
def _squeeze(call):
    sizes = _sizes_of(call.inputs[0])
    if sizes is None or len(sizes.values) != 1:
        call.unsupported("Squeeze on a tensor (only on shapes)")
    return Sizes(sizes.values, scalar=True)


@_register("Cast")
def _cast(call):
    value = call.inputs[0]
    if isinstance(value, (Sizes, Weight)):
        return value
    call.unsupported("Cast of a tensor")


def _slice_arguments(call):
    """(starts, ends, axes, steps) of a Slice (opset 10+: inputs; opset 1: attributes), each a tuple."""
    if len(call.inputs) < 3:  # opset 1: attributes
        starts, ends = _ints(call, "starts", None), _ints(call, "ends", None)
        if starts is None or ends is None:
            raise CostGraphError("Slice without starts and ends")
        axes = _ints(call, "axes", None)
        steps = None
    else:
        starts, ends = _shape_argument(call, 1), _shape_argument(call, 2)
        axes = _shape_argument(call, 3) if len(call.inputs) > 3 and call.inputs[3] is not None else None
        steps = _shape_argument(call, 4) if len(call.inputs) > 4 and call.inputs[4] is not None else None
    axes = tuple(range(len(starts))) if axes is None else tuple(axes)
    steps = (1,) * len(starts) if steps is None else tuple(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise CostGraphError(f"Slice with {len(starts)} starts, {len(ends)} ends, {len(axes)} axes, {len(steps)} steps", value=axes)
    return tuple(starts), tuple(ends), axes, steps


def _clamped(value, length):
    """ONNX's rule for a start or end: negative counts from the end, then clamped to [0, length]."""
    if value < 0:
        value += length
    return min(max(value, 0), length)


@_register("Slice")
def _slice(call):
    starts, ends, axes, steps = _slice_arguments(call)
    sizes = _sizes_of(call.inputs[0])
    if sizes is not None:
        if len(axes) != 1 or _axis_in(call, _fixed(axes[0]), 1, "Slice axis") != 0:
            raise CostGraphError(f"Slice of a 1-d shape over axes {axes}", value=axes)
        start, end, step = (_fixed(v) for v in (starts[0], ends[0], steps[0]))
        if start is None or end is None or step is None or step == 0:
            call.unsupported(f"Slice of a shape with bounds {starts[0]}:{ends[0]}:{steps[0]}")
        return Sizes(sizes.values[slice(start, end, step)])  # Python's slice clamps as ONNX does
    # on a tensor (what torch.chunk and split export to): one view per sliced axis
    x = call.tensor(0)
    out = x
    for axis, start, end, step in zip(axes, starts, ends, steps):
        axis, start, end, step = _fixed(axis), _fixed(start), _fixed(end), _fixed(step)
        if axis is None or start is None or end is None:
            call.unsupported(f"Slice with bounds computed from symbolic sizes ({starts}:{ends})")
        axis = _axis_in(call, axis, len(x.shape), "Slice axis")
        if step != 1:
            call.unsupported(f"Slice with step {step}")
        if axis == 0:
            call.unsupported("Slice over the batch dimension")
        length = _fixed(out.shape[axis])
        if length is None:
            # a symbolic dimension: only a slice from a fixed start to its end can be written
            if start < 0 or end < 2**62:
                call.unsupported(f"Slice [{start}:{end}] of the symbolic dimension {out.shape[axis]}")
            out = call.add(Slice(axis, start, None), out)
            continue
        start, end = _clamped(start, length), _clamped(end, length)
        if end <= start:
            raise CostGraphError(f"Slice [{start}:{end}] of axis {axis} (size {length}) is empty", value=(start, end))
        out = call.add(Slice(axis, start, None if end == length else end), out)
    return out


@_register("Split")
def _split(call):
    """``torch.split`` and ``chunk`` (on a fixed-size dimension): one view per output."""
    x = call.tensor(0)
    axis = _axis_in(call, call.attr("axis", 0), len(x.shape))
    if axis == 0:
        call.unsupported("Split over the batch dimension")
    length = _fixed(x.shape[axis])
    if length is None:
        call.unsupported(f"Split of the symbolic dimension {x.shape[axis]}")
    if len(call.inputs) > 1 and call.inputs[1] is not None:
        parts = [_fixed(v) for v in _shape_argument(call, 1)]
    elif call.attr("split") is not None:
        parts = list(_ints(call, "split", None, least=0))
    else:
        # equal parts (opset 18's num_outputs, or as many as the node has outputs); the last may be smaller
        count = _int(call, "num_outputs", call.n_outputs, 1)
        step = -(-length // count)
        parts = [min(step, length - i * step) for i in range(count)]
    if None in parts or any(p < 0 for p in parts) or sum(parts) != length:
        raise CostGraphError(f"split sizes {parts} do not add up to dimension {axis} of size {length}", value=parts)
    if len(parts) != call.n_outputs:
        raise CostGraphError(f"{len(parts)} split sizes for {call.n_outputs} outputs", value=parts)
    outputs, start = [], 0
    for part in parts:
        if part == 0:
            call.unsupported("an empty part of a Split")
        stop = start + part
        outputs.append(call.add(Slice(axis, start, None if stop == length else stop), x))
        start = stop
    return outputs
