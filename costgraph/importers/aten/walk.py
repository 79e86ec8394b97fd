"""Walk an exported ATen graph node by node, converting each call with its registered converter.

Every call's result is checked against export's own symbolic shape (mapped
onto the user's sizes by `shapes.to_formula`): a converter whose kind
computes another shape is caught at that node, as an expression, not only
at the example's sizes.  Every call without a converter, and every
data-dependent call, is collected; the import then fails once, listing
them all with their module paths (never a silent zero).
"""

from __future__ import annotations

import operator
import warnings
from collections import Counter

import sympy
import torch

from ...errors import CostGraphError, ShapeError
from ...kinds import Input, Parameter, format_shape
from ...kinds.base import ELEMENT_CLASSES, numel
from ...memory import set_output_element
from ...network import Network
from .guards import export_guards
from .shapes import same_shape, shape_formula, to_formula
from .table import Call, TensorValue, Unsupported, converter_for, op_name

__all__ = ["convert_program", "UnusedParametersWarning", "DataDependentError"]


class UnusedParametersWarning(UserWarning):
    """A module has parameters its (eval-mode) forward never uses, e.g. auxiliary heads."""


class DataDependentError(CostGraphError):
    """The model's cost depends on its data (``nonzero``, NMS, boolean-mask indexing)."""


class _Unknown:
    """The value of a node downstream of an unsupported operation."""


_UNKNOWN = _Unknown()

#: calls that only check or annotate: nothing to count, nothing to convert
_SKIPPED = {
    "aten::_assert_tensor_metadata", "aten::_assert_scalar", "aten::sym_constrain_range_for_size",
    "aten::sym_constrain_range", "aten::_assert_async", "aten::_functional_assert_async",
}  # fmt: skip


def _updates_a_buffer(node, args) -> bool:
    """Whether `node` updates a buffer in place and nothing reads its result.

    Batch norm in train mode adds 1 to ``num_batches_tracked``: a counter
    outside the computation (FlopCounterMode counts nothing for it).
    """
    if node.users or not hasattr(node.target, "_schema") or not args:
        return False
    base = op_name(node.target).rsplit(".", 1)[0]
    target = args[0]
    return (
        (base.endswith("_") or base == "aten::copy_")
        and isinstance(target, TensorValue)
        and target.layer is None
        and target.param is not None
        and not target.trainable
    )


def element_of(dtype) -> str | None:
    """The element class (`costgraph.kinds.base.ELEMENT_CLASSES`) of a tensor of torch `dtype`.

    Floating dtypes are ``"activation"``: the memory model's dtype decides
    their bytes, not the example's; ``torch.bool`` is ``"bool"``, int64
    ``"index"``, the smaller integers their own names.  None for no dtype.

    Raises
    ------
    CostGraphError
        For a dtype costgraph has no element size for (complex, unsigned 16-64 bit).

    >>> element_of(torch.float16), element_of(torch.bool), element_of(torch.int64), element_of(torch.int32)
    ('activation', 'bool', 'index', 'int32')
    """
    if dtype is None:
        return None
    if dtype.is_floating_point:
        return "activation"
    if dtype == torch.int64:
        return "index"
    name = str(dtype).removeprefix("torch.")
    if name in ELEMENT_CLASSES:
        return name
    raise CostGraphError(f"no element size for tensors of dtype {dtype} (known: floating, {', '.join(ELEMENT_CLASSES[4:])}, int64)", value=dtype)


def _module_path(node) -> tuple[str, str]:
    """The innermost module path of a node and its class name ("" at the top level)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", ""
    path, cls = list(stack.values())[-1]
    if not isinstance(path, str) or path.startswith("_empty"):
        return "", ""
    name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return path, name.rsplit(".", 1)[-1]


class _Walk:
    def __init__(self, capture, module, name, options):
        self.capture = capture
        self.options = options
        self.program = capture.program
        self.symbols = capture.symbols
        self.net = Network(name)
        self.env = {}
        self.unsupported = []
        self.pins = {}              # floors the traced domain fixes (guards.py), set with the inputs
        self.param_layers = {}      # canonical parameter name -> Parameter layer
        self.param_views = {}       # (canonical parameter name, shape) -> a view of its layer (w.t(), w.unsqueeze(1))
        self.owner = {}             # canonical parameter name -> layer counting it
        self.used = set()           # canonical parameter names the graph reads
        self.node = None
        self.strip = ""
        self.canonical = self._canonical_names(module)
        self.names = self._layer_names()

    # -- parameters: torch's identity decides what is one tensor ---------------------------
    def _canonical_names(self, module):
        canonical, first = {}, {}
        for named in (module.named_parameters(remove_duplicate=False), module.named_buffers(remove_duplicate=False)):
            for name, tensor in named:
                canonical[name] = first.setdefault(id(tensor), name)
        self.trainable = {name for name, p in module.named_parameters(remove_duplicate=False)}
        self.all_params = {canonical[name]: p for name, p in module.named_parameters(remove_duplicate=False)}
        return canonical

    # -- names: the module path when the module makes one layer, else path.node ----------
    def _layer_names(self):
        calls = [n for n in self.program.graph.nodes if n.op == "call_function" and not self._trivial(n)]
        counts = Counter(_module_path(n)[0] for n in calls)
        names = {}
        for n in calls:
            path = _module_path(n)[0]
            names[n.name] = path if path and counts[path] == 1 else (f"{path}.{n.name}" if path else n.name)
        return names

    @staticmethod
    def _trivial(node):
        if node.target is operator.getitem or not hasattr(node.target, "_schema"):
            return True  # picking from a tuple, or size arithmetic
        base = op_name(node.target).rsplit(".", 1)[0]
        return base in _SKIPPED or base == "aten::sym_size"

    def fresh(self, name):
        candidate, count = name, 1
        while candidate in self.net:
            candidate, count = f"{name}_{count}", count + 1
        return candidate

    def where(self, node):
        path, cls = _module_path(node)
        return f"node {node.name!r} in module {path!r} ({cls})" if path else f"node {node.name!r} in the top-level forward"

    # -- layers ------------------------------------------------------------------------------
    def parameter_layer(self, value: TensorValue) -> TensorValue:
        if value.param is None:
            raise CostGraphError(f"{self.where(self.node)}: an empty tensor {format_shape(value.shape)} used as data", layer=self.node.name)
        name = value.param
        if name not in self.param_layers:
            layer = self.fresh(name)
            kind = Parameter(value.shape, value.trainable)
            self.net.add(layer, kind)
            self.param_layers[name] = TensorValue(layer, self.net.shape(layer), dtype=value.dtype)
            if value.trainable:
                self._own((value,), layer, kind.weights())
        found = self.param_layers[name]
        shape = tuple(value.shape)
        if shape != tuple(found.shape) and sympy.expand(numel(shape) - numel(found.shape)) == 0:
            # the parameter read transposed (``w.t()``) or viewed (``w.unsqueeze(1)``) where another
            # use reads it otherwise: a view of its one layer
            if (name, shape) not in self.param_views:
                from ...kinds import Transpose
                from ...kinds.reshape import ViewAs

                transposed = len(shape) == 2 and shape == tuple(reversed(found.shape))
                layer = self.fresh(f"{found.layer}.{'T' if transposed else 'view'}")
                self.net.add(layer, Transpose(0, 1) if transposed else ViewAs(shape), found.layer)
                self.param_views[(name, shape)] = TensorValue(layer, self.net.shape(layer), dtype=found.dtype)
            return self.param_views[(name, shape)]
        return found

    def _own(self, owned, layer, counted):
        """Record that `layer` counts the parameters `owned`; the layer it shares them with, if any."""
        params = [v for v in owned if v is not None and v.param is not None and v.trainable]
        owners = {self.owner.get(v.param) for v in params}
        if owners == {None}:
            for v in params:
                self.owner[v.param] = layer
            return None
        if len(owners) == 1:
            return owners.pop()
        raise CostGraphError(
            f"{self.where(self.node)}: parameters {[v.param for v in params]} are partly tied to other layers' "
            "(costgraph shares a layer's weights whole)",
            layer=layer,
        )

    def add_layer(self, call, kind, inputs, owns=()):
        names = []
        for value in inputs:
            if not isinstance(value, TensorValue):
                raise CostGraphError(f"{self.where(self.node)}: {kind.kind} input {value!r} is not a tensor", layer=self.node.name)
            if value.layer is None:
                value = self.parameter_layer(value)
            names.append(value.layer)
        for v in owns:
            if v is not None and v.param is not None:
                self.used.add(v.param)
        layer = self.fresh(self.names.get(self.node.name, self.node.name))
        shares = None
        owned = [v for v in owns if v is not None and v.param is not None and v.trainable]
        if owned:
            owners = {self.owner.get(v.param) for v in owned}
            if owners != {None}:
                shares = self._own(owned, layer, None)
        self.net.add(layer, kind, *names, shares=shares)
        if owned and shares is None:
            in_shapes = [self.net.shape(n) for n in names]
            counted = sympy.expand(kind.weights(*in_shapes) + kind.biases(*in_shapes))
            held = sum(numel(v.shape) for v in owned)
            if sympy.expand(counted - held) != 0:
                raise CostGraphError(
                    f"{self.where(self.node)}: {kind.kind} counts {counted} parameters, its tensors hold {held}",
                    layer=layer,
                )
            self._own(owned, layer, counted)
        return TensorValue(layer, self.net.shape(layer))

    # -- the walk ----------------------------------------------------------------------------
    def value_of(self, arg):
        if isinstance(arg, torch.fx.Node):
            return self.env[arg.name]
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.value_of(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.value_of(v) for k, v in arg.items()}
        if isinstance(arg, torch.SymInt):
            return to_formula(arg, self.symbols, self.pins)
        return arg

    def expected(self, val):
        if isinstance(val, torch.Tensor):
            return shape_formula(val.shape, self.symbols, self.pins)
        if isinstance(val, (list, tuple)):
            return [self.expected(v) for v in val]
        return None

    def placeholders(self):
        signature = self.program.graph_signature
        kinds = {spec.arg.name: spec for spec in signature.input_specs}
        user = iter(self.capture.inputs)
        # the size conditions export traced under, on the first input (see guards.py)
        guards = export_guards(self.program, self.symbols)
        self.net.graph.graph["export_guards_unwritten"] = list(guards.unwritten)
        conditions = guards.constraints
        self.pins = dict(guards.pinned)
        for node in self.program.graph.nodes:
            if node.op != "placeholder":
                continue
            spec = kinds.get(node.name)
            val = node.meta.get("val")
            if spec is None or spec.kind.name == "USER_INPUT":
                if not isinstance(val, torch.Tensor):
                    self.env[node.name] = self.value_of(val)
                    continue
                shape = next(user)
                layer = self.fresh(node.name)
                self.net.add(layer, Input(shape[1:], batch=shape[0], conditions=conditions) if shape else Input((), batch=1, conditions=conditions))
                self.state_element(node, layer, None)  # token ids are int64, masks bool
                conditions = ()
                self.env[node.name] = TensorValue(layer, self.net.shape(layer), dtype=val.dtype)
                continue
            target = spec.target
            name = self.canonical.get(target, target)
            trainable = spec.kind.name == "PARAMETER"  # torch counts every parameter, frozen or not
            self.env[node.name] = TensorValue(None, tuple(sympy.Integer(int(d)) for d in val.shape), param=name, trainable=trainable, dtype=val.dtype)

    def run(self):
        self.placeholders()
        for node in self.program.graph.nodes:
            self.node = node
            if node.op == "output":
                results = self.value_of(node.args[0])
                flat = results if isinstance(results, (list, tuple)) else (results,)
                # the layers forward returns, in order (a returned value may also feed other layers)
                self.net.graph.graph["returns"] = [v.layer for v in flat if isinstance(v, TensorValue) and v.layer]
                continue
            if node.op == "placeholder":
                continue
            if node.op != "call_function":
                raise CostGraphError(f"{self.where(node)}: unexpected {node.op} node in the exported graph", layer=node.name)
            args = self.value_of(node.args)
            kwargs = self.value_of(dict(node.kwargs))
            if _updates_a_buffer(node, args):
                self.env[node.name] = None  # train mode's bookkeeping (num_batches_tracked += 1): no layer
                continue
            if _has_unknown(args) or _has_unknown(kwargs):
                if not self._known(node):
                    self.unsupported.append((self._describe(node), self.where(node), "no converter is registered", False))
                self.env[node.name] = _UNKNOWN
                continue
            try:
                value = self.convert(node, args, kwargs)
            except Unsupported as reason:
                self.unsupported.append((self._describe(node), self.where(node), reason.reason, reason.data_dependent))
                self.env[node.name] = _UNKNOWN
                continue
            except CostGraphError as error:
                raise type(error)(f"{self.where(node)}: {error}", layer=node.name, value=error.value) from None
            self.check(node, value)
            self.env[node.name] = value
            many = isinstance(value, (list, tuple))
            for i, made in enumerate(value if many else (value,)):
                if isinstance(made, TensorValue) and made.layer in self.net and "aten_node" not in self.net.graph.nodes[made.layer]:
                    self.net.graph.nodes[made.layer]["aten_node"] = node.name  # provenance: the exported node it computes
                    self.state_element(node, made.layer, i if many else None)
        self.report_unsupported()
        self.report_unused()
        return self.net

    def state_element(self, node, layer, index):
        """Give `layer` the element class of the dtype torch made at `node` (output `index` of several).

        Where autograd keeps the tensor, its bytes are that dtype's: a
        comparison's bool mask, an argmax's int64 indices.
        """
        val = node.meta.get("val")
        if index is not None:
            val = val[index] if isinstance(val, (list, tuple)) and index < len(val) else None
        try:
            element = element_of(getattr(val, "dtype", None))
        except CostGraphError as error:
            raise CostGraphError(f"{self.where(node)}: {error}", layer=node.name, value=error.value) from None
        if element is not None:
            set_output_element(self.net, layer, element)

    def _describe(self, node):
        return op_name(node.target) if hasattr(node.target, "_schema") else getattr(node.target, "__name__", str(node.target))

    def _known(self, node):
        if self._trivial(node):
            return True
        return converter_for(op_name(node.target)) is not None

    def convert(self, node, args, kwargs):
        target = node.target
        val = node.meta.get("val")
        if target is operator.getitem:
            source, index = args
            return source[index]
        if not hasattr(target, "_schema"):
            # size arithmetic on SymInts (operator.mul, floordiv, ...): export already wrote the result
            if isinstance(val, (torch.SymInt, int)) and not isinstance(val, bool):
                return to_formula(val, self.symbols, self.pins)
            raise Unsupported(f"the Python call {getattr(target, '__name__', target)} on sizes")
        name = op_name(target)
        base = name.rsplit(".", 1)[0]
        if base in _SKIPPED:
            return None
        if base == "aten::sym_size" or (isinstance(val, torch.SymInt) and base.startswith("aten::sym_")):
            return to_formula(val, self.symbols, self.pins)
        converter = converter_for(name)
        if converter is None:
            raise Unsupported("no converter is registered")
        unbacked = _unbacked(val)
        if unbacked:
            raise Unsupported(f"its output size ({unbacked}) depends on the data", data_dependent=True)
        call = Call(name, tuple(args), kwargs, self.expected(val), _module_path(node)[0], node, self)
        result = converter(call)
        if result is not None and not isinstance(result, (TensorValue, list, tuple)) and hasattr(result, "output_shape"):
            tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, TensorValue)]
            result = self.add_layer(call, result, tensors)
        return result

    def check(self, node, value):
        val = node.meta.get("val")
        expected = self.expected(val)
        if expected is None:
            return
        got = value
        if isinstance(expected, list):
            if not isinstance(got, (list, tuple)) or len(got) != len(expected):
                raise ShapeError(f"{self.where(node)}: the converter gave {got!r}, export made {len(expected)} tensors", layer=node.name)
            pairs = list(zip(got, expected))
        else:
            pairs = [(got, expected)]
        for ours, theirs in pairs:
            if theirs is None or ours is None:  # an output the converter leaves out (max pooling's indices)
                continue
            if not isinstance(ours, TensorValue):
                raise ShapeError(f"{self.where(node)}: the converter gave {ours!r}, not a tensor", layer=node.name)
            if not same_shape(ours.shape, theirs) and not self.torch_agrees(node, ours.shape, pairs.index((ours, theirs))):
                raise ShapeError(
                    f"{self.where(node)}: costgraph's shape {format_shape(ours.shape)} differs from export's "
                    f"{format_shape(theirs)}",
                    layer=node.name,
                    value=(ours.shape, theirs),
                )

    def torch_agrees(self, node, ours, which) -> bool:
        """Whether torch's own op, run on meta tensors at other sizes, makes `ours` where export's formula differs.

        Export simplifies a shape at the example's sizes without always
        guarding it (a ceil-mode pool's last-window rule becomes ``W // 2``
        for an even example), so an expression that differs is checked
        against the op itself at sizes around the example's, where both
        formulas are re-evaluated: all must agree with costgraph's.
        """
        base = dict(self.capture.example_sizes)
        if not base or not hasattr(node.target, "_schema"):
            return False
        points = []
        for step in (0, 1, 2, 3, 5, 7):
            points.append({s: v + step for s, v in base.items()})
            points.append({s: v + (step if i % 2 else 2 * step + 1) for i, (s, v) in enumerate(base.items())})
        checked = 0
        for point in points:
            try:
                made = self._run_at(node, point)
            except Exception:
                continue
            if made is None:
                continue
            made = made[which] if isinstance(made, (list, tuple)) else made
            if not isinstance(made, torch.Tensor):
                return False
            if tuple(made.shape) != tuple(int(sympy.sympify(d).subs(point)) for d in ours):
                return False
            checked += 1
        return checked >= 3

    def _run_at(self, node, point):
        """Run `node`'s op on meta tensors of its inputs' costgraph shapes at `point`."""

        def concrete(arg):
            if isinstance(arg, torch.fx.Node):
                value = self.env[arg.name]
                val = arg.meta.get("val")
                if isinstance(value, TensorValue):
                    shape = [int(sympy.sympify(d).subs(point)) for d in value.shape]
                    if any(d < 1 for d in shape):
                        raise ValueError("an empty input")
                    return torch.empty(shape, dtype=getattr(val, "dtype", torch.float32), device="meta")
                if isinstance(value, sympy.Expr):
                    return int(value.subs(point))
                raise ValueError("not a tensor or a size")
            if isinstance(arg, (list, tuple)):
                return type(arg)(concrete(a) for a in arg)
            return arg

        args = concrete(node.args)
        kwargs = {k: concrete(v) for k, v in node.kwargs.items()}
        with torch.no_grad():
            return node.target(*args, **kwargs)

    def report_unsupported(self):
        if not self.unsupported:
            return
        from .. import UnsupportedOperationError

        data_dependent = [u for u in self.unsupported if u[3]]
        lines = [f"  {op} at {where}: {reason}" for op, where, reason, _ in self.unsupported]
        if data_dependent and len(data_dependent) == len(self.unsupported):
            raise DataDependentError(
                f"{self.net.name}: its cost depends on the data it is given, which costgraph cannot count "
                "from sizes alone (import a data-independent part, e.g. model.backbone):\n" + "\n".join(lines),
                value=[u[0] for u in data_dependent],
            )
        raise UnsupportedOperationError(
            f"{self.net.name} uses {len(self.unsupported)} operation(s) costgraph cannot convert:\n"
            + "\n".join(lines)
            + "\nTeach costgraph an operation with costgraph.importers.register_converter('aten::<op>'), "
            "a function of one Call returning a costgraph kind.",
            operations=[(op, where) for op, where, _, _ in self.unsupported],
        )

    def report_unused(self):
        unused = sorted(set(self.all_params) - self.used - set(self.param_layers))
        if unused:
            shown = ", ".join(unused[:8]) + (", ..." if len(unused) > 8 else "")
            warnings.warn(
                f"{self.net.name}: {len(unused)} parameter tensor(s) are never used by forward in eval mode "
                f"and are not counted: {shown}",
                UnusedParametersWarning,
                stacklevel=4,
            )


def _unbacked(val):
    """torch's data-dependent sizes (``u0``, ...) in a node's value, as text, or ""."""
    found = []

    def visit(v):
        if isinstance(v, torch.Tensor):
            for d in v.shape:
                if isinstance(d, torch.SymInt):
                    found.extend(str(s) for s in d.node.expr.free_symbols if str(s).startswith("u"))
        elif isinstance(v, (list, tuple)):
            for item in v:
                visit(item)
        elif isinstance(v, torch.SymInt):
            found.extend(str(s) for s in v.node.expr.free_symbols if str(s).startswith("u"))

    visit(val)
    return ", ".join(sorted(set(found)))


def _has_unknown(value):
    if value is _UNKNOWN:
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    return False


def convert_program(capture, module, name, **options) -> Network:
    """Convert a captured program (`capture.capture`) into a costgraph `Network`.

    Raises
    ------
    UnsupportedOperationError
        Listing every operation without a converter, with its module path.
    DataDependentError
        If every unsupported operation is one whose cost depends on data.
    ShapeError
        If a converted node's shape differs from export's, naming the node.
    """
    return _Walk(capture, module, name, options).run()
