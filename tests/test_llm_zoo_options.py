"""The architecture options of `decoder`/`encoder`, MoE and Kaplan's N, by hand derivation.

Each figure below is derived in the test from the architecture's definition
(the papers' and Hugging Face's module layouts); the differential tests
against Hugging Face are tests/test_llm_zoo.py and tests/test_llm_zoo_seq2seq.py.
The "issue 14" figures are what the builders got wrong before these options
existed (measured against HF by the issue's author) and must now be exactly
the options' effect.
"""

import pytest
import sympy

from costgraph import CostGraphError, S
from costgraph.kinds import MixtureOfExperts, RotaryEmbedding
from costgraph.models import decoder, encoder, falcon_7b, gpt2, llama3_8b, mixtral_8x7b, pythia_160m, qwen2_0_5b
from costgraph.models.llm_zoo import CONFIGS


def test_qkv_bias_adds_the_q_k_v_biases_only():
    """Qwen2-0.5B: 24 layers x (896 query + 2 x 128 key/value biases) = 27,648 (issue 14's gap)."""
    without = qwen2_0_5b(qkv_bias=False).totals().params
    assert qwen2_0_5b().totals().params - without == 24 * (896 + 2 * 128) == 27_648


def test_falcon_shares_one_norm_between_attention_and_mlp():
    """Falcon-7B with two norms per layer would have 32 x 2 x 4544 = 290,816 more (issue 14)."""
    two = falcon_7b(parallel="two_norms").totals().params
    assert two - falcon_7b().totals().params == 32 * 2 * 4544 == 290_816


def test_parallel_block_costs_what_the_sequential_one_does():
    """Parallel attention + MLP changes the wiring, not the work: with two norms it has the
    sequential block's parameters and MACs, and its two adds (attention + MLP, then the
    residual) replace the two residual adds: the same FLOPs."""
    config = dict(CONFIGS["pythia_160m"], layers=2)
    parallel, sequential = decoder(**config), decoder(**{**config, "parallel": None})
    assert parallel.totals().params == sequential.totals().params
    assert parallel.totals().macs == sequential.totals().macs
    assert parallel.totals().flops == sequential.totals().flops


def test_partial_rotary_rotates_a_quarter_of_each_head():
    """Pythia rotates 16 of 64 dimensions: rotary FLOPs are a quarter of full rotary (issue 14:
    '4x too high'), and the product counts are unchanged."""
    def rope_flops(net):
        return sum(r.flops for r in net.layers(S=10) if r.kind == "RotaryEmbedding")

    partial, full = pythia_160m(layers=1), pythia_160m(layers=1, rotary_dim=None)
    assert 4 * rope_flops(partial) == rope_flops(full) == 2 * RotaryEmbedding(64).other_flops((1, 12, 10, 64), None)
    assert partial.totals(S=10).macs == full.totals(S=10).macs


def test_rotary_dim_needs_rotary_and_fits_the_head():
    with pytest.raises(CostGraphError, match="rotary_dim=96"):
        decoder(1, 64, 1, positions="rotary", rotary_dim=96)
    with pytest.raises(CostGraphError, match="rotary_dim=16 needs rotary=True"):
        decoder(1, 64, 4, rotary_dim=16)
    with pytest.raises(CostGraphError, match="cannot express rotary_dim"):
        decoder(1, 64, 4, positions="rotary", rotary_dim=8, blocks="fused")


def test_distilbert_has_no_token_type_table():
    """BERT's token-type table with one type (RoBERTa) is 768 parameters (issue 14: DistilBERT +768)."""
    common = dict(vocab=30522, max_positions=512, pooler=False)
    assert encoder(6, 768, 12, 3072, type_vocab=1, **common).totals().params - encoder(
        6, 768, 12, 3072, type_vocab=0, **common
    ).totals().params == 768


def test_mlp_kinds_count_their_products_and_activations():
    """Per token and layer: ReLU and GELU MLPs 2 d d_ff MACs, gated ones (SwiGLU, GeGLU) 3 d d_ff;
    the activation's FLOPs per hidden element: ReLU 1, GELU 8, SiLU 5 (+1 gating product)."""
    d, ff = 32, 48
    costs = {}
    for mlp in ("relu", "gelu", "swiglu", "geglu"):
        t = decoder(1, d, 4, d_ff=ff, vocab=10, mlp=mlp, dropout=False).totals(S=1)
        costs[mlp] = (t.macs, t.flops)
    base = costs["relu"]
    assert costs["gelu"][0] == base[0]
    assert costs["swiglu"][0] - base[0] == costs["geglu"][0] - base[0] == d * ff
    assert costs["gelu"][1] - base[1] == (8 - 1) * ff
    # the extra matrix (2 FLOPs per MAC plus a bias add per output) and the activation/gating
    assert costs["geglu"][1] - costs["swiglu"][1] == (8 - 5) * ff


def test_embedding_scale_and_position_offset():
    """Gemma multiplies the embeddings by sqrt(d): one FLOP per element, no parameters; OPT's
    table has 2 more rows than positions (2050 x 768 for 2048)."""
    plain, scaled = decoder(1, 32, 4, vocab=10, positions="rotary"), decoder(1, 32, 4, vocab=10, positions="rotary", embed_scale=True)
    assert scaled.totals().params == plain.totals().params
    assert sympy.expand(scaled.totals().flops - plain.totals().flops) == 32 * S * sympy.Symbol("N", integer=True, positive=True)
    offset = decoder(1, 32, 4, vocab=10, max_positions=16, position_offset=2)
    assert offset.totals().params - decoder(1, 32, 4, vocab=10, max_positions=16).totals().params == 2 * 32


def test_mixture_of_experts_with_shared_experts():
    """DeepSeek-MoE-style: 64 routed experts of 32 (6 per token) and 2 shared experts of 64,
    SwiGLU, width 16.  Parameters: router 16 x 64, 64 experts x 3 x 16 x 32, 2 shared x 3 x 16 x 64;
    active: router, 6 routed, 2 shared; MACs per token the active weights."""
    moe = MixtureOfExperts(16, 32, experts=64, top_k=6, shared_experts=2, shared_d_ff=64)
    x = (1, 5, 16)
    router, expert, shared = 16 * 64, 3 * 16 * 32, 3 * 16 * 64
    assert moe.weights(x) == router + 64 * expert + 2 * shared
    assert moe.weights(x) - moe.inactive_params(x) == router + 6 * expert + 2 * shared
    assert moe.macs(x, x) == 5 * (router + 6 * expert + 2 * shared)
    with pytest.raises(CostGraphError, match="top_k=9 is more than experts=8"):
        MixtureOfExperts(16, 32, experts=8, top_k=9)
    with pytest.raises(CostGraphError, match="needs both experts= and top_k="):
        decoder(1, 32, 4, experts=8)


def test_mixtral_backward_is_twice_the_routed_forward_products():
    """Every routed product has a weight and an input gradient (the input of the first layer's
    MoE comes from the weights): backward MACs = 2 x forward MACs, as for a dense model."""
    t = mixtral_8x7b(layers=1).totals(S=8, backward=True)
    assert t.backward_macs == 2 * t.macs


def test_non_embedding_params_is_kaplans_n_with_biases_and_norms():
    """GPT-2 small: Kaplan's 2 d n_layer (2 d_attn + d_ff) = 84,934,656 weight-matrix entries,
    plus biases 12 x (3 x 768 + 768 + 3072 + 768) = 82,944 and norms 12 x 4 x 768 + 2 x 768
    = 38,400.  Llama 3 8B: the total minus its untied embedding and head (2 x 128256 x 4096)."""
    assert gpt2("small").non_embedding_params() == 84_934_656 + 82_944 + 38_400
    net = llama3_8b()
    assert net.non_embedding_params() == 8_030_261_248 - 2 * 128256 * 4096
    assert net.non_embedding_params(head=True) == 8_030_261_248 - 128256 * 4096


def test_forward_flops_per_token_is_kaplans_c_forward():
    """C_forward = 2N + 2 n_layer n_ctx d_attn (Kaplan et al. 2020, table 1): Llama 3 8B at 8192."""
    net = llama3_8b()
    n = 8_030_261_248 - 2 * 128256 * 4096
    assert net.forward_flops_per_token(8192) == 2 * n + 2 * 32 * 8192 * 4096
    assert net.forward_flops_per_token() == 2 * n + 2 * 32 * 4096 * S


def test_bad_option_values_are_errors():
    with pytest.raises(CostGraphError, match="position_offset must be an int >= 0"):
        decoder(1, 32, 4, position_offset=-1)
    with pytest.raises(CostGraphError, match="parallel must be one of"):
        decoder(1, 32, 4, parallel="both")
    with pytest.raises(CostGraphError, match="mlp must be one of"):
        decoder(1, 32, 4, mlp="swish")
    with pytest.raises(CostGraphError, match="window=4 needs causal=True"):
        decoder(1, 32, 4, causal=False, sliding_window=4)
