"""Serving costs (KV cache, decode step, generation) against hand derivations and Hugging Face.

Ground truth:

* the KV cache of Llama-2-7B, derived by hand in the test (issue 14's figure);
* Hugging Face's own cache: the bytes of the key and value tensors a
  ``DynamicCache`` holds after a real prefill (CPU, random weights);
* Hugging Face's forward of one token with a cache of ``S - 1``, and its
  ``generate``, counted by ``FlopCounterMode`` (MACs = its FLOPs // 2) with
  eager attention on the CPU (eager attention is ``matmul``, which it counts;
  SDPA on the CPU it counts as 0, see tests/test_torch_transformers.py).

The models are small (1-2 layers) but of realistic width, with grouped-query
attention for Llama; building and running them takes a few seconds.
"""

import logging

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from costgraph import N, S
from costgraph.errors import CostGraphError, UnknownSizeError
from costgraph.inference import G, P, decode_network, sum_of_min
from costgraph.kinds import Linear
from costgraph.models import decoder, gpt2, llama2_7b

from .support import require, require_torch


def test_llama2_7b_kv_cache_by_hand():
    """Issue 14: 2 (K and V) x 32 layers x 4096 positions x 4096 (32 heads x 128) x 2 bytes (fp16)."""
    assert llama2_7b().kv_cache_bytes(dtype="fp16", S=4096, N=1) == 2 * 32 * 4096 * 4096 * 2 == 2_147_483_648


def test_grouped_query_attention_shrinks_the_cache_by_heads_over_kv_heads():
    """The same shape with 8 key/value heads for 32 query heads: a quarter of the cache (by hand)."""
    gqa = llama2_7b(kv_heads=8)
    assert gqa.kv_cache_bytes(S=4096) * 4 == llama2_7b().kv_cache_bytes(S=4096)
    # symbolic: 2 x 32 layers x 8 heads x 128 x 2 bytes per position and sequence
    assert gqa.kv_cache_bytes() == 2 * 32 * 8 * 128 * 2 * N * S


def test_cache_of_a_fused_block_model_is_its_parts_cache():
    """blocks="fused" (one node per attention) is read in its parts form: the same model, the same cache."""
    parts = decoder(2, 64, 8, kv_heads=2, vocab=100)
    fused = decoder(2, 64, 8, kv_heads=2, vocab=100, blocks="fused")
    assert fused.kv_cache_bytes(dtype="fp32") == parts.kv_cache_bytes(dtype="fp32") == 2 * 2 * 2 * 8 * 4 * N * S


def test_decode_step_by_hand_and_why_totals_at_one_undercounts():
    """GPT-2 small, one token at context S (by hand): per layer the 12 d^2 weights of a token and
    2 S d for Q K^T and weights x V over S keys; then the head.  totals(S=1) attends to one key."""
    net = gpt2("small")
    d, vocab = 768, 50257
    assert net.decode_step().macs == sympy.expand(N * (12 * (12 * d * d + 2 * S * d) + d * vocab))
    assert net.decode_step(S=1024, N=4).macs - net.totals(S=1, N=4).macs == 4 * 12 * 2 * 1023 * d
    assert decode_network(net).shape("h.0.attn.cat_key") == (N, 12, S, 64)


@pytest.mark.parametrize("options", [dict(attention_kernel="fused"), dict(blocks="fused"), dict(skip_masked=True)])
def test_decode_step_is_the_same_for_every_form_of_the_model(options):
    """One query sees every cached key: a fused kernel, one-node blocks and a causal-aware count all
    multiply it by S keys, so the step's MACs are those of the eager parts form (Llama-shaped, GQA)."""
    shape = dict(norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False, fused_qkv=False,
                 dropout=False, names="llama")
    eager = decoder(2, 256, 8, 2, 688, 1000, **shape)
    other = decoder(2, 256, 8, 2, 688, 1000, **shape, **options)
    assert sympy.expand(other.decode_step().macs - eager.decode_step().macs) == 0


def test_decode_step_refuses_an_empty_cache_and_unknown_keywords():
    net = gpt2("small")
    with pytest.raises(CostGraphError, match="S >= 2"):
        net.decode_step(S=1)
    with pytest.raises(UnknownSizeError, match="decode_step\\(\\) accepts dtype and the sizes S, N"):
        net.decode_step(S=8, master_dtype="bf16")
    with pytest.raises(CostGraphError, match="1025"):  # beyond GPT-2's 1024 learned positions
        net.decode_step(S=1025)
    with pytest.raises(CostGraphError, match="transformer builder"):
        from costgraph.models import vgg16

        vgg16().decode_step(S=4)
    extended = gpt2("small")
    extended.add("extra", Linear(50257, 10))  # no longer what the builder made: not rebuilt without it
    with pytest.raises(CostGraphError, match="transformer builder"):
        extended.decode_step(S=4)


def test_generation_closed_form_equals_the_loop():
    """The folded sum equals prompt + each decode step, summed in a Python loop, at several P, G, N."""
    net = decoder(2, 64, 8, kv_heads=2, vocab=100, max_positions=256)
    # the prompt's head runs on its last position only (generate passes logits_to_keep=1): the
    # other p - 1 positions' head products (d x vocab MACs, 2 FLOPs each) and logits are not made
    head = {"macs": 64 * 100, "flops": 2 * 64 * 100, "activations": 100}
    for p, g, n in [(1, 1, 1), (5, 1, 2), (1, 9, 1), (17, 33, 3), (100, 150, 2)]:
        got = net.generation(P=p, G=g, N=n)
        for field, per_token in head.items():
            prompt = getattr(net.totals(S=p, N=n), field) - (p - 1) * n * per_token
            steps = sum(getattr(net.decode_step(S=s, N=n), field) for s in range(p + 1, p + g))
            assert getattr(got, field) == prompt + steps, (field, p, g, n)
    formula = net.generation().macs
    assert formula.free_symbols == {P, G, N}
    assert formula.xreplace({P: 17, G: 33, N: 3}) == net.generation(P=17, G=33, N=3).macs


# -- against Hugging Face ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


LLAMA = dict(hidden_size=256, intermediate_size=688, num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2,
             vocab_size=1000, max_position_embeddings=256)
GPT2 = dict(n_embd=256, n_layer=2, n_head=4, vocab_size=1000, n_positions=256)


def ours(family):
    if family == "llama":  # grouped-query: 8 query heads share 2 key/value heads
        return decoder(2, 256, 8, 2, 688, 1000, norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False,
                       fused_qkv=False, dropout=False, names="llama")
    return decoder(2, 256, 4, vocab=1000, max_positions=256)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair(request, hf):
    torch = require_torch()
    family = request.param
    config_class, model_class = {"gpt2": ("GPT2Config", "GPT2LMHeadModel"), "llama": ("LlamaConfig", "LlamaForCausalLM")}[family]
    config = getattr(hf, config_class)(bos_token_id=None, eos_token_id=None, attn_implementation="eager",
                                       **(LLAMA if family == "llama" else GPT2))
    model = getattr(hf, model_class)(config).eval()  # CPU, random weights: a real prefill fills a real cache
    net = ours(family)
    assert net.totals().params == sum(p.numel() for p in model.parameters())
    return torch, model, net


def _counted_macs(torch, fn):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def _prefill(torch, model, n, length):
    with torch.no_grad():
        out = model(input_ids=torch.zeros(n, length, dtype=torch.long), use_cache=True)
    cache = getattr(out, "cache", None) or out.past_key_values
    assert cache.get_seq_length() == length
    return cache


@pytest.mark.parametrize("s,n", [(2, 1), (9, 2), (64, 1), (130, 2)])
def test_decode_step_and_cache_match_hugging_face(pair, s, n):
    """One token after a prefill of s - 1 (a real DynamicCache), counted by FlopCounterMode; and the
    cache's key and value tensors after the prefill (s - 1 positions, fp32) in bytes."""
    torch, model, net = pair
    cache = _prefill(torch, model, n, s - 1)
    stored = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    assert net.kv_cache_bytes(dtype="fp32", S=s - 1, N=n) == stored
    token = torch.zeros(n, 1, dtype=torch.long)
    macs = _counted_macs(torch, lambda: model(input_ids=token, cache=cache, use_cache=True))
    assert net.decode_step(S=s, N=n).macs == macs


@pytest.mark.parametrize("p,g,n", [(5, 4, 2), (31, 7, 1)])
def test_generation_matches_hugging_face_generate(pair, p, g, n):
    """generate(max_new_tokens=G) with greedy decoding (exactly G new tokens), counted by
    FlopCounterMode: the prompt's forward (head on the last position) and G - 1 decode steps."""
    torch, model, net = pair
    ids = torch.zeros(n, p, dtype=torch.long)
    run = lambda: model.generate(ids, max_new_tokens=g, min_new_tokens=g, do_sample=False, pad_token_id=0)  # noqa: E731
    assert net.generation(P=p, G=g, N=n).macs == _counted_macs(torch, run)


# -- sliding windows: a sum of min over decode steps, folded ----------------------------------------


@settings(max_examples=300, deadline=None, derandomize=True)
@given(a=st.integers(-40, 60), length=st.integers(0, 50), c=st.integers(-60, 120))
def test_sum_of_min_equals_a_python_loop(a, length, c):
    """sum_{k=a}^{b} min(k, c) (b = a + length - 1; length 0 is the empty range), the closed form
    derived in costgraph.inference.sum_of_min, against the loop; and as a formula in S, substituted."""
    b = a + length - 1
    expected = sum(min(k, c) for k in range(a, b + 1))
    assert sum_of_min(a, b, c) == expected
    assert sum_of_min(S + a, S + b, c).xreplace({S: 0}) == expected


def sliding(layers=1):
    """Mistral's layout, narrow, with a window of 8 (HF: MistralConfig(sliding_window=8))."""
    from costgraph.models.llm_zoo import CONFIGS

    return decoder(**{**CONFIGS["mistral_7b"], "d_model": 64, "d_ff": 96, "vocab": 500, "layers": layers, "heads": 4,
                      "kv_heads": 2, "sliding_window": 8})


def test_sliding_window_generation_closed_form_equals_the_loop():
    """Before: generation() refused sliding-window models (a decode step's cost has min(S - 1, 7)
    cached keys, not a polynomial in S).  The fold equals prompt + each decode step, summed in a
    loop, on both sides of the window (P + G - 1 from 1 to 60 against a window of 8)."""
    net = sliding()
    head = {"macs": 64 * 500, "flops": 2 * 64 * 500, "activations": 500}  # the prompt's head: last position only
    for p, g, n in [(1, 1, 1), (3, 1, 2), (2, 5, 1), (5, 10, 2), (7, 3, 1), (8, 2, 1), (20, 4, 3), (1, 60, 1)]:
        got = net.generation(P=p, G=g, N=n)
        for field, per_token in head.items():
            prompt = getattr(net.totals(S=p, N=n), field) - (p - 1) * n * per_token
            steps = sum(getattr(net.decode_step(S=s, N=n), field) for s in range(p + 1, p + g))
            assert getattr(got, field) == prompt + steps, (field, p, g, n)
    assert net.generation().macs.free_symbols == {P, G, N}


@pytest.mark.parametrize("p,g,n", [(5, 10, 2), (20, 4, 1)])
def test_sliding_window_generation_matches_hugging_face_generate(hf, p, g, n):
    """HF's MistralForCausalLM (eager attention, sliding_window=8, 2 layers, CPU, random weights):
    generate(max_new_tokens=G) counted by FlopCounterMode; (5, 10) crosses the window while
    decoding, (20, 4) starts past it."""
    torch = require_torch()
    config = hf.MistralConfig(bos_token_id=None, eos_token_id=None, num_hidden_layers=2, attn_implementation="eager",
                              hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4,
                              num_key_value_heads=2, sliding_window=8, tie_word_embeddings=False)
    model = hf.MistralForCausalLM(config).eval()
    net = sliding(layers=2)
    assert net.totals().params == sum(t.numel() for t in model.parameters())
    ids = torch.zeros(n, p, dtype=torch.long)
    run = lambda: model.generate(ids, max_new_tokens=g, min_new_tokens=g, do_sample=False, pad_token_id=0)  # noqa: E731
    assert net.generation(P=p, G=g, N=n).macs == _counted_macs(torch, run)
