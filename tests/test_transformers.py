"""Transformers in costgraph alone: kinds, models, shared parameters, per-token FLOPs.

Expected values are hand derivations written here (each says how), or
published figures (cited).  Differential tests against PyTorch and Hugging
Face are in ``test_torch_transformers.py``; the published LLM formulas in
``test_llm_formulas.py``.
"""

import pytest
import sympy
from hypothesis import given, strategies as st

from costgraph import CostGraphError, DomainError, N, S, ShapeError, H, W, Network, size_symbol
from costgraph.intmath import FloorDiv
from costgraph.kinds import (
    BatchMatMul,
    CausalMask,
    ClassToken,
    Embedding,
    GatedMLP,
    Input,
    Linear,
    MatMul,
    MultiheadAttention,
    PositionalEmbedding,
    RMSNorm,
    RotaryEmbedding,
    ScaledDotProductAttention,
)
from costgraph.kinds.attention import causal_pairs
from costgraph.models import MODELS, bert, decoder, gpt2, llama2_7b, vit_b_16, vit_b_32, vit_h_14, vit_l_16, vit_l_32
from costgraph.models.transformer import GPT2_SIZES, backward_macs, token_flops

V = 50257  # GPT-2's vocabulary


def gpt2_params(layers, d, vocab=V, positions=1024):
    """Hand count of GPT2LMHeadModel's parameters (tied head counted once).

    Per layer: ln_1 and ln_2 (2d each), c_attn (3d^2 + 3d), attn c_proj (d^2 + d),
    mlp c_fc (4d^2 + 4d), mlp c_proj (4d^2 + d): 12 d^2 + 13 d.  Plus wte, wpe, ln_f.
    """
    return vocab * d + positions * d + layers * (12 * d * d + 13 * d) + 2 * d


# -- published parameter counts -------------------------------------------------------


def test_reference_parameter_counts():
    """The issue's figures: Hugging Face gpt2 and bert-base-uncased, torchvision's
    ViT_B_16_Weights.IMAGENET1K_V1 "num_params", Meta's Llama-2-7b (Touvron et al. 2023)."""
    assert gpt2("small").totals().params == 124_439_808
    assert bert("base").totals().params == 109_482_240
    assert vit_b_16().totals(H=224).params == 86_567_656
    assert llama2_7b().totals().params == 6_738_415_616


@pytest.mark.parametrize("size", list(GPT2_SIZES))
def test_gpt2_params_match_hand_count(size):
    layers, d, _ = GPT2_SIZES[size]
    assert gpt2(size).totals().params == gpt2_params(layers, d)


def test_llama_params_match_hand_count():
    """Per layer: q, k, v, o (4 d^2), gate, up, down (3 d d_ff), two RMSNorm weights (2d);
    embed_tokens and the untied lm_head (2 V d), the final norm (d)."""
    d, ff, vocab, layers = 4096, 11008, 32000, 32
    assert llama2_7b().totals().params == layers * (4 * d * d + 3 * d * ff + 2 * d) + 2 * vocab * d + d


@pytest.mark.parametrize(
    "builder,size,params",
    [
        # torchvision.models.vision_transformer weights metadata: (builder, min_size, num_params)
        (vit_b_16, 224, 86_567_656),
        (vit_b_16, 384, 86_859_496),  # IMAGENET1K_SWAG_E2E_V1, built for 384
        (vit_b_32, 224, 88_224_232),
        (vit_l_16, 224, 304_326_632),
        (vit_l_16, 512, 305_174_504),  # SWAG_E2E_V1 at 512
        (vit_l_32, 224, 306_535_400),
        (vit_h_14, 224, 632_045_800),  # SWAG_LINEAR_V1
        (vit_h_14, 518, 633_470_440),  # SWAG_E2E_V1 at 518
    ],
)
def test_vit_params_match_torchvision_metadata(builder, size, params):
    assert builder().totals(H=size).params == params


@pytest.mark.parametrize(
    "builder,size,gflops",
    [
        # torchvision's "_ops" (GFLOPS, which are MACs, as for its CNNs) in the weights metadata;
        # the docs table rounds ViT-B/16's to 17.56
        (vit_b_16, 224, "17.564"),
        (vit_b_16, 384, "55.484"),
        (vit_b_32, 224, "4.409"),
        (vit_l_16, 224, "61.555"),
        (vit_l_16, 512, "361.986"),
        (vit_l_32, 224, "15.378"),
        (vit_h_14, 224, "167.295"),
        (vit_h_14, 518, "1016.717"),
    ],
)
def test_vit_macs_match_torchvision_figures_to_the_digits_given(builder, size, gflops):
    """Rounded to the printed digits, in integers: |macs - figure * 1e9| <= half a unit of the last digit."""
    digits = len(gflops.split(".")[1])
    figure = int(gflops.replace(".", "")) * 10 ** (9 - digits)
    macs = builder().totals(H=size).macs
    assert 2 * abs(macs - figure) <= 10 ** (9 - digits)
    assert round(vit_b_16().totals(H=224).macs, -7) == 17_560_000_000  # the docs' 17.56


def test_vit_b_16_follows_h_and_w_symbolically():
    """Hand derivation: P = (H//16)(W//16) patches, T = P + 1 tokens, d = 768.
    conv_proj: P * d * (3*16*16); per layer: T * 12 d^2 (in_proj 3d^2, out_proj d^2, MLP 8d^2)
    + 2 T^2 d (scores and weighted sum); the head: d * 1000."""
    d, P = 768, FloorDiv(H, 16) * FloorDiv(W, 16)
    T = P + 1
    per_image = P * d * 768 + 12 * (T * 12 * d * d + 2 * T**2 * d) + d * 1000
    net = vit_b_16()
    assert sympy.expand(net.totals().macs - N * per_image) == 0
    position_rows = T
    assert sympy.expand(net.totals().params - (position_rows * d + 86_567_656 - 197 * d)) == 0
    # non-square, and a size that is not a multiple of 16 (the stride-16 conv drops the rest)
    for h, w in [(224, 320), (230, 161), (16, 16)]:
        p = (h // 16) * (w // 16)
        t = p + 1
        assert net.totals(H=h, W=w, N=3).macs == 3 * (p * d * 768 + 12 * (t * 12 * d * d + 2 * t * t * d) + d * 1000)


def test_vit_with_a_fixed_table_accepts_only_its_size():
    net = vit_b_16(image_size=224)
    assert net.totals(H=224).params == 86_567_656
    with pytest.raises(DomainError, match="encoder.pos_embedding"):
        net.totals(H=240)
    with pytest.raises(DomainError, match="encoder.pos_embedding"):
        net.totals(H=208)


# -- MACs of the language models -------------------------------------------------------


def gpt2_macs(layers, d, causal_count=False):
    """Hand count per forward: every weight matrix once per token (12 d^2 per layer, the
    tied head d*V), plus per layer and head Q K^T and weights x V: S^2 * d each over all
    heads, or S(S+1)/2 * d each when only the causal pairs are counted."""
    pairs = S * (S + 1) / 2 if causal_count else S**2
    return sympy.expand(N * S * (layers * 12 * d * d + d * V) + layers * N * 2 * pairs * d)


@pytest.mark.parametrize("size", ["small", "xl"])
def test_gpt2_macs_match_hand_count(size):
    layers, d, _ = GPT2_SIZES[size]
    assert sympy.expand(gpt2(size).totals().macs - gpt2_macs(layers, d)) == 0
    assert sympy.expand(gpt2(size, skip_masked=True).totals().macs - gpt2_macs(layers, d, True)) == 0


def test_causal_mask_does_not_halve_unless_asked():
    """The mask costs an add per score but no MACs are saved; skip_masked saves
    d * (S^2 - S) per layer per sequence: two products of S^2 - S(S+1)/2 pairs each."""
    layers, d = 12, 768
    full, causal = gpt2("small").totals(), gpt2("small", skip_masked=True).totals()
    assert sympy.expand(full.macs - causal.macs - layers * N * d * (S**2 - S)) == 0
    unmasked = decoder(12, 768, 12, causal=False).totals()
    assert unmasked.macs == full.macs
    # the mask's add, one per score: heads * S^2 per layer
    assert sympy.expand(full.flops - unmasked.flops - layers * 12 * N * S**2) == 0


def test_totals_at_sizes():
    """The issue's example: totals(S=1024, N=8), and the 1024 learned positions enforced."""
    t = gpt2("small").totals(S=1024, N=8)
    assert t.macs == gpt2_macs(12, 768).subs({S: 1024, N: 8})
    assert t.params == 124_439_808
    with pytest.raises(DomainError, match="wpe"):
        gpt2("small").totals(S=1025)


def test_bert_macs_match_hand_count():
    """Per layer: query/key/value/output (4 d^2) and the MLP (2 d d_ff) per token, plus
    2 S^2 d; the pooler's d^2 once per sequence.  BERT-base: d = 768, d_ff = 3072."""
    d, ff, layers = 768, 3072, 12
    expected = N * S * layers * (4 * d * d + 2 * d * ff) + layers * 2 * N * S**2 * d + N * d * d
    assert sympy.expand(bert("base").totals().macs - expected) == 0


def test_llama_macs_match_hand_count():
    """Per layer per token 4 d^2 + 3 d d_ff; the head d V; attention 2 S^2 d per layer."""
    d, ff, vocab, layers = 4096, 11008, 32000, 32
    expected = N * S * (layers * (4 * d * d + 3 * d * ff) + d * vocab) + layers * 2 * N * S**2 * d
    assert sympy.expand(llama2_7b().totals().macs - expected) == 0


def test_grouped_query_attention():
    """kv_heads < heads shrinks k_proj and v_proj to kv_heads * head_dim columns: the
    parameters drop by 2 * layers * d * (heads - kv_heads) * head_dim, and so do the
    projection MACs per token; the attention core is per query head, unchanged."""
    layers, d, heads, kv, head_dim = 2, 64, 8, 2, 8
    options = dict(d_ff=128, vocab=100, max_positions=64, fused_qkv=False, bias=False)
    mha, gqa = decoder(layers, d, heads, **options).totals(), decoder(layers, d, heads, kv, **options).totals()
    saved = 2 * layers * d * (heads - kv) * head_dim
    assert mha.params - gqa.params == saved
    assert sympy.expand(mha.macs - gqa.macs - N * S * saved) == 0


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(skip_masked=True),
        dict(kv_heads=2, mlp="swiglu", norm="rmsnorm", positions="rotary", fused_qkv=False, bias=False),
        dict(kv_heads=1, mlp="swiglu", positions="rotary", bias=True, skip_masked=True),
    ],
)
def test_fused_blocks_cost_the_same_as_parts(options):
    """One MultiheadAttention/GatedMLP node per block counts what its parts count.

    Except with skip_masked, for elementwise work: the parts still scale, mask and
    softmax the whole (N, 8, S, S) tensors they hold (7 FLOPs per score), the fused
    kernel only the kept S(S+1)/2 pairs (6 each: no mask to add): 2 layers x 8 heads.
    """
    parts = decoder(2, 64, 8, d_ff=96, vocab=100, max_positions=64, blocks="parts", **options).totals()
    fused = decoder(2, 64, 8, d_ff=96, vocab=100, max_positions=64, blocks="fused", **options).totals()
    for field in ("params", "macs"):
        assert sympy.expand(getattr(parts, field) - getattr(fused, field)) == 0, field
    skipped = 2 * 8 * N * (7 * S**2 - 6 * S * (S + 1) / 2) if options.get("skip_masked") else 0
    assert sympy.expand(parts.flops - fused.flops - skipped) == 0


def test_training_memory_is_declared_for_every_transformer_kind():
    """Every kind in the models states what autograd keeps (no layer raises)."""
    for net in (gpt2("small"), bert("base"), llama2_7b(), vit_b_16(), decoder(2, 64, 8, blocks="fused", mlp="swiglu", vocab=100)):
        assert net.memory(dtype="fp16", N=2, **({"H": 224} if H in net.symbols else {"S": 128})).saved_bytes > 0


# -- shared parameters -------------------------------------------------------------------


def test_tied_head_is_counted_once_and_used_every_time():
    """Untying adds the head's V*d weights; MACs are the same (the head runs either way)."""
    tied, untied = gpt2("small"), gpt2("small", tied=False)
    assert untied.totals().params - tied.totals().params == V * 768
    assert tied.totals().macs == untied.totals().macs
    rows = {row.name: row for row in tied.layers()}
    assert rows["lm_head"].shares == "wte" and rows["lm_head"].params == V * 768
    assert rows["wte"].shares is None
    assert rows["lm_head"].macs == N * S * 768 * V


def test_shares_is_refused_for_unknown_or_mismatched_layers():
    net = Network("bad")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(100, 8))
    with pytest.raises(CostGraphError, match="unknown layer 'nope'"):
        net.add("head", Linear(8, 100, bias=False), shares="nope")
    with pytest.raises(CostGraphError, match="cannot share the weights of 'wte'"):
        net.add("head", Linear(8, 99, bias=False), shares="wte")


def test_shared_biases_only_when_the_owner_has_as_many():
    """A decoder tied to an embedding keeps its own bias (the embedding has none);
    a layer reused whole (same Linear twice) shares both."""
    net = Network("reuse")
    net.add("x", Input((S, 8)))
    net.add("fc", Linear(8, 8))
    net.add("fc_again", Linear(8, 8), shares="fc")
    assert net.totals().params == 8 * 8 + 8
    net = Network("decoder bias")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(100, 8))
    net.add("head", Linear(8, 100), shares="wte")
    assert net.totals().params == 100 * 8 + 100


def test_symbolic_vocabulary():
    """A vocabulary size kept as a symbol: the table's weights are V*d, V is a size."""
    vocab = size_symbol("V")
    net = Network("symbolic vocab")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(vocab, 768))
    assert net.totals().params == 768 * vocab
    assert vocab in net.symbols
    assert net.totals(S=8, V=50257).params == 768 * 50257


# -- kinds --------------------------------------------------------------------------------


@given(sq=st.integers(1, 40), sk=st.integers(1, 40))
def test_causal_pairs_count_torch_tril(sq, sk):
    """Brute force over torch's is_causal mask ``ones(Sq, Sk).tril()``: query i sees keys j <= i."""
    assert causal_pairs(sq, sk) == sum(1 for i in range(sq) for j in range(sk) if j <= i)


@given(s=st.integers(1, 60), factor=st.integers(1, 9))
def test_causal_pairs_symbolic_form_is_exact(s, factor):
    """Integer coefficients (an odd factor keeps a floor), and the right value."""
    expr = causal_pairs(S, S, factor * N)
    assert all(c.is_Integer for c in expr.as_coefficients_dict().values())
    assert expr.subs({S: s, N: 1}) == factor * s * (s + 1) // 2


def test_causal_pairs_refuses_unknown_order():
    with pytest.raises(ShapeError, match="equal query and key lengths"):
        causal_pairs(S, S + 1)


def test_matmul_broadcasts_and_checks():
    """Grouped queries (N, kv, g, S, d) times keys (N, kv, 1, d, S): g broadcasts."""
    q, kt = (N, 2, 4, S, 16), (N, 2, 1, 16, S)
    assert MatMul().output_shape(q, kt) == (N, 2, 4, S, S)
    assert MatMul().macs((N, 2, 4, S, S), q, kt) == N * 8 * S**2 * 16
    with pytest.raises(ShapeError, match="inner dimensions must match"):
        MatMul().output_shape((N, S, 16), (N, 8, S))
    with pytest.raises(ShapeError, match="rank >= 2"):
        MatMul().output_shape((N,), (N, 8))
    with pytest.raises(CostGraphError, match="triangular"):
        MatMul(triangular="upper")
    assert BatchMatMul().output_shape((N, S, 16), (N, 16, 8)) == (N, S, 8)
    with pytest.raises(ShapeError):
        BatchMatMul().output_shape((N, S, 16), (2 * N, 16, 8))


def test_sdpa_shapes_and_options():
    q, k = (N, 8, S, 16), (N, 2, S, 16)
    assert ScaledDotProductAttention(enable_gqa=True).output_shape(q, k, k) == q
    with pytest.raises(ShapeError, match="enable_gqa=False"):
        ScaledDotProductAttention().output_shape(q, k, k)
    with pytest.raises(ShapeError, match="not a multiple"):
        ScaledDotProductAttention(enable_gqa=True).output_shape((N, 3, S, 16), k, k)
    with pytest.raises(CostGraphError, match="needs is_causal=True"):
        ScaledDotProductAttention(skip_masked=True)
    with pytest.raises(ShapeError, match="cannot both"):
        ScaledDotProductAttention(is_causal=True).output_shape(q, q, q, (S, S))
    # a given mask: one add per score, like the causal mask (8 heads x S^2 scores)
    plain, masked = ScaledDotProductAttention(), ScaledDotProductAttention()
    assert masked.other_flops(q, q, q, q, (1, 1, S, S)) - plain.other_flops(q, q, q, q) == N * 8 * S**2


def test_multihead_attention_matches_its_parts_by_hand():
    """nn.MultiheadAttention(E, h): in_proj (3E x E + 3E), out_proj (E x E + E);
    MACs 4 E^2 per token + 2 S^2 E per sequence."""
    E = 96
    mha = MultiheadAttention(E, 4)
    x = (N, S, E)
    assert mha.weights(x) + mha.biases(x) == 4 * E * E + 4 * E
    assert sympy.expand(mha.macs(x, x) - (N * S * 4 * E * E + 2 * N * S**2 * E)) == 0
    with pytest.raises(CostGraphError, match="must divide embed_dim"):
        MultiheadAttention(100, 3)
    with pytest.raises(CostGraphError, match="kv_heads=3 must divide"):
        MultiheadAttention(96, 4, kv_heads=3)


def test_small_kinds():
    x = (N, S, 64)
    assert Embedding(10, 64).macs(x, (N, S)) == 0 and Embedding(10, 64).other_flops(x, (N, S)) == 0
    assert ClassToken(64).weights(x) == 64 and ClassToken(64).output_shape(x) == (N, S + 1, 64)
    assert PositionalEmbedding(None, 64).weights(x) == 64 * S
    assert RMSNorm(64).weights(x) == 64 and RMSNorm(64).biases(x) == 0
    assert RotaryEmbedding(64).other_flops(x, x) == N * S * (3 * 64 + 32)  # 2 products, an add, half negated
    assert CausalMask().other_flops((N, 2, S, S), (N, 2, S, S)) == 2 * N * S**2
    gated = GatedMLP(64, 96, bias=True)
    assert gated.weights(x) + gated.biases(x) == 3 * 64 * 96 + 2 * 96 + 64
    with pytest.raises(CostGraphError, match="activation must be one of"):
        GatedMLP(64, 96, activation="relu")
    with pytest.raises(CostGraphError, match="head_dim must be even"):
        RotaryEmbedding(63)
    with pytest.raises(ShapeError, match="PositionalEmbedding has 4 positions"):
        PositionalEmbedding(4, 64).output_shape((N, 5, 64))
    with pytest.raises(CostGraphError, match="positive-integer size symbol"):
        Embedding(sympy.Symbol("V"), 8)


def test_builder_options_are_checked():
    with pytest.raises(CostGraphError, match="gpt2 size"):
        gpt2("tiny")
    with pytest.raises(CostGraphError, match="bert size"):
        bert("huge")
    with pytest.raises(CostGraphError, match="norm must be one of"):
        decoder(2, 64, 8, norm="batchnorm")
    with pytest.raises(CostGraphError, match="heads=7 must divide d_model=64"):
        decoder(2, 64, 7)


def test_models_are_registered_with_their_sizes():
    assert MODELS["gpt2"].sizes() == {"S": 1024}
    assert MODELS["llama2_7b"].sizes() == {"S": 4096}
    assert MODELS["bert"].sizes() == {"S": 512}
    assert MODELS["vit_b_16"].sizes() == {"H": 224}


# -- backward and per-token FLOPs -------------------------------------------------------------


def test_backward_is_derived_twice_forward_for_language_models():
    """Every product of a language model has operands that need gradients (the weights,
    and activations computed from the embedding), so backward = 2 x forward exactly."""
    for net in (gpt2("small"), llama2_7b(), bert("base"), decoder(2, 64, 8, 2, blocks="fused", mlp="swiglu", vocab=100)):
        assert sympy.expand(backward_macs(net) - 2 * net.totals().macs) == 0


def test_vit_backward_skips_the_image_gradient():
    """conv_proj's input is the image: only its weight gradient, P * 768 * 768 per image."""
    net = vit_b_16()
    conv = N * FloorDiv(H, 16) * FloorDiv(W, 16) * 768 * 768
    assert sympy.expand(backward_macs(net) - (2 * net.totals().macs - conv)) == 0


def test_token_flops():
    """forward = flops / (N S); backward = 2 x forward matmul; training = forward + backward."""
    net = gpt2("small")
    symbolic = token_flops(net)
    t = net.totals()
    assert sympy.expand(symbolic.forward * N * S - t.flops) == 0
    assert sympy.expand(symbolic.forward_matmul * N * S - 2 * t.macs) == 0
    assert sympy.expand(symbolic.backward - 2 * symbolic.forward_matmul) == 0
    at = token_flops(net, S=1024, N=8)
    assert at.forward_matmul == 2 * gpt2_macs(12, 768).subs({S: 1024, N: 8}) / (8 * 1024)
    assert at.training == at.forward + at.backward
    # a causal count: (S + 1) * d MACs per token per layer, a whole number here
    causal = token_flops(gpt2("small", skip_masked=True), S=7)
    assert causal.forward_matmul == 2 * (12 * 12 * 768**2 + 768 * V + 12 * 8 * 768)
    with pytest.raises(CostGraphError, match="no sequence length"):
        token_flops(vit_b_16(), H=224)
    assert token_flops(vit_b_16(), tokens=N, H=224).forward_matmul == 2 * vit_b_16().totals(H=224).macs
