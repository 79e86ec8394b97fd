"""Bytes moved: what each layer reads from and writes to main memory, forward and backward.

The convention (one rule for every kind, stated once):

* **No fusion.** Each layer reads every input from main memory and writes
  its output back: an ideal kernel for that layer alone, which touches each
  tensor exactly once (a broadcast operand once, whatever it is broadcast
  to; no re-reads for lack of cache).
* **Forward** (inference): a layer reads its inputs (the full shape of each,
  also of an expanded view), its parameters and its buffers (batch norm's
  running statistics), and writes its output.  A view, or a layer that makes
  no new tensor and does no arithmetic (``Identity``, ``Dropout`` at
  inference), moves nothing: its consumer reads the storage.  An in-place
  layer (``ReLU(inplace=True)``) reads its input and writes it back in
  place: as many bytes as out of place.  Inputs and learned tensors
  (``Input``, ``Parameter``) move nothing themselves: their consumers read them.
* **Backward** (each layer autograd records, see `costgraph.memory`): the
  layer reads the gradient of its output, every tensor it saved for
  backward (`LayerKind.saved_tensors`) and, when some input needs a
  gradient, its parameters (``dX = dY W``; the first conv and an embedding
  read none), and writes the gradient of each input that needs one and the
  gradients of its parameters.  Views and no-op layers move nothing (the gradient is
  reshaped).  Composite kinds (`GatedMLP`, `MultiheadAttention`) and
  unfused attention count the gradients of their internal tensors as their
  parts would.  Not counted: summing gradients where an activation feeds
  several layers, and the optimizer step.
* **Dtypes**: activations, parameters and buffers take the dtype asked for;
  token ids and max-pool indices are int64; masks and statistics saved for
  backward take `costgraph.memory.element_bytes`'s sizes on the device.

Only where that default is wrong does a kind have its own rule, here, never
in the kind's file: a lookup reads rows, not its whole table (`Embedding`,
`PositionalEmbedding`); a composite node runs several kernels (`GatedMLP`,
`MultiheadAttention`); and attention without a fused kernel writes and reads
its ``Sq x Sk`` scores several times (`ScaledDotProductAttention`,
`MultiheadAttention`).  ``fused_attention=True`` is the switch for a fused
kernel (FlashAttention): no score tensor is read or written, only q, k, v
and the output.  A user's kind can state its own rule with `register_traffic`.

>>> from costgraph import Network, H, W
>>> from costgraph.kinds import Input, Conv2d, ReLU
>>> net = Network("conv")
>>> for name, layer in [("x", Input((3, H, W))), ("conv", Conv2d(3, 8, 3, padding=1)), ("relu", ReLU(inplace=True))]:
...     _ = net.add(name, layer)
>>> forward_elements(net)["conv"]          # reads 3HW input + 8*27 + 8 parameters, writes 8HW
LayerTraffic(reads={'activation': 3*H*N*W + 224}, writes={'activation': 8*H*N*W})
>>> forward_elements(net)["relu"]          # in place: reads and writes 8HW
LayerTraffic(reads={'activation': 8*H*N*W}, writes={'activation': 8*H*N*W})
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy

from .compile import compile_exprs, exact_scale
from .dtypes import dtype_bytes
from .errors import CostGraphError
from .kinds.base import Saved, numel
from .polynomial import expand_sizes

__all__ = [
    "TRAFFIC_CONVENTION",
    "LayerTraffic",
    "register_traffic",
    "forward_elements",
    "backward_elements",
    "element_totals",
    "layer_bytes",
    "total_bytes",
    "bytes_formula",
]

TRAFFIC_CONVENTION = (
    "bytes moved: no fusion, each layer reads its inputs, parameters and buffers from main memory and writes "
    "its output (views and no-op layers move nothing, in-place layers write in place); backward reads the "
    "output gradient, saved tensors and (for input gradients) parameters and writes input and parameter gradients"
)

_ZERO = sympy.Integer(0)


@dataclass(frozen=True)
class LayerTraffic:
    """Elements one layer reads and writes, by element class (``"activation"``, ``"index"``, ...).

    The class fixes the bytes of an element (`costgraph.memory.element_bytes`):
    ``"activation"`` the dtype asked for (parameters and buffers too),
    ``"index"`` int64, ``"mask"`` and ``"statistic"`` by device.
    """

    reads: dict = field(default_factory=dict)
    writes: dict = field(default_factory=dict)

    def elements(self) -> dict:
        """Reads plus writes, by element class."""
        total = dict(self.reads)
        for element, count in self.writes.items():
            total[element] = total.get(element, _ZERO) + count
        return total


def _traffic(reads: dict, writes: dict) -> LayerTraffic:
    clean = lambda part: {k: expand_sizes(sympy.sympify(v)) for k, v in part.items() if sympy.sympify(v) != 0}  # noqa: E731
    return LayerTraffic(clean(reads), clean(writes))


#: kind class name -> rule(layer, out, in_shapes, params, fused_attention) -> LayerTraffic
_FORWARD_RULES: dict = {}
#: kind class name -> rule(layer, out, in_shapes, params, flags, fused_attention) -> LayerTraffic
_BACKWARD_RULES: dict = {}


def register_traffic(kind_name: str, *, backward: bool = False):
    """Decorator: the forward (or `backward`) traffic rule of the kind called `kind_name`, where the default is wrong.

    A forward rule is called as ``rule(layer, out, in_shapes, params, fused_attention)``,
    a backward rule as ``rule(layer, out, in_shapes, params, flags, fused_attention)``
    (`flags`: whether each input needs a gradient); both return a `LayerTraffic`.
    One rule of each per kind.

    Raises
    ------
    CostGraphError
        If the kind already has a rule.

    Examples
    --------
    >>> @register_traffic("MyGather")
    ... def _gather(layer, out, in_shapes, params, fused_attention):
    ...     return LayerTraffic({"activation": numel(out)}, {"activation": numel(out)})
    >>> "MyGather" in _FORWARD_RULES
    True
    >>> del _FORWARD_RULES["MyGather"]
    """

    rules = _BACKWARD_RULES if backward else _FORWARD_RULES

    def decorate(rule):
        if kind_name in rules:
            raise CostGraphError(f"kind {kind_name!r} already has a {'backward' if backward else 'forward'} traffic rule", value=kind_name)
        rules[kind_name] = rule
        return rule

    return decorate


def moves_nothing(layer, out, in_shapes, training: bool = False) -> bool:
    """Whether the layer is a view or a no-op alias: no new tensor and no arithmetic.

    >>> from costgraph.kinds import Flatten, ReLU, Dropout
    >>> from costgraph.symbols import N
    >>> x = (N, 8)
    >>> moves_nothing(Flatten(), x, (x,)), moves_nothing(ReLU(inplace=True), x, (x,)), moves_nothing(Dropout(), x, (x,))
    (True, False, True)
    """
    if layer.arity == 0 or not in_shapes:
        return True
    aliased = layer.output_alias(training) is not None
    return aliased and sympy.sympify(layer.other_flops(out, *in_shapes)) == 0


def default_forward(layer, out, in_shapes, params) -> LayerTraffic:
    """The default rule: read every input, the parameters and buffers; write the output.

    >>> from costgraph.kinds import Linear
    >>> from costgraph.symbols import N
    >>> default_forward(Linear(4, 2), (N, 2), ((N, 4),), 10)     # 4N + 10 read, 2N written
    LayerTraffic(reads={'activation': 4*N + 10}, writes={'activation': 2*N})
    """
    if moves_nothing(layer, out, in_shapes):
        return LayerTraffic()
    buffers = [sympy.sympify(count) for count, kind in layer.buffers(*in_shapes) if kind == "activation"]
    reads = sympy.Add(*[numel(s) for s in in_shapes]) + params + sympy.Add(*buffers)
    return _traffic({"activation": reads}, {"activation": numel(out)})


@functools.lru_cache(maxsize=16384)
def _layer_forward(layer, out, in_shapes, params, fused_attention) -> LayerTraffic:
    rule = _FORWARD_RULES.get(layer.kind)
    if rule is None:
        return default_forward(layer, out, in_shapes, params)
    return rule(layer, out, in_shapes, params, fused_attention)


def _node_parts(nodes, name):
    """(node data, input shapes, parameter count) of layer `name`; `nodes` is ``net.graph.nodes``."""
    node = nodes[name]
    in_shapes = tuple(nodes[s]["shape"] for s in node["inputs"])
    cost = node["cost"]
    return node, in_shapes, cost.weights + cost.biases  # both expanded: Add collects like terms


def forward_elements(net, fused_attention: bool = False) -> dict:
    """``{layer: LayerTraffic}`` of the forward pass (symbolic), in insertion order.

    Parameters
    ----------
    net : Network
    fused_attention : bool
        Attention nodes run as one fused kernel (no score tensor in memory).

    Raises
    ------
    CostGraphError
        If a kind's rule fails (the message names the layer).
    """
    key = ("traffic_forward", bool(fused_attention))
    if key not in net._cache:
        result, nodes = {}, net.graph.nodes
        for name in net:
            node, in_shapes, params = _node_parts(nodes, name)
            try:
                result[name] = _layer_forward(node["layer"], node["shape"], in_shapes, params, bool(fused_attention))
            except CostGraphError as error:
                raise CostGraphError(f"layer {name!r} ({node['layer'].kind}): {error}", layer=name, value=error.value) from None
        net._cache[key] = result
    return net._cache[key]


def default_backward(layer, out, in_shapes, params, flags, saved) -> LayerTraffic:
    """The default backward rule: read the output gradient, the `saved` tensors and (for input
    gradients) the parameters; write the input gradients asked for by `flags` and the parameter gradients.

    >>> from costgraph.kinds import Linear
    >>> from costgraph.kinds.base import Saved
    >>> from costgraph.symbols import N
    >>> default_backward(Linear(4, 2), (N, 2), ((N, 4),), 10, (True,), (Saved.input(0),))
    LayerTraffic(reads={'activation': 6*N + 10}, writes={'activation': 4*N + 10})
    """
    # the parameters are read for the input gradients (dX = dY W); dW needs only dY and the input
    reads = {"activation": numel(out) + (params if any(flags) else 0)}
    for entry in saved:
        if entry.source == "extra":
            reads[entry.element] = reads.get(entry.element, _ZERO) + entry.numel
        else:
            reads["activation"] += numel(in_shapes[entry.index]) if entry.source == "input" else numel(out)
    writes = {"activation": params + sympy.Add(*[numel(s) for s, flag in zip(in_shapes, flags) if flag])}
    return _traffic(reads, writes)


def _at_their_dtype(saved, name, inputs, in_shapes, out, roots, elements) -> tuple:
    """`saved` with each kept input or output not of the activation dtype (a bool mask, int64
    ids: `costgraph.memory.output_elements`) as an extra of its class, read at its own bytes."""
    result = []
    for entry in saved:
        if entry.source != "extra":
            root = roots[inputs[entry.index]] if entry.source == "input" else roots[name]
            element = "activation" if root is None else elements[root]
            if element != "activation":
                entry = Saved.extra(numel(in_shapes[entry.index] if entry.source == "input" else out), element)
        result.append(entry)
    return tuple(result)


def backward_elements(net, fused_attention: bool = False) -> dict:
    """``{layer: LayerTraffic}`` of the backward pass for the layers autograd records (symbolic).

    Raises
    ------
    CostGraphError
        If a layer's kind declares no saved-tensor rule (naming layer and kind).

    Examples
    --------
    A conv layer whose input is the image computes no input gradient: it reads
    the output gradient and its saved input (not its weights), and writes weight gradients.

    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input, Conv2d
    >>> net = Network("conv")
    >>> _ = net.add("x", Input((3, H, W))); _ = net.add("conv", Conv2d(3, 8, 3, padding=1, bias=False))
    >>> backward_elements(net)["conv"]         # reads the 8HW gradient and the 3HW saved input
    LayerTraffic(reads={'activation': 11*H*N*W}, writes={'activation': 216})
    """
    key = ("traffic_backward", bool(fused_attention))
    if key in net._cache:
        return net._cache[key]
    from .memory import _check_kind_rule, _requires_grad, _storage_roots, output_elements

    needs = _requires_grad(net)
    roots, elements = _storage_roots(net, training=True), output_elements(net)
    result, nodes = {}, net.graph.nodes
    for name in net:
        node, in_shapes, params = _node_parts(nodes, name)
        layer, out = node["layer"], node["shape"]
        if not needs[name] or moves_nothing(layer, out, in_shapes, training=True):
            continue
        flags = tuple(needs[s] for s in node["inputs"])
        saved = _check_kind_rule(name, layer, "saved_tensors", out, *in_shapes, needs_input_grad=flags)
        saved = _at_their_dtype(saved, name, node["inputs"], in_shapes, out, roots, elements)
        rule = _BACKWARD_RULES.get(layer.kind)
        if rule is None:
            result[name] = default_backward(layer, out, in_shapes, params, flags, saved)
        else:
            result[name] = rule(layer, out, in_shapes, params, flags, bool(fused_attention))
    net._cache[key] = result
    return result


def element_totals(per_layer: dict) -> dict:
    """Sum of `LayerTraffic` records by element class (expanded sympy sums).

    >>> from costgraph.symbols import N
    >>> element_totals({"a": LayerTraffic({"activation": N}, {"activation": 2 * N}), "b": LayerTraffic({"index": N})})
    {'activation': 3*N, 'index': N}
    """
    by_class: dict = {}
    for traffic in per_layer.values():
        for element, count in traffic.elements().items():
            by_class.setdefault(element, []).append(count)
    return {element: expand_sizes(sympy.Add(*counts)) for element, counts in by_class.items()}


def _element_size(element: str, size: int, device: str) -> int:
    from .memory import element_bytes

    return element_bytes(element, size, device)


def bytes_formula(elements: dict, dtype="fp32", device: str = "cuda") -> sympy.Expr:
    """Bytes of an ``{element class: elements}`` mapping at `dtype` (symbolic).

    >>> from costgraph.symbols import N
    >>> bytes_formula({"activation": 10 * N, "index": N}, "bf16")
    28*N
    """
    size = dtype_bytes(dtype)
    return expand_sizes(sympy.Add(*[count * _element_size(e, size, device) for e, count in elements.items()]))


def _evaluated(net, key, exprs_fn, sizes, values=None):
    values = net.check_sizes(**sizes) if values is None else values
    if key not in net._cache:
        net._cache[key] = compile_exprs(net.symbols, exprs_fn())
    return net._cache[key](*[values[s] for s in net.symbols])


def total_bytes(
    net, dtype="fp32", *, backward: bool = False, fused_attention: bool = False, device: str = "cuda", _values=None, **sizes
):
    """Bytes the whole forward pass (or, with `backward`, the backward pass) moves.

    Symbolic without sizes, an exact int with them (`_values`: sizes already
    resolved and checked by the caller, ``{symbol: value}``).

    Raises
    ------
    UnknownSizeError, SizeError, DomainError
        As `Network.totals` raises.
    CostGraphError
        For an unknown dtype, or (backward) a kind without a saved-tensor rule.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> total_bytes(vgg16(), "bf16", H=224) > 2 * 138357544     # at least every weight once
    True
    """
    per_layer = backward_elements(net, fused_attention) if backward else forward_elements(net, fused_attention)
    key = ("traffic_total", backward, bool(fused_attention))
    if key not in net._cache:
        net._cache[key] = element_totals(per_layer)
    elements = net._cache[key]
    size = dtype_bytes(dtype)
    if not sizes and _values is None:
        return bytes_formula(elements, dtype, device)
    names = sorted(elements)
    counts = _evaluated(net, key + ("fn",), lambda: [elements[n] for n in names], sizes, _values)
    return sum((exact_scale(c, _element_size(n, size, device)) for n, c in zip(names, counts)), 0)


def layer_bytes(net, dtype="fp32", *, backward: bool = False, fused_attention: bool = False, device: str = "cuda", **sizes) -> dict:
    """``{layer: bytes moved}`` for every layer (0 for layers that move nothing); symbolic or exact ints.

    Raises
    ------
    UnknownSizeError, SizeError, DomainError
        As `Network.totals` raises.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> moved = layer_bytes(vgg16(), "fp32", H=224)
    >>> moved["conv1_1"] == 4 * (3 * 224 * 224 + 64 * 27 + 64 + 64 * 224 * 224)
    True
    """
    per_layer = backward_elements(net, fused_attention) if backward else forward_elements(net, fused_attention)
    size = dtype_bytes(dtype)
    names = list(net)
    formulas = {}
    for name in names:
        traffic = per_layer.get(name, LayerTraffic())
        formulas[name] = bytes_formula(traffic.elements(), dtype, device) if traffic.elements() else _ZERO
    if not sizes:
        return formulas
    # compiled per (element class) so the dtype can change without recompiling
    key = ("traffic_layers", backward, bool(fused_attention))
    classes = sorted({e for t in per_layer.values() for e in t.elements()})
    flat = _evaluated(
        net,
        key,
        lambda: [per_layer.get(n, LayerTraffic()).elements().get(e, _ZERO) for n in names for e in classes],
        sizes,
    )
    result = {}
    for i, name in enumerate(names):
        row = flat[i * len(classes) : (i + 1) * len(classes)]
        result[name] = sum((exact_scale(c, _element_size(e, size, device)) for e, c in zip(classes, row)), 0)
    return result


# -- the kinds whose traffic the default gets wrong ------------------------------------------


@register_traffic("Embedding")
def _embedding(layer, out, in_shapes, params, fused_attention):
    """A lookup reads the int64 ids and the rows it gathers (one per output vector), not the whole table."""
    (ids,) = in_shapes
    return _traffic({"index": numel(ids), "activation": numel(out)}, {"activation": numel(out)})


@register_traffic("PositionalEmbedding")
def _positional(layer, out, in_shapes, params, fused_attention):
    """``x + table[:S]``: reads x and the S rows used (the whole table only when S is its length)."""
    (x,) = in_shapes
    return _traffic({"activation": numel(x) + x[1] * layer.embedding_dim}, {"activation": numel(out)})


def _scores_traffic(scores, masked: bool) -> sympy.Expr:
    """Elements of the score matrix an unfused attention moves, as eager PyTorch's parts run it.

    ``Q K^T`` writes the scores (1); the scale reads and writes them (2); an
    additive mask reads and writes them (2); softmax reads and writes (2);
    ``weights @ V`` reads them (1): 6, or 8 with a mask, times the scores.
    """
    return scores * (8 if masked else 6)


@register_traffic("ScaledDotProductAttention")
def _sdpa(layer, out, in_shapes, params, fused_attention):
    """Fused: read q, k, v (and a mask), write the output.  Unfused: also the score matrix, 6 or 8 times."""
    base = default_forward(layer, out, in_shapes, params)
    if fused_attention:
        return base
    q, v = in_shapes[0], in_shapes[2]
    scores = numel(q[:-1]) * v[-2]
    masked = layer.is_causal or len(in_shapes) == 4
    extra = _scores_traffic(scores, masked)
    # the writes of the scores belong to writes, their reads to reads: 3 (4) writes, 3 (4) reads
    half = extra / 2
    return _traffic({"activation": base.reads["activation"] + half}, {"activation": base.writes["activation"] + half})


@register_traffic("MultiheadAttention")
def _mha(layer, out, in_shapes, params, fused_attention):
    """Three kernels and the attention core: the q/k/v projection (reads x and its weights, writes
    q, k, v), the core (reads q, k, v, writes the attention output; unfused also its scores), the
    output projection (reads that and its weights, writes the output); rotary embedding, when on,
    reads and writes q and k once more."""
    (x,) = in_shapes
    tokens = x[0] * x[1]
    q, kv = layer._projection_widths()
    qkv, attended = tokens * (q + 2 * kv), tokens * q
    reads = numel(x) + params + qkv + attended
    writes = qkv + attended + numel(out)
    if layer.rotary:
        reads, writes = reads + tokens * (q + kv), writes + tokens * (q + kv)
    if not fused_attention:
        scores = x[0] * layer.num_heads * x[1] * x[1]
        half = _scores_traffic(scores, layer.is_causal) / 2
        reads, writes = reads + half, writes + half
    return _traffic({"activation": reads}, {"activation": writes})


@register_traffic("GatedMLP")
def _gated_mlp(layer, out, in_shapes, params, fused_attention):
    """As its parts run: gate and up each read x and write a hidden tensor; the activation reads
    and writes one; the product reads two and writes one; down reads it and writes the output.
    Reads ``2x + 4 hidden + weights``, writes ``4 hidden + output``."""
    (x,) = in_shapes
    hidden = numel(x[:-1]) * layer.d_ff
    return _traffic({"activation": 2 * numel(x) + 4 * hidden + params}, {"activation": 4 * hidden + numel(out)})


# -- backward rules where the default (boundary tensors and saved tensors) misses internal gradients --


def _score_moves_backward(scores, masked: bool) -> tuple:
    """(reads, writes) of score-sized tensors in unfused attention's backward, as its parts run it.

    ``weights @ V``: reads the weights, writes their gradient; softmax: reads
    that and its output, writes the score gradient; the mask (if any) reads
    and writes it; the scale reads and writes it; ``Q K^T`` reads it.
    Reads 5 (6 with a mask), writes 3 (4).
    """
    return scores * (6 if masked else 5), scores * (4 if masked else 3)


@register_traffic("ScaledDotProductAttention", backward=True)
def _sdpa_backward(layer, out, in_shapes, params, flags, fused_attention):
    """Fused (FlashAttention): read dO, q, k, v, O and the row statistics, write dq, dk, dv.
    Unfused: the same q, k, v and gradients, and the score matrix as its parts move it."""
    q, k, v = in_shapes[:3]
    rows = numel(q[:-1])
    reads = numel(out) + numel(q) + numel(k) + numel(v)
    writes = sympy.Add(*[numel(s) for s, flag in zip(in_shapes[:3], flags) if flag])
    if fused_attention:
        return _traffic({"activation": reads + numel(out), "statistic": rows}, {"activation": writes})
    extra_reads, extra_writes = _score_moves_backward(rows * v[-2], layer.is_causal or len(in_shapes) == 4)
    return _traffic({"activation": reads + extra_reads}, {"activation": writes + extra_writes})


@register_traffic("MultiheadAttention", backward=True)
def _mha_backward(layer, out, in_shapes, params, flags, fused_attention):
    """As its kernels: the output projection (reads dOut, the attention output and its weights;
    writes their gradients), the attention core (as `ScaledDotProductAttention`'s rule), rotary
    (reads and writes the q and k gradients), the q/k/v projection (reads the q/k/v gradient and
    x; with an input gradient, its weights and writes dx) and every weight gradient."""
    (x,) = in_shapes
    tokens = x[0] * x[1]
    q, kv = layer._projection_widths()
    embed = layer.embed_dim
    qkv, attended = tokens * (q + 2 * kv), tokens * q
    out_params = q * embed + (embed if layer.bias else 0)
    in_params = params - out_params
    wants_x = bool(flags[0])
    reads = numel(out) + attended + out_params  # output projection
    writes = attended + out_params
    reads, writes = reads + attended + qkv, writes + qkv  # core: d(attention), q, k, v
    statistics = _ZERO
    if fused_attention:
        reads, statistics = reads + attended, x[0] * layer.num_heads * x[1]  # O and the row statistics
    else:
        extra_reads, extra_writes = _score_moves_backward(x[0] * layer.num_heads * x[1] * x[1], layer.is_causal)
        reads, writes = reads + extra_reads, writes + extra_writes
    if layer.rotary:
        reads, writes = reads + tokens * (q + kv), writes + tokens * (q + kv)
    reads = reads + qkv + numel(x) + (in_params if wants_x else 0)  # q/k/v projection
    writes = writes + in_params + (numel(x) if wants_x else 0)
    return _traffic({"activation": reads, "statistic": statistics}, {"activation": writes})


@register_traffic("GatedMLP", backward=True)
def _gated_mlp_backward(layer, out, in_shapes, params, flags, fused_attention):
    """As its parts: down (reads dOut, the product and its weights; writes their gradients), the
    product (reads its gradient and both factors, writes both gradients), the activation (reads
    its gradient and input, writes one), gate and up (read their gradients and x, with an input
    gradient their weights, and write dx each) and every weight gradient."""
    (x,) = in_shapes
    rows = numel(x[:-1])
    hidden = rows * layer.d_ff
    down = layer.d_ff * layer.d_model + (layer.d_model if layer.bias else 0)
    gate_up = params - down
    wants_x = bool(flags[0])
    reads = numel(out) + hidden + down  # down
    reads += 3 * hidden  # the product: its gradient and both factors
    reads += 2 * hidden  # the activation: its gradient and its input
    reads += 2 * (hidden + numel(x)) + (gate_up if wants_x else 0)  # gate and up
    writes = hidden + down + 2 * hidden + hidden + gate_up + (2 * numel(x) if wants_x else 0)
    return _traffic({"activation": reads}, {"activation": writes})
