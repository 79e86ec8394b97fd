"""Fuzzing from_onnx with mutated files: a network with exact integer counts, or a CostGraphError.

The corpus is built here from valid models: the hand-built coverage model of
test_import_onnx (every supported op once, checked there against ONNX's own
shape inference) and a small conv/linear net built with onnx.helper.  Each
example mutates one of them (an attribute's values, length or type; an
initializer's dims or type; an input's sizes; a dropped or renamed input; a
truncated or bit-flipped serialization) and imports the result.  The only
allowed outcomes are a `Network` whose totals are exact ints (symbolic and
at a size) or a `CostGraphError` (which every importer error is); any other
exception, a float or a negative count fails.  When the mutation changes
nothing, the result must equal the unmutated model's (source of truth: the
unmutated import, itself checked in test_import_onnx).
"""

import pytest
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

from costgraph import CostGraphError

from .support import require

onnx = require("onnx")
from onnx import TensorProto, helper  # noqa: E402

from costgraph import from_onnx  # noqa: E402

from .test_import_onnx import coverage_model  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ("params", "weights", "biases", "activations", "macs", "flops")


def small_net():
    """conv 3x3 -> relu -> split in two, slice, concat -> maxpool -> flatten -> gemm, on ["N", 3, 8, 8]."""
    n = helper.make_node
    weights = {"w1": [4, 3, 3, 3], "b1": [4], "w2": [10, 64]}

    def tensor(name, dims):
        count = 1
        for d in dims:
            count *= d
        return helper.make_tensor(name, TensorProto.FLOAT, dims, [0.5] * count)

    graph = helper.make_graph(
        [
            n("Conv", ["x", "w1", "b1"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
            n("Relu", ["c"], ["r0"], name="relu"),
            n("Split", ["r0", "halves"], ["h1", "h2"], name="split", axis=1),
            n("Slice", ["h2", "starts", "ends", "axes"], ["h2s"], name="slice"),
            n("Concat", ["h1", "h2s"], ["r"], name="concat", axis=1),
            n("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            n("Flatten", ["p"], ["f"], name="flatten", axis=1),
            n("Gemm", ["f", "w2"], ["y"], name="fc", transB=1),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [tensor(name, dims) for name, dims in weights.items()]
        + [helper.make_tensor(name, TensorProto.INT64, [len(v)], v) for name, v in (("halves", [2, 2]), ("starts", [0]), ("ends", [2**63 - 1]), ("axes", [1]))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


CORPUS = {"coverage": coverage_model, "small": small_net}
_BASELINE: dict = {}


def baseline(name):
    if name not in _BASELINE:
        _BASELINE[name] = from_onnx(CORPUS[name]().SerializeToString()).totals()
    return _BASELINE[name]


def assert_exact(net):
    """Symbolic totals built from integers, and exact non-negative ints at one size."""
    symbolic = net.totals()
    for field in FIELDS:
        assert not sympy.sympify(getattr(symbolic, field)).atoms(sympy.Float), field
    sizes = {s.name: 9 for s in net.symbols}
    try:
        numeric = net.totals(**sizes)
    except CostGraphError:
        return symbolic  # a size at which some layer is invalid: an error is the right answer
    for field in FIELDS:
        value = getattr(numeric, field)
        if not sizes:  # every size fixed in the file: the totals are sympy Integers
            assert sympy.sympify(value).is_Integer, (field, value)
            value = int(value)
        assert type(value) is int and value >= 0, (field, value)
    return symbolic


def imported(data):
    """from_onnx(data): the totals, or None for a CostGraphError; any other exception propagates."""
    try:
        net = from_onnx(data)
    except CostGraphError as error:
        assert str(error)  # a message, naming what is wrong
        return None
    return assert_exact(net)


_odd_int = st.one_of(st.integers(-3, 12), st.sampled_from([0, -1, 2**31, 2**63 - 1, -(2**63)]))


def mutate_attribute(model, data):
    nodes = [node for node in model.graph.node if node.attribute]
    node = data.draw(st.sampled_from(nodes))
    attribute = data.draw(st.sampled_from(list(node.attribute)))
    how = data.draw(st.sampled_from(["values", "length", "type", "drop"]))
    if how == "drop":
        node.attribute.remove(attribute)
    elif how == "type":
        replacement = helper.make_attribute(attribute.name, data.draw(st.sampled_from([1.5, "x", [1.0, 2.0], 3, [3]])))
        node.attribute.remove(attribute)
        node.attribute.append(replacement)
    elif attribute.type == onnx.AttributeProto.INTS:
        count = len(attribute.ints) if how == "values" else data.draw(st.integers(0, 6))
        del attribute.ints[:]
        attribute.ints.extend(data.draw(st.lists(_odd_int, min_size=count, max_size=count)))
    elif attribute.type == onnx.AttributeProto.INT:
        attribute.i = data.draw(_odd_int)
    elif attribute.type == onnx.AttributeProto.FLOAT:
        attribute.f = data.draw(st.floats(allow_nan=True))
    else:
        attribute.s = data.draw(st.binary(max_size=6))


def mutate_initializer(model, data):
    tensor = data.draw(st.sampled_from(list(model.graph.initializer)))
    how = data.draw(st.sampled_from(["dims", "type", "data"]))
    if how == "dims":
        dims = data.draw(st.lists(st.integers(0, 9), max_size=5))
        del tensor.dims[:]
        tensor.dims.extend(dims)
    elif how == "type":
        tensor.data_type = data.draw(st.sampled_from([TensorProto.INT64, TensorProto.INT32, TensorProto.STRING, TensorProto.DOUBLE, 0]))
    else:
        del tensor.float_data[:]
        del tensor.int64_data[:]
        tensor.raw_data = data.draw(st.binary(max_size=40))


def mutate_input(model, data):
    dims = model.graph.input[0].type.tensor_type.shape.dim
    how = data.draw(st.sampled_from(["value", "name", "drop_dim", "add_dim"]))
    if how == "drop_dim" and len(dims):
        del dims[data.draw(st.integers(0, len(dims) - 1))]
    elif how == "add_dim":
        dims.add().dim_value = data.draw(st.integers(1, 4))
    else:
        dim = dims[data.draw(st.integers(0, len(dims) - 1))]
        if how == "value":
            dim.dim_value = data.draw(st.integers(0, 40))
        else:
            dim.dim_param = data.draw(st.sampled_from(["_a0", "lambda", "None", "max", "height", "x y", "", "9"]))


def mutate_wiring(model, data):
    node = data.draw(st.sampled_from(list(model.graph.node)))
    if not node.input:
        return
    index = data.draw(st.integers(0, len(node.input) - 1))
    how = data.draw(st.sampled_from(["drop", "empty", "rename", "other"]))
    if how == "drop":
        del node.input[index]
    elif how == "empty":
        node.input[index] = ""
    elif how == "rename":
        node.input[index] = "nowhere"
    else:
        names = [i.name for i in model.graph.initializer] + [o for n in model.graph.node for o in n.output]
        node.input[index] = data.draw(st.sampled_from(names))


MUTATIONS = {"attribute": mutate_attribute, "initializer": mutate_initializer, "input": mutate_input, "wiring": mutate_wiring}


@FUZZ
@given(st.sampled_from(sorted(CORPUS)), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_mutated_models_import_exactly_or_fail_cleanly(name, mutation, data):
    model = CORPUS[name]()
    original = model.SerializeToString()
    MUTATIONS[mutation](model, data)
    mutated = model.SerializeToString()
    result = imported(mutated)
    if mutated == original:
        assert result == baseline(name)


@FUZZ
@given(st.sampled_from(sorted(CORPUS)), st.data())
def test_truncated_and_flipped_bytes_import_exactly_or_fail_cleanly(name, data):
    original = CORPUS[name]().SerializeToString()
    if data.draw(st.booleans()):
        mutated = original[: data.draw(st.integers(0, len(original) - 1))]
    else:
        mutated = bytearray(original)
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(mutated) - 1))
            mutated[position] ^= data.draw(st.integers(1, 255))
        mutated = bytes(mutated)
    imported(mutated)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_corpus_imports(name):
    # the unmutated models import (so the mutations start from valid files)
    assert imported(CORPUS[name]().SerializeToString()) is not None
