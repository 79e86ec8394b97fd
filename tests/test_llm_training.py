"""Training memory per GPU against published figures and a real mixed-precision step.

Sources:

* Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training
  Trillion Parameter Models" (arXiv:1910.02054), Figure 1 and Section 5.1:
  model states of (2 + 2 + K) Psi bytes with mixed-precision Adam, K = 12
  (fp32 parameters, momentum and variance), partitioned over N_d ranks by
  stage; Figure 1's example Psi = 7.5B, N_d = 64: 120 GB, 31.4 GB, 16.6 GB
  and 1.88 GB ("GB" = 10^9 bytes: 16 x 7.5e9 = 120e9).
* Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
  Transformer Models" (arXiv:2205.05198), Section 4 and Table 2: activation
  bytes per transformer layer (16-bit activations, 1-byte dropout masks) with
  tensor parallelism t, sequence parallelism and selective or full
  recomputation.  tests/test_llm_formulas.py checks the unparallelized
  sbh(34 + 5as/h) and names the term it leaves out: each LayerNorm's fp32
  mean and inverse std per row, 16 s b bytes per layer.
* A real training step of a tiny Hugging Face Llama in bf16 with fp32 master
  weights and AdamW (CPU): the bytes of the tensors torch holds.
"""

import logging

import pytest
import sympy

from costgraph import N, Network, S
from costgraph.errors import CostGraphError, UnknownSizeError
from costgraph.intmath import ceil_div
from costgraph.kinds import Input, Linear
from costgraph.models import decoder, gpt2, llama2_7b
from costgraph.training import RECIPES, Recipe, saved_by_layer

from .support import require, require_torch

# -- recipes ---------------------------------------------------------------------------------------


def test_recipes_bytes_per_parameter():
    """Issue 14: bf16 mixed precision with fp32 master and Adam = 2 + 2 + 4 + 4 + 4 = 16 bytes a parameter;
    fp32 Adam 4 + 4 + 4 + 4 = 16 with no master copy; pure bf16 2 + 2 + 2 + 2 = 8."""
    assert RECIPES["bf16-mixed"].bytes_per_parameter(states=2) == 2 + 2 + 4 + 4 + 4
    assert RECIPES["fp16-mixed"].bytes_per_parameter(states=2) == 2 + 2 + 4 + 4 + 4
    assert RECIPES["fp32"].bytes_per_parameter(states=2) == 4 + 4 + 0 + 4 + 4
    assert RECIPES["bf16"].bytes_per_parameter(states=2) == 2 + 2 + 0 + 2 + 2


def test_llama2_7b_bf16_mixed_adamw_by_hand():
    """6,738,415,616 parameters (Meta's count) x 2, 2, 4 and 2 x 4 bytes."""
    psi = 6_738_415_616
    m = llama2_7b().memory(recipe="bf16-mixed", optimizer="adamw", S=4096)
    assert (m.params_bytes, m.grads_bytes, m.master_bytes, m.optimizer_bytes) == (2 * psi, 2 * psi, 4 * psi, 8 * psi)


def test_existing_calls_are_unchanged_and_unknown_keywords_list_what_is_accepted():
    net = gpt2("small")
    plain = net.memory(dtype="fp16", optimizer="adam", S=128)
    assert plain.master_bytes == 0 and plain.recipe is None
    assert plain.optimizer_bytes == 2 * plain.params_bytes  # one dtype: two fp16 moments
    with pytest.raises(UnknownSizeError, match="memory\\(\\) accepts dtype, training, optimizer.*recompute and the sizes S, N"):
        net.memory(master_dtype="fp32", S=128)
    with pytest.raises(UnknownSizeError, match="master_dtype.*memory\\(\\) accepts"):
        net.memory(recipe="bf16-mixed", master_dtype="fp32", S=128)
    with pytest.raises(UnknownSizeError, match="totals\\(\\) accepts dtype, backward and the sizes S, N"):
        net.totals(master_dtype="fp32")
    with pytest.raises(CostGraphError, match="unknown recipe"):
        net.memory(recipe="fp8-mixed")
    with pytest.raises(CostGraphError, match="ZeRO stage"):
        net.memory(recipe="bf16-mixed", zero=4)
    with pytest.raises(CostGraphError, match="recompute"):
        net.memory(recipe="bf16-mixed", recompute="some")
    with pytest.raises(CostGraphError, match="not both"):
        net.memory(dtype="fp16", recipe="bf16-mixed")
    with pytest.raises(CostGraphError, match="use training=True"):
        net.memory(training=False, optimizer=None, tp=2)


# -- ZeRO, Figure 1 ---------------------------------------------------------------------------------


def zero_paper_model():
    """A network of exactly Psi = 7.5B parameters (one 75,000 x 100,000 weight matrix)."""
    net = Network("psi-7.5B")
    net.add("x", Input((75_000,)))
    net.add("w", Linear(75_000, 100_000, bias=False))
    assert net.totals().params == 7_500_000_000
    return net


@pytest.mark.parametrize(
    "stage,paper_gb",
    [(0, "120"), (1, "31.4"), (2, "16.6"), (3, "1.88")],
)
def test_zero_figure_1(stage, paper_gb):
    """Per device, Psi = 7.5e9, N_d = 64, K = 12 (fp16-mixed with Adam), term by term (Section 5.1):
    stage 0 (2 + 2 + K) Psi; P_os 2 Psi + 2 Psi + K Psi / N_d; P_os+g 2 Psi + (2 + K) Psi / N_d;
    P_os+g+p (2 + 2 + K) Psi / N_d.  K Psi is our master (4 Psi) plus optimizer (8 Psi) bytes."""
    psi, nd = 7_500_000_000, 64
    m = zero_paper_model().memory(recipe="fp16-mixed", optimizer="adam", zero=stage, dp=nd)
    expected = {
        0: (2 * psi, 2 * psi, 12 * psi),
        1: (2 * psi, 2 * psi, 12 * psi // nd),
        2: (2 * psi, 2 * psi // nd, 12 * psi // nd),
        3: (2 * psi // nd, 2 * psi // nd, 12 * psi // nd),
    }[stage]
    assert psi % nd == 0  # 117,187,500 parameters a rank: no rounding
    assert (m.params_bytes, m.grads_bytes, m.master_bytes + m.optimizer_bytes) == expected
    states = m.params_bytes + m.grads_bytes + m.master_bytes + m.optimizer_bytes
    assert states == m.total_training_bytes - m.saved_bytes - m.buffers_bytes
    # the paper's figure, rounded to 3 significant digits in GB (1e9 bytes)
    assert f"{states / 1e9:.3g}" == paper_gb


def test_zero_rounds_up_per_rank():
    """A count that does not divide: each rank holds ceil(Psi / N_d) (DeepSpeed pads its flat
    partition); 1001 parameters over 8 ranks -> 126 a rank, by hand."""
    net = Network("odd")
    net.add("x", Input((7,)))
    net.add("w", Linear(7, 143, bias=False))  # 1001 weights
    m = net.memory(recipe="fp32", optimizer="adam", zero=3, dp=8)
    assert m.params_bytes == 126 * 4 and m.optimizer_bytes == 2 * 126 * 4


def test_degrees_may_be_symbols():
    """dp as a size name: the figures are formulas in it, exact when it is given."""
    net = zero_paper_model()
    m = net.memory(recipe="fp16-mixed", optimizer="adam", zero=3, dp="D")
    d = sympy.Symbol("D", integer=True, positive=True)
    assert m.params_bytes == 2 * sympy.ceiling(7_500_000_000 / d)
    assert net.memory(recipe="fp16-mixed", optimizer="adam", zero=3, dp="D", D=64).params_bytes == 2 * 7_500_000_000 // 64


# -- Korthikanti et al. 2022, Table 2 -------------------------------------------------------------

s, b, h, a, t = sympy.symbols("s b h a t", positive=True, integer=True)
#: Table 2, per layer (the table multiplies by L): bytes of activations
TABLE_2 = {
    ("none", False): s * b * h * (10 + 24 / t + 5 * a * s / (h * t)),  # tensor parallel (baseline)
    ("none", True): s * b * h * (34 / t + 5 * a * s / (h * t)),  # tensor + sequence parallel
    ("selective", False): s * b * h * (10 + 24 / t),  # tensor parallel + selective recomputation
    ("selective", True): s * b * h * (34 / t),  # tensor + sequence parallel + selective
    ("full", False): s * b * h * 2,  # full activation recomputation
}
GPT2 = {s: S, b: N, h: 768, a: 12}


def per_block(net, **options):
    kept = saved_by_layer(net, activation_bytes=2, device="cuda", **options)
    blocks: dict = {}
    for layer, value in kept.items():
        block = net.graph.nodes[layer].get("block")
        if block is not None:
            blocks[block] = sympy.expand(blocks.get(block, 0) + value)
    return blocks


@pytest.mark.parametrize("recompute,sp", list(TABLE_2))
@pytest.mark.parametrize("degree", [1, 4])
def test_korthikanti_table_2_per_layer(recompute, sp, degree):
    """GPT-2 small (h = 768, a = 12, with dropout) at symbolic s, b, per block, t = 1 and 4.

    What differs is one named term: the LayerNorms' fp32 mean and inverse std, 2 x 2 x 4 s b
    = 16 s b bytes per layer, replicated over the tensor-parallel ranks (16 s b) unless sequence
    parallelism splits them (16 ceil(s b / t)); full recomputation keeps only each layer's input, 2 s b h,
    exactly the table's figure."""
    net = gpt2("small")
    formula = sympy.expand(TABLE_2[(recompute, sp)].subs(GPT2).subs(t, degree))
    # sequence parallelism splits the s b rows: ceil(s b / t) rows of statistics a rank
    statistics = 0 if recompute == "full" else (16 * ceil_div(S * N, degree) if sp else 16 * S * N)
    blocks = per_block(net, tp=degree, sp=sp, recompute=recompute)
    assert sorted(blocks) == list(range(12))
    for block, kept in blocks.items():
        assert sympy.expand(kept - formula) == statistics, block


def test_pipeline_first_stage_holds_pp_microbatches():
    """1F1B (Korthikanti Section 4.2.3): the first of p stages holds p microbatches of its L/p layers,
    so L layers' worth of sbh(34 + 5as/h) (+ the 16 s b LayerNorm term), and p copies of what the
    embedding keeps: token ids and positions (int64, 8 s b + 8 s), the embedding dropout's mask
    (s b h, one byte) and output (2 s b h)."""
    layer = sympy.expand(s * b * h * (34 + 5 * a * s / h)).subs(GPT2) + 16 * S * N
    embedding = 8 * N * S + 8 * S + 768 * N * S + 2 * 768 * N * S
    net = gpt2("small")
    for pp in (1, 2, 3, 4, 6, 12):
        m = net.memory(recipe="fp16-mixed", optimizer="adam", pp=pp, device="cuda")
        if pp == 1:  # the whole model: the final LayerNorm's statistics and output too
            continue
        assert sympy.expand(m.saved_bytes - (12 * layer + pp * embedding)) == 0, pp


def test_pipeline_and_tensor_parallel_parameters_by_hand():
    """GPT-2 small, tp = 4, pp = 3 (first stage: embeddings and blocks 0-3), no ZeRO.
    Per block: attention c_attn 768 x 2304 + 2304 and MLP c_fc 768 x 3072 + 3072 split (column);
    c_proj weights split, their biases (768 each) replicated; LayerNorms (4 x 768) replicated.
    Embeddings: wte 50257 x 768 split by vocabulary (ceil: 9,649,344 a rank), wpe 1024 x 768 replicated."""
    per_block = (768 * 2304 + 2304 + 768 * 3072 + 3072) // 4 + (768 * 768 + 3072 * 768) // 4 + 2 * 768 + 4 * 768
    wte = -(-50257 * 768 // 4)
    expected = 4 * per_block + wte + 1024 * 768
    m = gpt2("small").memory(recipe="bf16-mixed", optimizer="adamw", tp=4, pp=3, S=1024)
    assert m.params_bytes == 2 * expected and m.master_bytes == 4 * expected


def test_fused_kernel_keeps_no_score_tensor():
    """attention_kernel="fused": the 5 a s^2 b bytes of scores, softmax and dropout are gone; in their
    place the kernel's fp32 log-sum-exp per query row (a s b x 4 bytes); the MACs are the same."""
    eager, fused = gpt2("small"), gpt2("small", attention_kernel="fused")
    assert sympy.expand(eager.totals().macs - fused.totals().macs) == 0
    difference = sympy.expand(per_block(eager)[0] - per_block(fused)[0])
    assert difference == 5 * 12 * S**2 * N - 4 * 12 * S * N
    assert eager.totals().activations - fused.totals().activations != 0


# -- a real mixed-precision step ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


def test_bf16_mixed_adamw_step_matches_torch(hf):
    """A tiny HF Llama in bf16, its fp32 master copy updated by AdamW, one real step on the CPU,
    as a mixed-precision loop runs it (bf16 forward and backward, gradients copied to the master,
    step, master copied back).  Measured: bytes of the model's parameters and gradients, of the
    master parameters, and of AdamW's exp_avg and exp_avg_sq.  The one term we leave out, named:
    AdamW's `step` counter, a 0-d fp32 tensor per parameter tensor."""
    torch = require_torch()
    config = hf.LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, vocab_size=128, max_position_embeddings=64,
                            bos_token_id=None, eos_token_id=None, attn_implementation="eager")
    model = hf.LlamaForCausalLM(config).to(torch.bfloat16).train()
    master = [torch.nn.Parameter(p.detach().float().clone()) for p in model.parameters()]
    optimizer = torch.optim.AdamW(master, lr=1e-3)
    ids = torch.randint(0, 128, (2, 16))
    model(input_ids=ids, labels=ids).loss.backward()
    for copy, p in zip(master, model.parameters()):
        copy.grad = p.grad.float()
    optimizer.step()
    with torch.no_grad():
        for copy, p in zip(master, model.parameters()):
            p.copy_(copy)
            copy.grad = None  # the fp32 gradient is transient
    nbytes = lambda tensors: sum(x.numel() * x.element_size() for x in tensors)  # noqa: E731
    states = [optimizer.state[p] for p in master]
    measured = dict(
        params=nbytes(model.parameters()),
        grads=nbytes(p.grad for p in model.parameters()),
        master=nbytes(master),
        optimizer=nbytes(st[k] for st in states for k in ("exp_avg", "exp_avg_sq")),
    )
    assert all(st["exp_avg"].dtype == torch.float32 for st in states)
    net = decoder(2, 64, 4, 2, 160, 128, norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False,
                  fused_qkv=False, dropout=False, names="llama")
    m = net.memory(recipe="bf16-mixed", optimizer="adamw", device="cpu", S=16, N=2)
    assert (m.params_bytes, m.grads_bytes, m.master_bytes, m.optimizer_bytes) == tuple(measured.values())
    step_counters = nbytes(st["step"] for st in states)
    assert step_counters == 4 * len(master)  # not counted: 4 bytes per parameter tensor


def test_mixture_of_experts_under_tensor_parallelism_by_hand():
    """Mixtral-8x7B's published config, one layer, tp = 2, as Megatron-LM shards an MoE layer
    (expert tensor parallelism, megatron/core/transformer/moe/experts.py: fc1 holds
    ffn_hidden_size * num_local_experts * 2 / tp columns, fc2 as many rows; the router's
    experts x hidden weight is on every rank).  Before: refused, suggesting blocks='parts'
    (which it already had).  By hand, per rank: token embedding and head split by vocabulary
    (32000 x 4096 each), q and o (4096^2 each) and k, v (4096 x 1024 each, 8 KV heads of 128)
    split, 8 SwiGLU experts of 3 x 4096 x 14336 split; the router 8 x 4096 and the three
    RMSNorms (2 in the layer, 1 final) of 4096 replicated.  No biases."""
    from costgraph.models import mixtral_8x7b

    net = mixtral_8x7b(layers=1)
    split = 2 * 32000 * 4096 + 2 * 4096**2 + 2 * 4096 * 1024 + 8 * 3 * 4096 * 14336
    replicated = 8 * 4096 + 3 * 4096
    assert net.memory(recipe="fp32", tp=2, S=8).params_bytes == 4 * (split // 2 + replicated)
    assert net.memory(recipe="fp32", tp=1, S=8).params_bytes == 4 * (split + replicated)
    # activations: the 4 hidden tensors of the 2 routed experts (2 x 14336 per token, bf16) are
    # halved; the router's logits, the experts' inputs and routed outputs (4096 wide) are not
    whole = saved_by_layer(net, tp=1)["layers.0.mlp"]
    halved = saved_by_layer(net, tp=2)["layers.0.mlp"]
    assert sympy.expand(whole - halved - 4 * (2 * 14336 * N * S) * 2 / 2) == 0  # 4 tensors, 2 bytes, half each
    # fused blocks still cannot be sharded: the message names the fix that applies to them
    with pytest.raises(CostGraphError, match="blocks='parts'"):
        decoder(1, 64, 4, blocks="fused").memory(tp=2, S=8)
