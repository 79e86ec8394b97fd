"""costgraph.from_onnx: ONNX files read with the onnx package, rebuilt symbolically.

Sources of truth: the native zoo networks for the round trips through
``torch.onnx.export``; ONNX's own shape inference (``onnx.shape_inference``,
run with the inputs' sizes fixed) for every tensor of hand-built graphs;
torch's own module for the parameter count of an export that folds batch norm.
"""

import io
import warnings

import pytest
import sympy

from costgraph import CostGraphError, H, N, S, W, models, size_symbol
from costgraph import errors as costgraph_errors
from costgraph.importers import ONNX_CONVERTERS, UnsupportedOperationError

from .support import require, require_torch


def meta():
    return require_torch().device("meta")


onnx = require("onnx")
from onnx import TensorProto, helper  # noqa: E402

from costgraph import from_onnx  # noqa: E402

TOTALS = ("params", "macs", "activations", "flops")


def assert_same_totals(imported, native):
    a, b = imported.totals(), native.totals()
    for name in TOTALS:
        assert sympy.expand(getattr(a, name) - getattr(b, name)) == 0, f"{name}: {getattr(a, name)} vs {getattr(b, name)}"


def export(module, shape):
    """Legacy (TorchScript) export with dynamic batch, height and width, on the CPU, into bytes.

    The dynamo exporter (torch 2.13's default) cannot export these models with
    dynamic height and width: it fails on guards over the strided sizes, and
    writes adaptive pooling as gathers.  ``dynamo=False`` needs only onnx.
    """
    torch = require_torch()
    if next(module.parameters()).is_meta:
        # torch's initializers take seconds on VGG; plain random values take a fraction.  They
        # must differ between tensors: the exporter merges identical initializers into one.
        module = module.to_empty(device="cpu")
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.uniform_()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation warning
        torch.onnx.export(
            module.eval(),
            (torch.randn(*shape),),
            buffer,
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}},
        )
    return buffer.getvalue()


def test_round_trip_vgg11_seed_form():
    """VGG11 as the seed tabulates it: fc1 sized for the input, read back lazily; ReLUs in place."""
    require_torch()
    from .twins.vgg import VGG

    with meta():
        twin = VGG("A", avgpool=False, fc1_in=512 * (64 // 32) * (48 // 32))
    exported = export(twin, (1, 3, 64, 48))
    net = from_onnx(exported, lazy_linear=True, inplace_activations=True)
    assert net.symbols == [H, W, N]
    assert_same_totals(net, models.vgg11())


def test_round_trip_squeezenet_ceil_mode_and_concat():
    """SqueezeNet 1.0: ceil_mode max pools, Fire concatenations, global average pool."""
    require_torch()
    from .twins.squeezenet import SqueezeNet

    net = from_onnx(export(SqueezeNet("1_0"), (1, 3, 64, 48)), inplace_activations=True)
    assert_same_totals(net, models.squeezenet1_0())


def test_exported_resnet18_has_batch_norm_folded_into_the_convs():
    """torch's exporter folds each eval-mode BatchNorm2d(C) into its conv: 2C parameters become C biases."""
    torch = require_torch()
    from .twins.resnet import resnet

    module = resnet("resnet18")
    folded = sum(m.num_features for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    net = from_onnx(export(module, (1, 3, 64, 48)))
    assert net.totals().params == sum(p.numel() for p in module.parameters()) - folded
    assert sympy.expand(net.totals().macs - models.resnet18().totals().macs) == 0


# -- hand-built graphs, checked against ONNX's own shape inference ----------------------------

def _weight(name, dims):
    count = 1
    for d in dims:
        count *= d
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [0.0] * count)


def _ints(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def coverage_model():
    """Every supported op once, on an input ["batch", 4, "height", "width"]."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], name="conv_same", kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        n("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"], name="bn"),
        n("HardSwish", ["bn"], ["hs"], name="hardswish"),
        n("Conv", ["hs", "w2"], ["c2"], name="conv_valid_grouped", kernel_shape=[3, 1], strides=[2, 1], group=2, auto_pad="VALID"),
        n("MaxPool", ["c2"], ["mp"], name="maxpool_ceil", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        n("AveragePool", ["mp"], ["ap"], name="avgpool_default_stride", kernel_shape=[2, 2], count_include_pad=1, pads=[1, 0, 1, 0]),
        n("Sigmoid", ["ap"], ["sg"], name="sigmoid"),
        n("Mul", ["ap", "sg"], ["gated"], name="gate"),
        n("Mul", ["gated", "scale"], ["scaled"], name="scale_by_parameter"),
        n("Add", ["scaled", "two"], ["shifted"], name="add_scalar"),
        n("Concat", ["shifted", "ap"], ["cat"], name="concat", axis=1),
        n("Shape", ["cat"], ["shape"], name="shape"),
        n("Gather", ["shape", "zero"], ["batch_size"], name="gather_batch", axis=0),
        n("Unsqueeze", ["batch_size", "axes0"], ["batch_vec"], name="unsqueeze_batch"),
        n("Concat", ["batch_vec", "sixteen", "minus_one"], ["target"], name="target_shape", axis=0),
        n("Reshape", ["cat", "target"], ["tokens_t"], name="to_tokens"),        # (N, 16, h*w/ ...)
        n("Transpose", ["tokens_t"], ["tokens"], name="transpose", perm=[0, 2, 1]),
        n("LayerNormalization", ["tokens", "ln_scale", "ln_bias"], ["ln"], name="layernorm", axis=-1),
        n("MatMul", ["ln", "w3"], ["mm"], name="linear_matmul"),
        n("Add", ["mm", "b3"], ["lin"], name="linear_bias"),
        n("Relu", ["lin"], ["act"], name="relu"),
        n("Softmax", ["act"], ["sm"], name="softmax", axis=-1),
        n("ReduceMean", ["sm", "axes1"], ["pooled"], name="mean_tokens", keepdims=0),
        n("Gemm", ["pooled", "w4", "b4"], ["logits"], name="gemm", transB=0),
        n("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
        n("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
    ]
    initializers = [
        _weight("w1", [8, 4, 3, 3]), _weight("b1", [8]),
        _weight("g", [8]), _weight("beta", [8]), _weight("mean", [8]), _weight("var", [8]),
        _weight("w2", [8, 4, 3, 1]),
        _weight("scale", [8, 1, 1]),
        helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        _ints("axes0", [0]), _ints("sixteen", [16]), _ints("minus_one", [-1]),
        _weight("ln_scale", [16]), _weight("ln_bias", [16]),
        _weight("w3", [16, 12]), _weight("b3", [12]),
        _ints("axes1", [1]),
        _weight("w4", [12, 5]), _weight("b4", [5]),
    ]
    graph = helper.make_graph(
        nodes,
        "coverage",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, "height", "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5]), helper.make_tensor_value_info("flat", TensorProto.FLOAT, ["batch", 16])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def inferred_shapes(model, dims):
    """ONNX's shape inference with the input's sizes fixed: {tensor name: shape}."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for dim, value in zip(fixed.graph.input[0].type.tensor_type.shape.dim, dims):
        dim.Clear()
        dim.dim_value = value
    inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        shape = value.type.tensor_type.shape
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in shape.dim)
    return shapes


@pytest.mark.parametrize("n,h,w", [(1, 12, 9), (2, 17, 30), (3, 8, 8)])
def test_every_op_against_onnx_shape_inference(n, h, w):
    model = coverage_model()
    net = from_onnx(model)
    truth = inferred_shapes(model, (n, 4, h, w))
    rows = {row.name: (n,) + tuple(row.shape) for row in net.layers(H=h, W=w, N=n)}
    checked = 0
    for node in model.graph.node:
        if node.name in rows and node.output[0] in truth:
            assert rows[node.name] == truth[node.output[0]], f"{node.name} at {n}x4x{h}x{w}"
            checked += 1
    assert checked >= 18
    # MatMul + Add(bias) read as one Linear(16, 12): 16*12 weights and 12 biases
    assert net.layer("linear_matmul").kind == "Linear" and net.layer("linear_matmul").bias
    assert "linear_bias" not in net


def test_coverage_model_costs_by_hand():
    net = from_onnx(coverage_model())
    # parameters: conv 8*4*9 + 8, bn 8 + 8 (mean and var are buffers), grouped conv 8*4*3,
    # scale 8, layer norm 16 + 16, linear 16*12 + 12, gemm 12*5 + 5
    assert net.totals().params == 288 + 8 + 16 + 96 + 8 + 32 + 204 + 65
    assert net.shape("conv_same") == (N, 8, H, W)
    # VALID padding, kernel 3, stride 2 along the height: (h - 3) // 2 + 1 rows
    height = net.shape("conv_valid_grouped")[2]
    assert [height.subs(H, h) for h in range(3, 40)] == [(h - 3) // 2 + 1 for h in range(3, 40)]
    assert net.shape("conv_valid_grouped")[3] == W


def test_dim_param_names_become_symbols():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "names",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", "seq_len", "num-heads", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch_size", "seq_len", "num-heads", 8])],
    )
    net = from_onnx(helper.make_model(graph))
    assert net.shape("relu") == (N, S, size_symbol("num_heads"), 8)


def test_unsupported_nodes_are_all_listed():
    graph = helper.make_graph(
        [
            helper.make_node("Elu", ["x"], ["e"], name="elu"),
            helper.make_node("Resize", ["e", "", "scales"], ["r"], name="upsample"),
            helper.make_node("Relu", ["r"], ["y"], name="relu_after"),
        ],
        "odd",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, "h2", "w2"])],
        [helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])],
    )
    with pytest.raises(UnsupportedOperationError) as caught:
        from_onnx(helper.make_model(graph))
    assert [op for op, _ in caught.value.operations] == ["Elu", "Resize"]
    assert "'elu'" in str(caught.value) and "'upsample'" in str(caught.value)
    assert "register_converter('OpType', onnx=True)" in str(caught.value)
    assert "Elu" not in ONNX_CONVERTERS


def test_inplace_activations_only_where_the_input_has_one_reader():
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu_shared_input"),
            helper.make_node("Add", ["r", "c"], ["s"], name="residual"),
            helper.make_node("Relu", ["s"], ["y"], name="relu_own_input"),
        ],
        "inplace",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, "height", "width"])],
        [_weight("w", [2, 2, 1, 1])],
    )
    net = from_onnx(helper.make_model(graph), inplace_activations=True)
    assert not net.layer("relu_shared_input").inplace       # c is read again by the add
    assert net.layer("relu_own_input").inplace
    # input, conv, relu, add: four tensors of 2*H*W each (the last relu is in place)
    assert net.totals().activations == 8 * H * W * N


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "holds no ONNX graph"),
        (b"\x08\x07\x12\x05hello\xff\xff\xff", "not a valid ONNX model"),
        (b"not an onnx file at all, just words", "not a valid ONNX model|holds no ONNX graph|checker"),
    ],
)
def test_malformed_bytes_are_refused(data, match):
    with pytest.raises(CostGraphError, match=match):
        from_onnx(data)


def test_truncated_file_and_missing_path(tmp_path):
    whole = coverage_model().SerializeToString()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CostGraphError, match="truncated"):
        from_onnx(path)
    with pytest.raises(CostGraphError, match="cannot read"):
        from_onnx(tmp_path / "missing.onnx")
    path.write_bytes(whole)
    assert from_onnx(str(path)).totals().params == from_onnx(whole).totals().params


def test_an_initializer_used_twice_is_counted_once():
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w"], ["h"], name="first", transB=1),
            helper.make_node("Relu", ["h"], ["r"], name="relu"),
            helper.make_node("Gemm", ["r", "w"], ["y"], name="again", transB=1),
        ],
        "tied",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])],
        [_weight("w", [6, 6])],
    )
    net = from_onnx(helper.make_model(graph))
    assert net.totals().params == 36                 # one 6x6 matrix
    assert net.totals().macs == 2 * 36 * N           # used twice per sample


def test_a_declared_output_size_that_disagrees_is_an_error():
    """A 2x2 max pool of stride 2 on 8 channels gives 8 channels; the file claims 9."""
    graph = helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2])],
        "wrong",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 9, "h", "w"])],
    )
    with pytest.raises(costgraph_errors.ShapeError, match="dimension 1 is declared 9, costgraph computes 8"):
        from_onnx(helper.make_model(graph))
