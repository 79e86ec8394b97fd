"""Fuzzing `Network.from_graph`: random DAGs of random kinds, valid or not.

Every example builds a networkx graph of random layers with random
hyper-parameters (zero, negative, float, string and oversized ones among
them), random edges, edge indices and ``inputs`` attributes, and then asks
for totals, layers, memory and the smallest valid size.  The only allowed
outcomes are a correct result or a `CostGraphError`; "correct" is checked
against definitions written here, not against costgraph's own output:

* the totals at a size are the sums of the per-layer rows at that size;
* the symbolic totals, evaluated at that size by substitution, give the same ints;
* every count is a non-negative int (the counts' proofs in `costgraph.counts` are
  sound only if no accepted formula ever evaluates negative at a valid size);
* the inference peak is the largest, over the layers that allocate, of the
  elements alive there, recomputed by brute force from the storages' lifetimes.

Example counts stay modest (the suite's hypothesis profile), so CI stays fast.
"""

from __future__ import annotations

import networkx as nx
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

from costgraph import CostGraphError, H, N, Network, W
from costgraph.kinds import (
    Add,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Concat,
    Conv2d,
    Flatten,
    Input,
    Linear,
    MaxPool2d,
    ReLU,
)
from costgraph.kinds.base import numel

#: hyper-parameter values: mostly sensible, some invalid (zero, negative, float, bool, string)
_small = st.one_of(st.integers(1, 4), st.sampled_from([0, -1, 2.5, True, "3", None]))
_channels = st.sampled_from([3, 4, 8])


@st.composite
def _layer(draw):
    """A random kind instance, or the exception its constructor raised."""
    kind = draw(st.sampled_from(["conv", "relu", "max", "avg", "bn", "add", "concat", "flatten", "linear", "adaptive"]))
    try:
        if kind == "conv":
            return Conv2d(
                draw(_channels), draw(_channels), draw(_small), stride=draw(_small), padding=draw(st.sampled_from([0, 1, 2, "same", -1])),
                groups=draw(st.sampled_from([1, 1, 2, 3])), bias=draw(st.booleans()),
            )  # fmt: skip
        if kind == "relu":
            return ReLU(inplace=draw(st.booleans()))
        if kind in ("max", "avg"):
            cls = MaxPool2d if kind == "max" else AvgPool2d
            return cls(draw(_small), stride=draw(_small), padding=draw(st.sampled_from([0, 1])), ceil_mode=draw(st.booleans()))
        if kind == "bn":
            return BatchNorm2d(draw(_channels))
        if kind == "add":
            return Add()
        if kind == "concat":
            return Concat(draw(st.sampled_from([1, 2, -1])))
        if kind == "flatten":
            return Flatten()
        if kind == "linear":
            return Linear(draw(st.sampled_from([None, 3, 8, 0])), draw(_small))
        return AdaptiveAvgPool2d(draw(st.sampled_from([1, 2, 3, (2, None), 0])))
    except CostGraphError as error:
        return error


@st.composite
def random_graphs(draw):
    """A networkx DiGraph: one or two inputs, then random layers fed by earlier nodes."""
    graph = nx.DiGraph(name="fuzz")
    for i in range(draw(st.integers(1, 2))):
        graph.add_node(f"in{i}", layer=Input((draw(_channels), H, W)))
    for i in range(draw(st.integers(1, 7))):
        layer = draw(_layer())
        if isinstance(layer, CostGraphError):
            continue  # refused at construction: an allowed outcome; the graph goes on without it
        name = f"n{i}"
        earlier = list(graph.nodes)
        sources = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2, unique=True))
        graph.add_node(name, layer=layer)
        for index, source in enumerate(sources):
            graph.add_edge(source, name, index=draw(st.sampled_from([index, index, "x"])))
        if draw(st.integers(0, 9)) == 0:
            graph.nodes[name]["inputs"] = draw(st.sampled_from([sources, "n0", [sources[0], sources[0]], ["nowhere"]]))
    return graph


def _alive_peak(net, values):
    """The inference peak by brute force: at each allocating layer, every storage made and still to be read."""
    order = list(net)
    root = {}
    for name in order:
        layer, inputs = net.layer(name), net.graph.nodes[name]["inputs"]
        alias = layer.output_alias(False)
        root[name] = name if alias is None else (root[inputs[alias]] if inputs else None)
    last = {}
    for t, name in enumerate(order):
        for source in (name,) + tuple(net.graph.nodes[name]["inputs"]):
            if root[source] is not None:
                last[root[source]] = t
    for name in net.outputs:
        if root[name] is not None:
            last[root[name]] = len(order)
    size = {r: int(numel(net.shape(r)).xreplace(values)) for r in last}
    peaks = [
        sum(size[r] for r in last if order.index(r) <= t <= last[r]) for t, name in enumerate(order) if root[name] == name
    ]
    return max(peaks, default=0)


# cheap examples (a few milliseconds each): more than the suite's profile gives, so that a fair
# share of them are valid networks checked all the way through memory
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)
@given(random_graphs(), st.integers(1, 40), st.integers(1, 40), st.integers(1, 3))
def test_random_graphs_give_a_correct_result_or_a_costgraph_error(graph, h, w, n):
    try:
        net = Network.from_graph(graph)
    except CostGraphError:
        return
    sizes = {s.name: v for s, v in {H: h, W: w, N: n}.items() if s in net.symbols}
    try:
        totals = net.totals(**sizes)
    except CostGraphError:
        return  # e.g. a DomainError: these sizes are too small for some layer
    rows = net.layers(**sizes)
    values = {s: sympy.Integer(v) for s, v in net.check_sizes(**sizes).items()}
    symbolic = net.totals()
    for field in ("params", "weights", "biases", "activations", "macs", "flops"):
        value = getattr(totals, field)
        assert type(value) is int and value >= 0, field
        assert value == sum(getattr(r, field) for r in rows if not (r.shares and field != "macs")), field
        assert sympy.sympify(getattr(symbolic, field)).xreplace(values) == value, field
    for row in rows:
        assert all(type(v) is int and v >= 1 for v in row.shape), row.name
    try:
        memory = net.memory(**sizes)
    except CostGraphError:
        return  # a layer without a training rule would say so here; every kind above has one
    assert all(type(v) is int and v >= 0 for v in memory.as_dict().values())
    assert memory.peak_inference_bytes == 4 * _alive_peak(net, values)  # fp32


@settings(deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)))
def test_from_graph_refuses_what_is_not_a_digraph(thing):
    try:
        Network.from_graph(thing)
    except CostGraphError:
        return
    raise AssertionError(f"accepted {thing!r}")


def test_from_graph_refuses_other_graph_types_with_a_costgraph_error():
    # issue 12, finding 7: these raised AttributeError or networkx errors
    for graph in (nx.Graph(), nx.MultiDiGraph(), {"x": Input((3, H, W))}, None):
        if hasattr(graph, "add_node"):
            graph.add_node("x", layer=Input((3, H, W)))
        try:
            Network.from_graph(graph)
        except CostGraphError as error:
            assert "needs a networkx.DiGraph" in str(error)
        else:
            raise AssertionError(f"{type(graph).__name__} accepted")


def test_bad_edge_indices_and_inputs_are_costgraph_errors():
    graph = nx.DiGraph()
    graph.add_node("a", layer=Input((3, H, W)))
    graph.add_node("b", layer=Input((3, H, W)))
    graph.add_node("sum", layer=Add())
    graph.add_edge("a", "sum", index="first")
    graph.add_edge("b", "sum", index=1)
    for inputs, message in ((None, "'index' must be an int"), ("a", "'inputs' must be a list")):
        if inputs is not None:
            graph.nodes["sum"]["inputs"] = inputs
        try:
            Network.from_graph(graph)
        except CostGraphError as error:
            assert message in str(error)
        else:
            raise AssertionError("accepted")
    graph.nodes["sum"]["layer"] = "Add"  # a name, not a kind instance
    graph.nodes["sum"]["inputs"] = ["a", "b"]
    try:
        Network.from_graph(graph)
    except CostGraphError as error:
        assert isinstance(error, TypeError) and "expected a LayerKind instance" in str(error)
    else:
        raise AssertionError("accepted")


def test_min_size_limit_and_unhashable_names_are_costgraph_errors():
    net = Network("tiny")
    net.add("x", Input((3, H, W)))
    for limit in (2.5, "5", 0, True):
        try:
            net.min_size(limit=limit)
        except CostGraphError as error:
            assert "limit must be a positive integer" in str(error)
        else:
            raise AssertionError(f"limit {limit!r} accepted")
    for call in (lambda: net.layer(["x"]), lambda: net.shape({}), lambda: net.memory(optimizer=["adam"])):
        try:
            call()
        except CostGraphError:
            pass
        else:
            raise AssertionError("accepted")
