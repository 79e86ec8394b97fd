"""The memory model: hand derivations, errors that name the layer, properties, the command line.

Expected numbers are derived in each test from the layers' shapes (what a
tensor of that shape takes) and PyTorch's derivative rules; PyTorch itself
checks the same figures in tests/test_torch_memory.py.
"""

import subprocess
import sys
from dataclasses import dataclass

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from costgraph import CostGraphError, H, N, Network, W, models
from costgraph.compile import compile_exprs
from costgraph.intmath import FloorDiv
from costgraph.kinds import (
    Add,
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Hardswish,
    Input,
    LayerKind,
    Linear,
    MaxPool2d,
    Mul,
    ReLU,
    Sigmoid,
    register_kind,
)
from costgraph.memory import _never_negative, element_bytes, inference_steps, saved_storages


# -- VGG16, the seed's network, by hand -------------------------------------------------


def vgg16_saved_by_hand(h: int) -> dict:
    """Elements VGG16 (seed form, batch 1) keeps for backward at an h x h input, by class.

    conv_i keeps its input; the in-place ReLU after it keeps its output, the
    same storage as the conv's output, which the next conv or pool keeps
    too: one storage per conv.  Each pool keeps its input (that storage
    again) and int64 argmax indices of its output's size; the next conv, or
    fc1 through the Flatten view, keeps the pool's output.  fc1 and fc2 are
    kept by their in-place ReLU; each Dropout makes a new tensor (kept by
    the next fc) and a mask.  fc3's output is kept by nothing.
    """
    activation = 3 * h * h  # the image, kept by conv1_1
    indices = 0
    size = h
    for widths in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        activation += sum(c * size * size for c in widths)  # each conv's output
        size //= 2
        activation += widths[-1] * size * size  # the pool's output
        indices += widths[-1] * size * size
    activation += 4 * 4096  # fc1, dropout1, fc2, dropout2 outputs
    return {"activation": activation, "index": indices, "mask": 2 * 4096}


def test_vgg16_saved_bytes_at_224_by_hand():
    kept = vgg16_saved_by_hand(224)
    assert kept["activation"] == 15_244_800  # the seed's ~15.2M values (its 15,237,608 forward values + 2 dropout outputs - fc3's 1000)
    memory = models.vgg16().memory(H=224)  # fp32, CUDA: bool masks
    assert memory.saved_elements == {**kept, "statistic": 0}
    assert memory.saved_bytes == 4 * kept["activation"] + 8 * kept["index"] + 1 * kept["mask"]
    cpu = models.vgg16().memory(H=224, device="cpu")  # the CPU keeps float noise as the mask
    assert cpu.saved_bytes == 4 * kept["activation"] + 8 * kept["index"] + 4 * kept["mask"]


def test_vgg16_peak_inference_is_far_below_what_training_keeps():
    """conv1_2 reads conv1_1's output while writing its own: 2 * 64*224*224 values at once."""
    memory = models.vgg16().memory(H=224)
    assert memory.peak_inference_bytes == 4 * 2 * 64 * 224 * 224  # 6.4M values, 25.7 MB
    assert memory.saved_elements["activation"] > 2 * 2 * 64 * 224 * 224  # 15.2M values kept for backward


def test_vgg16_state_at_batch_32_fp16_with_adam():
    memory = models.vgg16().memory(H=224, N=32, dtype="fp16", optimizer="adam")
    params = 138_357_544  # the seed's ~138M
    assert memory.params_bytes == memory.grads_bytes == 2 * params
    assert memory.optimizer_bytes == 2 * 2 * params  # exp_avg and exp_avg_sq
    kept = vgg16_saved_by_hand(224)
    assert memory.saved_bytes == 32 * (2 * kept["activation"] + 8 * kept["index"] + kept["mask"])
    assert memory.total_training_bytes == 4 * 2 * params + memory.saved_bytes
    assert memory.peak_inference_bytes == 32 * 2 * 2 * 64 * 224 * 224
    assert memory.total_inference_bytes == 2 * params + memory.peak_inference_bytes


def test_backward_macs_of_vgg16_are_twice_forward_but_for_the_first_conv():
    totals = models.vgg16().totals(H=224, backward=True)
    first_conv = 64 * 3 * 9 * 224 * 224  # its input is the image: no input gradient
    assert totals.backward_macs == 2 * totals.macs - first_conv
    assert totals.training_macs == 3 * totals.macs - first_conv
    symbolic = models.vgg16().totals(backward=True)
    assert sympy.expand(symbolic.backward_macs - 2 * symbolic.macs + 64 * 27 * H * W * N) == 0


# -- small networks by hand ---------------------------------------------------------------


def basic_block() -> Network:
    """A ResNet basic block (stride 1) on a 16-channel input: the skip lives until the Add."""
    net = Network("block")
    net.add("x", Input((16, H, W)))
    net.add("conv1", Conv2d(16, 16, 3, padding=1, bias=False))
    net.add("bn1", BatchNorm2d(16))
    net.add("relu1", ReLU(inplace=True))
    net.add("conv2", Conv2d(16, 16, 3, padding=1, bias=False))
    net.add("bn2", BatchNorm2d(16))
    net.add("add", Add(inplace=True), "bn2", "x")
    net.add("relu2", ReLU(inplace=True))
    return net


def test_basic_block_by_hand():
    """Tensors of 16*H*W values: x, conv1, bn1 (ReLU'd in place), conv2, bn2 (+= x, ReLU'd in place)."""
    net = basic_block()
    t = 16 * H * W * N
    # inference: x is alive until the Add; at conv1 x and conv1; at bn1 x, conv1, bn1; at conv2
    # x, bn1 (its input), conv2; at bn2 x, conv2, bn2 (the output, returned).
    assert [(name, sympy.expand(alive / t)) for name, alive in inference_steps(net)] == [
        ("x", 1), ("conv1", 2), ("bn1", 3), ("conv2", 3), ("bn2", 3)
    ]
    assert net.memory().peak_inference_bytes == 4 * 3 * t
    # training: x (conv1's input; the Add keeps nothing), conv1 (bn1's input), bn1 (kept by relu1 and
    # conv2), conv2 (bn2's input), bn2 (the Add writes into it, relu2 keeps it): 5 tensors, plus
    # 2 statistics of 16 values per batch norm
    memory = net.memory(device="cpu")
    assert memory.saved_elements == {"activation": 5 * t, "index": 0, "mask": 0, "statistic": 4 * 16}
    assert memory.saved_bytes == 4 * (5 * t + 64)
    assert memory.buffers_bytes == 2 * (4 * 2 * 16 + 8)  # running mean and var, int64 batch counter
    assert list(saved_storages(net)) == ["x", "conv1", ("bn1", 0), ("bn1", 1), "bn1", "conv2", ("bn2", 0), ("bn2", 1), "bn2"]


def test_inplace_hardswish_keeps_a_copy_of_its_input():
    """autograd's ``original_self``: hardswish_'s derivative needs the input it overwrites."""
    net = Network("hs")
    net.add("x", Input((8, H, W)))
    net.add("conv1", Conv2d(8, 8, 1))
    net.add("bn", BatchNorm2d(8))
    net.add("act", Hardswish(inplace=True))
    net.add("conv2", Conv2d(8, 8, 1))
    t = 8 * H * W * N
    # x, conv1's output (bn's input), the copy, bn's output (overwritten, read by conv2)
    assert net.memory(device="cpu").saved_elements["activation"] == 4 * t
    relu = Network("relu")
    for name, layer in [("x", Input((8, H, W))), ("conv1", Conv2d(8, 8, 1)), ("bn", BatchNorm2d(8)),
                        ("act", ReLU(inplace=True)), ("conv2", Conv2d(8, 8, 1))]:
        relu.add(name, layer)
    assert relu.memory(device="cpu").saved_elements["activation"] == 3 * t  # relu_ keeps its result


def test_layers_before_any_parameter_keep_nothing():
    """A pool on the image is not recorded by autograd: no indices; the conv keeps the pool's output."""
    net = Network("pool first")
    net.add("x", Input((3, H, W)))
    net.add("pool", MaxPool2d(2))
    net.add("conv", Conv2d(3, 4, 3))
    memory = net.memory()
    assert memory.saved_elements == {"activation": 3 * N * FloorDiv(H, 2) * FloorDiv(W, 2), "index": 0, "mask": 0, "statistic": 0}
    assert memory.saved_bytes == 12 * N * FloorDiv(H, 2) * FloorDiv(W, 2)


def test_squeeze_excitation_multiplication_keeps_both_factors():
    net = Network("se")
    net.add("x", Input((8, H, W)))
    net.add("conv", Conv2d(8, 8, 1))
    net.add("pool", AdaptiveAvgPool2d(1))  # a mean: keeps nothing
    net.add("fc", Conv2d(8, 8, 1))
    net.add("gate", Sigmoid())  # keeps its output, the (N, 8, 1, 1) scale
    net.add("scale", Mul(), "gate", "conv")
    # x (conv's input), the pooled (N, 8, 1, 1) (fc's input), the gate, conv's output
    assert net.memory().saved_elements["activation"] == 8 * H * W * N + 8 * N + 8 * N + 8 * H * W * N


def test_dropout_mask_depends_on_the_device_and_dtype():
    net = Network("fc")
    net.add("x", Input((64,)))
    net.add("fc", Linear(64, 32))
    net.add("drop", Dropout(0.5))
    net.add("out", Linear(32, 10))
    # x (fc's input), drop's output (out's input), the mask; fc's output is kept by nobody
    assert net.memory(device="cuda", dtype="fp16").saved_bytes == 2 * (64 + 32) * N + 32 * N
    assert net.memory(device="cpu", dtype="fp16").saved_bytes == 2 * (64 + 32 + 32) * N
    none = Network("p0")
    none.add("x", Input((64,)))
    none.add("fc", Linear(64, 32))
    none.add("drop", Dropout(0.0))  # torch returns the input itself
    none.add("out", Linear(32, 10))
    assert none.memory().saved_bytes == 4 * (64 + 32) * N


def test_batch_norm_statistics_are_fp32_on_cuda_for_16_bit_types():
    net = basic_block()
    t = 16 * 7 * 7 * 2
    assert net.memory(H=7, N=2, dtype="fp16").saved_bytes == 2 * 5 * t + 4 * 64
    assert net.memory(H=7, N=2, dtype="fp16", device="cpu").saved_bytes == 2 * (5 * t + 64)
    assert [element_bytes("statistic", size, "cuda") for size in (1, 2, 4, 8)] == [4, 4, 4, 8]


def test_optimizers_and_inference():
    net = basic_block()
    params = 2 * (16 * 16 * 9) + 2 * 2 * 16
    for optimizer, states in (("sgd", 0), (None, 0), ("momentum", 1), ("adam", 2), ("adamw", 2)):
        assert net.memory(H=8, optimizer=optimizer).optimizer_bytes == 4 * states * params
    inference = net.memory(H=8, training=False, optimizer=None)
    assert (inference.grads_bytes, inference.optimizer_bytes, inference.saved_bytes) == (0, 0, 0)
    assert inference.total_inference_bytes == 4 * params + inference.buffers_bytes + 4 * 3 * 16 * 64


@pytest.mark.parametrize(
    "options,match",
    [
        ({"optimizer": "lamb"}, "unknown optimizer 'lamb'"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"training": False, "optimizer": "adam"}, "optimizer 'adam' keeps state only in training"),
        ({"dtype": "fp13"}, "unknown dtype 'fp13'"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(CostGraphError, match=match):
        basic_block().memory(H=8, **options)


@register_kind
@dataclass(frozen=True)
class Doubler(LayerKind):
    """A test kind that declares forward costs only: no training rules."""

    def output_shape(self, x):
        return x

    def weights(self, x):
        return 0

    def biases(self, x):
        return 0

    def macs(self, out, x):
        return 0

    def other_flops(self, out, x):
        return 0


def test_a_kind_without_rules_is_an_error_naming_layer_and_kind():
    net = basic_block()
    net.add("twice", Doubler())
    assert net.totals(H=8).params  # forward costs still work
    with pytest.raises(CostGraphError, match=r"layer 'twice' \(Doubler\): Doubler declares no saved_tensors rule") as info:
        net.memory(H=8)
    assert info.value.layer == "twice"
    with pytest.raises(CostGraphError, match=r"layer 'twice' \(Doubler\): Doubler declares no backward_macs rule"):
        net.totals(H=8, backward=True)


def test_memory_errors_on_sizes_name_the_layer():
    with pytest.raises(CostGraphError, match="'pool5'"):
        models.vgg16().memory(H=31)


def test_symbolic_memory_is_a_formula():
    memory = models.vgg16().memory()
    assert memory.saved_bytes.free_symbols == {H, W, N}
    assert isinstance(memory.peak_inference_bytes, sympy.Expr) and memory.peak_inference_bytes.has(sympy.Max)
    values = {H: 224, W: 224, N: 1}
    exact = models.vgg16().memory(H=224)
    for name in ("saved_bytes", "params_bytes", "total_training_bytes"):
        assert getattr(memory, name).xreplace(values) == getattr(exact, name)


# -- properties -------------------------------------------------------------------------------

NETS = {name: models.build(name) for name in ("vgg11_bn", "resnet18", "mobilenet_v3_large", "densenet121")}
BYTES = ("params_bytes", "buffers_bytes", "grads_bytes", "optimizer_bytes", "saved_bytes", "peak_inference_bytes")


@settings(max_examples=15)
@given(name=st.sampled_from(sorted(NETS)), h=st.integers(64, 300), n=st.integers(2, 64))
def test_memory_is_linear_in_the_batch_except_the_state(name, h, n):
    net = NETS[name]
    at = {k: net.memory(H=h, N=k, optimizer="adam") for k in (1, 2, n)}
    for field in ("params_bytes", "buffers_bytes", "grads_bytes", "optimizer_bytes"):
        assert getattr(at[n], field) == getattr(at[1], field)
    for field in ("saved_bytes", "peak_inference_bytes", "total_training_bytes", "total_inference_bytes"):
        one, two = getattr(at[1], field), getattr(at[2], field)
        assert getattr(at[n], field) == one + (n - 1) * (two - one)
    # activations all carry the batch: the inference peak is proportional to it
    assert at[n].peak_inference_bytes == n * at[1].peak_inference_bytes


def storage_roots(net) -> dict:
    """Layer -> the layer whose new tensor holds its output at inference (in place and views followed)."""
    roots = {}
    for name in net:
        alias = net.layer(name).output_alias(False)
        roots[name] = name if alias is None else roots[net.graph.nodes[name]["inputs"][alias]]
    return roots


@settings(max_examples=15)
@given(name=st.sampled_from(sorted(NETS)), h=st.integers(64, 300), n=st.integers(1, 8))
def test_peak_inference_between_the_largest_layer_and_all_activations(name, h, n):
    net = NETS[name]
    rows = {row.name: row for row in net.layers(H=h, N=n)}
    roots = storage_roots(net)
    size = {name: 4 * n * sympy.prod(rows[name].shape) for name in rows}
    largest = max(
        sum(size[r] for r in {roots[s] for s in net.graph.nodes[layer]["inputs"]} | {layer})
        for layer in net
        if roots[layer] == layer
    )
    peak = net.memory(H=h, N=n).peak_inference_bytes
    assert largest <= peak <= net.totals(H=h, N=n).activation_bytes


@settings(max_examples=15)
@given(name=st.sampled_from(sorted(NETS)), h=st.integers(64, 300), n=st.integers(1, 8))
def test_bytes_scale_with_the_dtype(name, h, n):
    net = NETS[name]
    by_size = {size: net.memory(H=h, N=n, dtype=size, device="cpu", optimizer="momentum") for size in (1, 2, 4, 8)}
    for field in ("params_bytes", "grads_bytes", "optimizer_bytes", "peak_inference_bytes"):
        assert {getattr(m, field) for m in by_size.values()} == {size * getattr(by_size[1], field) for size in by_size}
    # on the CPU everything saved is in the dtype but max-pool indices (int64): affine in the element size
    saved = {size: m.saved_bytes for size, m in by_size.items()}
    indices = 8 * by_size[1].saved_elements["index"]
    assert all(saved[size] - indices == size * (saved[1] - indices) for size in saved)
    # buffers: running statistics in the dtype, one int64 counter per batch norm
    counters = by_size[1].buffers_bytes - (by_size[2].buffers_bytes - by_size[1].buffers_bytes)
    assert all(by_size[s].buffers_bytes == counters + s * (by_size[2].buffers_bytes - by_size[1].buffers_bytes) for s in by_size)


SYMBOLS = [H, W, N]
atoms = st.sampled_from([H, W, N, FloorDiv(H, 2), FloorDiv(W + 1, 2), FloorDiv(H, 32), FloorDiv(3 * H + 1, 4)])
monomials = st.lists(atoms, min_size=1, max_size=3).map(lambda factors: sympy.Mul(*factors))
polynomials = st.lists(st.tuples(st.integers(-20, 20), monomials), min_size=1, max_size=5).map(
    lambda terms: sympy.expand(sympy.Add(*[c * m for c, m in terms]) + 0)
)


@settings(max_examples=200)
@given(expr=polynomials, sizes=st.lists(st.tuples(st.integers(1, 70), st.integers(1, 70), st.integers(1, 9)), min_size=10, max_size=10))
def test_dominance_proofs_are_sound(expr, sizes):
    """Whatever the peak's pruning claims >= 0 is >= 0 at every sampled size (Python ints, `//`)."""
    if _never_negative(expr):
        evaluate = compile_exprs(SYMBOLS, [expr])
        assert all(evaluate(h, w, n)[0] >= 0 for h, w, n in sizes)


def test_dominance_proofs_succeed_on_what_vgg_needs():
    # conv1_2 (two full maps) beats pool1 (one full map and a quarter map), at every size
    assert _never_negative(128 * H * W * N - 64 * H * W * N - 64 * N * FloorDiv(H, 2) * FloorDiv(W, 2))
    assert not _never_negative(128 * H * W * N - 8192 * N)  # false at H = W = 1
    assert not _never_negative(FloorDiv(H, 2) - 1)  # 0 at H = 1


# -- the command line --------------------------------------------------------------------


def test_table_training_breakdown_on_the_command_line():
    """``table vgg16 --H 224 --batch 32 --dtype fp16 --training --optimizer adam``, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "costgraph", "table", "vgg16", "--H", "224", "--batch", "32", "--dtype", "fp16",
         "--training", "--optimizer", "adam"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in result.stdout.splitlines()
             if line.startswith("| ") and line.count("|") >= 4}
    params = 138_357_544
    kept = vgg16_saved_by_hand(224)
    saved = 32 * (2 * kept["activation"] + 8 * kept["index"] + kept["mask"])
    assert lines["parameters"] == f"{2 * params:,}"
    assert lines["optimizer state (adam)"] == f"{4 * params:,}"
    assert lines["saved for backward"] == f"{saved:,}"
    assert lines["**training step total**"] == f"{8 * params + saved:,}"
    assert lines["peak inference activations"] == f"{32 * 2 * 2 * 64 * 224 * 224:,}"
    assert "training step 1.5T = 2.99 x forward" in result.stdout


def test_table_training_needs_markdown():
    result = subprocess.run(
        [sys.executable, "-m", "costgraph", "table", "vgg16", "--training", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("costgraph: error: --training prints a Markdown breakdown")


def test_every_kind_in_costgraph_declares_its_training_rules():
    """A kind added to costgraph without `saved_tensors`/`backward_macs` fails here, not silently at 0."""
    import importlib

    from costgraph.kinds import KINDS
    from costgraph.kinds.activation import Elementwise

    missing = []
    for name, cls in sorted(KINDS.items()):
        module = importlib.import_module(cls.__module__)
        if not cls.__module__.startswith("costgraph.") or getattr(module, cls.__name__, None) is not cls:
            continue  # a user's kind, or one a doctest registers
        if cls.saved_tensors is LayerKind.saved_tensors or (
            issubclass(cls, Elementwise) and cls.saves is None and cls.saved_tensors is Elementwise.saved_tensors
        ):
            missing.append(f"{name}.saved_tensors")
        if cls.backward_macs is LayerKind.backward_macs:
            missing.append(f"{name}.backward_macs")
    assert not missing
