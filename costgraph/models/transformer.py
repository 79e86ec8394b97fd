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
    Dropout,
    Embedding,
    GatedMLP,
    Input,
    LayerNorm,
    Linear,
    MatMul,
    Mul,
    MultiheadAttention,
    Permute,
    PositionalEmbedding,
    Reshape,
    RMSNorm,
    RotaryEmbedding,
    Scale,
    SiLU,
    Slice,
    Softmax,
    Tanh,
    Transpose,
)
from ..network import Network
from ..symbols import N, S, as_size
from . import register_model

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


def _choice(value, allowed, what):
    if value not in allowed:
        raise CostGraphError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}", value=value)
    return value


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

    Raises
    ------
    CostGraphError
        For heads that do not divide, or an unknown `blocks`.

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
    if _choice(blocks, ("parts", "fused"), "blocks") == "fused":
        return net.add(
            prefix,
            MultiheadAttention(d_model, heads, bias, kv_heads, head_dim, causal, skip_masked, rotary=rotary),
            x,
        )
    group, seq = heads // kv_heads, net.shape(x)[1]
    q_width, kv_width = heads * head_dim, kv_heads * head_dim
    p = prefix + "."
    if fused_qkv:
        packed = net.add(p + names["qkv"], Linear(d_model, q_width + 2 * kv_width, bias), x)
        q = net.add(p + "q", Slice(-1, 0, q_width), packed)
        k = net.add(p + "k", Slice(-1, q_width, q_width + kv_width), packed)
        v = net.add(p + "v", Slice(-1, q_width + kv_width, None), packed)
    else:
        q = net.add(p + names["q"], Linear(d_model, q_width, bias), x)
        k = net.add(p + names["k"], Linear(d_model, kv_width, bias), x)
        v = net.add(p + names["v"], Linear(d_model, kv_width, bias), x)
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
    if rotary:
        q = net.add(p + "rope_q", RotaryEmbedding(head_dim), q)
        k = net.add(p + "rope_k", RotaryEmbedding(head_dim), k)
    rank = len(net.shape(k))
    k = net.add(p + "k_t", Transpose(rank - 2, rank - 1), k)
    scores = net.add(p + "scores", MatMul("output" if skip_masked else None), q, k)
    weights = net.add(p + "scale", Scale(head_dim**-0.5), scores)
    if causal:
        weights = net.add(p + "mask", CausalMask(), weights)
    weights = net.add(p + "softmax", Softmax(-1), weights)
    if dropout:
        weights = net.add(p + names["attn_dropout"], Dropout(0.1), weights)
    context = net.add(p + "context", MatMul("left" if skip_masked else None), weights, v)
    merged = net.add(p + "merge", Reshape((seq, q_width)), net.add(p + "merge_heads", Permute(merge), context))
    return net.add(p + names["out"], Linear(q_width, d_model, bias), merged)


def _mlp(net, p, x, names, *, d_model, d_ff, kind, bias, dropout, blocks):
    if kind == "swiglu":
        if blocks == "fused":
            return net.add(p + names["mlp"], GatedMLP(d_model, d_ff, "silu", bias), x)
        gate = net.add(p + names["gate"], Linear(d_model, d_ff, bias), x)
        up = net.add(p + names["up"], Linear(d_model, d_ff, bias), x)
        act = net.add(p + names["act"], SiLU(), gate)
        hidden = net.add(p + "mlp.gated", Mul(), act, up)
    else:
        hidden = net.add(p + names["fc"], Linear(d_model, d_ff, bias), x)
        hidden = net.add(p + names["act"], GELU("tanh" if kind == "gelu_tanh" else "none"), hidden)
    out = net.add(p + names["down"], Linear(d_ff, d_model, bias), hidden)
    if dropout:
        out = net.add(p + names["mlp_dropout"], Dropout(0.1), out)
    return out


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
) -> Network:
    """A pre-norm decoder-only transformer language model on token ids ``(N, S)``.

    ``ids -> embed [+ learned positions] -> layers x (x + attn(norm(x)); x + mlp(norm(x)))
    -> final norm -> lm_head``.

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
    mlp : {"gelu_tanh", "gelu", "swiglu"}
        GPT-2's ``gelu_new`` (tanh form), exact GELU, or Llama's gated SiLU MLP.
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
    names : {"gpt2", "llama"}
        Module names to follow (Hugging Face's).

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
    _choice(norm, ("layernorm", "rmsnorm"), "norm")
    _choice(mlp, ("gelu_tanh", "gelu", "swiglu"), "mlp")
    _choice(positions, ("learned", "rotary"), "positions")
    _choice(blocks, ("parts", "fused"), "blocks")
    words = NAMES[_choice(names, tuple(NAMES), "names")]
    d_ff = 4 * d_model if d_ff is None else d_ff

    def normalization():
        return LayerNorm(d_model, eps=eps) if norm == "layernorm" else RMSNorm(d_model, eps=eps)

    net = Network(name)
    ids = net.add("input_ids", Input((S,)))
    x = net.add(words["embed"], Embedding(vocab, d_model), ids)
    if positions == "learned":
        x = net.add(words["positions"], PositionalEmbedding(max_positions, d_model), x)
    if dropout:
        x = net.add(words["drop"], Dropout(0.1), x)
    attn_names = {key: words[key] for key in ("qkv", "q", "k", "v", "out", "attn_dropout")}
    for i in range(layers):
        p = words["layer"].format(i=i) + "."
        h = net.add(p + words["norm_1"], normalization(), x)
        a = attention(
            net, p + words["attn"], h, d_model=d_model, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
            bias=bias, fused_qkv=fused_qkv, causal=causal, skip_masked=skip_masked,
            rotary=positions == "rotary", dropout=dropout, blocks=blocks, names=attn_names,
        )
        if dropout:
            a = net.add(p + words["resid_dropout"], Dropout(0.1), a)
        x = net.add(p + "residual_1", Add(), x, a)
        h = net.add(p + words["norm_2"], normalization(), x)
        m = _mlp(net, p, h, words, d_model=d_model, d_ff=d_ff, kind=mlp, bias=bias, dropout=dropout, blocks=blocks)
        x = net.add(p + "residual_2", Add(), x, m)
    net.add(words["norm_f"], normalization(), x)
    net.add(words["head"], Linear(d_model, vocab, bias=False), shares=words["embed"] if tied else None)
    return net


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
) -> Network:
    """A post-norm BERT encoder on ``input_ids`` and ``token_type_ids`` ``(N, S)``.

    Word, token-type (`type_vocab`) and `max_positions` learned position
    embeddings summed, LayerNorm; `layers` x (``x = LN(x + attn(x))``,
    ``x = LN(x + mlp(x))``) with separate query/key/value projections and
    exact GELU; with `pooler`, dense + tanh on the first token.  No padding
    mask: every token attends to every token.  Hugging Face's ``BertModel``
    layout and names.

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
    types = net.add("token_type_ids", Input((S,)))
    words = net.add("embeddings.word_embeddings", Embedding(vocab, d_model), ids)
    type_rows = net.add("embeddings.token_type_embeddings", Embedding(type_vocab, d_model), types)
    x = net.add("embeddings.sum", Add(), words, type_rows)
    x = net.add("embeddings.position_embeddings", PositionalEmbedding(max_positions, d_model), x)
    x = net.add("embeddings.LayerNorm", LayerNorm(d_model, eps=eps), x)
    x = net.add("embeddings.dropout", Dropout(0.1), x)
    attn_names = dict(q="self.query", k="self.key", v="self.value", out="output.dense", attn_dropout="self.dropout")
    for i in range(layers):
        p = f"encoder.layer.{i}."
        a = attention(
            net, p + "attention", x, d_model=d_model, heads=heads, fused_qkv=False, dropout=True,
            blocks=blocks, names=attn_names,
        )
        a = net.add(p + "attention.output.dropout", Dropout(0.1), a)
        a = net.add(p + "attention.residual", Add(), a, x)
        x = net.add(p + "attention.output.LayerNorm", LayerNorm(d_model, eps=eps), a)
        h = net.add(p + "intermediate.dense", Linear(d_model, d_ff), x)
        h = net.add(p + "intermediate.intermediate_act_fn", GELU(), h)
        h = net.add(p + "output.dense", Linear(d_ff, d_model), h)
        h = net.add(p + "output.dropout", Dropout(0.1), h)
        h = net.add(p + "output.residual", Add(), h, x)
        x = net.add(p + "output.LayerNorm", LayerNorm(d_model, eps=eps), h)
    if pooler:
        first = net.add("pooler.first_token", Reshape((d_model,)), net.add("pooler.slice", Slice(1, 0, 1), x))
        net.add("pooler.activation", Tanh(), net.add("pooler.dense", Linear(d_model, d_model), first))
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
