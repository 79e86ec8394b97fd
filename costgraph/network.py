"""The network: a networkx DAG of layers whose nodes carry symbolic shapes and costs.

Shapes are inferred when a layer is added, so a mismatch fails at once and
names the layer.  Totals are ``Add`` over per-layer terms (each expanded once
when its layer is added), never ``simplify``; numeric results go through one
compiled, exact function per network.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Iterable

import networkx as nx
import sympy

from .compile import compile_exprs, exact_scale, exact_sum
from .counts import check_count, check_integer_formula, integer_form
from .polynomial import expand_sizes
from .dtypes import dtype_bytes
from .errors import CostGraphError, CycleError, DomainError, NotAKindError, ShapeError, UnknownSizeError
from .kinds.base import Constraint, LayerKind, format_shape, numel
from .kinds.conv import show_pair
from .symbols import H, N, W, as_formula, resolve_sizes, sort_symbols
from .totals import LayerCost, LayerTable, Row, Totals

__all__ = ["Network"]


@functools.lru_cache(maxsize=16384)
def _layer_formulas(layer: LayerKind, in_shapes: tuple) -> tuple:
    """(output shape, LayerCost, constraints) of `layer` on `in_shapes`.

    Cached on the (frozen, hashable) layer and its input shapes, so identical
    blocks (ResNet stages, transformer layers) do their symbolic work once.
    """
    out = _checked_shape(layer, layer.output_shape(*in_shapes))
    # every count the kind returns is a formula (never a string), an integer, never negative
    # at a valid size (costgraph.counts); expand_sizes is sympy.expand, several times faster
    dims = [d for shape in in_shapes + (out,) for d in shape]
    counts = {
        "weights": layer.weights(*in_shapes),
        "biases": layer.biases(*in_shapes),
        "MACs": layer.macs(out, *in_shapes),
        "other FLOPs": layer.other_flops(out, *in_shapes),
    }
    for what, value in counts.items():
        raw = as_formula(value, owner=layer.kind, what=what)
        counts[what] = expand_sizes(raw)
        check_count(counts[what], what, dims, raw=raw)
        counts[what] = integer_form(counts[what])  # S*(S+1)/2 as a floor: compiled code is integer only
    macs = counts["MACs"]
    cost = LayerCost(
        weights=counts["weights"],
        biases=counts["biases"],
        activations=expand_sizes(numel(out)) if layer.materializes else sympy.Integer(0),
        macs=macs,
        flops=expand_sizes(2 * macs + counts["other FLOPs"]),
    )
    return out, cost, _checked_constraints(layer, layer.constraints(out, *in_shapes))


def _checked_constraints(layer: LayerKind, constraints) -> tuple:
    """The kind's `Constraint` entries, each an integer formula (they are compiled into the checks)."""
    checked = []
    for constraint in constraints:
        if not isinstance(constraint, Constraint):
            raise CostGraphError(f"{layer.kind}: constraints must be Constraint entries, got {constraint!r}", value=constraint)
        expr = as_formula(constraint.expr, owner=layer.kind, what="a constraint")
        check_integer_formula(expr, "constraint")
        expr = integer_form(expr)
        checked.append(constraint if expr is constraint.expr else Constraint(expr, str(constraint.message)))
    return tuple(checked)


def _checked_shape(layer: LayerKind, shape) -> tuple:
    """The output shape a kind returned: a tuple of integer formulas in sizes, or a `CostGraphError`."""
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"{layer.kind}: output_shape must return a tuple of sizes, got {shape!r}", value=shape)
    out = tuple(as_formula(d, owner=layer.kind, what="an output size") for d in shape)
    for d in out:
        check_integer_formula(d, "output size")
    return tuple(integer_form(d) for d in out)


class Network:
    """A neural network as a DAG of layers, with symbolic shapes and costs.

    The DAG is a real `networkx.DiGraph`, `graph`: node ``name`` has the
    attributes ``layer`` (its `LayerKind`), ``shape`` (output shape, batch
    first, sympy expressions), ``inputs`` (input layer names, in order) and
    ``cost`` (a `LayerCost`).  Edges run from each input to its consumer.

    Parameters
    ----------
    name : str
        The network's name, used in messages and tables.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input, Conv2d, ReLU, MaxPool2d
    >>> net = Network("tiny")
    >>> net.add("input", Input((3, H, W)))
    'input'
    >>> net.add("conv", Conv2d(3, 8, 3, padding=1))   # input defaults to the last layer
    'conv'
    >>> net.add("relu", ReLU(inplace=True))
    'relu'
    >>> net.add("pool", MaxPool2d(2))
    'pool'
    >>> net.totals().macs                       # 8 * (3*3*3) MACs per output position
    216*H*N*W
    >>> net.totals(H=32).macs                   # 216 * 32 * 32
    221184
    """

    def __init__(self, name: str = "network"):
        self.name = name
        self.graph = nx.DiGraph(name=name)
        self._order: list[str] = []
        self._cache: dict = {}
        #: ``(function, options)`` that built this network, set by the transformer builders so
        #: `decode_step` can rebuild it with a key/value cache; None for other networks
        self.builder: tuple | None = None

    # -- building --------------------------------------------------------------
    def add(self, name: str, layer: LayerKind, *inputs: str, shares: str | None = None) -> str:
        """Add layer `name` fed by `inputs` (default: the layer added last); return `name`.

        The output shape and costs are derived at once.

        ``shares="other"`` says the layer's weights are the same tensors as
        layer ``other``'s (tied input and output embeddings): totals count
        them once (``params``, ``weights``, ``biases``), while the layer's MACs
        count at every use and its row still shows the parameters it uses,
        marked ``Row.shares``.  Its biases are shared too when it has as many
        as the owner; otherwise they are its own (a tied decoder's bias).

        Raises
        ------
        NotAKindError
            If `layer` is not a `LayerKind` (a `CostGraphError` and a `TypeError`).
        CostGraphError
            If `name` is taken, an input is unknown, the number of inputs
            does not fit the kind, `shares` names an unknown layer or one
            with a different number of weights, or a formula the kind returns
            is not an integer formula in sizes (a string, a float, ``H/2``,
            ``sqrt(H)``) or not proven non-negative wherever the layer's sizes
            are valid (`costgraph.counts`).
        ShapeError
            If the kind cannot take the input shapes (rank, channels, features).

        Examples
        --------
        >>> from costgraph import Network, S
        >>> from costgraph.kinds import Input, Embedding, Linear
        >>> net = Network("tied")
        >>> net.add("ids", Input((S,)))
        'ids'
        >>> net.add("wte", Embedding(100, 8))                  # 800 weights
        'wte'
        >>> net.add("lm_head", Linear(8, 100, bias=False), shares="wte")
        'lm_head'
        >>> net.totals().params                                  # counted once
        800
        >>> net.totals().macs                                    # the head's 8*100 per token
        800*N*S
        >>> [(r.name, r.params, r.shares) for r in net.layers()][1:]
        [('wte', 800, None), ('lm_head', 800, 'wte')]
        """
        if not isinstance(layer, LayerKind):
            raise NotAKindError(f"layer {name!r}: expected a LayerKind instance, got {layer!r}", layer=str(name), value=layer)
        if not isinstance(name, str) or not name:
            raise CostGraphError(f"a layer name must be a non-empty string, got {name!r}", value=name)
        if name in self.graph:
            raise CostGraphError(f"{self.name}: layer name {name!r} is already used", layer=name, value=name)
        if not inputs and layer.arity != 0:
            if not self._order:
                raise CostGraphError(f"layer {name!r} ({layer.kind}) has no input to take", layer=name)
            inputs = (self._order[-1],)
        for source in inputs:
            if source not in self.graph:
                raise CostGraphError(f"layer {name!r}: unknown input {source!r}", layer=name, value=source)
        if layer.arity is not None and len(inputs) != layer.arity:
            raise CostGraphError(
                f"layer {name!r} ({layer.kind}) takes {layer.arity} input(s), got {len(inputs)}",
                layer=name,
                value=len(inputs),
            )
        in_shapes = tuple(self.graph.nodes[s]["shape"] for s in inputs)
        try:
            shape, cost, constraints = _layer_formulas(layer, in_shapes)
        except CostGraphError as error:
            shown = ", ".join(format_shape(s) for s in in_shapes) or "none"
            raise type(error)(
                f"layer {name!r} ({layer.kind}): {error}; input shape(s): {shown}",
                layer=name,
                value=error.value,
            ) from None
        owner = None if shares is None else self._shared_owner(name, shares, cost)
        self.graph.add_node(
            name, layer=layer, shape=shape, inputs=tuple(inputs), cost=cost, constraints=constraints, shares=owner
        )
        for index, source in enumerate(inputs):
            self.graph.add_edge(source, name, index=index)
        self._order.append(name)
        self._cache.clear()
        self.builder = None  # a layer added after the builder: rebuilding would lose it
        return name

    def _shared_owner(self, name: str, shares: str, cost: LayerCost) -> str:
        """The layer whose parameters `name` uses: `shares`, or the one `shares` itself shares."""
        if shares not in self.graph:
            raise CostGraphError(f"layer {name!r}: shares parameters with unknown layer {shares!r}", layer=name, value=shares)
        owner = self.graph.nodes[shares].get("shares") or shares
        theirs = self.graph.nodes[owner]["cost"].weights
        if cost.weights == 0 or sympy.expand(cost.weights - theirs) != 0:
            raise CostGraphError(
                f"layer {name!r} cannot share the weights of {owner!r}: it has {cost.weights}, {owner!r} has {theirs}",
                layer=name,
                value=shares,
            )
        return owner

    @classmethod
    def from_graph(cls, graph: nx.DiGraph, name: str | None = None) -> "Network":
        """Build a network from a DiGraph whose nodes carry a ``layer`` attribute.

        A node's inputs are its ``inputs`` attribute if present, else its
        predecessors ordered by the edges' ``index`` attribute.

        Raises
        ------
        CycleError
            If the graph has a cycle (the message lists it).
        CostGraphError
            If `graph` is not a networkx DiGraph (an undirected graph, a
            multigraph, whose parallel edges leave the inputs' order open, a
            dict), a node has no ``layer``, an edge's ``index`` is not an int,
            or as `add` raises.
        """
        if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
            raise CostGraphError(
                f"from_graph needs a networkx.DiGraph, got {type(graph).__name__} (for a layer that reads one "
                "tensor twice, give its node an 'inputs' attribute)",
                value=graph,
            )
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join(str(edge[0]) for edge in cycle) + f" -> {cycle[0][0]}"
            raise CycleError(f"the graph has a cycle: {path}", layer=str(cycle[0][0]), value=cycle)
        net = cls(name or graph.graph.get("name") or "network")
        for node in nx.lexicographical_topological_sort(graph, key=lambda n: str(n)):
            data = graph.nodes[node]
            if "layer" not in data:
                raise CostGraphError(f"node {node!r} has no 'layer' attribute", layer=str(node))
            inputs = data.get("inputs")
            if inputs is None:
                preds = list(graph.predecessors(node))
                order = {p: graph.edges[p, node].get("index", i) for i, p in enumerate(preds)}
                for p, index in order.items():
                    if isinstance(index, bool) or not isinstance(index, int):
                        raise CostGraphError(
                            f"edge {p!r} -> {node!r}: 'index' must be an int, got {index!r}", layer=str(node), value=index
                        )
                inputs = sorted(preds, key=order.__getitem__)
            elif isinstance(inputs, (str, bytes)) or not isinstance(inputs, (tuple, list)):
                raise CostGraphError(
                    f"node {node!r}: 'inputs' must be a list of node names, got {inputs!r}", layer=str(node), value=inputs
                )
            net.add(str(node), data["layer"], *[str(i) for i in inputs])
        return net

    # -- reading ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self):
        return iter(self._order)

    def __contains__(self, name) -> bool:
        return name in self.graph

    def __str__(self) -> str:
        # a readable table (costgraph.render.display), asked for through the hook: no import upwards
        from .display_hook import render

        return render(self, "text") or repr(self)

    def __repr__(self) -> str:
        return f"<Network {self.name!r}: {len(self)} layers, sizes {', '.join(s.name for s in self.symbols)}>"

    def layer(self, name: str) -> LayerKind:
        """The kind instance of layer `name`."""
        return self._node(name)["layer"]

    def shape(self, name: str) -> tuple:
        """The symbolic output shape of layer `name` (batch first)."""
        return self._node(name)["shape"]

    def _node(self, name):
        try:
            return self.graph.nodes[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            raise CostGraphError(f"{self.name} has no layer {name!r}", value=name) from None

    @property
    def outputs(self) -> list[str]:
        """Layers nothing consumes, in the order they were added."""
        return [n for n in self._order if self.graph.out_degree(n) == 0]

    @property
    def symbols(self) -> list:
        """The size symbols the network's formulas use (H, W, ..., N last)."""
        if "symbols" not in self._cache:
            found = set()
            for name in self._order:
                node = self.graph.nodes[name]
                for dim in node["shape"]:
                    found |= dim.free_symbols
                # a size may appear in parameters only (a symbolic vocabulary's table)
                found |= node["cost"].weights.free_symbols
            self._cache["symbols"] = sort_symbols(found)
        return self._cache["symbols"]

    # -- symbolic totals -----------------------------------------------------------
    def _symbolic(self) -> dict:
        if "symbolic" not in self._cache:
            costs = [self.graph.nodes[n]["cost"] for n in self._order]
            sums = {
                name: expand_sizes(sympy.Add(*[getattr(c, name) for c in costs]))
                for name in ("activations", "macs", "flops")
            }
            # a layer that shares another's tensors adds nothing to the parameter counts
            owned = [self._owned(n) for n in self._order]
            sums["weights"] = expand_sizes(sympy.Add(*[w for w, _ in owned]))
            sums["biases"] = expand_sizes(sympy.Add(*[b for _, b in owned]))
            sums["params"] = expand_sizes(sums["weights"] + sums["biases"])
            sums["inactive"] = expand_sizes(sympy.Add(*[self._inactive(n) for n in self._order]))
            self._cache["symbolic"] = sums
        return self._cache["symbolic"]

    def _inactive(self, name: str) -> sympy.Expr:
        """Parameters of layer `name` a token does not use (a mixture of experts' idle experts)."""
        node = self.graph.nodes[name]
        rule = getattr(node["layer"], "inactive_params", None)
        if rule is None or node.get("shares") is not None:
            return sympy.Integer(0)
        return rule(*[self.graph.nodes[s]["shape"] for s in node["inputs"]])

    def _owned(self, name: str) -> tuple:
        """(weights, biases) that layer `name` adds to the totals: none of what it shares."""
        node = self.graph.nodes[name]
        cost, owner = node["cost"], node.get("shares")
        if owner is None:
            return cost.weights, cost.biases
        same_biases = sympy.expand(cost.biases - self.graph.nodes[owner]["cost"].biases) == 0
        return sympy.Integer(0), sympy.Integer(0) if same_biases else cost.biases

    def _compiled(self, key, exprs_fn):
        if key not in self._cache:
            self._cache[key] = compile_exprs(self.symbols, exprs_fn())
        return self._cache[key]

    def _resolve(self, sizes):
        return resolve_sizes(self.symbols, sizes, network=self.name)

    # -- validity ------------------------------------------------------------------
    def _checks(self):
        """Flat list of expressions: each layer's output sizes, then its constraints."""
        if "checks" not in self._cache:
            exprs, spans = [], []
            for name in self._order:
                node = self.graph.nodes[name]
                start = len(exprs)
                exprs.extend(node["shape"])
                exprs.extend(c.expr for c in node["constraints"])
                spans.append((name, start, len(node["shape"]), len(node["constraints"])))
            self._cache["checks"] = (exprs, spans)
        return self._cache["checks"]

    def check_sizes(self, **sizes) -> dict:
        """Resolve `sizes` and check every layer is valid there; return ``{symbol: value}``.

        Raises
        ------
        UnknownSizeError, SizeError
            As `costgraph.symbols.resolve_sizes` raises.
        DomainError
            Naming the first layer (in topological order) whose output would
            be empty or whose input is too small, with its input and computed
            output sizes, in PyTorch's words.
        """
        values = self._resolve(sizes)
        arguments = [values[s] for s in self.symbols]
        if any(getattr(v, "ndim", 0) for v in arguments):
            self._check_arrays(values, arguments)
            return values
        exprs, spans = self._checks()
        computed = self._compiled("check_fn", lambda: exprs)(*arguments)
        for name, start, rank, n_constraints in spans:
            out = computed[start : start + rank]
            bad_constraint = next(
                (
                    c
                    for c, v in zip(self.graph.nodes[name]["constraints"], computed[start + rank : start + rank + n_constraints])
                    if v < 0
                ),
                None,
            )
            if bad_constraint is None and all(v >= 1 for v in out):
                continue
            self._raise_domain(name, out, computed, spans, values, bad_constraint)
        return values

    def _check_arrays(self, values, arguments):
        """`check_sizes` at size arrays: one vectorized pass, then the first bad element's message.

        The first layer (in topological order) invalid at any element is
        found vectorized; its first invalid element (in C order of the
        broadcast sizes) is then checked as plain ints, which names that
        layer and those sizes.
        """
        import numpy as np

        exprs, spans = self._checks()
        computed = self._compiled("check_fn", lambda: exprs)(*arguments, broadcast=False)
        # identical formulas come back as the same object: test each once
        verdicts: dict = {}

        def too_small(value, least):
            key = (id(value), least)
            if key not in verdicts:
                verdicts[key] = bool(np.any(np.asarray(value) < least))
            return verdicts[key]

        for name, start, rank, n_constraints in spans:
            out = computed[start : start + rank]
            constraints = computed[start + rank : start + rank + n_constraints]
            if not (any(too_small(v, 1) for v in out) or any(too_small(v, 0) for v in constraints)):
                continue
            shape = np.broadcast_shapes(*(np.shape(v) for v in arguments))
            bad = np.zeros(shape, dtype=bool)
            for value, least in [(v, 1) for v in out] + [(v, 0) for v in constraints]:
                bad |= np.broadcast_to(np.asarray(value) < least, shape)
            index = np.unravel_index(int(np.flatnonzero(bad)[0]), shape)
            point = {s.name: int(np.broadcast_to(values[s], shape)[index]) for s in self.symbols}
            where = int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)
            try:
                self.check_sizes(**point)
            except DomainError as error:
                raise DomainError(
                    f"{error} (first offending element: index {where} of the size arrays)",
                    layer=error.layer,
                    value=error.value,
                ) from None
            raise AssertionError(f"{self.name}: array check and scalar check disagree at {point}")

    def _raise_domain(self, name, out, computed, spans, values, constraint):
        start_of = {n: (s, r) for n, s, r, _ in spans}
        node = self.graph.nodes[name]
        ins = []
        for source in node["inputs"]:
            s, r = start_of[source]
            ins.append(_format_sizes(computed[s + 1 : s + r]))
        at = ", ".join(f"{k.name}={_show_value(v)}" for k, v in values.items())
        reason = constraint.message if constraint is not None else "Output size is too small"
        message = (
            f"layer {name!r} ({node['layer'].kind}) at {at}: Given input size: ({' and '.join(ins) or 'none'}). "
            f"Calculated output size: ({_format_sizes(out[1:])}). {reason}"
        )
        raise DomainError(message, layer=name, value=tuple(out))

    def min_size(self, limit: int = 1 << 16) -> int:
        """The smallest square input size ``H = W`` at which every layer is valid.

        Derived from the network's formulas by scanning sizes with the
        compiled checks (a few microseconds each), batch 1.

        Raises
        ------
        CostGraphError
            If `limit` is not a positive integer, the network has sizes other
            than H, W and N, or no size up to `limit` is valid.
        """
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
            raise CostGraphError(f"{self.name}: min_size's limit must be a positive integer, got {limit!r}", value=limit)
        others = [s for s in self.symbols if s not in (H, W, N)]
        if others:
            raise CostGraphError(f"{self.name}: min_size scans H = W only, but the network also needs {others}")
        for size in range(1, limit + 1):
            try:
                self.check_sizes(**({"H": size} if H in self.symbols else {}))
            except DomainError:
                continue
            return size
        raise CostGraphError(f"{self.name}: no valid square size up to {limit}")

    # -- results -------------------------------------------------------------------
    def non_embedding_params(self, head: bool = False):
        """Kaplan's N: parameters without embedding tables and untied head (`costgraph.llm_formulas`).

        Raises
        ------
        CostGraphError
            As `costgraph.llm_formulas.non_embedding_params`.

        >>> from costgraph.models import gpt2
        >>> gpt2("small").non_embedding_params()             # 124,439,808 - (50257 + 1024) * 768
        85056000
        """
        from .llm_formulas import non_embedding_params

        return non_embedding_params(self, head=head)

    def forward_flops_per_token(self, n_ctx=None, *, n_layer=None, d_attn=None):
        """Kaplan's ``C_forward = 2N + 2 n_layer n_ctx d_attn`` (`costgraph.llm_formulas`).

        Beside the exact count (`totals`): this is the published approximation.

        Raises
        ------
        CostGraphError
            For a network without a recorded transformer shape (pass ``n_layer=``, ``d_attn=``).

        >>> from costgraph.models import gpt2
        >>> gpt2("small").forward_flops_per_token(1024)    # 2 * 85,056,000 + 2 * 12 * 1024 * 768
        188986368
        """
        from .llm_formulas import forward_flops_per_token

        return forward_flops_per_token(self, n_ctx, n_layer=n_layer, d_attn=d_attn)

    def totals(self, dtype: str = "fp32", *, backward: bool = False, **sizes) -> Totals:
        """Network totals: sympy expressions without sizes, exact ints with them.

        Parameters
        ----------
        dtype : str
            Element type for `activation_bytes` (default fp32, 4 bytes).
        backward : bool
            Also count the backward pass: `Totals.backward_macs` and
            `Totals.training_macs` (forward + backward).
        **sizes : int
            Values of the size symbols by name (``H=224``); ``W`` defaults to
            ``H`` and the batch ``N`` to 1.

        Raises
        ------
        UnknownSizeError
            For a size name the network does not have, or a missing size.
        SizeError
            For a size that is not a positive integer.
        DomainError
            If some layer's output would be empty at these sizes.
        CostGraphError
            With ``backward=True``, if a layer's kind declares no backward rule.

        Examples
        --------
        >>> from costgraph.models import vgg16
        >>> t = vgg16().totals(H=224)      # the seed's VGG16 table
        >>> t.params, t.activations, t.macs
        (138357544, 15237608, 15470264320)

        Backward: every conv and linear layer computes the gradient of its
        weights and of its input (as many MACs as forward each), except
        conv1_1, whose input (the image) needs no gradient:

        >>> t = vgg16().totals(H=224, backward=True)
        >>> t.backward_macs == 2 * t.macs - 64 * 27 * 224 * 224
        True
        """
        self._reject_unknown_keywords("totals", sizes, ("dtype", "backward"))
        if backward:
            return self._with_backward(self.totals(dtype, **sizes), sizes)
        element = dtype_bytes(dtype)
        sums = self._symbolic()
        from .traffic import total_bytes  # bytes moved build on this module's graph

        if not sizes:
            return Totals(
                params=sums["params"],
                weights=sums["weights"],
                biases=sums["biases"],
                activations=sums["activations"],
                activation_bytes=sympy.expand(sums["activations"] * element),
                macs=sums["macs"],
                flops=sums["flops"],
                dtype=str(dtype),
                bytes_moved=total_bytes(self, dtype),
                active_params=expand_sizes(sums["params"] - sums["inactive"]),
            )
        values = self.check_sizes(**sizes)
        names = ("params", "weights", "biases", "activations", "macs", "flops", "inactive")
        evaluate = self._compiled("totals_fn", lambda: [sums[n] for n in names])
        result = dict(zip(names, evaluate(*[values[s] for s in self.symbols])))
        result["active_params"] = result["params"] - result.pop("inactive")
        return Totals(
            **result,
            activation_bytes=exact_scale(result["activations"], element),
            dtype=str(dtype),
            sizes={s.name: _show_value(v) for s, v in values.items()},
            bytes_moved=total_bytes(self, dtype, _values=values),
        )

    def flops(self, convention="costgraph", **sizes):
        """The network's figure under a counting convention: symbolic, or an exact int at `sizes`.

        Parameters
        ----------
        convention : str or costgraph.conventions.Convention
            A preset name (default ``"costgraph"``, the figure `totals` reports as
            ``flops``): ``"macs"``, ``"costgraph"``, ``"flopcountermode"``,
            ``"fvcore"``, ``"thop"``, ``"torchinfo"``, ``"ptflops"``,
            ``"ptflops-aten"`` (what each tool prints), or your own `Convention`.
        **sizes : int
            As for `totals`.

        Raises
        ------
        ConventionError
            For an unknown preset, or a layer whose kind declares no cost terms.
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.

        Warns
        -----
        UncheckedConventionWarning
            If a preset meets a kind it was not checked on against its tool.

        Examples
        --------
        >>> from costgraph.models import vgg16
        >>> net = vgg16(adaptive_pool=True)
        >>> net.flops("fvcore", H=224), net.flops("ptflops", H=224)
        (15470289408, 15523225576)
        """
        from .conventions import network_flops

        return network_flops(self, convention, **sizes)

    def _with_backward(self, totals: Totals, sizes: dict) -> Totals:
        from .memory import backward_macs  # the memory model builds on this module

        if "backward_sum" not in self._cache:
            self._cache["backward_sum"] = sympy.expand(sympy.Add(*backward_macs(self).values()))
        total = self._cache["backward_sum"]
        from .traffic import total_bytes

        moved = total_bytes(self, totals.dtype, backward=True, **sizes)
        if sizes:
            values = self.check_sizes(**sizes)
            total = self._compiled("backward_fn", lambda: [total])(*[values[s] for s in self.symbols])[0]
            step = exact_sum(totals.macs, total)  # each fits int64 alone; the sum is bounded as a whole
        else:
            step = sympy.expand(totals.macs + total)
        return dataclasses.replace(totals, backward_macs=total, training_macs=step, backward_bytes_moved=moved)

    def memory(
        self,
        dtype="fp32",
        training: bool = True,
        optimizer: str | None = "sgd",
        device: str = "cuda",
        *,
        recipe=None,
        zero: int = 0,
        dp=1,
        tp=1,
        sp: bool = False,
        pp: int = 1,
        recompute: str = "none",
        **sizes,
    ):
        """Memory of a training step and of inference, in bytes (`costgraph.memory.Memory`).

        Parameters
        ----------
        dtype : str or int
            Element type of parameters, gradients, optimizer state and
            activations (``"fp32"``, ``"fp16"``, ... or a number of bytes).
        training : bool
            Count gradients, optimizer state and what autograd saves for
            backward (True), or only what inference needs (False: those are 0).
        optimizer : {"sgd", "momentum", "adam", "adamw", None}
            Parameter-sized state tensors: 0, 1, 2, 2, 0.
        device : {"cuda", "cpu"}
            Where the step runs: dropout masks are bool on CUDA and the
            activation dtype on the CPU; normalization statistics are fp32
            for 16-bit dtypes on CUDA and the activation dtype on the CPU.
        recipe : str or costgraph.training.Recipe, optional
            Training at scale (`costgraph.training`): separate dtypes for
            weights, gradients, master weights, optimizer moments and
            activations: ``"fp32"``, ``"bf16-mixed"``, ``"fp16-mixed"``,
            ``"bf16"``, or a `Recipe`; it replaces `dtype`.  Giving it, or
            any of the options below, makes every field per GPU and fills
            ``master_bytes``.
        zero : {0, 1, 2, 3}
            ZeRO stage over the `dp` data-parallel ranks.
        dp, tp : int or size name
            Data- and tensor-parallel degrees.
        sp : bool
            Sequence parallelism beside tensor parallelism.
        pp : int
            Pipeline stages (1F1B; the first stage's figures).
        recompute : {"none", "selective", "full"}
            Activation recomputation.
        **sizes : int
            Size values (``H=224, N=32``); without them every field is a
            sympy expression (the inference peak a ``Max``).

        Raises
        ------
        CostGraphError
            For an unknown dtype, optimizer, device, recipe or option, optimizer
            state without training, or a layer whose kind declares no
            saved-tensor rule (the message names the layer and kind); an
            unknown keyword's message lists the accepted ones.
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.

        Examples
        --------
        >>> from costgraph.models import vgg16
        >>> m = vgg16().memory(H=224, N=32, dtype="fp16", optimizer="adam")
        >>> m.params_bytes, m.optimizer_bytes        # 138357544 params * 2 bytes; Adam: two states
        (276715088, 553430176)
        >>> m.peak_inference_bytes                   # conv1_2: 32 images * 2 * 64*224*224 * 2 bytes
        411041792
        """
        from .memory import network_memory  # the memory model builds on this module

        scale = dict(zero=zero, dp=dp, tp=tp, sp=sp, pp=pp, recompute=recompute)
        if recipe is None and scale == dict(zero=0, dp=1, tp=1, sp=False, pp=1, recompute="none"):
            self._reject_unknown_keywords("memory", sizes, self.MEMORY_OPTIONS)
            return network_memory(self, dtype=dtype, training=training, optimizer=optimizer, device=device, **sizes)
        from .training import Recipe, training_memory

        if not training:
            raise CostGraphError("recipe, zero, dp, tp, sp, pp and recompute describe training; use training=True", value=training)
        if recipe is None:  # one dtype for everything, as without these options
            recipe = Recipe(dtype, dtype, None, dtype, dtype)
        elif dtype != "fp32":
            raise CostGraphError(f"give dtype={dtype!r} or recipe={recipe!r}, not both (a recipe sets every dtype)", value=dtype)
        return training_memory(self, recipe=recipe, optimizer=optimizer, device=device, **scale, **sizes)

    #: the keyword options of `memory` (its other keywords are sizes)
    MEMORY_OPTIONS = ("dtype", "training", "optimizer", "device", "recipe", "zero", "dp", "tp", "sp", "pp", "recompute")

    def _reject_unknown_keywords(self, method: str, sizes: dict, options) -> None:
        """Raise `UnknownSizeError` for a keyword that is neither an option of `method` nor a size,
        listing both (``master_dtype=`` is not read as a size name)."""
        names = [s.name for s in self.symbols]
        implied = {"W"} if "W" in names else set()
        unknown = sorted(set(sizes) - set(names) - implied)
        if unknown:
            raise UnknownSizeError(
                f"{self.name} has no size {unknown[0]!r}: {method}() accepts {', '.join(options)} and the sizes "
                f"{', '.join(names) or '(none)'}",
                value=unknown[0],
            )

    def layers(self, **sizes) -> LayerTable:
        """One `Row` per layer in topological order; symbolic, or exact ints at `sizes`.

        The result is a list (`LayerTable`) that notebooks display as a table.

        Raises
        ------
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.
        """
        from .traffic import layer_bytes

        rows = []
        symbolic = not sizes
        if not symbolic:
            values = self.check_sizes(**sizes)
            evaluate = self._compiled("rows_fn", self._row_exprs)
            flat = list(evaluate(*[values[s] for s in self.symbols]))
            at = 0
        moved = layer_bytes(self, **sizes)
        for name in self._order:
            node = self.graph.nodes[name]
            layer, cost, shape = node["layer"], node["cost"], node["shape"]
            if symbolic:
                dims = tuple(shape[1:])
                numbers = (cost.params, cost.weights, cost.biases, cost.activations, cost.macs, cost.flops)
            else:  # read on through the flat results (deleting from the front was quadratic)
                dims = tuple(flat[at : at + len(shape) - 1])
                numbers = tuple(flat[at + len(shape) - 1 : at + len(shape) + 5])
                at += len(shape) + 5
            padding = layer.padding
            rows.append(
                Row(
                    name=name,
                    kind=layer.kind,
                    kernel=layer.kernel,
                    stride=show_pair(layer.stride) if isinstance(layer.stride, tuple) else layer.stride,
                    padding=show_pair(padding) if isinstance(padding, tuple) else padding,
                    shape=dims,
                    params=numbers[0],
                    weights=numbers[1],
                    biases=numbers[2],
                    activations=numbers[3],
                    macs=numbers[4],
                    flops=numbers[5],
                    inputs=node["inputs"],
                    shares=node.get("shares"),
                    bytes_moved=moved[name],
                )
            )
        return LayerTable(rows)

    def roofline(self, device, dtype="bf16", *, training: bool = False, fused_attention: bool = False, compute_dtype=None, **sizes):
        """Roofline time on `device`, an ideal lower bound (`costgraph.roofline.Roofline`).

        Per layer ``max(flops / peak, bytes / bandwidth)`` and whether it is
        compute- or memory-bound; the total is their sum, an exact
        ``Fraction`` of seconds at sizes (a sum of ``Max`` terms without).

        Parameters
        ----------
        device : str or costgraph.hardware.Device
            A profile name (``"h100"``, ``"a100-80gb"``, ... or a saved one).
        dtype : str
            Element type of activations and parameters; its peak is used
            unless `compute_dtype` names another (``"tf32"`` for fp32 tensors).
        training : bool
            A training step: forward plus backward FLOPs (2 per backward MAC)
            and bytes (`costgraph.traffic`).
        fused_attention : bool
            Attention nodes as one fused kernel (no score matrix in memory).
        **sizes : int
            As for `totals`.

        Raises
        ------
        CostGraphError
            For an unknown device or a dtype the device has no peak for.
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.

        Examples
        --------
        >>> from costgraph.models import vgg16
        >>> r = vgg16().roofline("h100", "bf16", H=224, N=64)
        >>> [(row.name, row.bound) for row in r.rows[1:3]]
        [('conv1_1', 'memory'), ('relu1_1', 'memory')]
        >>> r.seconds == sum(row.seconds for row in r.rows)       # exact Fractions
        True
        """
        from .roofline import roofline

        return roofline(self, device, dtype, training=training, fused_attention=fused_attention, compute_dtype=compute_dtype, **sizes)

    def max_size(self, size: str, *, memory=None, macs=None, seconds=None, device=None, **fixed):
        """The largest value of size `size` within every budget given, the other sizes fixed; None if none fits.

        See `costgraph.fit.fit` (which this calls) for the budgets and keywords
        (``dtype``, ``training``, ``optimizer`` as `memory`; ``fused_attention``,
        ``compute_dtype`` as `roofline`); `costgraph.fit.fit` also returns the proof.

        Raises
        ------
        CostGraphError
            Without a budget, for an unknown size, a size both searched and
            fixed, a `seconds` budget without a device profile, or a figure
            found not to be monotone.
        costgraph.fit.EverySizeFits
            If every value fits (no figure grows with the size).

        Examples
        --------
        VGG16's bf16 training step with Adam holds 4 x 2 bytes per parameter
        (weights, gradients, two states) and 1,367,703,552 / 32 = 42,740,736
        bytes saved per image (the README's batch-32 figure), so in 80 GB:

        >>> from costgraph.models import vgg16
        >>> vgg16().max_size("N", memory=80 * 10**9, H=224, dtype="bf16", optimizer="adam")
        1845
        >>> (80 * 10**9 - 8 * 138357544) // 42740736
        1845
        """
        from .fit import max_size

        return max_size(self, size, memory=memory, macs=macs, seconds=seconds, device=device, **fixed)

    def _row_exprs(self):
        exprs = []
        for name in self._order:
            node = self.graph.nodes[name]
            cost = node["cost"]
            exprs.extend(node["shape"][1:])
            exprs.extend([cost.params, cost.weights, cost.biases, cost.activations, cost.macs, cost.flops])
        return exprs

    # -- language models: serving (costgraph.inference) -------------------------------
    def kv_cache_bytes(self, dtype="fp16", **sizes):
        """Bytes of the key/value cache after ``S`` positions (`costgraph.inference.kv_cache_bytes`).

        Raises
        ------
        CostGraphError
            If the network has no attention keys and values, or for an
            unknown dtype or keyword (the message lists what is accepted).
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.

        Examples
        --------
        >>> from costgraph.models import llama2_7b
        >>> llama2_7b().kv_cache_bytes(S=4096)     # 2 (K, V) x 32 layers x 4096 x 4096 x 2 bytes (fp16)
        2147483648
        """
        from .inference import kv_cache_bytes

        return kv_cache_bytes(self, dtype, **sizes)

    def decode_step(self, dtype="fp32", **sizes) -> Totals:
        """`Totals` of one new token with ``S - 1`` cached (`costgraph.inference.decode_step`).

        Raises
        ------
        CostGraphError
            If the network was not built by a transformer builder, for
            ``S < 2``, or an unknown keyword.
        UnknownSizeError, SizeError, DomainError
            As `totals` raises.

        Examples
        --------
        >>> from costgraph.models import llama2_7b
        >>> net = llama2_7b()
        >>> net.decode_step(S=4096).macs - net.decode_step(S=4095).macs   # one more key: 32 x 2 x 4096
        262144
        """
        from .inference import decode_step

        return decode_step(self, dtype, **sizes)

    def generation(self, dtype="fp32", **sizes) -> Totals:
        """`Totals` of ``G`` tokens generated after a prompt of ``P`` (`costgraph.inference.generation`).

        Raises
        ------
        CostGraphError
            If the network was not built by a transformer builder, or for an
            unknown keyword.
        UnknownSizeError, SizeError, DomainError
            For a missing or bad size, or a context beyond the model's.

        Examples
        --------
        >>> from costgraph.models import llama2_7b
        >>> net = llama2_7b()
        >>> net.generation(P=4000, G=1).macs == net.totals(S=4000).macs - 3999 * 4096 * 32000
        True
        """
        from .inference import generation

        return generation(self, dtype, **sizes)


def _show_value(value):
    return value if isinstance(value, int) else value


def _format_sizes(values) -> str:
    return "x".join(str(v) for v in values)
