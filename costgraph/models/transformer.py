"""Transformers with the sequence length S as a symbol: GPT-2, BERT, Llama 2, and `decoder`.

Every builder follows a reference implementation's layout and names
(Hugging Face ``transformers``' ``GPT2LMHeadModel``, ``BertModel`` and
``LlamaForCausalLM``), so parameter counts equal theirs exactly, and MACs are
every multiply-accumulate the reference's eager forward pass performs: the
projections, the S x S attention scores and their weighted sum (over the
full matrix unless ``skip_masked=True``; see `costgraph.kinds.attention`),
and the output head.  Lookups count no FLOPs; softmax, norms, activations
and residual adds count elementwise FLOPs under `costgraph.FLOP_CONVENTION`.

Attention is built from its parts by default (``blocks="parts"``: one node
per tensor, so tables show the ``(N, heads, S, S)`` scores) or as one node
per attention and gated MLP (``blocks="fused"``); both count the same
parameters, MACs and FLOPs.

`token_flops` gives forward, backward and training FLOPs per token, with
the backward pass derived layer by layer (`backward_macs`, from each kind's
own rule), not assumed.

>>> from costgraph.models import gpt2
>>> net = gpt2("small")
>>> net.totals().params                      # Hugging Face's gpt2: 124,439,808
124439808
>>> # per token: 12 layers x (12 d^2 weights + Q K^T and weights x V over 1024 keys) + the head
>>> net.totals(S=1024, N=8).macs == 8 * 1024 * (12 * (12 * 768**2 + 2 * 1024 * 768) + 768 * 50257)
True
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass

import sympy

from ..compile import compile_exprs
from ..errors import CostGraphError
from ..kinds import (
    GELU,
    Add,
    CausalMask,
    Concat,
    Dropout,
    Embedding,
    GatedMLP,
    Input,
    MixtureOfExperts,
    LayerNorm,
    Linear,
    MatMul,
    Mul,
    MultiheadAttention,
    Permute,
    PositionalEmbedding,
    ReLU,
    Reshape,
    RMSNorm,
    RotaryEmbedding,
    Scale,
    ScaledDotProductAttention,
    SiLU,
    SlidingWindowMask,
    SlidingWindowMatMul,
    Slice,
    Softmax,
    Tanh,
    Transpose,
)
from ..kinds.base import positive_int
from ..network import Network
from ..symbols import N, S, as_size
from . import register_model
from .options import strict_options

__all__ = [
    "attention",
    "decoder",
    "encoder",
    "gpt2",
    "bert",
    "llama2_7b",
    "backward_macs",
    "token_flops",
    "TokenFlops",
    "GPT2_SIZES",
    "BERT_SIZES",
]

#: (n_layer, n_embd, n_head) of Hugging Face's gpt2, gpt2-medium, gpt2-large, gpt2-xl
GPT2_SIZES = {"small": (12, 768, 12), "medium": (24, 1024, 16), "large": (36, 1280, 20), "xl": (48, 1600, 25)}

#: (num_hidden_layers, hidden_size, num_attention_heads, intermediate_size) of bert-base/large
BERT_SIZES = {"base": (12, 768, 12, 3072), "large": (24, 1024, 16, 4096)}

#: module names of the two layouts `decoder` can follow
NAMES = {
    "gpt2": dict(
        embed="wte", positions="wpe", drop="drop", layer="h.{i}", norm_1="ln_1", attn="attn", qkv="c_attn",
        q="q_proj", k="k_proj", v="v_proj", out="c_proj", attn_dropout="attn_dropout",
        resid_dropout="attn.resid_dropout", norm_2="ln_2", fc="mlp.c_fc", gate="mlp.gate_proj", up="mlp.up_proj",
        act="mlp.act", down="mlp.c_proj", mlp_dropout="mlp.dropout", mlp="mlp", norm_f="ln_f", head="lm_head",
    ),
    "llama": dict(
        embed="embed_tokens", positions="embed_positions", drop="dropout", layer="layers.{i}",
        norm_1="input_layernorm", attn="self_attn", qkv="qkv_proj", q="q_proj", k="k_proj", v="v_proj",
        out="o_proj", attn_dropout="attn_dropout", resid_dropout="self_attn.resid_dropout",
        norm_2="post_attention_layernorm", fc="mlp.up_proj", gate="mlp.gate_proj", up="mlp.up_proj",
        act="mlp.act_fn", down="mlp.down_proj", mlp_dropout="mlp.dropout", mlp="mlp", norm_f="norm", head="lm_head",
    ),
}
NAMES["opt"] = dict(
    NAMES["llama"], norm_1="self_attn_layer_norm", out="out_proj", norm_2="final_layer_norm", fc="fc1",
    act="activation_fn", down="fc2", norm_f="final_layer_norm",
)
NAMES["neox"] = dict(
    NAMES["llama"], embed="embed_in", attn="attention", qkv="query_key_value", out="dense",
    fc="mlp.dense_h_to_4h", act="mlp.act", down="mlp.dense_4h_to_h", norm_f="final_layer_norm",
)
NAMES["falcon"] = dict(
    NAMES["neox"], embed="word_embeddings", layer="h.{i}", attn="self_attention", norm_f="ln_f",
)


def _choice(value, allowed, what):
    if value not in allowed:
        raise CostGraphError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}", value=value)
    return value


@strict_options
def attention(
    net: Network,
    prefix: str,
    x: str,
    *,
    d_model: int,
    heads: int,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    bias: bool = True,
    fused_qkv: bool = True,
    causal: bool = False,
    skip_masked: bool = False,
    rotary: bool = False,
    dropout: bool = False,
    blocks: str = "parts",
    names: dict | None = None,
    qkv_bias: bool | None = None,
    rotary_dim: int | None = None,
    window: int | None = None,
    kernel: str = "eager",
    cached=None,
) -> str:
    """Add a self-attention block on `x` ``(N, S, d_model)``; return its output's name.

    ``blocks="parts"`` adds, under ``{prefix}.``: the projections (one packed
    ``qkv`` Linear if `fused_qkv`, else ``q``, ``k``, ``v``), views splitting
    heads, ``rope_q``/``rope_k`` if `rotary`, ``scores`` (`MatMul` Q K^T),
    ``scale``, ``mask`` (if `causal`), ``softmax``, the attention dropout (if
    `dropout`), ``context`` (`MatMul` weights V), views merging heads, and the
    output projection.  With ``kv_heads < heads`` (grouped-query) queries are
    viewed as ``(N, kv_heads, group, S, d)`` and keys broadcast over the
    group, as ``F.scaled_dot_product_attention(enable_gqa=True)`` does
    without copying them.  ``blocks="fused"`` adds one `MultiheadAttention`
    node named `prefix` with the same costs.

    `names` maps ``qkv``, ``q``, ``k``, ``v``, ``out`` and ``attn_dropout``
    to module names (GPT-2's by default).

    Options beyond GPT-2's (``blocks="parts"`` only):

    * `qkv_bias`: biases on the query/key/value projections, whatever
      `bias` says for the output projection (Qwen2: ``bias=False,
      qkv_bias=True``);
    * `rotary_dim`: rotate only the first `rotary_dim` of each head's
      dimensions (GPT-NeoX/Pythia's ``rotary_pct``: 0.25 x 64 = 16), the
      rest passed through and concatenated back, as Hugging Face does;
    * `window`: causal sliding-window attention (Mistral).  Hugging Face's
      eager path computes the full score matrix and masks outside the band
      (`costgraph.kinds.SlidingWindowMask`), so the MACs are the full
      matrix's; with ``skip_masked=True`` only the band's pairs are counted
      (`costgraph.kinds.SlidingWindowMatMul`), as a windowed kernel computes.

    ``kernel="fused"`` replaces the eager core (scores, scale, mask,
    softmax, dropout, weighted sum) by one `ScaledDotProductAttention` node,
    as a fused kernel (FlashAttention, SDPA) runs it: the same MACs and
    FLOPs, but no ``(Sq, Sk)`` score tensor among the activations or the
    tensors kept for backward (the attention dropout is inside the kernel).

    `cached` (a size formula, e.g. ``S - 1``) adds a key/value cache: the
    keys and values of `cached` earlier tokens (inputs ``past_key`` and
    ``past_value``) are concatenated before the new tokens' ones, as Hugging
    Face's ``DynamicCache`` does, so the queries of `x` attend to
    ``cached + Sq`` positions.  Every earlier position is visible to every
    new query, so the decoder uses it with ``skip_masked=False`` only.

    The nodes whose outputs are the keys and values attention reads carry
    ``kv_cache="key"`` / ``"value"`` (what a cache keeps, `costgraph.inference`);
    projections carry ``parallel="column"`` / ``"row"`` (how Megatron's
    tensor parallelism shards them), and the nodes of the eager core
    ``recompute="attention_core"`` (what selective recomputation drops;
    both read by `costgraph.training`).

    Raises
    ------
    CostGraphError
        For heads that do not divide, an unknown `blocks` or `kernel`, an option
        the fused block cannot express, a cache with ``blocks="fused"``,
        ``skip_masked=True``, or a fused causal kernel and more than one new
        token, or an unknown keyword.

    Examples
    --------
    >>> from costgraph import Network, S
    >>> from costgraph.kinds import Input
    >>> net = Network("one block")
    >>> x = net.add("x", Input((S, 64)))
    >>> out = attention(net, "attn", x, d_model=64, heads=8, kv_heads=2, fused_qkv=False, bias=False)
    >>> net.shape("attn.scores")                # queries grouped (N, kv, group, S, S)
    (N, 2, 4, S, S)
    >>> net.totals().params == 64 * 64 + 2 * 64 * 16 + 64 * 64   # q, k and v of 2 x 8, o
    True
    """
    names = {**NAMES["gpt2"], **(names or {})}
    kv_heads = heads if kv_heads is None else kv_heads
    if head_dim is None:
        if d_model % heads:
            raise CostGraphError(f"{prefix}: heads={heads} must divide d_model={d_model}", value=heads)
        head_dim = d_model // heads
    if heads % kv_heads:
        raise CostGraphError(f"{prefix}: kv_heads={kv_heads} must divide heads={heads}", value=kv_heads)
    qkv_bias = bias if qkv_bias is None else qkv_bias
    if rotary_dim is not None and not (rotary and 0 < rotary_dim <= head_dim and rotary_dim % 2 == 0):
        raise CostGraphError(
            f"{prefix}: rotary_dim={rotary_dim} needs rotary=True and an even size in 1..head_dim={head_dim}", value=rotary_dim
        )
    if window is not None and not causal:
        raise CostGraphError(f"{prefix}: a sliding window={window} needs causal=True", value=window)
    _choice(kernel, ("eager", "fused"), "attention kernel")
    if window is not None and kernel == "fused" and skip_masked:
        raise CostGraphError(f"{prefix}: a fused kernel counting only a sliding window's pairs is not modelled", value=window)
    if _choice(blocks, ("parts", "fused"), "blocks") == "fused":
        extras = {"qkv_bias": qkv_bias != bias, "rotary_dim": rotary_dim not in (None, head_dim), "window": window is not None}
        if any(extras.values()):
            unsupported = ", ".join(name for name, used in extras.items() if used)
            raise CostGraphError(f"{prefix}: blocks='fused' cannot express {unsupported}; use blocks='parts'", value=blocks)
        if cached is not None:
            raise CostGraphError(f"{prefix}: a key/value cache needs blocks='parts'", value=blocks)
        node = net.add(
            prefix,
            MultiheadAttention(d_model, heads, bias, kv_heads, head_dim, causal, skip_masked, rotary=rotary),
            x,
        )
        net.graph.nodes[node]["parallel"] = "block"
        return node
    if cached is not None and skip_masked:
        raise CostGraphError(f"{prefix}: skip_masked=True counts Sq = Sk pairs; a cache makes Sk longer", value=cached)
    group, seq = heads // kv_heads, net.shape(x)[1]
    q_width, kv_width = heads * head_dim, kv_heads * head_dim
    p = prefix + "."
    nodes = net.graph.nodes
    if fused_qkv:
        packed = net.add(p + names["qkv"], Linear(d_model, q_width + 2 * kv_width, qkv_bias), x)
        nodes[packed]["parallel"] = "column"
        q = net.add(p + "q", Slice(-1, 0, q_width), packed)
        k = net.add(p + "k", Slice(-1, q_width, q_width + kv_width), packed)
        v = net.add(p + "v", Slice(-1, q_width + kv_width, None), packed)
    else:
        q = net.add(p + names["q"], Linear(d_model, q_width, qkv_bias), x)
        k = net.add(p + names["k"], Linear(d_model, kv_width, qkv_bias), x)
        v = net.add(p + names["v"], Linear(d_model, kv_width, qkv_bias), x)
        for projection in (q, k, v):
            nodes[projection]["parallel"] = "column"
    if group == 1:
        # (N, S, h*d) -> (N, h, S, d)
        split, to_heads, merge = (seq, heads, head_dim), (0, 2, 1, 3), (0, 2, 1, 3)
        kv_split = split
    else:
        # queries (N, kv, g, S, d); keys and values (N, kv, 1, S, d), broadcast over g
        split, to_heads, merge = (seq, kv_heads, group, head_dim), (0, 2, 3, 1, 4), (0, 3, 1, 2, 4)
        kv_split = (seq, kv_heads, 1, head_dim)
    q = net.add(p + "q_heads", Permute(to_heads), net.add(p + "q_split", Reshape(split), q))
    k = net.add(p + "k_heads", Permute(to_heads), net.add(p + "k_split", Reshape(kv_split), k))
    v = net.add(p + "v_heads", Permute(to_heads), net.add(p + "v_split", Reshape(kv_split), v))
    if rotary and rotary_dim not in (None, head_dim):
        q = _partial_rotary(net, p + "rope_q", q, rotary_dim)
        k = _partial_rotary(net, p + "rope_k", k, rotary_dim)
    elif rotary:
        q = net.add(p + "rope_q", RotaryEmbedding(head_dim), q)
        k = net.add(p + "rope_k", RotaryEmbedding(head_dim), k)
    if cached is not None and window is not None:
        # Hugging Face's sliding-window cache keeps the last window - 1 positions (measured, transformers 5.24)
        cached = sympy.Min(cached, window - 1)
    if cached is not None:
        # the cache holds keys and values after rotary, laid out as the new ones: (N, kv[, 1], cached, d)
        past = tuple(net.shape(k)[1:-2]) + (cached, head_dim)
        k = net.add(p + "cat_key", Concat(-2), net.add(p + "past_key", Input(past)), k)
        v = net.add(p + "cat_value", Concat(-2), net.add(p + "past_value", Input(past)), v)
    nodes[k]["kv_cache"], nodes[v]["kv_cache"] = "key", "value"
    if window is not None:
        nodes[k]["kv_window"] = nodes[v]["kv_window"] = window  # a sliding-window cache keeps window - 1 positions
    if kernel == "fused":
        core = ScaledDotProductAttention(is_causal=causal, enable_gqa=group > 1, skip_masked=skip_masked)
        if causal and cached is not None:
            # is_causal aligns the mask top-left (query i sees keys 0..i); a cache needs bottom-right:
            # with one query every key is visible, so no mask is applied (as Hugging Face's SDPA path)
            if sympy.sympify(seq) != 1:
                raise CostGraphError(
                    f"{prefix}: a fused kernel over a cache is modelled for one new token (query_length=1)", value=seq
                )
            core = ScaledDotProductAttention(is_causal=False, enable_gqa=group > 1)
        context = net.add(p + "attention", core, q, k, v)
    else:
        rank = len(net.shape(k))
        k = net.add(p + "k_t", Transpose(rank - 2, rank - 1), k)

        def product(role):
            if not skip_masked:
                return MatMul()
            return MatMul(role) if window is None else SlidingWindowMatMul(role, window)

        scores = net.add(p + "scores", product("output"), q, k)
        weights = net.add(p + "scale", Scale(head_dim**-0.5), scores)
        core = [scores, weights]
        if causal:
            weights = net.add(p + "mask", CausalMask() if window is None else SlidingWindowMask(window), weights)
            core.append(weights)
        weights = net.add(p + "softmax", Softmax(-1), weights)
        core.append(weights)
        if dropout:
            weights = net.add(p + names["attn_dropout"], Dropout(0.1), weights)
            core.append(weights)
        for name in core:
            nodes[name]["recompute"] = "attention_core"
        context = net.add(p + "context", product("left"), weights, v)
    merged = net.add(p + "merge", Reshape((seq, q_width)), net.add(p + "merge_heads", Permute(merge), context))
    out = net.add(p + names["out"], Linear(q_width, d_model, bias), merged)
    nodes[out]["parallel"] = "row"
    return out


def _partial_rotary(net, name, x, rotary_dim):
    """Rotate the first `rotary_dim` dimensions of each head, pass the rest (GPT-NeoX)."""
    rotated = net.add(name, RotaryEmbedding(rotary_dim), net.add(name + ".rot", Slice(-1, 0, rotary_dim), x))
    passed = net.add(name + ".pass", Slice(-1, rotary_dim, None), x)
    return net.add(name + ".cat", Concat(-1), rotated, passed)


def _activation(kind):
    if kind == "relu":
        return ReLU()
    if kind in ("swiglu",):
        return SiLU()
    return GELU("tanh" if kind in ("gelu_tanh", "geglu") else "none")


def _mlp(net, p, x, names, *, d_model, d_ff, kind, bias, dropout, blocks):
    nodes = net.graph.nodes  # "parallel": how tensor parallelism shards each projection (`costgraph.training`)
    if kind in ("swiglu", "geglu"):
        if blocks == "fused":
            node = net.add(p + names["mlp"], GatedMLP(d_model, d_ff, "silu" if kind == "swiglu" else "gelu", bias), x)
            nodes[node]["parallel"] = "block"
            return node
        gate = net.add(p + names["gate"], Linear(d_model, d_ff, bias), x)
        up = net.add(p + names["up"], Linear(d_model, d_ff, bias), x)
        nodes[gate]["parallel"] = nodes[up]["parallel"] = "column"
        act = net.add(p + names["act"], _activation(kind), gate)
        hidden = net.add(p + "mlp.gated", Mul(), act, up)
    else:
        hidden = net.add(p + names["fc"], Linear(d_model, d_ff, bias), x)
        nodes[hidden]["parallel"] = "column"
        hidden = net.add(p + names["act"], _activation(kind), hidden)
    out = net.add(p + names["down"], Linear(d_ff, d_model, bias), hidden)
    nodes[out]["parallel"] = "row"
    if dropout:
        out = net.add(p + names["mlp_dropout"], Dropout(0.1), out)
    return out


@strict_options
def decoder(
    layers: int,
    d_model: int,
    heads: int,
    kv_heads: int | None = None,
    d_ff: int | None = None,
    vocab: int = 50257,
    *,
    name: str = "decoder",
    head_dim: int | None = None,
    norm: str = "layernorm",
    eps: float = 1e-5,
    mlp: str = "gelu_tanh",
    positions: str = "learned",
    max_positions: int = 1024,
    tied: bool = True,
    bias: bool = True,
    fused_qkv: bool = True,
    dropout: bool = True,
    causal: bool = True,
    skip_masked: bool = False,
    blocks: str = "parts",
    names: str = "gpt2",
    qkv_bias: bool | None = None,
    mlp_bias: bool | None = None,
    parallel: str | None = None,
    rotary_dim: int | None = None,
    position_offset: int = 0,
    sliding_window: int | None = None,
    embed_scale: bool = False,
    experts: int | None = None,
    top_k: int | None = None,
    shared_experts: int = 0,
    attention_kernel: str = "eager",
    query_length=None,
    logits_to_keep: int = 0,
) -> Network:
    """A pre-norm decoder-only transformer language model on token ids ``(N, S)``.

    ``ids -> embed [+ learned positions] -> layers x (x + attn(norm(x)); x + mlp(norm(x)))
    -> final norm -> lm_head``; with `parallel`, ``x + attn(norm(x)) + mlp(norm'(x))``.

    Parameters
    ----------
    layers, d_model, heads : int
        Depth, width and query heads.
    kv_heads : int, optional
        Key/value heads (grouped-query attention when fewer than `heads`).
    d_ff : int, optional
        MLP hidden width; default ``4 * d_model``.
    vocab : int
        Vocabulary size (rows of the embedding and of the head).
    norm : {"layernorm", "rmsnorm"}
    mlp : {"gelu_tanh", "gelu", "relu", "swiglu", "geglu"}
        GPT-2's ``gelu_new`` (tanh form), exact GELU (GPT-NeoX, Falcon), ReLU
        (OPT), Llama's gated SiLU MLP, or Gemma's gated GELU (tanh form).
    positions : {"learned", "rotary"}
        A learned table of `max_positions` rows added after the embedding
        (then ``S <= max_positions`` is checked), or rotary embeddings on
        queries and keys.
    tied : bool
        The head shares the embedding's weights (counted once, `Network.add`).
    bias : bool
        Biases in every projection.
    fused_qkv : bool
        One packed q/k/v projection (GPT-2's ``c_attn``) or three.
    dropout : bool
        Add GPT-2's dropout nodes (free at inference; they keep masks in training).
    causal, skip_masked : bool
        Causal masking, and counting only the pairs it keeps (`MatMul.triangular`).
    blocks : {"parts", "fused"}
        See `attention`.
    names : {"gpt2", "llama", "opt", "neox", "falcon"}
        Module names to follow (Hugging Face's GPT-2, Llama, OPT, GPT-NeoX, Falcon).
    qkv_bias, mlp_bias : bool, optional
        Biases on the query/key/value projections and in the MLP; default
        `bias` (Qwen2: ``bias=False, qkv_bias=True``).
    parallel : {None, "shared_norm", "two_norms"}
        Attention and MLP side by side on the same input, both added to the
        residual: one norm feeding both (Falcon-7B, GPT-J) or one each
        (GPT-NeoX, Pythia).
    rotary_dim : int, optional
        Rotate only this many of each head's dimensions (Pythia: 16 of 64).
    position_offset : int
        Extra rows of the learned position table (OPT: 2; its table has
        ``max_positions + 2`` rows and positions start at row 2, so, as in
        Hugging Face, ``S <= max_positions``).
    sliding_window : int, optional
        Mistral's sliding-window attention (see `attention`'s `window`): the
        same MACs unless ``skip_masked=True``.
    embed_scale : bool
        Multiply the embeddings by ``sqrt(d_model)`` (Gemma): 1 FLOP each.
    experts, top_k, shared_experts : int, optional
        A mixture of `experts` MLPs of width `d_ff`, `top_k` per token, in
        place of the MLP (`costgraph.kinds.MixtureOfExperts`; Mixtral).
    attention_kernel : {"eager", "fused"}
        Attention as eager PyTorch runs it (an ``(N, heads, S, S)`` score
        tensor, kept for backward) or as a fused kernel (FlashAttention,
        SDPA: none); the same MACs.  See `attention`.
    query_length : int or size formula, optional
        New tokens this forward pass processes; the other ``S - query_length``
        come from a key/value cache, so every attention reads ``S`` keys.
        Default: all ``S`` (no cache).  ``query_length=1`` is one decode step
        (`costgraph.Network.decode_step` builds it).
    logits_to_keep : int
        As Hugging Face's forward argument: 0 computes the head on every
        position, k > 0 on the last k only (``generate`` passes 1 for the
        prompt; `costgraph.Network.generation` builds it).

    The returned network remembers how it was built (``net.builder``), so
    `costgraph.Network.decode_step` can rebuild it with a cache.

    Raises
    ------
    CostGraphError
        For an unknown option or sizes that do not fit.

    Examples
    --------
    A Llama-style model: 2 layers of width 64, 8 query heads sharing 2
    key/value heads, SwiGLU MLP of 96, RMSNorm, rotary positions, untied head.

    >>> net = decoder(2, 64, 8, kv_heads=2, d_ff=96, vocab=100, norm="rmsnorm", mlp="swiglu",
    ...               positions="rotary", tied=False, bias=False, fused_qkv=False, names="llama")
    >>> per_layer = 2 * 64 * 64 + 2 * 64 * 16 + 3 * 64 * 96 + 2 * 64   # q, o; k, v; MLP; norms
    >>> net.totals().params == 2 * per_layer + 2 * 100 * 64 + 64       # embed, head, final norm
    True
    """
    config = dict(locals())  # every option, to rebuild with a cache (`Network.decode_step`)
    _choice(norm, ("layernorm", "rmsnorm"), "norm")
    _choice(mlp, ("gelu_tanh", "gelu", "relu", "swiglu", "geglu"), "mlp")
    _choice(parallel, (None, "shared_norm", "two_norms"), "parallel")
    if (experts is None) != (top_k is None):
        raise CostGraphError("decoder: a mixture of experts needs both experts= and top_k=", value=experts or top_k)
    qkv_bias = bias if qkv_bias is None else qkv_bias
    mlp_bias = bias if mlp_bias is None else mlp_bias
    if not isinstance(position_offset, int) or isinstance(position_offset, bool) or position_offset < 0:
        raise CostGraphError(f"decoder: position_offset must be an int >= 0, got {position_offset!r}", value=position_offset)
    _choice(positions, ("learned", "rotary"), "positions")
    _choice(blocks, ("parts", "fused"), "blocks")
    words = NAMES[_choice(names, tuple(NAMES), "names")]
    d_ff = 4 * d_model if d_ff is None else d_ff

    def normalization():
        return LayerNorm(d_model, eps=eps) if norm == "layernorm" else RMSNorm(d_model, eps=eps)

    net = Network(name)
    if query_length is None:
        tokens, cached = S, None
    else:
        tokens = as_size(query_length, owner=name, what="query_length")
        cached = sympy.expand(S - tokens)
    ids = net.add("input_ids", Input((tokens,)))
    x = net.add(words["embed"], Embedding(vocab, d_model), ids)
    net.graph.nodes[x]["parallel"] = "vocab"
    if embed_scale:
        x = net.add("embed_scale", Scale(d_model**0.5), x)
    if positions == "learned":
        x = net.add(words["positions"], PositionalEmbedding(max_positions + position_offset, d_model, offset=position_offset), x)
    if dropout:
        x = net.add(words["drop"], Dropout(0.1), x)
    attn_names = {key: words[key] for key in ("qkv", "q", "k", "v", "out", "attn_dropout")}
    for i in range(layers):
        p = words["layer"].format(i=i) + "."
        first = len(net)
        h = net.add(p + words["norm_1"], normalization(), x)
        a = attention(
            net, p + words["attn"], h, d_model=d_model, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
            bias=bias, fused_qkv=fused_qkv, causal=causal, skip_masked=skip_masked,
            rotary=positions == "rotary", dropout=dropout, blocks=blocks, names=attn_names,
            qkv_bias=qkv_bias, rotary_dim=rotary_dim, window=sliding_window, kernel=attention_kernel, cached=cached,
        )
        if dropout:
            a = net.add(p + words["resid_dropout"], Dropout(0.1), a)
        if parallel is None:
            x = net.add(p + "residual_1", Add(), x, a)
            h = net.add(p + words["norm_2"], normalization(), x)
        elif parallel == "two_norms":
            h = net.add(p + words["norm_2"], normalization(), x)
        if experts is not None:
            activation = {"swiglu": "silu", "geglu": "gelu"}.get(mlp, "gelu" if mlp.startswith("gelu") else mlp)
            moe = MixtureOfExperts(
                d_model, d_ff, experts, top_k, shared_experts, activation=activation,
                gated=mlp in ("swiglu", "geglu"), bias=mlp_bias,
            )
            m = net.add(p + "mlp", moe, h)
            net.graph.nodes[m]["parallel"] = "experts"  # each expert split as a dense MLP (costgraph.training)
        else:
            m = _mlp(net, p, h, words, d_model=d_model, d_ff=d_ff, kind=mlp, bias=mlp_bias, dropout=dropout, blocks=blocks)
        if parallel is None:
            x = net.add(p + "residual_2", Add(), x, m)
        else:
            x = net.add(p + "residual", Add(), x, net.add(p + "attn_plus_mlp", Add(), a, m))
        _mark_block(net, first, i)
    x = net.add(words["norm_f"], normalization(), x)
    if logits_to_keep:
        # the last k positions (a view: which k positions does not change a count)
        x = net.add("logits_to_keep", Slice(1, 0, positive_int(logits_to_keep, "logits_to_keep", name)), x)
    head = net.add(words["head"], Linear(d_model, vocab, bias=False), x, shares=words["embed"] if tied else None)
    net.graph.nodes[head]["parallel"] = "column"
    net.builder = (decoder, config)
    # what Kaplan's C_forward needs (costgraph.llm_formulas)
    net.graph.graph["transformer"] = {"n_layer": layers, "d_attn": heads * (head_dim or d_model // heads)}
    return net


def _mark_block(net: Network, first: int, index: int) -> None:
    """Mark the nodes added since `first` (in insertion order) as transformer block `index`.

    `costgraph.training` reads the marks to place blocks on pipeline stages
    and to find what full recomputation keeps (each block's input).
    """
    for name in net._order[first:]:
        net.graph.nodes[name]["block"] = index


@register_model("gpt2", default_size=None, sizes={"S": 1024})
def gpt2(size: str = "small", **options) -> Network:
    """GPT-2 (Radford et al. 2019) in Hugging Face's ``GPT2LMHeadModel`` layout, head tied to ``wte``.

    `size` is "small" (124M), "medium", "large" or "xl"; 1024 learned
    positions, vocabulary 50257, ``gelu_new`` MLP of 4 x width.  `options`
    go to `decoder` (e.g. ``skip_masked=True``, ``blocks="fused"``).

    >>> gpt2("medium").totals().params        # Hugging Face's gpt2-medium
    354823168

    Raises
    ------
    CostGraphError
        For an unknown size.
    """
    layers, width, heads = GPT2_SIZES[_choice(size, tuple(GPT2_SIZES), "gpt2 size")]
    return decoder(layers, width, heads, vocab=50257, name=f"gpt2-{size}", **options)


@register_model("llama2_7b", default_size=None, sizes={"S": 4096})
def llama2_7b(**options) -> Network:
    """Llama 2 7B (Touvron et al. 2023) in Hugging Face's ``LlamaForCausalLM`` layout.

    32 layers of width 4096, 32 heads (no grouping), SwiGLU MLP of 11008,
    RMSNorm, rotary positions, vocabulary 32000, untied head, no biases.

    >>> llama2_7b().totals().params           # Meta's "7B": 6,738,415,616
    6738415616
    """
    settings = dict(
        kv_heads=32, d_ff=11008, vocab=32000, name="llama2-7b", norm="rmsnorm", eps=1e-5, mlp="swiglu",
        positions="rotary", tied=False, bias=False, fused_qkv=False, dropout=False, names="llama",
    )
    settings.update(options)
    return decoder(32, 4096, 32, **settings)


#: layer names of `encoder` per Hugging Face model: BertModel's (RoBERTa's too) and DistilBertModel's
#: (residual adds have no module in either; DistilBERT has no dropout after the attention output)
_ENCODER_NAMES = {
    "bert": dict(
        layer="encoder.layer.{i}", q="self.query", k="self.key", v="self.value", out="output.dense",
        attn_dropout="self.dropout", attn_out_dropout="attention.output.dropout", attn_residual="attention.residual",
        norm_1="attention.output.LayerNorm", fc="intermediate.dense", act="intermediate.intermediate_act_fn",
        down="output.dense", mlp_dropout="output.dropout", mlp_residual="output.residual", norm_2="output.LayerNorm",
    ),
    "distilbert": dict(
        layer="transformer.layer.{i}", q="q_lin", k="k_lin", v="v_lin", out="out_lin", attn_dropout="dropout",
        attn_out_dropout=None, attn_residual="sa_residual", norm_1="sa_layer_norm", fc="ffn.lin1", act="ffn.activation",
        down="ffn.lin2", mlp_dropout="ffn.dropout", mlp_residual="ffn_residual", norm_2="output_layer_norm",
    ),
}


@strict_options
def encoder(
    layers: int,
    d_model: int,
    heads: int,
    d_ff: int,
    vocab: int = 30522,
    *,
    name: str = "encoder",
    max_positions: int = 512,
    type_vocab: int = 2,
    eps: float = 1e-12,
    pooler: bool = True,
    blocks: str = "parts",
    attention_kernel: str = "eager",
    names: str = "bert",
    position_offset: int = 0,
) -> Network:
    """A post-norm BERT encoder on ``input_ids`` and ``token_type_ids`` ``(N, S)``.

    Word, token-type (`type_vocab`; 0 for none, as DistilBERT) and
    `max_positions` learned position embeddings summed, LayerNorm; `layers` x (``x = LN(x + attn(x))``,
    ``x = LN(x + mlp(x))``) with separate query/key/value projections and
    exact GELU; with `pooler`, dense + tanh on the first token.  No padding
    mask: every token attends to every token.  Hugging Face's ``BertModel``
    layout and names.  `attention_kernel` is "eager" (score tensors) or
    "fused" (none), as for `decoder`.  ``names="distilbert"`` names the
    layers as ``DistilBertModel`` does (``transformer.layer.{i}.attention.q_lin``,
    ``sa_layer_norm``, ``ffn.lin1``, ...) and, as it, has no dropout after the
    attention's output projection.  `position_offset` is the first row of
    the position table used (RoBERTa: 2, after its padding id 1), so
    ``S <= max_positions - position_offset``.

    Raises
    ------
    CostGraphError
        For sizes that do not fit (heads must divide d_model).

    Examples
    --------
    >>> net = encoder(2, 32, 4, 48, vocab=100, max_positions=64)
    >>> per_layer = 4 * (32 * 32 + 32) + 2 * 32 * 48 + 48 + 32 + 2 * 2 * 32   # attention, MLP, 2 LNs
    >>> embeddings = (100 + 2 + 64) * 32 + 2 * 32                         # three tables and a LN
    >>> net.totals().params == embeddings + 2 * per_layer + 32 * 32 + 32   # and the pooler
    True
    """
    net = Network(name)
    ids = net.add("input_ids", Input((S,)))
    types = net.add("token_type_ids", Input((S,))) if type_vocab else None
    x = net.add("embeddings.word_embeddings", Embedding(vocab, d_model), ids)
    if type_vocab:
        type_rows = net.add("embeddings.token_type_embeddings", Embedding(type_vocab, d_model), types)
        x = net.add("embeddings.sum", Add(), x, type_rows)
    x = net.add("embeddings.position_embeddings", PositionalEmbedding(max_positions, d_model, offset=position_offset), x)
    x = net.add("embeddings.LayerNorm", LayerNorm(d_model, eps=eps), x)
    x = net.add("embeddings.dropout", Dropout(0.1), x)
    words = _ENCODER_NAMES[_choice(names, tuple(_ENCODER_NAMES), "encoder names")]
    attn_names = {key: words[key] for key in ("q", "k", "v", "out", "attn_dropout")}
    for i in range(layers):
        p = words["layer"].format(i=i) + "."
        first = len(net)
        a = attention(
            net, p + "attention", x, d_model=d_model, heads=heads, fused_qkv=False, dropout=True,
            blocks=blocks, names=attn_names, kernel=attention_kernel,
        )
        if words["attn_out_dropout"]:
            a = net.add(p + words["attn_out_dropout"], Dropout(0.1), a)
        a = net.add(p + words["attn_residual"], Add(), a, x)
        x = net.add(p + words["norm_1"], LayerNorm(d_model, eps=eps), a)
        h = net.add(p + words["fc"], Linear(d_model, d_ff), x)
        net.graph.nodes[h]["parallel"] = "column"
        h = net.add(p + words["act"], GELU(), h)
        h = net.add(p + words["down"], Linear(d_ff, d_model), h)
        net.graph.nodes[h]["parallel"] = "row"
        h = net.add(p + words["mlp_dropout"], Dropout(0.1), h)
        h = net.add(p + words["mlp_residual"], Add(), h, x)
        x = net.add(p + words["norm_2"], LayerNorm(d_model, eps=eps), h)
        _mark_block(net, first, i)
    if pooler:
        first = net.add("pooler.first_token", Reshape((d_model,)), net.add("pooler.slice", Slice(1, 0, 1), x))
        net.add("pooler.activation", Tanh(), net.add("pooler.dense", Linear(d_model, d_model), first))
    net.graph.graph["transformer"] = {"n_layer": layers, "d_attn": d_model}
    return net


@register_model("bert", default_size=None, sizes={"S": 512})
def bert(size: str = "base", **options) -> Network:
    """BERT (Devlin et al. 2018) in Hugging Face's ``BertModel`` layout, with the pooler.

    `size` is "base" (12 layers of 768, 12 heads, MLP 3072) or "large" (24 of
    1024, 16 heads, 4096); vocabulary 30522, 512 positions; `options` go to
    `encoder`.

    >>> bert("base").totals().params          # Hugging Face's bert-base-uncased
    109482240

    Raises
    ------
    CostGraphError
        For an unknown size.
    """
    layers, width, heads, d_ff = BERT_SIZES[_choice(size, tuple(BERT_SIZES), "bert size")]
    return encoder(layers, width, heads, d_ff, name=f"bert-{size}", **options)


# -- backward and per-token FLOPs ---------------------------------------------------------


def backward_macs(net: Network) -> sympy.Expr:
    """MACs of a training step's backward pass: `costgraph.memory.backward_macs` summed.

    Each kind derives its own: a product ``C = A B`` (m x k times k x n)
    has gradients ``dA = dC B^T`` and ``dB = A^T dC``, m*n*k MACs each, so a
    layer pays one forward's worth per operand that needs a gradient -- a
    weight always, an activation only if it depends on some parameter (not
    the token ids or the image).  Hence backward = 2 x forward for every
    product of a language model, and 1 x for ViT's patch projection.

    Raises
    ------
    CostGraphError
        For a layer whose kind declares no backward rule (never a silent zero).

    >>> from costgraph.models import gpt2
    >>> net = gpt2("small")
    >>> sympy.expand(backward_macs(net) - 2 * net.totals().macs)
    0
    """
    from ..memory import backward_macs as per_layer  # the memory model imports the network

    return sympy.expand(sympy.Add(*per_layer(net).values()))


@dataclass(frozen=True)
class TokenFlops:
    """FLOPs per token: sympy expressions, or exact numbers at given sizes.

    Attributes
    ----------
    forward
        Every forward FLOP (``Totals.flops``, `costgraph.FLOP_CONVENTION`) per token.
    forward_matmul
        Matrix-product FLOPs only, ``2 * MACs`` per token: what Kaplan et
        al. and Chinchilla count.
    backward
        ``2 * backward_macs`` per token: the backward pass's matrix products
        (the backward of elementwise layers -- softmax, norms, activations --
        is not counted).
    training
        ``forward + backward``.
    """

    forward: object
    forward_matmul: object
    backward: object
    training: object


def token_flops(net: Network, tokens=None, **sizes) -> TokenFlops:
    """Forward, backward and training FLOPs per token of `net`.

    Parameters
    ----------
    tokens : sympy expression, optional
        Tokens per forward pass; default ``N * S`` (batch times sequence).
    **sizes : int
        Sizes to evaluate at (exact results: ints, or `fractions.Fraction`
        when a causal count is not a whole number per token).

    Raises
    ------
    CostGraphError
        If the network has no sequence length S and `tokens` is not given,
        or as `backward_macs` and `Network.totals` raise.

    >>> from costgraph.models import gpt2
    >>> t = token_flops(gpt2("small"), S=1024)
    >>> t.backward == 2 * t.forward_matmul      # derived, not assumed
    True
    >>> # 2 FLOPs per MAC: 12 layers x (12 d^2 + 2 * 1024 * d), and the head's d * vocab
    >>> t.forward_matmul == 2 * (12 * (12 * 768**2 + 2 * 1024 * 768) + 768 * 50257)
    True
    """
    if tokens is None:
        if S not in net.symbols:
            raise CostGraphError(f"{net.name} has no sequence length S; pass tokens=", value=None)
        tokens = N * S
    tokens = as_size(tokens, owner="token_flops", what="tokens")  # a number, a size name or a formula: never code
    totals = net.totals()
    exprs = [totals.flops, 2 * totals.macs, 2 * backward_macs(net), tokens]
    if not sizes:
        forward, matmul, backward = (sympy.expand(e / tokens) for e in exprs[:3])
        return TokenFlops(forward, matmul, backward, sympy.expand(forward + backward))
    values = net.check_sizes(**sizes)
    key = ("token_flops", tokens)
    if key not in net._cache:
        net._cache[key] = compile_exprs(net.symbols, exprs)
    flops, matmul, backward, count = net._cache[key](*[values[s] for s in net.symbols])
    per = [_exact(fractions.Fraction(int(v), int(count))) for v in (flops, matmul, backward)]
    return TokenFlops(per[0], per[1], per[2], _exact(fractions.Fraction(per[0]) + fractions.Fraction(per[2])))


def _exact(value: fractions.Fraction):
    return value.numerator if value.denominator == 1 else value
