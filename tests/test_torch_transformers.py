"""Transformers against PyTorch: FlopCounterMode, Hugging Face's models, torchvision's ViT, autograd.

MACs: `torch.utils.flop_counter.FlopCounterMode` counts 2 FLOPs per MAC of
``mm``, ``addmm``, ``bmm`` (and a formula for the fused SDPA kernels).  On
the **meta** device it counts every product of an eager transformer: the
projections, ``torch.matmul`` of queries and keys (``bmm``), and
``F.scaled_dot_product_attention``, which on meta runs the math path
(``bmm`` again).  Where it undercounts (checked below, torch 2.13):

* on the **CPU**, ``F.scaled_dot_product_attention`` dispatches to
  ``_scaled_dot_product_flash_attention_for_cpu``, which has no registered
  formula: the attention core counts 0 (pytorch/pytorch#195460), so the total
  depends on the device;
* ``nn.MultiheadAttention`` in eval mode without autograd takes the fast path
  ``_native_multi_head_attention``: nothing counted at all, not even the
  projections.

So the differential tests run on meta, where nothing is computed either
(shapes only), and cost milliseconds.

Parameters: Hugging Face ``transformers`` models built from their configs on
the meta device (the test skips if transformers is absent, and fails under
CI=true).  ViT: the plain-torch twin of torchvision's (tests/twins).
Autograd: ``saved_tensors_hooks`` on the Megatron-layout GPT twin.
"""

import logging

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from costgraph.kinds import BatchMatMul, MatMul, MultiheadAttention, ScaledDotProductAttention
from costgraph.models import bert, decoder, gpt2, llama2_7b, vit_b_16, vit_b_32
from costgraph.models.transformer import encoder

from .differential import meta
from .support import require, require_torch

torch = require_torch()
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from .twins.transformers import MegatronGPT, VisionTransformer  # noqa: E402


def counted_macs(fn, *args):
    """MACs FlopCounterMode sees (its FLOPs are 2 per MAC), and which ops it saw."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*args)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2, {str(op) for op in counter.get_flop_counts().get("Global", {})}


def empty(*shape, device="meta"):
    return torch.empty(*shape, device=device)


# -- kinds ---------------------------------------------------------------------------------


@given(
    batch=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    broadcast=st.lists(st.booleans(), min_size=3, max_size=3),
    n=st.integers(1, 9),
    k=st.integers(1, 9),
    m=st.integers(1, 9),
)
def test_matmul_macs_match_flop_counter(batch, broadcast, n, k, m):
    """torch.matmul with broadcast batch dimensions (a 1 on either side)."""
    a_batch = tuple(1 if flip else d for d, flip in zip(batch, broadcast))
    b_batch = tuple(batch)
    a, b = a_batch + (n, k), b_batch + (k, m)
    out = MatMul().output_shape(tuple(map(sympy.Integer, a)), tuple(map(sympy.Integer, b)))
    assert out == tuple(torch.matmul(empty(*a), empty(*b)).shape)
    assert MatMul().macs(out, a, b) == counted_macs(torch.matmul, empty(*a), empty(*b))[0]
    if len(batch) == 1:
        assert BatchMatMul().macs(out, b_batch + (n, k), b) == counted_macs(torch.bmm, empty(*b_batch, n, k), empty(*b))[0]


@given(
    n=st.integers(1, 3), kv=st.integers(1, 3), group=st.integers(1, 3), sq=st.integers(1, 12),
    e=st.integers(1, 8), ev=st.integers(1, 8), causal=st.booleans(),
)
def test_sdpa_macs_match_flop_counter(n, kv, group, sq, e, ev, causal):
    """F.scaled_dot_product_attention on meta (the math path), grouped-query included;
    a causal mask changes nothing: torch computes every score."""
    q, k, v = (n, kv * group, sq, e), (n, kv, sq, e), (n, kv, sq, ev)
    kind = ScaledDotProductAttention(is_causal=causal, enable_gqa=group > 1)
    out = kind.output_shape(*[tuple(map(sympy.Integer, s)) for s in (q, k, v)])
    sdpa = torch.nn.functional.scaled_dot_product_attention
    result = sdpa(empty(*q), empty(*k), empty(*v), is_causal=causal, enable_gqa=group > 1)
    assert out == tuple(result.shape)
    macs, ops = counted_macs(lambda: sdpa(empty(*q), empty(*k), empty(*v), is_causal=causal, enable_gqa=group > 1))
    assert kind.macs(out, q, k, v) == macs


@given(heads=st.integers(1, 4), head_dim=st.integers(1, 8), s=st.integers(1, 16), n=st.integers(1, 3), bias=st.booleans())
def test_multihead_attention_matches_torch(heads, head_dim, s, n, bias):
    """nn.MultiheadAttention (batch first, self-attention), with autograd on so that it
    takes the path FlopCounterMode counts: parameters and MACs."""
    E = heads * head_dim
    with meta():
        module = torch.nn.MultiheadAttention(E, heads, bias=bias, batch_first=True)
    kind, x = MultiheadAttention(E, heads, bias=bias), (n, s, E)
    assert kind.weights(x) + kind.biases(x) == sum(p.numel() for p in module.parameters())
    with FlopCounterMode(display=False) as counter:
        module(empty(*x), empty(*x), empty(*x), need_weights=False)
    assert 2 * kind.macs(x, x) == counter.get_total_flops()


def test_where_flop_counter_undercounts_on_the_cpu():
    """The documented undercounts, on tiny CPU tensors (torch 2.13): CPU SDPA counts 0,
    and nn.MultiheadAttention's inference fast path counts nothing at all.  If this
    fails, PyTorch has fixed them; update the module docstring."""
    q = torch.randn(2, 4, 7, 8)
    assert counted_macs(torch.nn.functional.scaled_dot_product_attention, q, q, q) == (0, set())
    module = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(2, 7, 32)
    assert counted_macs(lambda: module(x, x, x, need_weights=False)) == (0, set())
    # on meta the same calls are counted in full
    macs, _ = counted_macs(torch.nn.functional.scaled_dot_product_attention, *[empty(2, 4, 7, 8)] * 3)
    assert macs == ScaledDotProductAttention().macs(None, (2, 4, 7, 8), (2, 4, 7, 8), (2, 4, 7, 8))


# -- Hugging Face transformers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


def hf_model(hf, family, eager=True, **config):
    classes = {"gpt2": ("GPT2Config", "GPT2LMHeadModel"), "bert": ("BertConfig", "BertModel"), "llama": ("LlamaConfig", "LlamaForCausalLM")}
    config_class, model_class = classes[family]
    quiet = {"bos_token_id": None, "eos_token_id": None} if family != "bert" else {}
    cfg = getattr(hf, config_class)(**quiet, **config, **({"attn_implementation": "eager"} if eager else {}))
    with meta():
        return getattr(hf, model_class)(cfg).eval()


def params(module):
    return sum(p.numel() for p in module.parameters())


FULL_SIZE = [
    (lambda: gpt2("small"), "gpt2", dict()),
    (lambda: gpt2("medium"), "gpt2", dict(n_embd=1024, n_layer=24, n_head=16)),
    (lambda: gpt2("large"), "gpt2", dict(n_embd=1280, n_layer=36, n_head=20)),
    (lambda: gpt2("xl"), "gpt2", dict(n_embd=1600, n_layer=48, n_head=25)),
    (lambda: bert("base"), "bert", dict()),
    (lambda: bert("large"), "bert", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)),
    (llama2_7b, "llama", dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)),
    (  # Llama 2 70B's shape: grouped-query attention with 8 key/value heads
        lambda: decoder(80, 8192, 64, 8, 28672, 32000, norm="rmsnorm", mlp="swiglu", positions="rotary",
                        tied=False, bias=False, fused_qkv=False, dropout=False, names="llama"),
        "llama",
        dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8, vocab_size=32000),
    ),
]


@pytest.mark.parametrize("build,family,config", FULL_SIZE, ids=["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "bert-base", "bert-large", "llama-2-7b", "llama-2-70b"])
def test_full_size_parameters_match_hugging_face(hf, build, family, config):
    """Each model's parameter count equals the Hugging Face model built from its config on meta."""
    assert build().totals().params == params(hf_model(hf, family, **config))


SMALL = dict(
    gpt2=(
        lambda **o: decoder(2, 32, 4, vocab=100, max_positions=64, **o),
        dict(n_embd=32, n_layer=2, n_head=4, vocab_size=100, n_positions=64),
    ),
    bert=(
        lambda **o: encoder(2, 32, 4, 48, vocab=100, max_positions=64, **o),
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, vocab_size=100, max_position_embeddings=64),
    ),
    llama=(  # grouped-query: 4 query heads share 2 key/value heads
        lambda **o: decoder(2, 32, 4, 2, 48, 100, norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False,
                            fused_qkv=False, dropout=False, names="llama", **o),
        dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100, max_position_embeddings=64),
    ),
)


@pytest.mark.parametrize("family", list(SMALL))
@pytest.mark.parametrize("blocks", ["parts", "fused"])
@settings(max_examples=8)
@given(s=st.integers(1, 64), n=st.integers(1, 3))
def test_macs_match_hugging_face_eager(hf, family, blocks, s, n):
    """Every product of HF's eager forward (projections, QK^T, weights x V, the head),
    counted by FlopCounterMode on meta, at drawn sequence lengths and batches."""
    build, config = SMALL[family]
    net = build(blocks=blocks)
    model = hf_model(hf, family, **config)
    assert net.totals().params == params(model)
    ids = torch.zeros(n, s, dtype=torch.long, device="meta")
    macs, _ = counted_macs(lambda: model(input_ids=ids))
    assert net.totals(S=s, N=n).macs == macs


def test_gpt2_small_macs_match_hugging_face_at_full_size(hf):
    """The real GPT-2 small, eager and SDPA attention (both counted on meta), at S = 128, N = 2."""
    for eager in (True, False):
        model = hf_model(hf, "gpt2", eager=eager)
        ids = torch.zeros(2, 128, dtype=torch.long, device="meta")
        assert gpt2("small").totals(S=128, N=2).macs == counted_macs(lambda: model(input_ids=ids))[0]


# -- torchvision's ViT (twin) -----------------------------------------------------------------------


@pytest.mark.parametrize("builder,config", [(vit_b_16, (16, 12, 12, 768, 3072)), (vit_b_32, (32, 12, 12, 768, 3072))])
@pytest.mark.parametrize("size", [32, 96, 224, 384])
def test_vit_matches_torchvision_twin(builder, config, size):
    """Params and MACs of torchvision's VisionTransformer built for `size` (the twin, on meta)."""
    if size % config[0]:
        pytest.skip("torchvision needs the size to be a multiple of the patch")
    with meta():
        twin = VisionTransformer(size, *config)
    net = builder()
    assert net.totals(H=size).params == params(twin)
    macs, _ = counted_macs(twin, empty(2, 3, size, size))
    assert net.totals(H=size, N=2).macs == macs


# -- autograd: what training keeps, against Korthikanti's accounting ---------------------------------


def saved_bytes_of(module, *inputs):
    """Bytes of the distinct non-parameter storages autograd keeps in a forward pass."""
    parameter_storages = {p.untyped_storage().data_ptr() for p in module.parameters()}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(*inputs)
    return sum(storages.values())


@pytest.mark.parametrize("s,n", [(8, 2), (5, 3)])
def test_saved_tensors_match_autograd_in_megatron_layout(s, n):
    """costgraph's memory model on GPT-2 (the rules Korthikanti et al. count with) equals
    what autograd keeps for a GPT-2 in Megatron's layout, on the CPU in fp32 (dropout's
    noise and LayerNorm's statistics in fp32 there)."""
    layers, hidden, heads, vocab, positions = 2, 16, 4, 50, 32
    twin = MegatronGPT(layers, hidden, heads, vocab, positions).train()
    net = decoder(layers, hidden, heads, vocab=vocab, max_positions=positions)
    ids = torch.randint(0, vocab, (n, s))
    expected = net.memory(dtype="fp32", device="cpu", S=s, N=n).saved_bytes
    assert saved_bytes_of(twin, ids) == expected
    assert params(twin) == net.totals().params
