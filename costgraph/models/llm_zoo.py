"""Decoder-only LLMs from their published configurations: Mistral, Llama 3, Qwen2, Phi-3, Gemma, OPT, Pythia, Falcon, Mixtral.

Each builder is `costgraph.models.decoder` with the values of the model's
``config.json`` on the Hugging Face hub (`CONFIGS`, keyed by zoo name), so
its parameters equal those of the ``transformers`` model built from that
config, and its MACs those of its eager forward pass
(``tests/test_llm_zoo.py`` checks both).  Every builder takes `decoder`'s
keywords as overrides, ``layers=`` included: ``llama3_8b(layers=2)`` is the
same model two layers deep.  Dropout nodes are left out: they cost nothing
at inference, and most of these models train without dropout (OPT's 0.1 is
the exception; ``dropout=True`` adds GPT-2's dropout nodes, for the masks
training memory keeps).

>>> from costgraph.models import llama3_8b
>>> llama3_8b().totals().params              # Meta's Llama-3-8B, as Hugging Face counts it
8030261248
>>> full, two = llama3_8b(), llama3_8b(layers=2)
>>> full.totals().params - two.totals().params == 30 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096)
True
"""

from __future__ import annotations

from ..network import Network
from . import register_model
from .transformer import decoder

__all__ = [
    "CONFIGS",
    "mistral_7b",
    "llama3_8b",
    "llama3_70b",
    "qwen2_0_5b",
    "qwen2_7b",
    "phi3_mini",
    "gemma_2b",
    "opt_125m",
    "pythia_160m",
    "falcon_7b",
    "mixtral_8x7b",
]

#: what Llama-family configs share: RMSNorm, rotary positions, SwiGLU, separate q/k/v, untied head, no biases
_LLAMA = dict(
    norm="rmsnorm", mlp="swiglu", positions="rotary", tied=False, bias=False, fused_qkv=False, dropout=False, names="llama"
)

#: `decoder` arguments per zoo entry, transcribed from each model's published config.json
CONFIGS = {
    # mistralai/Mistral-7B-v0.1: sliding_window 4096 (masked by HF's eager path: full-matrix MACs)
    "mistral_7b": dict(_LLAMA, layers=32, d_model=4096, heads=32, kv_heads=8, d_ff=14336, vocab=32000, eps=1e-5, sliding_window=4096),
    # meta-llama/Meta-Llama-3-8B and -70B
    "llama3_8b": dict(_LLAMA, layers=32, d_model=4096, heads=32, kv_heads=8, d_ff=14336, vocab=128256, eps=1e-5),
    "llama3_70b": dict(_LLAMA, layers=80, d_model=8192, heads=64, kv_heads=8, d_ff=28672, vocab=128256, eps=1e-5),
    # Qwen/Qwen2-0.5B (tied head) and Qwen/Qwen2-7B: biases on q, k, v only
    "qwen2_0_5b": dict(_LLAMA, layers=24, d_model=896, heads=14, kv_heads=2, d_ff=4864, vocab=151936, eps=1e-6, tied=True, qkv_bias=True),
    "qwen2_7b": dict(_LLAMA, layers=28, d_model=3584, heads=28, kv_heads=4, d_ff=18944, vocab=152064, eps=1e-6, qkv_bias=True),
    # microsoft/Phi-3-mini-4k-instruct: packed qkv_proj and gate_up_proj (the same products)
    "phi3_mini": dict(_LLAMA, layers=32, d_model=3072, heads=32, kv_heads=32, d_ff=8192, vocab=32064, eps=1e-5, fused_qkv=True),
    # google/gemma-2b: multi-query, head_dim 256, GeGLU (tanh GELU), tied head, embeddings times sqrt(d_model)
    "gemma_2b": dict(
        _LLAMA, layers=18, d_model=2048, heads=8, kv_heads=1, head_dim=256, d_ff=16384, vocab=256000, eps=1e-6,
        mlp="geglu", tied=True, embed_scale=True,
    ),
    # facebook/opt-125m: learned positions with an offset of 2, ReLU MLP, biases everywhere, tied head
    "opt_125m": dict(
        layers=12, d_model=768, heads=12, kv_heads=12, d_ff=3072, vocab=50272, norm="layernorm", eps=1e-5, mlp="relu",
        positions="learned", max_positions=2048, position_offset=2, tied=True, bias=True, fused_qkv=False,
        dropout=False, names="opt",
    ),
    # EleutherAI/pythia-160m: GPT-NeoX, parallel attention and MLP with two norms, rotary on 25% of each head
    "pythia_160m": dict(
        layers=12, d_model=768, heads=12, kv_heads=12, d_ff=3072, vocab=50304, norm="layernorm", eps=1e-5, mlp="gelu",
        positions="rotary", rotary_dim=16, tied=False, bias=True, fused_qkv=True, dropout=False, names="neox",
        parallel="two_norms",
    ),
    # tiiuae/falcon-7b: parallel attention and MLP sharing one norm, multi-query, no biases, tied head
    "falcon_7b": dict(
        layers=32, d_model=4544, heads=71, kv_heads=1, d_ff=4 * 4544, vocab=65024, norm="layernorm", eps=1e-5,
        mlp="gelu", positions="rotary", tied=True, bias=False, fused_qkv=True, dropout=False, names="falcon",
        parallel="shared_norm",
    ),
    # mistralai/Mixtral-8x7B-v0.1: 8 SwiGLU experts of 14336, 2 per token
    "mixtral_8x7b": dict(
        _LLAMA, layers=32, d_model=4096, heads=32, kv_heads=8, d_ff=14336, vocab=32000, eps=1e-5, experts=8, top_k=2
    ),
}


def _build(name: str, label: str, options: dict) -> Network:
    settings = dict(CONFIGS[name], name=label)
    settings.update(options)
    return decoder(**settings)


@register_model("mistral_7b", default_size=None, sizes={"S": 4096}, forwards_to=decoder)
def mistral_7b(**options) -> Network:
    """Mistral 7B v0.1 (Jiang et al. 2023): Llama layout, 8 key/value heads, sliding window 4096.

    Hugging Face's eager attention masks outside the window, so MACs count
    the full score matrix; ``skip_masked=True`` counts the window's pairs
    only.  `options` override `decoder`'s arguments (``layers=2``, ...).

    >>> mistral_7b().totals().params
    7241732096
    """
    return _build("mistral_7b", "mistral-7b", options)


@register_model("llama3_8b", default_size=None, sizes={"S": 8192}, forwards_to=decoder)
def llama3_8b(**options) -> Network:
    """Llama 3 8B (Meta 2024): 32 layers of 4096, 8 key/value heads, vocabulary 128256.

    >>> llama3_8b().totals().params
    8030261248
    """
    return _build("llama3_8b", "llama3-8b", options)


@register_model("llama3_70b", default_size=None, sizes={"S": 8192}, forwards_to=decoder)
def llama3_70b(**options) -> Network:
    """Llama 3 70B (Meta 2024): 80 layers of 8192, 64 query and 8 key/value heads.

    >>> llama3_70b().totals().params
    70553706496
    """
    return _build("llama3_70b", "llama3-70b", options)


@register_model("qwen2_0_5b", default_size=None, sizes={"S": 4096}, forwards_to=decoder)
def qwen2_0_5b(**options) -> Network:
    """Qwen2 0.5B (Qwen team 2024): biases on q/k/v only, head tied to the embedding.

    >>> qwen2_0_5b().totals().params
    494032768
    """
    return _build("qwen2_0_5b", "qwen2-0.5b", options)


@register_model("qwen2_7b", default_size=None, sizes={"S": 4096}, forwards_to=decoder)
def qwen2_7b(**options) -> Network:
    """Qwen2 7B (Qwen team 2024): biases on q/k/v only, untied head.

    >>> qwen2_7b().totals().params
    7615616512
    """
    return _build("qwen2_7b", "qwen2-7b", options)


@register_model("phi3_mini", default_size=None, sizes={"S": 4096}, forwards_to=decoder)
def phi3_mini(**options) -> Network:
    """Phi-3-mini 4k (Abdin et al. 2024): 32 layers of 3072, packed qkv and gate/up projections.

    >>> phi3_mini().totals().params
    3821079552
    """
    return _build("phi3_mini", "phi3-mini", options)


@register_model("gemma_2b", default_size=None, sizes={"S": 8192}, forwards_to=decoder)
def gemma_2b(**options) -> Network:
    """Gemma 2B (Gemma team 2024): multi-query attention of head_dim 256, GeGLU, scaled tied embedding.

    >>> gemma_2b().totals().params
    2506172416
    """
    return _build("gemma_2b", "gemma-2b", options)


@register_model("opt_125m", default_size=None, sizes={"S": 2048}, forwards_to=decoder)
def opt_125m(**options) -> Network:
    """OPT-125m (Zhang et al. 2022): learned positions offset by 2, ReLU MLP, tied head.

    >>> opt_125m().totals().params
    125239296
    """
    return _build("opt_125m", "opt-125m", options)


@register_model("pythia_160m", default_size=None, sizes={"S": 2048}, forwards_to=decoder)
def pythia_160m(**options) -> Network:
    """Pythia-160m (Biderman et al. 2023), GPT-NeoX: parallel residual, rotary on 16 of 64 dims.

    >>> pythia_160m().totals().params
    162322944
    """
    return _build("pythia_160m", "pythia-160m", options)


@register_model("falcon_7b", default_size=None, sizes={"S": 2048}, forwards_to=decoder)
def falcon_7b(**options) -> Network:
    """Falcon-7B (Almazrouei et al. 2023): parallel attention and MLP on one norm, multi-query.

    >>> falcon_7b().totals().params
    6921720704
    """
    return _build("falcon_7b", "falcon-7b", options)


@register_model("mixtral_8x7b", default_size=None, sizes={"S": 4096}, forwards_to=decoder)
def mixtral_8x7b(**options) -> Network:
    """Mixtral 8x7B (Jiang et al. 2024): Mistral's layout with 8 SwiGLU experts, 2 per token.

    ``params`` counts every expert; ``active_params`` the router and 2
    experts per layer (plus attention, norms, embedding and head); MACs are
    per token as routed.

    >>> t = mixtral_8x7b().totals()
    >>> t.params                              # Hugging Face's count
    46702792704
    >>> t.params - t.active_params == 32 * 6 * 3 * 4096 * 14336   # 6 idle experts per layer
    True
    """
    return _build("mixtral_8x7b", "mixtral-8x7b", options)
