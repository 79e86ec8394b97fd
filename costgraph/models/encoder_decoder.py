"""Encoder-decoder transformers: attention over a second sequence, and T5 (`encoder_decoder`, `t5_small`, `t5_base`).

Two sequence sizes: ``S``, the encoder's input length, and ``T``
(``costgraph.symbols.size_symbol("T")``), the decoder's.  The decoder's
self-attention is ``T x T`` (causal); its cross-attention takes queries
from the decoder and keys and values from the encoder's output: ``T x S``
scores.

T5 follows Hugging Face's ``T5ForConditionalGeneration`` (names included):
RMS layer norms without bias (``T5LayerNorm``), no biases anywhere, no
score scaling (T5 folds it into the initialization), a ReLU MLP
(``DenseReluDense``), and a relative position bias (a learned scalar per
bucket of key - query offset and head) owned by the first layer of each
stack and added to every layer's self-attention scores.  The embedding is
shared by encoder, decoder and the (tied) head; the decoder output is
scaled by ``d_model ** -0.5`` before the head.

>>> from costgraph.models import t5_small
>>> net = t5_small()
>>> net.totals().params                       # Hugging Face's t5-small
60506624
>>> sorted(s.name for s in net.symbols)
['N', 'S', 'T']
"""

from __future__ import annotations

from ..errors import CostGraphError
from ..kinds import (
    GELU,
    Add,
    CausalMask,
    Embedding,
    Input,
    Linear,
    MatMul,
    Mul,
    Permute,
    RelativePositionBias,
    ReLU,
    Reshape,
    RMSNorm,
    Scale,
    Softmax,
    Transpose,
)
from ..network import Network
from ..symbols import S, size_symbol
from . import register_model
from .options import strict_options

__all__ = ["T", "attend", "encoder_decoder", "t5_small", "t5_base", "T5_SIZES"]

T = size_symbol("T")  #: the decoder's sequence length

#: (num_layers, d_model, num_heads, d_ff) of Hugging Face's t5-small and t5-base (d_kv 64, vocabulary 32128)
T5_SIZES = {"small": (6, 512, 8, 2048), "base": (12, 768, 12, 3072)}


@strict_options
def attend(
    net: Network,
    prefix: str,
    x: str,
    memory: str | None = None,
    *,
    d_model: int,
    heads: int,
    head_dim: int | None = None,
    biases: tuple = (True, True, True, True),
    scale: str | None = "scores",
    causal: bool = False,
    position_bias: str | None = None,
    num_buckets: int = 32,
    names: dict | None = None,
) -> tuple:
    """Add attention of `x` ``(N, Tq, d_model)`` over `memory` (default `x`); return (output, bias).

    Queries are projected from `x`, keys and values from `memory` (``(N,
    Sk, d_model)``): self-attention without `memory`, cross-attention with
    it.  `biases` says which of the q, k, v and output projections have a
    bias (Whisper: ``(True, False, True, True)``; T5: none).  `scale`
    multiplies the ``"scores"`` by ``head_dim ** -0.5``, or the
    ``"queries"`` (Whisper, as Hugging Face does: the same MACs, one
    product per query element instead of per score), or nothing (None: T5).

    `position_bias` is ``"own"`` to add a `RelativePositionBias` table
    here (T5's first layer), the name of an earlier layer's bias to add
    again, or None.  With `causal`, the causal mask is added to the scores
    (or, with a position bias, folded into it once, as Hugging Face does).
    The second value returned is the bias layer's name to pass on (or None).

    Raises
    ------
    CostGraphError
        For heads that do not divide `d_model` (without `head_dim`), an
        unknown `scale`, or an unknown keyword.

    Examples
    --------
    >>> from costgraph import Network, S
    >>> from costgraph.kinds import Input
    >>> from costgraph.models.encoder_decoder import T
    >>> net = Network("cross")
    >>> enc, dec = net.add("enc", Input((S, 64))), net.add("dec", Input((T, 64)))
    >>> out, _ = attend(net, "cross", dec, enc, d_model=64, heads=4, biases=(False,) * 4)
    >>> net.shape("cross.scores")
    (N, 4, T, S)
    >>> # q, o on 3 queries; k, v on 7 keys; scores and weights x V: 4 heads x 3 x 7 x 16, twice
    >>> net.totals(S=7, T=3).macs == 3 * 64 * 64 * 2 + 7 * 64 * 64 * 2 + 2 * 4 * 3 * 7 * 16
    True
    """
    names = {"q": "q", "k": "k", "v": "v", "out": "o", "bias": "relative_attention_bias", **(names or {})}
    if scale not in (None, "scores", "queries"):
        raise CostGraphError(f"{prefix}: scale must be None, 'scores' or 'queries', got {scale!r}", value=scale)
    if head_dim is None:
        if d_model % heads:
            raise CostGraphError(f"{prefix}: heads={heads} must divide d_model={d_model}", value=heads)
        head_dim = d_model // heads
    memory = x if memory is None else memory
    width, p = heads * head_dim, prefix + "."
    q_len, k_len = net.shape(x)[1], net.shape(memory)[1]
    q = net.add(p + names["q"], Linear(d_model, width, biases[0]), x)
    k = net.add(p + names["k"], Linear(d_model, width, biases[1]), memory)
    v = net.add(p + names["v"], Linear(d_model, width, biases[2]), memory)
    if scale == "queries":
        q = net.add(p + "scale", Scale(head_dim**-0.5), q)
    q = net.add(p + "q_heads", Permute((0, 2, 1, 3)), net.add(p + "q_split", Reshape((q_len, heads, head_dim)), q))
    k = net.add(p + "k_heads", Permute((0, 2, 1, 3)), net.add(p + "k_split", Reshape((k_len, heads, head_dim)), k))
    v = net.add(p + "v_heads", Permute((0, 2, 1, 3)), net.add(p + "v_split", Reshape((k_len, heads, head_dim)), v))
    scores = net.add(p + "scores", MatMul(), q, net.add(p + "k_t", Transpose(2, 3), k))
    if scale == "scores":
        scores = net.add(p + "scale", Scale(head_dim**-0.5), scores)
    bias = None
    if position_bias == "own":
        bias = net.add(p + names["bias"], RelativePositionBias(num_buckets, heads, bidirectional=not causal), scores)
        if causal:
            bias = net.add(p + "mask", CausalMask(), bias)
    elif position_bias is not None:
        bias = position_bias
    if bias is not None:
        scores = net.add(p + "position_bias", Add(), scores, bias)
    elif causal:
        scores = net.add(p + "mask", CausalMask(), scores)
    weights = net.add(p + "softmax", Softmax(-1), scores)
    context = net.add(p + "context", MatMul(), weights, v)
    merged = net.add(p + "merge", Reshape((q_len, width)), net.add(p + "merge_heads", Permute((0, 2, 1, 3)), context))
    return net.add(p + names["out"], Linear(width, d_model, biases[3]), merged), bias


def _t5_mlp(net, p, x, *, d_model, d_ff, mlp):
    if mlp == "relu":
        hidden = net.add(p + "wi", Linear(d_model, d_ff, bias=False), x)
        hidden = net.add(p + "act", ReLU(), hidden)
    else:  # T5 v1.1's gated GELU
        gate = net.add(p + "act", GELU("tanh"), net.add(p + "wi_0", Linear(d_model, d_ff, bias=False), x))
        hidden = net.add(p + "gated", Mul(), gate, net.add(p + "wi_1", Linear(d_model, d_ff, bias=False), x))
    return net.add(p + "wo", Linear(d_ff, d_model, bias=False), hidden)


@strict_options
def encoder_decoder(
    layers: int,
    d_model: int,
    heads: int,
    d_ff: int,
    vocab: int = 32128,
    *,
    decoder_layers: int | None = None,
    head_dim: int | None = None,
    num_buckets: int = 32,
    eps: float = 1e-6,
    mlp: str = "relu",
    tied: bool = True,
    name: str = "encoder-decoder",
) -> Network:
    """A T5-style encoder-decoder on ``input_ids (N, S)`` and ``decoder_input_ids (N, T)``.

    Encoder: shared embedding, `layers` x (``x + attn(norm(x))``, ``x +
    mlp(norm(x))``), final norm.  Decoder: the same embedding, `decoder_layers`
    (default `layers`) x (causal self-attention, cross-attention over the
    encoder's output, MLP), each pre-norm with a residual, final norm, then
    the head (tied: scaled by ``d_model ** -0.5`` first, sharing the
    embedding's weights).  Relative position biases in the first layer of
    each stack (`attend`).

    Parameters
    ----------
    layers, d_model, heads, d_ff, vocab : int
        Encoder depth, width, heads, MLP width and vocabulary.
    decoder_layers : int, optional
        Decoder depth (default `layers`).
    head_dim : int, optional
        T5's ``d_kv`` (default ``d_model / heads``).
    num_buckets : int
        Relative position buckets.
    mlp : {"relu", "geglu"}
        T5's ``DenseReluDense``, or T5 v1.1's gated GELU.
    tied : bool
        Head tied to the embedding (T5 v1.0).

    Raises
    ------
    CostGraphError
        For an unknown `mlp`, sizes that do not fit, or an unknown keyword.

    Examples
    --------
    >>> net = encoder_decoder(1, 32, 4, 48, vocab=100, num_buckets=8)
    >>> attention, mlp, norm = 4 * 32 * 32, 2 * 32 * 48, 32
    >>> encoder = attention + mlp + 2 * norm + 8 * 4 + norm     # a layer, its bias table, final norm
    >>> decoder = 2 * attention + mlp + 3 * norm + 8 * 4 + norm
    >>> net.totals().params == 100 * 32 + encoder + decoder      # embedding shared three ways
    True
    """
    if mlp not in ("relu", "geglu"):
        raise CostGraphError(f"encoder_decoder: mlp must be 'relu' or 'geglu', got {mlp!r}", value=mlp)
    decoder_layers = layers if decoder_layers is None else decoder_layers
    sizes = dict(d_model=d_model, heads=heads, head_dim=head_dim, biases=(False,) * 4, scale=None, num_buckets=num_buckets)
    attn_names = {"q": "q", "k": "k", "v": "v", "out": "o"}
    net = Network(name)
    ids = net.add("input_ids", Input((S,)))
    x = net.add("shared", Embedding(vocab, d_model), ids)
    bias = "own"
    for i in range(layers):
        p = f"encoder.block.{i}.layer."
        h = net.add(p + "0.layer_norm", RMSNorm(d_model, eps=eps), x)
        a, bias = attend(net, p + "0.SelfAttention", h, position_bias=bias, names=attn_names, **sizes)
        x = net.add(p + "0.residual", Add(), x, a)
        h = net.add(p + "1.layer_norm", RMSNorm(d_model, eps=eps), x)
        x = net.add(p + "1.residual", Add(), x, _t5_mlp(net, p + "1.DenseReluDense.", h, d_model=d_model, d_ff=d_ff, mlp=mlp))
    memory = net.add("encoder.final_layer_norm", RMSNorm(d_model, eps=eps), x)

    dec_ids = net.add("decoder_input_ids", Input((T,)))
    y = net.add("decoder.embed_tokens", Embedding(vocab, d_model), dec_ids, shares="shared")
    bias = "own"
    for i in range(decoder_layers):
        p = f"decoder.block.{i}.layer."
        h = net.add(p + "0.layer_norm", RMSNorm(d_model, eps=eps), y)
        a, bias = attend(net, p + "0.SelfAttention", h, causal=True, position_bias=bias, names=attn_names, **sizes)
        y = net.add(p + "0.residual", Add(), y, a)
        h = net.add(p + "1.layer_norm", RMSNorm(d_model, eps=eps), y)
        c, _ = attend(net, p + "1.EncDecAttention", h, memory, names=attn_names, **sizes)
        y = net.add(p + "1.residual", Add(), y, c)
        h = net.add(p + "2.layer_norm", RMSNorm(d_model, eps=eps), y)
        y = net.add(p + "2.residual", Add(), y, _t5_mlp(net, p + "2.DenseReluDense.", h, d_model=d_model, d_ff=d_ff, mlp=mlp))
    y = net.add("decoder.final_layer_norm", RMSNorm(d_model, eps=eps), y)
    if tied:
        y = net.add("scale_to_vocab", Scale(d_model**-0.5), y)
    net.add("lm_head", Linear(d_model, vocab, bias=False), y, shares="shared" if tied else None)
    return net


def _t5(size: str, options: dict) -> Network:
    layers, width, heads, d_ff = T5_SIZES[size]
    settings = dict(layers=layers, d_model=width, heads=heads, d_ff=d_ff, vocab=32128, head_dim=64, name=f"t5-{size}")
    settings.update(options)
    return encoder_decoder(**settings)


@register_model("t5_small", default_size=None, sizes={"S": 512, "T": 512}, forwards_to=encoder_decoder)
def t5_small(**options) -> Network:
    """T5-small (Raffel et al. 2020): 6 + 6 layers of 512, 8 heads, ReLU MLP of 2048, tied head.

    `options` override `encoder_decoder`'s arguments (``layers=1``, ...).

    >>> t5_small().totals().params            # Hugging Face's t5-small
    60506624
    """
    return _t5("small", options)


@register_model("t5_base", default_size=None, sizes={"S": 512, "T": 512}, forwards_to=encoder_decoder)
def t5_base(**options) -> Network:
    """T5-base (Raffel et al. 2020): 12 + 12 layers of 768, 12 heads, ReLU MLP of 3072, tied head.

    >>> t5_base().totals().params             # Hugging Face's t5-base
    222903552
    """
    return _t5("base", options)
