"""Whisper (Radford et al. 2022): a convolutional front end on log-mel frames, then an encoder-decoder transformer.

Hugging Face's ``WhisperForConditionalGeneration`` layout and names.  The
encoder reads ``input_features (N, mels, 2 S)``: two 1-d convolutions of
kernel 3 (the second with stride 2) halve the frames to ``S`` positions,
each followed by a GELU; a fixed table of ``source_positions`` positions
(stored as a parameter, frozen) is added whole, so Hugging Face accepts
exactly ``S = source_positions`` (3000 mel frames for 1500 positions).  The
decoder reads ``decoder_input_ids (N, T)`` with ``T <= target_positions``
learned positions.  Pre-norm LayerNorm layers, GELU MLPs, biases on every
projection except the keys; queries scaled by ``head_dim ** -0.5``; the head
(``proj_out``) is tied to the decoder's token embedding.

The convolutions are `Conv1d` on ``(N, mels, 2 S)``: the second one's
output length ``floor((2 S + 1) / 2)`` is S.

>>> from costgraph.models import whisper_small
>>> whisper_small().totals().params          # Hugging Face's openai/whisper-small
241734912
"""

from __future__ import annotations

from ..kinds import GELU, Add, Conv1d, Embedding, Input, LayerNorm, Linear, Permute, PositionalEmbedding
from ..network import Network
from ..symbols import S
from . import register_model
from .encoder_decoder import T, attend
from .options import strict_options

__all__ = ["whisper", "whisper_small"]


def _mlp(net, p, x, d_model, d_ff):
    hidden = net.add(p + "activation_fn", GELU(), net.add(p + "fc1", Linear(d_model, d_ff), x))
    return net.add(p + "fc2", Linear(d_ff, d_model), hidden)


@strict_options
def whisper(
    layers: int,
    d_model: int,
    heads: int,
    d_ff: int,
    vocab: int = 51865,
    *,
    decoder_layers: int | None = None,
    mels: int = 80,
    source_positions: int = 1500,
    target_positions: int = 448,
    name: str = "whisper",
) -> Network:
    """A Whisper model: `layers` encoder and `decoder_layers` (default `layers`) decoder layers.

    Raises
    ------
    CostGraphError
        For sizes that do not fit (heads must divide d_model), or an unknown keyword.

    Examples
    --------
    >>> net = whisper(1, 32, 4, 64, vocab=100, mels=8, source_positions=10, target_positions=16)
    >>> front = 8 * 32 * 3 + 32 + 32 * 32 * 3 + 32                   # two convolutions
    >>> attention, mlp, norm = 4 * 32 * 32 + 3 * 32, 2 * 32 * 64 + 64 + 32, 2 * 32
    >>> encoder = front + 10 * 32 + attention + mlp + 2 * norm + norm   # + positions, final norm
    >>> decoder = (100 + 16) * 32 + 2 * attention + mlp + 3 * norm + norm
    >>> net.totals().params == encoder + decoder                       # the head is tied
    True
    >>> net.shape("encoder.embed_positions")
    (N, S, 32)
    """
    decoder_layers = layers if decoder_layers is None else decoder_layers
    sizes = dict(d_model=d_model, heads=heads, biases=(True, False, True, True), scale="queries")
    attn_names = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "out": "out_proj"}
    net = Network(name)
    frames = net.add("input_features", Input((mels, 2 * S)))
    x = net.add("encoder.conv1", Conv1d(mels, d_model, 3, padding=1), frames)
    x = net.add("encoder.conv2", Conv1d(d_model, d_model, 3, stride=2, padding=1), net.add("encoder.gelu1", GELU(), x))
    x = net.add("encoder.to_positions", Permute((0, 2, 1)), net.add("encoder.gelu2", GELU(), x))
    x = net.add("encoder.embed_positions", PositionalEmbedding(source_positions, d_model, whole_table=True), x)
    for i in range(layers):
        p = f"encoder.layers.{i}."
        h = net.add(p + "self_attn_layer_norm", LayerNorm(d_model), x)
        a, _ = attend(net, p + "self_attn", h, names=attn_names, **sizes)
        x = net.add(p + "residual_1", Add(), x, a)
        h = net.add(p + "final_layer_norm", LayerNorm(d_model), x)
        x = net.add(p + "residual_2", Add(), x, _mlp(net, p, h, d_model, d_ff))
    memory = net.add("encoder.layer_norm", LayerNorm(d_model), x)

    ids = net.add("decoder_input_ids", Input((T,)))
    y = net.add("decoder.embed_tokens", Embedding(vocab, d_model), ids)
    y = net.add("decoder.embed_positions", PositionalEmbedding(target_positions, d_model), y)
    for i in range(decoder_layers):
        p = f"decoder.layers.{i}."
        h = net.add(p + "self_attn_layer_norm", LayerNorm(d_model), y)
        a, _ = attend(net, p + "self_attn", h, causal=True, names=attn_names, **sizes)
        y = net.add(p + "residual_1", Add(), y, a)
        h = net.add(p + "encoder_attn_layer_norm", LayerNorm(d_model), y)
        c, _ = attend(net, p + "encoder_attn", h, memory, names=attn_names, **sizes)
        y = net.add(p + "residual_2", Add(), y, c)
        h = net.add(p + "final_layer_norm", LayerNorm(d_model), y)
        y = net.add(p + "residual_3", Add(), y, _mlp(net, p, h, d_model, d_ff))
    y = net.add("decoder.layer_norm", LayerNorm(d_model), y)
    net.add("proj_out", Linear(d_model, vocab, bias=False), y, shares="decoder.embed_tokens")
    return net


@register_model("whisper_small", default_size=None, sizes={"S": 1500, "T": 448})
def whisper_small(**options) -> Network:
    """Whisper small (Radford et al. 2022): 12 + 12 layers of 768, 12 heads, MLP 3072, 80 mel bins.

    `options` override `whisper`'s arguments (``layers=1, decoder_layers=1``, ...).

    >>> whisper_small().totals(S=1500, T=448).params
    241734912
    """
    settings = dict(layers=12, d_model=768, heads=12, d_ff=3072, vocab=51865, name="whisper-small")
    settings.update(options)
    return whisper(**settings)
