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


# -- the file checked against itself (issue 12, finding 5) ------------------------------------
def any_shape(name, rank, elem=TensorProto.FLOAT):
    """An output declared with `rank` named (unchecked) sizes: ONNX's checker wants a shape."""
    return helper.make_tensor_value_info(name, elem, [f"out_{i}" for i in range(rank)])


def one_node_model(node, initializers, input_dims=("batch", 3, "height", "width"), opset=18, output_rank=None):
    graph = helper.make_graph(
        [node], "one_node", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))],
        [any_shape("y", len(input_dims) if output_rank is None else output_rank)], initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_conv_kernel_shape_must_agree_with_the_weights():
    # issue 12: weights [8, 3, 3, 3] with kernel_shape [5, 5] gave 600 parameters; the file holds 216
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_liar", kernel_shape=[5, 5])
    with pytest.raises(CostGraphError, match=r"conv_liar.*kernel_shape \[5, 5\] disagrees with the weight 'w' of shape \[8, 3, 3, 3\]"):
        from_onnx(one_node_model(conv, [_weight("w", [8, 3, 3, 3])]))
    agreeing = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])
    assert from_onnx(one_node_model(agreeing, [_weight("w", [8, 3, 3, 3])])).totals().params == 8 * 3 * 3 * 3


def test_conv_weights_must_fit_the_input_channels():
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_wrong_channels", kernel_shape=[3, 3])
    with pytest.raises(CostGraphError, match="conv_wrong_channels.*4 channels"):
        from_onnx(one_node_model(conv, [_weight("w", [8, 3, 3, 3])], input_dims=("batch", 4, "height", "width")))


@pytest.mark.parametrize("axis", [3, -4, 7])
def test_layer_norm_axis_must_be_in_range(axis):
    # issue 12: an out-of-range axis was taken modulo the rank and accepted
    norm = helper.make_node("LayerNormalization", ["x", "scale"], ["y"], name="ln_far", axis=axis)
    with pytest.raises(CostGraphError, match=f"ln_far.*axis {axis} is out of range for a 3-d tensor"):
        from_onnx(one_node_model(norm, [_weight("scale", [16])], input_dims=("batch", "seq", 16)))


def shape_then(node, initializers, input_dims=("batch", 3, "height", "width")):
    """x -> Shape -> `node` (reading "shape"): the shape arithmetic exporters write."""
    graph = helper.make_graph(
        [helper.make_node("Shape", ["x"], ["shape"], name="shape"), node],
        "shape_then", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))],
        [any_shape("y", 1, TensorProto.INT64)], initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize(
    "model, match",
    [
        # issue 12: Gather, Slice, Gemm, BatchNormalization raised raw IndexError/TypeError/ValueError
        (lambda: shape_then(helper.make_node("Gather", ["shape", "i"], ["y"], name="gather_far"), [_ints("i", [4])]), "gather_far.*index 4 out of range"),
        (lambda: shape_then(helper.make_node("Gather", ["shape", "i"], ["y"], name="gather_axis", axis=1), [_ints("i", [0])]), "gather_axis.*axis 1 is out of range"),
        (
            lambda: shape_then(helper.make_node("Slice", ["shape", "s", "e", "a"], ["y"], name="slice_axis"), [_ints("s", [0]), _ints("e", [2]), _ints("a", [1])]),
            "slice_axis",
        ),
        (
            lambda: shape_then(helper.make_node("Slice", ["shape", "s", "e"], ["y"], name="slice_lengths"), [_ints("s", [0, 1]), _ints("e", [2])]),
            "slice_lengths.*2 starts, 1 ends",
        ),
        (lambda: one_node_model(helper.make_node("Gemm", ["x", "b"], ["y"], name="gemm_1d"), [_weight("b", [5])], ("batch", 5)), "gemm_1d.*matrix B"),
        (lambda: one_node_model(helper.make_node("Gemm", ["x", "b"], ["y"], name="gemm_3d_a"), [_weight("b", [5, 2])], ("batch", 4, 5)), "gemm_3d_a.*2-d"),
        (
            lambda: one_node_model(
                helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], name="bn_scalar"),
                [helper.make_tensor(n, TensorProto.FLOAT, [], [1.0]) for n in "gbmv"],
            ),
            "bn_scalar.*the scale",
        ),
        (
            lambda: one_node_model(
                helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], name="bn_channels"),
                [_weight(n, [5]) for n in "gbmv"],
            ),
            "bn_channels.*5 values for 3 channels",
        ),
    ],
)
def test_malformed_nodes_are_errors_naming_the_node(model, match):
    with pytest.raises(CostGraphError, match=match):
        from_onnx(model())


def test_negative_gather_indices_and_clamped_slices_follow_onnx():
    # truth: ONNX's own rules (negative indices count from the end; slice bounds clamp),
    # checked against onnx.reference's evaluator on the same graph
    reference = require("onnx.reference")
    gather = shape_then(helper.make_node("Gather", ["shape", "i"], ["y"], name="gather_last"), [_ints("i", [-1, 1])])
    slice_model = shape_then(
        helper.make_node("Slice", ["shape", "s", "e"], ["y"], name="slice_clamped"), [_ints("s", [-3]), _ints("e", [2**63 - 1])]
    )
    x = require("numpy").zeros((2, 3, 5, 7), dtype="float32")
    for model in (gather, slice_model):
        (expected,) = reference.ReferenceEvaluator(model).run(None, {"x": x})
        computed = _sizes_through_importer(model)
        assert [int(sympy.sympify(v).subs({N: 2, H: 5, W: 7})) for v in computed] == expected.tolist()


def _sizes_through_importer(model):
    """The Sizes the importer computes for the graph's last output (a shape computation)."""
    from costgraph.importers import onnx as onnx_importer

    importer = onnx_importer._Importer(model, "sizes", False, False)
    importer.inputs()
    for node in model.graph.node:
        call = onnx_importer.Call(node.op_type, [importer.env[i] for i in node.input], onnx_importer._attrs(node), node.name, node.name, 1, importer, node)
        importer.env[node.output[0]] = onnx_importer.ONNX_CONVERTERS[node.op_type](call)
    return importer.env[model.graph.output[0].name].values


def test_a_size_named_like_a_generated_local_from_dim_param():
    # issue 12, finding 3: a dim_param named "_a0" was overwritten inside the compiled
    # function.  By hand: conv 3x3 pad 1 (3 -> 4) on side x side, 2x2 max pool, conv 1x1
    # (4 -> 2) on the pooled map: 4*27*side**2 + 2*4*(side // 2)**2 MACs
    n = helper.make_node
    graph = helper.make_graph(
        [
            n("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            n("MaxPool", ["c1"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            n("Conv", ["p", "w2"], ["y"], kernel_shape=[1, 1]),
        ],
        "named_a0", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "_a0", "_a0"])],
        [any_shape("y", 4)], [_weight("w1", [4, 3, 3, 3]), _weight("w2", [2, 4, 1, 1])],
    )
    net = from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    assert net.totals(_a0=12).macs == 4 * 27 * 144 + 2 * 4 * 36 == 15840


def test_torch_chunk_exports_to_slices_that_import():
    # issue 13: torch.chunk exports to Slice on a tensor.  By hand: conv 3 -> 8, 3x3, pad 1:
    # 8*27 weights + 8 biases, 8*27 MACs per output pixel; chunk(2) halves the 8 channels
    # into two views of 4; their product is 4*H*W elements, 1 FLOP each
    torch = require_torch()

    class Gated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            a, b = self.conv(x).chunk(2, dim=1)
            return a * b

    module = Gated()
    net = from_onnx(export(module, (1, 3, 8, 8)))
    totals = net.totals()
    assert totals.params == sum(p.numel() for p in module.parameters()) == 8 * 27 + 8
    assert totals.macs == 8 * 27 * N * H * W
    (output,) = [row for row in net.layers() if row.kind == "Mul"]
    assert output.shape == (4, H, W) and output.flops == 4 * N * H * W
    assert tuple(module(torch.zeros(2, 3, 10, 6)).shape) == (2,) + tuple(d.subs({H: 10, W: 6}) for d in output.shape)


def test_a_converter_crash_becomes_an_error_naming_the_node():
    # the last resort: whatever a converter lets escape is a CostGraphError naming the node
    from costgraph.importers import register_converter

    @register_converter("test.crash::Crash", onnx=True)
    def crash(call):
        return {}["missing"]

    try:
        node = helper.make_node("Crash", ["x"], ["y"], name="crashing", domain="test.crash")
        graph = helper.make_graph(
            [node], "crash", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("test.crash", 1)])
        with pytest.raises(CostGraphError, match=r"node 0 'crashing' \(Crash\): malformed or unexpected node \(KeyError"):
            from_onnx(model.SerializeToString())
    finally:
        del ONNX_CONVERTERS["test.crash::Crash"]


def test_a_second_onnx_converter_for_an_op_is_refused_unless_replacing():
    # as for ATen ops: two converters for one op never disagree silently
    from costgraph.importers import register_converter

    first = register_converter("test.twice::Op", onnx=True)(lambda call: None)
    try:
        with pytest.raises(CostGraphError, match="already has a converter"):
            register_converter("test.twice::Op", onnx=True)(lambda call: None)
        second = register_converter("test.twice::Op", onnx=True, replace=True)(lambda call: None)
        assert ONNX_CONVERTERS["test.twice::Op"] is second is not first
    finally:
        del ONNX_CONVERTERS["test.twice::Op"]


def test_torch_split_exports_to_split_that_imports():
    # torch.split exports to Split.  By hand: the three 1-channel views of a 3-channel
    # image; a*b and (a*b)+c are 1*H*W elements each, 1 FLOP per element: 2*N*H*W
    torch = require_torch()

    class Mixer(torch.nn.Module):
        def forward(self, x):
            a, b, c = x.split([1, 1, 1], dim=1)
            return a * b + c

    net = from_onnx(export_without_parameters(Mixer(), (1, 3, 8, 8)))
    assert net.totals().flops == 2 * N * H * W and net.totals().params == 0
    shapes = [tuple(row.shape) for row in net.layers() if row.kind == "Slice"]
    assert shapes == [(1, H, W)] * 3
    with pytest.raises(CostGraphError, match="do not add up"):
        bad = helper.make_node("Split", ["x", "parts"], ["a", "b"], name="split_bad", axis=1)
        graph = helper.make_graph(
            [bad], "split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])],
            [any_shape("a", 3), any_shape("b", 3)], [_ints("parts", [1, 1])],
        )
        from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))


def export_without_parameters(module, shape):
    """`export` for a module with no parameters (it reads the first one's device)."""
    torch = require_torch()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), (torch.randn(*shape),), buffer, dynamo=False, input_names=["image"], output_names=["out"],
            dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "out": {0: "batch"}},
        )
    return buffer.getvalue()
