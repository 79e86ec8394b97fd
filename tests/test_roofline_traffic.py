"""Bytes moved (costgraph.traffic) against hand derivations of the stated convention.

Every expected figure below is derived in the test from the convention in
costgraph/traffic.py's docstring (no fusion: read inputs, parameters and
buffers, write the output; views move nothing; backward reads the output
gradient, saved tensors and parameters, writes input and parameter
gradients), from the layer's shapes and PyTorch's parameter counts.
"""

from __future__ import annotations

import pytest
import sympy

from costgraph import H, N, S, W, Network
from costgraph.errors import CostGraphError
from costgraph.kinds import (
    Add,
    BatchNorm2d,
    CausalMask,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    GatedMLP,
    Input,
    Linear,
    MatMul,
    Mul,
    MultiheadAttention,
    ReLU,
    Scale,
    ScaledDotProductAttention,
    SiLU,
    Softmax,
    Transpose,
)
from costgraph.models import MODELS
from costgraph.traffic import backward_elements, forward_elements, layer_bytes, register_traffic, total_bytes


def chain(name, *layers):
    net = Network(name)
    for index, layer in enumerate(layers):
        net.add(f"l{index}", layer)
    return net


def test_conv_forward_by_hand():
    # Conv2d(3, 16, 3, padding=1) on (N, 3, H, W): reads 3HW per image, 16*3*3*3 weights + 16 biases,
    # writes 16HW per image; fp32 = 4 bytes, bf16 = 2
    net = chain("conv", Input((3, H, W)), Conv2d(3, 16, 3, padding=1))
    assert layer_bytes(net, "fp32", H=32, N=2)["l1"] == 4 * (2 * 3 * 32 * 32 + 432 + 16 + 2 * 16 * 32 * 32)
    assert layer_bytes(net, "bf16")["l1"] == sympy.expand(2 * (3 * H * W * N + 448 + 16 * H * W * N))
    assert layer_bytes(net, H=32)["l0"] == 0  # the input moves nothing itself


def test_strided_conv_reads_whole_input_writes_smaller_output():
    # stride 2, no padding, k=3 on 17x17: output (17-3)//2+1 = 8 per side
    net = chain("conv", Input((8, H, W)), Conv2d(8, 4, 3, stride=2, bias=False))
    assert layer_bytes(net, H=17)["l1"] == 4 * (8 * 17 * 17 + 4 * 8 * 9 + 4 * 8 * 8)


def test_linear_forward_and_backward_by_hand():
    # Linear(64, 10) on (N, 64): reads 64N + 640 + 10, writes 10N
    net = chain("fc", Input((64,)), Linear(64, 10))
    assert layer_bytes(net, N=5)["l1"] == 4 * (64 * 5 + 650 + 10 * 5)
    # backward: the input needs no gradient, so the weights are not read (dW = dY^T X); reads the
    # output gradient (10N) and the saved input (64N), writes 650 parameter gradients
    assert layer_bytes(net, backward=True, N=5)["l1"] == 4 * (10 * 5 + 64 * 5 + 650)


def test_linear_backward_writes_input_gradient_when_needed():
    # two layers: the second's input comes from a layer with parameters, so it needs a gradient:
    # reads 10N grad + 32N saved input + 330 params, writes 32N input grad + 330 param grads
    net = chain("mlp", Input((64,)), Linear(64, 32, bias=False), Linear(32, 10))
    assert layer_bytes(net, backward=True, N=3)["l2"] == 4 * (10 * 3 + 32 * 3 + 330 + 32 * 3 + 330)


def test_elementwise_in_place_out_of_place_and_views():
    net = Network("elementwise")
    net.add("x", Input((8, H, W)))
    net.add("relu", ReLU())  # reads 8HW, writes 8HW
    net.add("relu_", ReLU(inplace=True))  # in place: reads 8HW, writes 8HW back
    net.add("add", Add(), "relu", "relu_")  # reads two, writes one
    net.add("drop", Dropout(0.1))  # inference: the identity, moves nothing
    net.add("flat", Flatten())  # a view: nothing
    moved = layer_bytes(net, "fp16", H=4, N=1)
    one = 8 * 4 * 4
    assert moved == {"x": 0, "relu": 2 * 2 * one, "relu_": 2 * 2 * one, "add": 2 * 3 * one, "drop": 0, "flat": 0}


def test_batchnorm_reads_its_running_statistics():
    # eval-mode BatchNorm2d(C): reads x, gamma and beta (2C) and running mean and var (2C)
    net = chain("bn", Input((6, H, W)), BatchNorm2d(6))
    assert layer_bytes(net, H=5, N=2)["l1"] == 4 * (2 * 6 * 25 + 2 * 6 + 2 * 6 + 2 * 6 * 25)


def test_embedding_reads_ids_and_gathered_rows_not_the_table():
    # 50257 x 768 table, (N, S) int64 ids: reads 8 bytes per id and one 768-row per token, writes them
    net = Network("emb")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(50257, 768))
    assert layer_bytes(net, "bf16", S=10, N=2)["wte"] == 8 * 20 + 2 * (20 * 768) * 2


def attention_parts(is_causal: bool):
    """softmax(Q K^T * scale [+ mask]) V built from parts, as eager PyTorch runs it."""
    net = Network("parts")
    for name in ("q", "k", "v"):
        net.add(name, Input((4, S, 16)))
    net.add("kt", Transpose(-2, -1), "k")
    net.add("scores", MatMul(), "q", "kt")
    net.add("scaled", Scale(0.25), "scores")
    last = "scaled"
    if is_causal:
        net.add("masked", CausalMask(), "scaled")
        last = "masked"
    net.add("weights", Softmax(-1), last)
    net.add("out", MatMul(), "weights", "v")
    return net


@pytest.mark.parametrize("is_causal", [False, True])
def test_unfused_attention_equals_its_parts_and_fused_drops_the_scores(is_causal):
    # q, k, v: (N, 4, S, 16); scores (N, 4, S, S).  By hand, unfused: read q, k, v (3 * 64NS),
    # write the output (64NS), and move the scores 6 times (write, scale r/w, softmax r/w, read)
    # or 8 with a mask; fused: only q, k, v and the output.
    net = Network("sdpa")
    for name in ("q", "k", "v"):
        net.add(name, Input((4, S, 16)))
    net.add("attn", ScaledDotProductAttention(is_causal=is_causal), "q", "k", "v")
    per_token, scores = 4 * 16, 4 * 20 * 20
    s, n = 20, 3
    times = 8 if is_causal else 6
    assert layer_bytes(net, S=s, N=n)["attn"] == 4 * n * (4 * per_token * s + times * scores)
    assert layer_bytes(net, fused_attention=True, S=s, N=n)["attn"] == 4 * n * 4 * per_token * s
    parts = attention_parts(is_causal)
    assert total_bytes(parts, S=s, N=n) == total_bytes(net, S=s, N=n)


def test_multihead_attention_kernels_by_hand():
    # MultiheadAttention(32, 4) on (N, S, 32): in_proj reads x (32T) and 3*32*32 + 96 params, writes
    # qkv (96T); the core reads qkv and writes 32T (unfused: 6 moves of the N*4*S*S scores); out_proj
    # reads 32T and 32*32 + 32 params, writes 32T.  T = N*S tokens.
    net = chain("mha", Input((S, 32)), MultiheadAttention(32, 4))
    t, scores = 2 * 7, 2 * 4 * 7 * 7
    params = 4 * 32 * 32 + 4 * 32
    fused = 32 * t + params + 96 * t + 96 * t + 32 * t + 32 * t + 32 * t
    assert layer_bytes(net, fused_attention=True, S=7, N=2)["l1"] == 4 * fused
    assert layer_bytes(net, S=7, N=2)["l1"] == 4 * (fused + 6 * scores)


def test_gated_mlp_as_its_parts_by_hand():
    # GatedMLP(8, 20): gate and up read x (2 * 8T) and write 20T each; SiLU reads/writes 20T; the
    # product reads 2 * 20T and writes 20T; down reads 20T and writes 8T; weights 3 * 8 * 20 read once
    net = chain("mlp", Input((S, 8)), GatedMLP(8, 20))
    t = 5
    reads = 2 * 8 * t + 20 * t + 2 * 20 * t + 20 * t + 480
    writes = 2 * 20 * t + 20 * t + 20 * t + 8 * t
    assert layer_bytes(net, S=5)["l1"] == 4 * (reads + writes)


def test_totals_and_rows_carry_bytes_moved():
    net = chain("fc", Input((64,)), Linear(64, 10))
    totals = net.totals(N=5)
    assert totals.bytes_moved == 4 * (64 * 5 + 650 + 10 * 5)  # the one layer that moves bytes
    assert [row.bytes_moved for row in net.layers(N=5)] == [0, totals.bytes_moved]
    assert net.totals().bytes_moved == 4 * (64 * N + 650 + 10 * N)
    assert net.totals(backward=True, N=5).backward_bytes_moved == 4 * (10 * 5 + 64 * 5 + 650)


def test_embedding_backward_writes_the_table_gradient_without_reading_the_table():
    # ids need no gradient: reads the output gradient (S*N*8) and the saved int64 ids, writes the
    # 100 x 8 table gradient (dense, as embedding_dense_backward makes it)
    net = Network("emb")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(100, 8))
    assert layer_bytes(net, "bf16", backward=True, S=3, N=2)["wte"] == 2 * 6 * 8 + 8 * 6 + 2 * 800


def test_backward_of_views_and_inputs_moves_nothing():
    net = chain("v", Input((8,)), Linear(8, 8), Flatten())
    moved = backward_elements(net)
    assert "l0" not in moved and "l2" not in moved


def test_a_rule_is_registered_once():
    with pytest.raises(CostGraphError, match="already has a forward traffic rule"):
        register_traffic("Embedding")(lambda *args: None)
    with pytest.raises(CostGraphError, match="already has a backward traffic rule"):
        register_traffic("GatedMLP", backward=True)(lambda *args: None)


def projected_qkv(net):
    """q, k, v of shape (N, 4, S, 16) that need gradients: each a Linear of an input (per head)."""
    net.add("x", Input((4, S, 16)))
    for name in ("q", "k", "v"):
        net.add(name, Linear(16, 16, bias=False), "x")


@pytest.mark.parametrize("is_causal", [False, True])
def test_unfused_attention_backward_equals_its_parts(is_causal):
    # the node's rule and the generic rule on the parts (MatMul, Scale, CausalMask, Softmax, MatMul)
    # must move the same bytes; the projections are the same layers in both networks
    fused_node = Network("sdpa")
    projected_qkv(fused_node)
    fused_node.add("attn", ScaledDotProductAttention(is_causal=is_causal), "q", "k", "v")
    parts = Network("parts")
    projected_qkv(parts)
    parts.add("kt", Transpose(-2, -1), "k")
    parts.add("scores", MatMul(), "q", "kt")
    parts.add("scaled", Scale(0.25), "scores")
    last = "scaled"
    if is_causal:
        parts.add("masked", CausalMask(), "scaled")
        last = "masked"
    parts.add("weights", Softmax(-1), last)
    parts.add("out", MatMul(), "weights", "v")
    sizes = {"S": 12, "N": 2}
    assert total_bytes(fused_node, backward=True, **sizes) == total_bytes(parts, backward=True, **sizes)
    # by hand, fused (FlashAttention): reads dO, q, k, v, O (5 x 64NS) and 4NS fp32 row statistics
    # (4 bytes at fp32 activations on CUDA), writes dq, dk, dv (3 x 64NS)
    per = 2 * 4 * 12 * 16
    assert layer_bytes(fused_node, backward=True, fused_attention=True, **sizes)["attn"] == 4 * (8 * per) + 4 * 2 * 4 * 12


def test_gated_mlp_backward_equals_its_parts():
    node = Network("node")
    node.add("x", Input((S, 8)))
    node.add("pre", Linear(8, 8, bias=False))  # so that the block's input needs a gradient
    node.add("mlp", GatedMLP(8, 20))
    parts = Network("parts")
    parts.add("x", Input((S, 8)))
    parts.add("pre", Linear(8, 8, bias=False))
    parts.add("gate", Linear(8, 20, bias=False), "pre")
    parts.add("up", Linear(8, 20, bias=False), "pre")
    parts.add("act", SiLU(), "gate")
    parts.add("product", Mul(), "act", "up")
    parts.add("down", Linear(20, 8, bias=False), "product")
    for backward in (False, True):
        assert total_bytes(node, backward=backward, S=5, N=3) == total_bytes(parts, backward=backward, S=5, N=3)


def test_multihead_attention_backward_by_hand():
    # MultiheadAttention(32, 4) fused, input needing a gradient (after a Linear), T = N*S tokens:
    # out_proj reads dOut, attn (32T each) and 32*32+32 params, writes d_attn (32T) and 1056 grads;
    # the core reads d_attn, q, k, v, O (5 x 32T) and 4NS statistics, writes dq, dk, dv (96T);
    # in_proj reads dqkv (96T), x (32T) and 3*32*32+96 params, writes 3168 grads and dx (32T)
    net = Network("mha")
    net.add("x", Input((S, 32)))
    net.add("pre", Linear(32, 32, bias=False))
    net.add("mha", MultiheadAttention(32, 4))
    t, rows = 2 * 7, 2 * 4 * 7
    reads = 32 * t + 32 * t + 1056 + 5 * 32 * t + 96 * t + 32 * t + 3168
    writes = 32 * t + 1056 + 96 * t + 3168 + 32 * t
    assert layer_bytes(net, backward=True, fused_attention=True, S=7, N=2)["mha"] == 4 * (reads + writes) + 4 * rows
    # unfused: no statistics, no O re-read, and the N*4*S*S scores 5 times read and 3 times written
    scores = 2 * 4 * 7 * 7
    unfused = 4 * (reads - 32 * t + writes + 8 * scores)
    assert layer_bytes(net, backward=True, S=7, N=2)["mha"] == unfused


ELEMENTWISE = {"ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Hardswish", "Hardsigmoid", "Tanh", "Softmax", "Add", "Mul"}


def by_hand(net, name, values):
    """The default rule written out from the node's shapes and parameter count (fp32)."""
    node = net.graph.nodes[name]
    shapes = [net.graph.nodes[s]["shape"] for s in node["inputs"]]
    layer = node["layer"]
    size = lambda shape: int(sympy.Mul(*shape).xreplace(values))  # noqa: E731
    params = int((node["cost"].weights + node["cost"].biases).xreplace(values))
    if layer.kind in ELEMENTWISE and not layer.materializes:
        return 4 * (sum(size(s) for s in shapes) + size(node["shape"]))  # in place: same bytes
    return 4 * (sum(size(s) for s in shapes) + params + size(node["shape"]))


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_zoo_conv_linear_and_elementwise_layer_by_hand(model):
    info = MODELS[model]
    net = info.builder()
    sizes = info.sizes()
    values = net.check_sizes(**sizes)
    moved = layer_bytes(net, **sizes)
    checked = 0
    for name in net:
        kind = net.graph.nodes[name]["layer"].kind
        if kind in ("Conv2d", "Linear") or kind in ELEMENTWISE:
            assert moved[name] == by_hand(net, name, values), (model, name)
            checked += 1
        if kind == "ScaledDotProductAttention":
            q = [int(d.xreplace(values)) for d in net.graph.nodes[net.graph.nodes[name]["inputs"][0]]["shape"]]
            heads_rows = q[0] * q[1] * q[2]
            keys = int(net.graph.nodes[net.graph.nodes[name]["inputs"][1]]["shape"][-2].xreplace(values))
            masked = net.graph.nodes[name]["layer"].is_causal
            expected = by_hand(net, name, values) + 4 * heads_rows * keys * (8 if masked else 6)
            assert moved[name] == expected, (model, name)
    assert checked > 0
