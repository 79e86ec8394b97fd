"""The decoder-only LLM zoo against Hugging Face ``transformers`` (5.24) models built from their configs.

Source of every expected number: the Hugging Face model built on the meta
device from the published ``config.json`` values written below (hub name in
each comment; nothing is downloaded), and ``FlopCounterMode`` on its eager
forward (``attn_implementation="eager"``), 2 FLOPs per MAC of every ``mm``,
``addmm``, ``bmm``.  To keep CI fast, the models are built 1 and 2 layers
deep at their real widths: parameters of a uniform stack are affine in the
depth, so HF's counts at 1 and 2 layers give HF's count at full depth
exactly, which must equal costgraph's full model (and, for Mixtral, the
46,702,792,704 Hugging Face reports).  MACs are compared at two sequence
lengths, batch 2, on the 2-layer model.

What HF computes, where it is not obvious:

* Mistral's sliding window is a mask on the full ``S x S`` scores (eager),
  so the MACs are the full matrix's, whatever the window;
* Mixtral's experts: HF's default ``grouped_mm`` path is not counted by
  FlopCounterMode at all, and the ``eager`` loop needs real routing
  (``nonzero()``) and cannot run on meta, so the test runs the
  ``experts_implementation="batched_mm"`` path, which multiplies each token
  by exactly its top-2 experts' weights (``bmm`` per (token, expert)):
  FlopCounterMode then counts the routed MACs, which must equal the hand
  derivation in `test_mixtral_routed_macs_by_hand`;
  `test_mixtral_experts_paths_under_flop_counter` runs all three paths on
  the CPU with real routing.
"""

import logging

import pytest

from costgraph import CostGraphError
from costgraph.models import (
    decoder,
    falcon_7b,
    gemma_2b,
    llama3_8b,
    llama3_70b,
    mistral_7b,
    mixtral_8x7b,
    opt_125m,
    phi3_mini,
    pythia_160m,
    qwen2_0_5b,
    qwen2_7b,
)

from .differential import meta
from .support import require, require_torch

torch = require_torch()
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


def counted_macs(model, n, s):
    ids = torch.zeros(n, s, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2


def params(module):
    return sum(p.numel() for p in module.parameters())


#: zoo builder, HF config and model classes, published config.json values (depth as num_hidden_layers)
ZOO = {
    # mistralai/Mistral-7B-v0.1
    "mistral_7b": (mistral_7b, "MistralConfig", "MistralForCausalLM", 32, dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
        sliding_window=4096, rms_norm_eps=1e-5, max_position_embeddings=32768, tie_word_embeddings=False)),
    # meta-llama/Meta-Llama-3-8B
    "llama3_8b": (llama3_8b, "LlamaConfig", "LlamaForCausalLM", 32, dict(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
        rms_norm_eps=1e-5, max_position_embeddings=8192, tie_word_embeddings=False)),
    # meta-llama/Meta-Llama-3-70B
    "llama3_70b": (llama3_70b, "LlamaConfig", "LlamaForCausalLM", 80, dict(
        vocab_size=128256, hidden_size=8192, intermediate_size=28672, num_attention_heads=64, num_key_value_heads=8,
        rms_norm_eps=1e-5, max_position_embeddings=8192, tie_word_embeddings=False)),
    # Qwen/Qwen2-0.5B
    "qwen2_0_5b": (qwen2_0_5b, "Qwen2Config", "Qwen2ForCausalLM", 24, dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_attention_heads=14, num_key_value_heads=2,
        rms_norm_eps=1e-6, max_position_embeddings=32768, tie_word_embeddings=True)),
    # Qwen/Qwen2-7B
    "qwen2_7b": (qwen2_7b, "Qwen2Config", "Qwen2ForCausalLM", 28, dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_attention_heads=28, num_key_value_heads=4,
        rms_norm_eps=1e-6, max_position_embeddings=131072, tie_word_embeddings=False)),
    # microsoft/Phi-3-mini-4k-instruct
    "phi3_mini": (phi3_mini, "Phi3Config", "Phi3ForCausalLM", 32, dict(
        vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_attention_heads=32, num_key_value_heads=32,
        rms_norm_eps=1e-5, max_position_embeddings=4096, tie_word_embeddings=False, pad_token_id=32000)),
    # google/gemma-2b
    "gemma_2b": (gemma_2b, "GemmaConfig", "GemmaForCausalLM", 18, dict(
        vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_attention_heads=8, num_key_value_heads=1,
        head_dim=256, hidden_act="gelu_pytorch_tanh", rms_norm_eps=1e-6, max_position_embeddings=8192)),
    # facebook/opt-125m
    "opt_125m": (opt_125m, "OPTConfig", "OPTForCausalLM", 12, dict(
        vocab_size=50272, hidden_size=768, ffn_dim=3072, num_attention_heads=12, max_position_embeddings=2048,
        do_layer_norm_before=True, word_embed_proj_dim=768, activation_function="relu", enable_bias=True)),
    # EleutherAI/pythia-160m
    "pythia_160m": (pythia_160m, "GPTNeoXConfig", "GPTNeoXForCausalLM", 12, dict(
        vocab_size=50304, hidden_size=768, intermediate_size=3072, num_attention_heads=12, rotary_pct=0.25,
        hidden_act="gelu", use_parallel_residual=True, max_position_embeddings=2048, tie_word_embeddings=False)),
    # tiiuae/falcon-7b
    "falcon_7b": (falcon_7b, "FalconConfig", "FalconForCausalLM", 32, dict(
        vocab_size=65024, hidden_size=4544, num_attention_heads=71, multi_query=True, parallel_attn=True,
        new_decoder_architecture=False, bias=False, alibi=False)),
    # mistralai/Mixtral-8x7B-v0.1
    "mixtral_8x7b": (mixtral_8x7b, "MixtralConfig", "MixtralForCausalLM", 32, dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
        num_local_experts=8, num_experts_per_tok=2, rms_norm_eps=1e-5, max_position_embeddings=32768,
        tie_word_embeddings=False, experts_implementation="batched_mm")),
}

#: the two sequence lengths of the MACs comparison: one short, one past no limit of any model
LENGTHS = (5, 33)


def hf_model(hf, config_class, model_class, layers, config):
    quiet = {"bos_token_id": None, "eos_token_id": None}
    cfg = getattr(hf, config_class)(**quiet, **config, num_hidden_layers=layers, attn_implementation="eager")
    with meta():
        return getattr(hf, model_class)(cfg).eval()


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_entry_matches_hugging_face(hf, name):
    """Parameters at full depth (from HF at 1 and 2 layers) and MACs at two lengths, batch 2."""
    build, config_class, model_class, depth, config = ZOO[name]
    one, two = (hf_model(hf, config_class, model_class, layers, config) for layers in (1, 2))
    per_layer = params(two) - params(one)
    assert build().totals().params == params(one) + (depth - 1) * per_layer
    net = build(layers=2)
    assert net.totals().params == params(two)
    for s in LENGTHS:
        assert net.totals(S=s, N=2).macs == counted_macs(two, 2, s), (name, s)


def test_mixtral_matches_hugging_face_count():
    """Hugging Face's reported parameter count of Mixtral-8x7B (the issue's figure)."""
    assert mixtral_8x7b().totals().params == 46_702_792_704


def test_mixtral_routed_macs_by_hand():
    """Per token per layer, by hand: attention projections q, o (4096^2 each) and k, v
    (4096 x 1024 each), the router (4096 x 8), two SwiGLU experts (2 x 3 x 4096 x 14336);
    attention scores and weights x V over S keys (2 x 32 heads x 128 x S); plus the head.
    Active parameters: total minus 6 idle experts per layer."""
    s, n = 64, 2
    layer = 2 * 4096**2 + 2 * 4096 * 1024 + 4096 * 8 + 2 * 3 * 4096 * 14336 + 2 * 32 * 128 * s
    t = mixtral_8x7b().totals(S=s, N=n)
    assert t.macs == n * s * (32 * layer + 4096 * 32000)
    assert t.active_params == 46_702_792_704 - 32 * 6 * 3 * 4096 * 14336
    dense = llama3_8b().totals()
    assert dense.active_params == dense.params


def test_sliding_window_counts():
    """Mistral with skip_masked=True counts only the window's pairs: query i sees min(i + 1, w)
    keys.  At S <= w that is the causal triangle; past it, w per further query."""
    w, s = 4, 9
    net = mistral_7b(layers=1, sliding_window=w, skip_masked=True)
    causal = mistral_7b(layers=1, sliding_window=None, skip_masked=True)
    pairs = sum(min(i + 1, w) for i in range(s))  # 1 + 2 + 3 + 4 * 6 = 30
    triangle = s * (s + 1) // 2  # 45
    per_pair = 32 * 2 * 128  # heads x (Q K^T + weights x V) x head_dim
    assert causal.totals(S=s).macs - net.totals(S=s).macs == (triangle - pairs) * per_pair
    assert net.totals(S=3).macs == causal.totals(S=3).macs


def test_unknown_builder_option_lists_the_accepted_ones():
    with pytest.raises(CostGraphError, match="unknown option 'master_dtype'; accepted: .*rotary_dim"):
        llama3_8b(master_dtype="fp32")
    with pytest.raises(CostGraphError, match="unknown option 'window'"):
        decoder(2, 64, 4, window=3)


def test_mixtral_experts_paths_under_flop_counter(hf):
    """A narrow Mixtral layer on the CPU with random weights (real routing): HF's eager experts
    loop and its batched_mm path both count exactly the routed MACs, whatever the routing; the
    default grouped_mm path counts nothing for the experts (no formula for torch._grouped_mm in
    FlopCounterMode, torch 2.13): the count falls short by exactly the routed experts' MACs,
    tokens x top_k x 3 x d x d_ff.  If this fails, torch or transformers changed; update
    costgraph/kinds/moe.py's docstring."""
    config = dict(hidden_size=64, intermediate_size=96, vocab_size=500, num_attention_heads=4, num_key_value_heads=2,
                  num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False, num_hidden_layers=1,
                  bos_token_id=None, eos_token_id=None, attn_implementation="eager")
    net = decoder(1, 64, 4, 2, 96, 500, norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False,
                  fused_qkv=False, dropout=False, names="llama", experts=4, top_k=2)
    ids = torch.randint(0, 500, (2, 7))
    counted = {}
    for path in ("eager", "batched_mm", "grouped_mm"):
        model = hf.MixtralForCausalLM(hf.MixtralConfig(**config, experts_implementation=path)).eval()
        assert net.totals().params == params(model)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(input_ids=ids)
        counted[path] = counter.get_total_flops() // 2
    routed = net.totals(S=7, N=2).macs
    assert counted["eager"] == counted["batched_mm"] == routed
    assert routed - counted["grouped_mm"] == 2 * 7 * 2 * 3 * 64 * 96


#: where our layer names differ from HF's modules, and why: Phi-3 packs gate and up into one
#: gate_up_proj (two nodes here, the same products); Mixtral's router and experts are one node
NAME_EXCEPTIONS = {
    "phi3_mini": ({"layers.0.mlp.gate_proj", "layers.0.mlp.up_proj"}, {"layers.0.mlp.gate_up_proj"}),
    "mixtral_8x7b": ({"layers.0.mlp"}, {"layers.0.mlp.experts", "layers.0.mlp.gate"}),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_layer_names_follow_hugging_face(hf, name):
    """Every layer with parameters is named as the HF module holding them (model prefix dropped)."""
    build, config_class, model_class, _, config = ZOO[name]
    model = hf_model(hf, config_class, model_class, 1, config)
    theirs = set()
    for parameter, _ in model.named_parameters():
        for prefix in ("model.decoder.", "model.", "gpt_neox.", "transformer."):
            if parameter.startswith(prefix):
                parameter = parameter[len(prefix):]
                break
        theirs.add(parameter.rsplit(".", 1)[0])
    ours = {row.name for row in build(layers=1).layers() if row.params and not row.shares}
    only_ours, only_theirs = NAME_EXCEPTIONS.get(name, (set(), set()))
    assert (ours - theirs, theirs - ours) == (only_ours, only_theirs)
