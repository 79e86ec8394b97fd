"""Decode steps of the zoo's architectures against Hugging Face's cached step (llm-models x llm-runtime).

Each zoo family's options (q/k/v-only biases, partial rotary, parallel
attention + MLP, multi-query with head_dim != d_model / heads, learned
positions with an offset, a sliding window, a mixture of experts) at a
narrow width, 1 layer, on the CPU with random weights: a real prefill of
S - 1 tokens fills a real cache, and FlopCounterMode counts HF's forward of
one more token.  Sources: Hugging Face's models and FlopCounterMode; the
window figures are what HF does (measured): its sliding-window cache keeps
the last ``window - 1`` positions (``kv_cache_bytes``), so a step attends
to ``min(S, window)`` keys.
Mixtral runs its ``eager`` experts loop (real routing on the CPU): HF's
default ``grouped_mm`` path is not counted by FlopCounterMode at all.
"""

import logging

import pytest

from costgraph.models import decoder
from costgraph.models.llm_zoo import CONFIGS

from .support import require, require_torch

torch = require_torch()
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

NARROW = dict(d_model=64, d_ff=96, vocab=500, layers=1)

#: zoo entry -> (HF config class, model class, HF config at a narrow width, our overrides of CONFIGS)
CASES = {
    "qwen2_0_5b": ("Qwen2Config", "Qwen2ForCausalLM", dict(
        hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, num_key_value_heads=2,
        tie_word_embeddings=True), dict(heads=4, kv_heads=2)),
    "pythia_160m": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(
        hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, rotary_pct=0.25, hidden_act="gelu",
        use_parallel_residual=True, tie_word_embeddings=False), dict(heads=4, kv_heads=4, rotary_dim=4)),
    "falcon_7b": ("FalconConfig", "FalconForCausalLM", dict(
        hidden_size=64, vocab_size=500, num_attention_heads=4, multi_query=True, parallel_attn=True,
        new_decoder_architecture=False, bias=False, alibi=False), dict(heads=4, kv_heads=1, d_ff=256)),
    "gemma_2b": ("GemmaConfig", "GemmaForCausalLM", dict(
        hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, num_key_value_heads=1, head_dim=32,
        hidden_act="gelu_pytorch_tanh"), dict(heads=4, kv_heads=1, head_dim=32)),
    "opt_125m": ("OPTConfig", "OPTForCausalLM", dict(
        hidden_size=64, ffn_dim=96, vocab_size=500, num_attention_heads=4, max_position_embeddings=64,
        word_embed_proj_dim=64, activation_function="relu"), dict(heads=4, kv_heads=4, max_positions=64)),
    "mistral_7b": ("MistralConfig", "MistralForCausalLM", dict(
        hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, num_key_value_heads=2,
        sliding_window=8, tie_word_embeddings=False), dict(heads=4, kv_heads=2, sliding_window=8)),
    "mixtral_8x7b": ("MixtralConfig", "MixtralForCausalLM", dict(
        hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, num_key_value_heads=2,
        num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False, experts_implementation="eager"),
        dict(heads=4, kv_heads=2, experts=4)),
}


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


def counted_macs(fn):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", list(CASES))
def test_decode_step_matches_hugging_face(hf, name):
    """The cache's bytes after a prefill of s - 1 tokens, and the MACs of one more token."""
    config_class, model_class, config, overrides = CASES[name]
    cfg = getattr(hf, config_class)(bos_token_id=None, eos_token_id=None, num_hidden_layers=1,
                                    attn_implementation="eager", **config)
    model = getattr(hf, model_class)(cfg).eval()
    net = decoder(**{**CONFIGS[name], **NARROW, **overrides})
    assert net.totals().params == sum(p.numel() for p in model.parameters())
    for s, n in ((5, 2), (20, 1)):  # 20 is past Mistral's window of 8
        with torch.no_grad():
            out = model(input_ids=torch.zeros(n, s - 1, dtype=torch.long), use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values
        stored = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
        assert net.kv_cache_bytes(dtype="fp32", S=s - 1, N=n) == stored, (name, s, n)
        token = torch.zeros(n, 1, dtype=torch.long)
        macs = counted_macs(lambda: model(input_ids=token, cache=cache, use_cache=True))
        assert net.decode_step(S=s, N=n).macs == macs, (name, s, n)
