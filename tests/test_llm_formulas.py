"""costgraph's exact counts against the published LLM cost formulas.

Each formula is written as a sympy expression with its source.  Where the
exact count differs, the test asserts the exact difference and says what the
formula leaves out.  n_ctx is costgraph's S, the batch b is N.

* Kaplan et al. 2020, "Scaling Laws for Neural Language Models"
  (arXiv:2001.08361), Section 2.1, Table 1: N = 2 d_model n_layer (2 d_attn + d_ff)
  non-embedding parameters, C_forward = 2N + 2 n_layer n_ctx d_attn FLOPs per
  token, and C = 6N training FLOPs per token (forward + backward).
* Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models"
  (arXiv:2203.15556), Appendix F: forward FLOPs per sequence, term by term;
  backward = 2 x forward.
* Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
  Transformer Models" (arXiv:2205.05198), Section 4.1, Eq. (1): activation
  memory per layer s b h (34 + 5 a s / h) bytes, 16-bit activations, with
  dropout, no parallelism.
"""

import pytest
import sympy

from costgraph import N, S
from costgraph.memory import element_bytes, saved_storages
from costgraph.models import decoder, gpt2
from costgraph.models.transformer import GPT2_SIZES, token_flops

n_layer, d_model, d_attn, d_ff, n_ctx, n_vocab = sympy.symbols("n_layer d_model d_attn d_ff n_ctx n_vocab", positive=True, integer=True)

#: Kaplan et al. 2020, Table 1
KAPLAN_N = 2 * d_model * n_layer * (2 * d_attn + d_ff)
KAPLAN_C_FORWARD = 2 * KAPLAN_N + 2 * n_layer * n_ctx * d_attn
KAPLAN_C_TRAIN = 6 * KAPLAN_N  # Section 2.1: "C ≈ 6N floating point operators per training token"

VOCAB = 50257


def configs():
    """GPT-2's four sizes (d_attn = d_model, d_ff = 4 d_model) and one decoder where
    d_attn (8 heads x 16) and d_ff differ from d_model and 4 d_model."""
    for size, (layers, width, _) in GPT2_SIZES.items():
        yield pytest.param(dict(size=size), dict(layers=layers, d=width, attn=width, ff=4 * width, vocab=VOCAB), id=f"gpt2-{size}")
    yield pytest.param(
        dict(layers=4, d_model=256, heads=8, head_dim=16, d_ff=1000, vocab=1000, max_positions=512),
        dict(layers=4, d=256, attn=128, ff=1000, vocab=1000),
        id="decoder-d_attn-128",
    )


# a list, not the generator: pytest deprecates (and pytest 10 removes) parametrizing with a
# non-Collection iterable such as a generator
CONFIGS = list(configs())


def build(spec, **options):
    if "size" in spec:
        return gpt2(spec["size"], **options)
    return decoder(spec["layers"], spec["d_model"], spec["heads"], head_dim=spec["head_dim"], d_ff=spec["d_ff"],
                   vocab=spec["vocab"], max_positions=spec["max_positions"], **options)


def kaplan(expr, c):
    return sympy.expand(expr.subs({n_layer: c["layers"], d_model: c["d"], d_attn: c["attn"], d_ff: c["ff"], n_ctx: S}))


@pytest.mark.parametrize("spec,c", CONFIGS)
def test_kaplan_parameters(spec, c):
    """Table 1's N counts the weight matrices (QKV, projection, feed-forward) only: it
    drops each layer's biases (3 d_attn + d_model + d_ff + d_model) and LayerNorm gains
    and biases (4 d_model), and the final LayerNorm (2 d_model).  The embeddings
    ((n_vocab + n_ctx) d_model, Table 1's "Embed" row) are excluded by definition."""
    net = build(spec)
    embeddings = (c["vocab"] + 1024 if "size" in spec else c["vocab"] + 512) * c["d"]
    biases = c["layers"] * (3 * c["attn"] + c["d"] + c["ff"] + c["d"])
    norms = c["layers"] * 4 * c["d"] + 2 * c["d"]
    assert net.totals().params - embeddings - kaplan(KAPLAN_N, c) == biases + norms


@pytest.mark.parametrize("spec,c", CONFIGS)
def test_kaplan_forward_flops_per_token(spec, c):
    """C_forward = 2N + 2 n_layer n_ctx d_attn, against costgraph's matrix-product FLOPs.

    Counting only the pairs a causal mask keeps (token i attends to i + 1 keys, on
    average (S + 1)/2), QK^T and the weighted sum cost 2 (S + 1) d_attn FLOPs per
    token per layer: Kaplan's n_ctx/2 keys on average, plus the diagonal.  Counting
    the full S x S matrix, as eager PyTorch computes it, is 4 S d_attn: twice
    Kaplan's term.  Both also count the de-embedding 2 d_model n_vocab, which Table 1
    lists but leaves out of C_forward.
    """
    de_embed = 2 * c["d"] * c["vocab"]
    causal = token_flops(build(spec, skip_masked=True)).forward_matmul
    assert sympy.expand(causal - kaplan(KAPLAN_C_FORWARD, c) - (de_embed + 2 * c["layers"] * c["attn"])) == 0
    full = token_flops(build(spec)).forward_matmul
    assert sympy.expand(full - kaplan(KAPLAN_C_FORWARD, c) - (de_embed + 2 * c["layers"] * S * c["attn"])) == 0


@pytest.mark.parametrize("spec,c", CONFIGS)
def test_kaplan_training_is_6n_per_token(spec, c):
    """Training = forward + backward, with backward derived per layer (2 x forward for
    every product here).  6N leaves out the head (6 d_model n_vocab) and the attention
    over the context (6 n_layer (S + 1) d_attn with the causal count), which Kaplan
    neglects for d_model >> n_ctx / 12."""
    t = token_flops(build(spec, skip_masked=True))
    assert sympy.expand(t.backward - 2 * t.forward_matmul) == 0
    training = sympy.expand(t.forward_matmul + t.backward)
    dropped = 6 * c["d"] * c["vocab"] + 6 * c["layers"] * (S + 1) * c["attn"]
    assert sympy.expand(training - kaplan(KAPLAN_C_TRAIN, c) - dropped) == 0


# -- Chinchilla, Appendix F ------------------------------------------------------------------

seq_len, vocab_size, num_heads, key_size, ffw_size, num_layers = sympy.symbols(
    "seq_len vocab_size num_heads key_size ffw_size num_layers", positive=True, integer=True
)
CH_EMBEDDINGS = 2 * seq_len * vocab_size * d_model
CH_ATTENTION = (
    2 * 3 * seq_len * d_model * (key_size * num_heads)  # key, query and value projections
    + 2 * seq_len * seq_len * (key_size * num_heads)  # key @ query logits
    + 3 * num_heads * seq_len * seq_len  # softmax
    + 2 * seq_len * seq_len * (key_size * num_heads)  # softmax @ query reductions
    + 2 * seq_len * (key_size * num_heads) * d_model  # final linear
)
CH_DENSE = 2 * seq_len * (d_model * ffw_size + d_model * ffw_size)
CH_LOGITS = 2 * seq_len * d_model * vocab_size
CH_FORWARD = CH_EMBEDDINGS + num_layers * (CH_ATTENTION + CH_DENSE) + CH_LOGITS
CH_SOFTMAX = 3 * num_heads * seq_len * seq_len
GPT2_SMALL = {seq_len: S, vocab_size: VOCAB, d_model: 768, num_heads: 12, key_size: 64, ffw_size: 3072, num_layers: 12}


def chinchilla(expr):
    return sympy.expand(expr.subs(GPT2_SMALL))


def test_chinchilla_matrix_products():
    """Every Chinchilla term but two is a matrix product costgraph counts exactly (2 per
    MAC, full S x S attention, one sequence).  The two: the embeddings, which
    Chinchilla counts as a one-hot matrix product (2 seq vocab d_model) and costgraph
    as a lookup (no arithmetic), and the softmax (3 per score), elementwise work."""
    t = gpt2("small").totals()
    matmul = chinchilla(CH_FORWARD - CH_EMBEDDINGS - num_layers * CH_SOFTMAX)
    assert sympy.expand(2 * t.macs.subs(N, 1) - matmul) == 0


def test_chinchilla_all_forward_flops():
    """costgraph's FLOPs (`FLOP_CONVENTION`) against Chinchilla's total, term by term:
    no embedding matmul; per score 7 (scale 1, causal mask 1, softmax 5) against
    Chinchilla's softmax 3; and the elementwise work Chinchilla leaves out: per layer
    two LayerNorms (7 per element), GELU (8 per element of d_ff), two residual adds;
    the learned positions' add and the final LayerNorm."""
    d, ff, heads, layers = 768, 3072, 12, 12
    flops = gpt2("small").totals().flops.subs(N, 1)
    scores = heads * S**2
    elementwise = layers * (7 * scores - 3 * scores + 2 * 7 * S * d + 8 * S * ff + 2 * S * d) + S * d + 7 * S * d
    assert sympy.expand(flops - chinchilla(CH_FORWARD) + chinchilla(CH_EMBEDDINGS) - elementwise) == 0


def test_chinchilla_backward_is_twice_forward():
    """Chinchilla assumes backward = 2 x forward; costgraph derives it for the products
    (each operand's gradient is one forward product's worth): backward FLOPs per
    sequence are twice Chinchilla's matrix-product terms."""
    backward = sympy.expand(token_flops(gpt2("small")).backward * N * S)
    matmul = chinchilla(CH_FORWARD - CH_EMBEDDINGS - num_layers * CH_SOFTMAX)
    assert sympy.expand(backward.subs(N, 1) - 2 * matmul) == 0


# -- Korthikanti et al. 2022, activation memory ------------------------------------------------

s, b, h, a = sympy.symbols("s b h a", positive=True, integer=True)
#: Section 4.1, Eq. (1): bytes of activations per transformer layer (16-bit, dropout, no parallelism)
KORTHIKANTI = s * b * h * (34 + 5 * a * s / h)


def test_korthikanti_activation_memory_per_layer():
    """What autograd keeps per GPT-2 layer (costgraph's memory model, fp16 on CUDA:
    activations 2 bytes, dropout masks 1), storage by storage, charged to the layer
    that makes it, against s b h (34 + 5 a s / h).

    The paper's items, as costgraph finds them: ln_1's input 2sbh; c_attn's input
    2sbh; Q, K (kept by Q K^T) and V (kept by the weighted sum), one packed c_attn
    output, 6sbh; the softmax output 2as^2b, attention dropout's mask as^2b and
    output 2as^2b; c_proj's input 2sbh and its dropout mask sbh; ln_2's input 2sbh;
    c_fc's input 2sbh; GELU's input 8sbh; the MLP c_proj's input 8sbh; its dropout
    mask sbh.  Eq. (1) leaves out one thing: each LayerNorm's mean and inverse std
    per row, kept in fp32 -- 2 x 2 x 4 sb = 16 sb bytes per layer.
    """
    net = gpt2("small")
    per_layer: dict = {}
    for count, element, layer in saved_storages(net).values():
        if layer.startswith("h."):
            block = layer.split(".")[1]
            per_layer[block] = per_layer.get(block, 0) + count * element_bytes(element, 2, "cuda")
    assert sorted(per_layer, key=int) == [str(i) for i in range(12)]
    formula = sympy.expand(KORTHIKANTI.subs({s: S, b: N, h: 768, a: 12}))
    for block, saved in per_layer.items():
        assert sympy.expand(saved - formula) == 16 * S * N, block


def test_korthikanti_at_a_size():
    """The same through `Network.memory` at s = 2048, b = 1 (a table of 2048 positions):
    saved_bytes minus what the embeddings and the head keep is 12 layers of Eq. (1)
    plus the LayerNorm statistics."""
    net = gpt2("small", max_positions=2048)
    layers, sizes = 12, dict(S=2048, N=1)
    total = net.memory(dtype="fp16", device="cuda", **sizes).saved_bytes
    outside = sum(
        int(sympy.sympify(count).subs({S: 2048, N: 1})) * element_bytes(element, 2, "cuda")
        for count, element, layer in saved_storages(net).values()
        if not layer.startswith("h.")
    )
    per_layer = int(KORTHIKANTI.subs({s: 2048, b: 1, h: 768, a: 12}))
    assert total - outside == layers * (per_layer + 16 * 2048)
