"""Memory of a training step and of inference, and the MACs of the backward pass.

Each layer kind states what autograd keeps for its backward (`LayerKind.saved_tensors`)
and whether its output is a new tensor or shares its input's storage
(`LayerKind.output_alias`: in-place ops and views share).  From those, this
module derives:

* ``saved_bytes``: the bytes of the distinct storages autograd keeps between
  the forward and the backward pass.  A storage kept by several layers
  counts once: conv1's output, overwritten in place by ReLU (which keeps it)
  and read by conv2 (which keeps it too), is one storage;
* ``peak_inference_bytes``: the largest activation memory alive at once when
  the DAG runs in the network's insertion order, each storage freed after
  its last reader (a residual's skip lives until its Add).  Symbolically it
  is a `sympy.Max` over the steps that allocate, after dropping steps proven
  never larger than another;
* the backward MACs of every layer (`LayerKind.backward_macs`), which
  `Network.totals` reports with ``backward=True``.

Which tensors autograd keeps was read off PyTorch's derivative formulas and
checked against real autograd (``tests/test_torch_memory.py`` hooks
``torch.autograd.graph.saved_tensors_hooks``).  Two things depend on the
device: dropout's mask (bool on CUDA's fused kernel, the activation dtype on
the CPU) and normalization statistics (fp32 for 16-bit activations on CUDA,
the activation dtype on the CPU).

>>> from costgraph.models import vgg16
>>> m = vgg16().memory(H=224)                 # fp32, one image, SGD
>>> m.peak_inference_bytes                    # conv1_2 reads conv1_1's output: 2 * 64*224*224 values
25690112
>>> m.saved_bytes > 60_000_000                # backward keeps about the seed's 15.2M values and more
True
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass, field

import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from .compile import compile_exprs, exact_scale, exact_sum
from .dtypes import dtype_bytes
from .errors import CostGraphError
from .counts import check_count
from .intmath import FloorDiv
from .kinds.base import ELEMENT_CLASSES, Saved, numel
from .polynomial import expand_sizes
from .symbols import as_formula

__all__ = [
    "Memory",
    "peak_inference_layer",
    "OPTIMIZER_STATES",
    "DEVICES",
    "network_memory",
    "backward_macs",
    "element_bytes",
    "set_output_element",
    "output_elements",
    "saved_storages",
    "inference_steps",
    "peak_inference_elements",
]

#: optimizer -> number of parameter-sized state tensors it keeps
OPTIMIZER_STATES = {
    None: 0,
    "sgd": 0,  # plain SGD keeps nothing
    "momentum": 1,  # SGD with momentum: one momentum buffer
    "adam": 2,  # exp_avg and exp_avg_sq
    "adamw": 2,
}

DEVICES = ("cuda", "cpu")


def element_bytes(element: str, size: int, device: str = "cuda") -> int:
    """Bytes of one element of class `element` when activations take `size` bytes.

    ``"activation"`` is the network's dtype, ``"index"`` int64, ``"mask"``
    dropout's mask (bool on CUDA, the activation dtype on the CPU),
    ``"statistic"`` normalization statistics; ``"bool"`` and the other
    integer classes are their own dtype's size on every device.

    Raises
    ------
    CostGraphError
        If `element` is not one of `ELEMENT_CLASSES`.

    >>> [element_bytes(e, 2, "cuda") for e in ("activation", "index", "mask", "statistic", "bool")]
    [2, 8, 1, 4, 1]
    >>> [element_bytes(e, 2, "cpu") for e in ("activation", "index", "mask", "statistic", "bool", "int32")]
    [2, 8, 2, 2, 1, 4]
    """
    if element == "activation":
        return size
    if element == "index":
        return 8  # int64
    if element == "mask":
        return 1 if device == "cuda" else size  # bool mask vs. CPU noise of the input's dtype
    if element == "statistic":
        return max(4, size) if device == "cuda" else size  # CUDA accumulates 16-bit types in fp32
    if element == "bool":
        return 1
    if element in ELEMENT_CLASSES:
        return dtype_bytes(element)  # a fixed integer dtype: int32, ...
    raise CostGraphError(f"unknown element class {element!r}; known: {', '.join(ELEMENT_CLASSES)}", value=element)


#: the element classes `Memory.saved_elements` always lists; the others only where some are kept
_LISTED_ELEMENTS = ("activation", "index", "mask", "statistic")


def set_output_element(net, layer: str, element: str) -> None:
    """State that layer `layer` of `net` makes elements of class `element` (its real dtype).

    Overrides the kind's own `LayerKind.output_element` for that layer:
    importers call it with the dtype the exported graph records (a
    ``torch.bool`` comparison result is ``"bool"``, ``torch.int64`` ids are
    ``"index"``).

    Raises
    ------
    CostGraphError
        If `layer` is not in `net` or `element` is not one of `ELEMENT_CLASSES`.

    >>> from costgraph import Network, S
    >>> from costgraph.kinds import Input
    >>> net = Network("ids")
    >>> net.add("ids", Input((S,)))
    'ids'
    >>> set_output_element(net, "ids", "index")
    >>> output_elements(net)
    {'ids': 'index'}
    """
    if layer not in net:
        raise CostGraphError(f"{net.name} has no layer {layer!r}", value=layer)
    if element not in ELEMENT_CLASSES:
        raise CostGraphError(
            f"layer {layer!r}: unknown element class {element!r}; known: {', '.join(ELEMENT_CLASSES)}", layer=layer, value=element
        )
    net.graph.nodes[layer]["element"] = element
    net._cache.clear()


def output_elements(net) -> dict:
    """``{layer: element class of its output}``: as stated for the layer, else as its kind derives it.

    A layer's own statement (`set_output_element`, an importer's real
    dtype) wins; then, for a storage some layer reads as a given class
    (`LayerKind.input_element`: an embedding's int64 ids), that class; else
    the kind's `LayerKind.output_element` of its inputs' classes.  A view
    or in-place layer shares its storage, whose bytes follow the layer that
    made it.

    Raises
    ------
    CostGraphError
        If a kind returns an unknown element class (naming layer and kind).

    >>> from costgraph import Network, S
    >>> from costgraph.kinds import Input, Compare, Embedding
    >>> net = Network("mask")
    >>> for name, layer in [("x", Input((S,))), ("positive", Compare("gt"))]:
    ...     _ = net.add(name, layer)
    >>> _ = net.add("ids", Input((S,)))
    >>> _ = net.add("wte", Embedding(10, 4), "ids")
    >>> output_elements(net)
    {'x': 'activation', 'positive': 'bool', 'ids': 'index', 'wte': 'activation'}
    """
    if "memory_elements" in net._cache:
        return net._cache["memory_elements"]
    roots = _storage_roots(net, training=True)
    read_as: dict = {}  # storage -> the class a reader requires of it
    for name in net:
        node = net.graph.nodes[name]
        for index, source in enumerate(node["inputs"]):
            required = _check_kind_rule(name, node["layer"], "input_element", index)
            if required is not None and roots[source] is not None:
                read_as[roots[source]] = _known_element(name, node["layer"], required)
    elements: dict = {}
    for name in net:
        node = net.graph.nodes[name]
        element = node.get("element") or read_as.get(name)
        if element is None:
            element = _check_kind_rule(name, node["layer"], "output_element", *[elements[s] for s in node["inputs"]])
            _known_element(name, node["layer"], element)
        elements[name] = element
    net._cache["memory_elements"] = elements
    return elements


def _known_element(name, layer, element):
    if element not in ELEMENT_CLASSES:
        raise CostGraphError(
            f"layer {name!r} ({layer.kind}): element class {element!r} is not one of {', '.join(ELEMENT_CLASSES)}", layer=name, value=element
        )
    return element


@dataclass(frozen=True)
class Memory:
    """Memory of one network: exact ints at given sizes, sympy expressions without.

    Attributes
    ----------
    params_bytes
        Parameters (tied ones once) times the dtype's size.
    buffers_bytes
        Non-parameter state: batch norm's running mean and variance (the
        dtype) and its int64 batch counter.
    grads_bytes
        One gradient per parameter (0 when not training).
    optimizer_bytes
        Optimizer state: 0 for plain SGD, one parameter-sized buffer for SGD
        with momentum, two for Adam/AdamW (not counting Adam's 0-d ``step``
        counters, one per parameter tensor, kept on the CPU by default).
    saved_bytes
        What autograd keeps from the forward pass for the backward pass:
        the distinct storages of saved activations (each once, however many
        layers keep it), plus extras (max-pool indices, dropout masks,
        normalization statistics); parameters and buffers excluded.
        0 when not training.
    peak_inference_bytes
        The largest activation memory alive at once in a forward pass
        without autograd (inputs included, parameters excluded, no
        workspace), in the network's insertion order.
    total_training_bytes
        ``params + buffers + grads + optimizer + saved``: what a training
        step holds when its forward pass ends (the gradients counted as
        allocated).  Not counted: the gradients of activations that exist
        briefly during backward, the loss, workspace, allocator caching.
    total_inference_bytes
        ``params + buffers + peak_inference``.
    master_bytes
        The master copy of the weights a mixed-precision optimizer updates
        (fp32 beside 16-bit weights); 0 without one (`costgraph.training`).
        Counted in ``total_training_bytes``.
    recipe, parallel
        With a training recipe or parallelism (`costgraph.training`): the
        recipe's name and ``{"zero", "dp", "tp", "sp", "pp", "recompute"}``;
        every byte field is then per GPU.
    saved_elements
        The elements behind ``saved_bytes`` by class: ``"activation"``
        (the activation dtype), ``"index"`` (int64), ``"mask"``, ``"statistic"``,
        and, only where some are kept, ``"bool"`` and other integer classes
        (`element_bytes`).
    """

    params_bytes: object
    buffers_bytes: object
    grads_bytes: object
    optimizer_bytes: object
    saved_bytes: object
    peak_inference_bytes: object
    total_training_bytes: object
    total_inference_bytes: object
    dtype: str = "fp32"
    training: bool = True
    optimizer: str | None = "sgd"
    device: str = "cuda"
    sizes: dict = field(default_factory=dict)
    saved_elements: dict = field(default_factory=dict)
    master_bytes: object = 0
    recipe: str | None = None
    parallel: dict = field(default_factory=dict)

    FIELDS = (
        "params_bytes",
        "buffers_bytes",
        "grads_bytes",
        "master_bytes",
        "optimizer_bytes",
        "saved_bytes",
        "peak_inference_bytes",
        "total_training_bytes",
        "total_inference_bytes",
    )

    def as_dict(self) -> dict:
        """The byte fields by name."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def __str__(self) -> str:
        at = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "symbolic"
        mode = f"training, optimizer {self.optimizer}" if self.training else "inference"
        if self.recipe is not None:
            mode += f", recipe {self.recipe}, per GPU: " + ", ".join(f"{k} {v}" for k, v in self.parallel.items())
        lines = [f"Memory ({at}; dtype {self.dtype}; {mode}; {self.device})"]
        for name in self.FIELDS:
            value = getattr(self, name)
            lines.append(f"  {name:<22}{value:,}" if isinstance(value, int) else f"  {name:<22}{value}")
        return "\n".join(lines)


# -- the symbolic plan, computed once per network ----------------------------------


def _check_kind_rule(name, layer, method, *args, **kwargs):
    try:
        return getattr(layer, method)(*args, **kwargs)
    except CostGraphError as error:
        raise CostGraphError(f"layer {name!r} ({layer.kind}): {error}", layer=name, value=error.value) from None


def _storage_roots(net, training: bool) -> dict:
    """Layer -> the layer whose new tensor its output lives in (None: not an activation)."""
    roots = {}
    for name in net:
        node = net.graph.nodes[name]
        alias = _check_kind_rule(name, node["layer"], "output_alias", training)
        if alias is None:
            roots[name] = name
        elif not node["inputs"]:
            roots[name] = None  # e.g. a Parameter node: its bytes are parameters
        else:
            roots[name] = roots[node["inputs"][alias]]
    return roots


def _requires_grad(net) -> dict:
    """Layer -> whether its output depends on a parameter (autograd records it).

    A bool or integer output has no gradient (``x > 0``, an argmax): autograd
    records nothing for it, and a layer reading it needs no gradient for it.
    """
    needs = {}
    elements = output_elements(net)
    for name in net:
        node = net.graph.nodes[name]
        cost = node["cost"]
        has_params = cost.weights != 0 or cost.biases != 0
        # a bool/int output (a comparison, indices) or a kind that says so (argmax, topk's indices,
        # histc) carries no gradient onwards
        differentiable = elements[name] == "activation" and getattr(node["layer"], "carries_gradient", True)
        needs[name] = differentiable and bool(has_params or any(needs[s] for s in node["inputs"]))
    return needs


def _recorded_layers(net):
    """``(name, node, input shapes, needs_input_grad flags)`` of each layer autograd records, in order."""
    needs = _requires_grad(net)
    nodes = net.graph.nodes
    for name in net:
        if not needs[name]:
            continue  # autograd records nothing for it
        node = nodes[name]
        inputs = node["inputs"]
        yield name, node, tuple(nodes[s]["shape"] for s in inputs), tuple(needs[s] for s in inputs)


def saved_storages(net) -> dict:
    """The distinct storages autograd keeps in training: ``{key: (numel, element, layer)}``.

    `key` is the name of the layer that made the storage (an activation) or
    ``(layer, i)`` for the i-th extra tensor `layer` makes for its backward;
    `layer` is the layer the storage is charged to: the one that made it.
    In insertion order.

    Raises
    ------
    CostGraphError
        If a layer's kind declares no saved-tensor rule (naming layer and kind).

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input, Conv2d, ReLU
    >>> net = Network("two convs")
    >>> for name, layer in [("input", Input((3, H, W))), ("conv1", Conv2d(3, 8, 3, padding=1)),
    ...                     ("relu", ReLU(inplace=True)), ("conv2", Conv2d(8, 8, 3, padding=1))]:
    ...     _ = net.add(name, layer)
    >>> list(saved_storages(net))          # relu keeps conv1's storage, conv2 too: once
    ['input', 'conv1']
    """
    if "memory_saved" in net._cache:
        return net._cache["memory_saved"]
    roots = _storage_roots(net, training=True)
    elements = output_elements(net)
    found: dict = {}
    expanded: dict = {}  # shape -> its expanded element count, once per distinct shape
    for name, node, shapes, flags in _recorded_layers(net):
        inputs = node["inputs"]
        declared = _check_kind_rule(name, node["layer"], "saved_tensors", node["shape"], *shapes, needs_input_grad=flags)
        extras = 0
        for saved in declared:
            if not isinstance(saved, Saved):
                raise CostGraphError(f"layer {name!r} ({node['layer'].kind}): saved_tensors must return Saved entries, got {saved!r}", layer=name, value=saved)
            if saved.source == "extra":
                numel_ = _checked(name, node["layer"], saved.numel, "a saved tensor's size", shapes + (node["shape"],))
                found[(name, extras)] = (sympy.expand(numel_), saved.element, name)
                extras += 1
                continue
            owner = roots[inputs[saved.index]] if saved.source == "input" else roots[name]
            if owner is not None and owner not in found:
                shape = net.graph.nodes[owner]["shape"]
                if shape not in expanded:
                    expanded[shape] = sympy.expand(numel(shape))
                found[owner] = (expanded[shape], elements[owner], owner)  # the bytes of the dtype that made it
    net._cache["memory_saved"] = found
    return found


def inference_steps(net) -> list:
    """``[(layer, elements alive)]`` at each layer that allocates, in insertion order (symbolic).

    The alive elements are those of every activation storage made so far
    and still to be read (by this layer or a later one), or returned; the
    peak of inference memory is their maximum.

    >>> from costgraph.models import vgg16
    >>> steps = dict(inference_steps(vgg16()))
    >>> steps["conv1_2"]                      # conv1_1's output (ReLU'd in place) and conv1_2's
    128*H*N*W
    """
    if "memory_steps" not in net._cache:
        net._cache["memory_steps"] = _inference_steps(net)
    return net._cache["memory_steps"]


def _inference_steps(net) -> list:
    roots = _storage_roots(net, training=False)
    order = list(net)
    position = {name: i for i, name in enumerate(order)}
    last_use: dict = {}
    for name in order:
        root = roots[name]
        if root is not None:
            last_use[root] = max(last_use.get(root, position[name]), position[name])
        for source in net.graph.nodes[name]["inputs"]:
            if roots[source] is not None:
                last_use[roots[source]] = max(last_use[roots[source]], position[name])
    for name in net.outputs:
        if roots[name] is not None:
            last_use[roots[name]] = len(order)  # returned to the caller
    # One sweep: a storage joins the alive sum when it is made and leaves it after its last
    # reader, so each step costs the number of distinct monomials alive, not the whole
    # history (rescanning every storage at every step was quadratic: 20,000 residual
    # blocks took minutes).  The running sum is a {monomial: coefficient} table of the
    # expanded sizes, and each step's formula is built from it: sympy.expand's result.
    expiring: dict = {}
    for root, last in last_use.items():
        expiring.setdefault(last, []).append(root)
    terms: dict = {}
    sizes: dict = {}  # root -> its size as (coefficient, monomial) pairs
    by_shape: dict = {}  # identical shapes (a chain's, a stage's) are expanded once

    def change(root, sign):
        for coefficient, monomial in sizes[root]:
            terms[monomial] = terms.get(monomial, 0) + sign * coefficient
            if terms[monomial] == 0:
                del terms[monomial]

    steps = []
    for t, name in enumerate(order):
        # nothing allocated at a view or in-place layer: alive memory only shrinks there
        if roots[name] == name:
            shape = net.graph.nodes[name]["shape"]
            if shape not in by_shape:
                by_shape[shape] = [t.as_coeff_Mul() for t in sympy.Add.make_args(sympy.expand(numel(shape)))]
            sizes[name] = by_shape[shape]
            change(name, +1)
            steps.append((name, sympy.Add(*[coefficient * monomial for monomial, coefficient in terms.items()])))
        for root in expiring.pop(t, ()):
            change(root, -1)
    return steps


@functools.lru_cache(maxsize=4096)
def _plain_floor(atom) -> bool:
    """A floor of a polynomial with non-negative coefficients: >= 0 at positive sizes."""
    if not isinstance(atom, FloorDiv):
        return False
    base = sympy.expand(atom.args[0])
    if base.atoms(sympy.Function):
        return False
    return all(c >= 0 for c in base.as_coefficients_dict().values())


def _never_negative(expr) -> bool:
    """Sound test that `expr` >= 0 at every positive integer size (False: not proven).

    Every atom is a size (>= 1) or a plain floor (>= 0).  In a negative
    term a floor ``FloorDiv(x, k)`` is replaced by its upper bound ``x/k``;
    a floor left in a positive term is an unknown at least its value at
    size 1 (floors grow with the sizes).  Then with each size
    ``s = 1 + s'`` (``s' >= 0``), non-negative coefficients prove the claim.
    The arithmetic runs in a sparse polynomial ring (much faster than
    expanding sympy expressions).
    """
    floors = sorted(expr.atoms(sympy.Function), key=sympy.default_sort_key)
    if not all(_plain_floor(a) for a in floors):
        return False
    sizes = sorted(expr.free_symbols, key=lambda s: s.name)
    unknowns = [sympy.Dummy(f"u{i}") for i in range(len(floors))]
    R, *gens = ring(sizes + unknowns, QQ)
    shift = {s: s + 1 for s in sizes}
    one_more = {s: g + 1 for s, g in zip(sizes, gens)}
    low_value = {a: R(u) + int(a.xreplace({s: 1 for s in a.free_symbols})) for a, u in zip(floors, unknowns)}
    total = R(0)
    for term in sympy.Add.make_args(expr):
        coefficient, factors = term.as_coeff_mul()
        value = R(QQ(int(coefficient.p), int(coefficient.q)))
        negative = coefficient < 0
        for factor in factors:
            base, exponent = factor.as_base_exp()
            if not (exponent.is_Integer and exponent > 0 and (base in one_more or isinstance(base, FloorDiv))):
                return False
            if base in one_more:
                value *= one_more[base] ** int(exponent)
            elif negative:  # an upper bound of the floor, at s = 1 + s'
                value *= (R(base.args[0].xreplace(shift)) * QQ(1, int(base.args[1]))) ** int(exponent)
            else:
                value *= low_value[base] ** int(exponent)
        total += value
    return all(c >= 0 for c in total.values())


def _difference(a: dict, b: dict):
    """``a - b`` for two formulas held as ``{monomial: coefficient}``, built from the differing terms only."""
    return sympy.Add(*[(a.get(m, 0) - b.get(m, 0)) * m for m in set(a) | set(b) if a.get(m, 0) != b.get(m, 0)])


def _max_of(terms: list, symbols: list):
    """``Max(*terms)`` without the terms proven never larger than another one."""
    unique = list(dict.fromkeys(terms))
    if len(unique) <= 1:
        return unique[0] if unique else sympy.Integer(0)
    # numbers at a few sizes refute most dominance claims without symbolic work
    probe = compile_exprs(symbols, unique)
    samples = [probe(*[v] * len(symbols)) for v in (1, 7, 64, 224, 1000)]
    # consecutive steps share most of their terms: compare coefficient tables, not whole formulas
    tables = [dict(sympy.expand(t).as_coefficients_dict()) for t in unique]

    def dominates(k, i):
        return all(s[k] >= s[i] for s in samples) and _never_negative(_difference(tables[k], tables[i]))

    kept: list[int] = []
    for i in range(len(unique)):
        if any(dominates(k, i) for k in kept):
            continue
        kept = [k for k in kept if not dominates(i, k)]
        kept.append(i)
    if len(kept) == 1:
        return unique[kept[0]]
    return sympy.Max(*[unique[k] for k in kept], evaluate=False)


def peak_inference_elements(net):
    """The symbolic peak of alive activation elements (see the module docstring).

    >>> from costgraph.models import vgg16
    >>> peak_inference_elements(vgg16())       # conv1_2 (64+64 channels), or fc1/fc2 at tiny sizes
    Max(8192*N, 128*H*N*W, 512*N*floor(H/32)*floor(W/32) + 4096*N)
    """
    if "memory_peak" not in net._cache:
        net._cache["memory_peak"] = _max_of([alive for _, alive in inference_steps(net)], net.symbols)
    return net._cache["memory_peak"]


def peak_inference_layer(net, **sizes) -> tuple:
    """``(layer, elements)``: where inference memory peaks at `sizes`, and how much is alive there.

    Raises
    ------
    UnknownSizeError, SizeError, DomainError
        As `Network.check_sizes` raises.

    >>> from costgraph.models import vgg16
    >>> peak_inference_layer(vgg16(), H=224)   # conv1_1's output and conv1_2's: 2 x 64 x 224 x 224
    ('conv1_2', 6422528)
    """
    values = net.check_sizes(**sizes)
    counts = [(layer, int(sympy.Integer(alive) if isinstance(alive, int) else alive.xreplace(values))) for layer, alive in inference_steps(net)]
    return max(counts, key=lambda step: step[1])  # the first of equal maxima, in schedule order


@functools.lru_cache(maxsize=16384)
def _layer_backward(layer, out, in_shapes, flags):
    # checked as Network.add checks the forward counts (cached: once per distinct layer and shapes)
    macs = as_formula(layer.backward_macs(out, *in_shapes, needs_input_grad=flags), owner=layer.kind, what="backward MACs")
    expanded = expand_sizes(macs)
    check_count(expanded, "backward MACs", [d for shape in in_shapes + (out,) for d in shape], raw=macs)
    return expanded


def _checked(name, layer, count, what, shapes):
    """`count` as a formula, checked as `Network.add` checks a layer's counts (`costgraph.counts`)."""
    try:
        formula = as_formula(count, owner=layer.kind, what=what)
        check_count(expand_sizes(formula), what, [d for shape in shapes for d in shape], raw=formula)
    except CostGraphError as error:
        raise CostGraphError(f"layer {name!r} ({layer.kind}): {error}", layer=name, value=error.value) from None
    return formula


def backward_macs(net) -> dict:
    """``{layer: backward MACs}`` for every layer autograd records (symbolic).

    The input gradient of a layer whose input needs none (the first conv)
    is not computed, as autograd skips it.

    Raises
    ------
    CostGraphError
        If a layer's kind declares no backward rule (naming layer and kind).

    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> macs = backward_macs(net)
    >>> macs["conv1_1"] == net.graph.nodes["conv1_1"]["cost"].macs      # weights only
    True
    >>> macs["conv1_2"] == 2 * net.graph.nodes["conv1_2"]["cost"].macs  # input and weights
    True
    """
    if "memory_backward" in net._cache:
        return net._cache["memory_backward"]
    result = {}
    for name, node, shapes, flags in _recorded_layers(net):
        try:
            result[name] = _layer_backward(node["layer"], node["shape"], shapes, flags)
        except CostGraphError as error:
            raise CostGraphError(f"layer {name!r} ({node['layer'].kind}): {error}", layer=name, value=error.value) from None
    net._cache["memory_backward"] = result
    return result


def _buffers(net) -> tuple:
    """(elements in the model's dtype, bytes of fixed-dtype elements) of all buffers."""
    in_dtype, fixed = [], []
    for name in net:
        node = net.graph.nodes[name]
        shapes = tuple(net.graph.nodes[s]["shape"] for s in node["inputs"])
        for count, kind in node["layer"].buffers(*shapes):
            count = _checked(name, node["layer"], count, "a buffer's size", shapes + (node["shape"],))
            if kind == "activation":
                in_dtype.append(count)
            else:
                fixed.append(count * dtype_bytes(kind))
    return sympy.expand(sympy.Add(*in_dtype)), sympy.expand(sympy.Add(*fixed))


def _symbolic_parts(net, training: bool) -> dict:
    """Element counts that do not depend on the dtype (saved ones per element class)."""
    parts = {"params": net.totals().params, "peak": peak_inference_elements(net)}
    parts["buffers"], parts["buffers_fixed"] = _buffers(net)
    for element in ELEMENT_CLASSES:
        parts["saved_" + element] = sympy.Integer(0)
    if training:
        by_class = {e: [] for e in ELEMENT_CLASSES}
        for count, element, _ in saved_storages(net).values():
            by_class[element].append(count)
        for element, counts in by_class.items():
            # equal counts (a deep stack's) first multiplied by their number: Add of 10^5 terms is slow
            tally = collections.Counter(counts)
            parts["saved_" + element] = sympy.expand(sympy.Add(*[n * count for count, n in tally.items()]))
    return parts


def network_memory(net, dtype="fp32", training: bool = True, optimizer: str | None = "sgd", device: str = "cuda", **sizes) -> Memory:
    """`Memory` of `net`; see `costgraph.Network.memory`, which calls it."""
    size = dtype_bytes(dtype)
    if not isinstance(optimizer, (str, type(None))) or optimizer not in OPTIMIZER_STATES:
        raise CostGraphError(
            f"unknown optimizer {optimizer!r}; known: {', '.join(str(o) for o in OPTIMIZER_STATES)}", value=optimizer
        )
    if device not in DEVICES:
        raise CostGraphError(f"unknown device {device!r}; known: {', '.join(DEVICES)}", value=device)
    if not training and OPTIMIZER_STATES[optimizer]:
        raise CostGraphError(f"optimizer {optimizer!r} keeps state only in training; use training=True", value=optimizer)
    parts = _symbolic_parts(net, training)
    listed = [e for e in ELEMENT_CLASSES if e in _LISTED_ELEMENTS or parts["saved_" + e] != 0]  # symbolic: no array truth values
    names = list(parts)
    if sizes:
        values = net.check_sizes(**sizes)
        key = ("memory_fn", training)
        if key not in net._cache:
            net._cache[key] = compile_exprs(net.symbols, [parts[n] for n in names])
        parts = dict(zip(names, net._cache[key](*[values[s] for s in net.symbols])))
        shown = {s.name: v for s, v in values.items()}
    else:
        shown = {}
    scale = exact_scale if sizes else (lambda value, factor: value * factor)  # int64 arrays must not wrap
    params = scale(parts["params"], size)
    # each part fits int64 on its own; exact_sum bounds every sum of parts as a whole
    buffers = exact_sum(scale(parts["buffers"], size), parts["buffers_fixed"])
    grads = params if training else 0
    optimizer_bytes = scale(params, OPTIMIZER_STATES[optimizer]) if training else 0
    saved = exact_sum(*[scale(parts["saved_" + e], element_bytes(e, size, device)) for e in ELEMENT_CLASSES])
    peak = scale(parts["peak"], size)
    result = {
        "params_bytes": params,
        "buffers_bytes": buffers,
        "grads_bytes": grads,
        "optimizer_bytes": optimizer_bytes,
        "saved_bytes": saved,
        "peak_inference_bytes": peak,
        "total_training_bytes": exact_sum(params, buffers, grads, optimizer_bytes, saved),
        "total_inference_bytes": exact_sum(params, buffers, peak),
    }
    if not sizes:
        # expanding would rebuild the Max with evaluation (slow pairwise comparisons)
        result = {k: v if isinstance(v, sympy.Basic) and v.has(sympy.Max) else sympy.expand(v) for k, v in result.items()}
    elements = {e: parts["saved_" + e] for e in listed}
    return Memory(
        **result, dtype=str(dtype), training=training, optimizer=optimizer, device=device, sizes=shown, saved_elements=elements
    )
