"""Kaplan et al.'s language-model accounting beside the exact count: non-embedding N and C_forward.

Kaplan et al. 2020, "Scaling Laws for Neural Language Models"
(arXiv:2001.08361), section 2.1 and table 1, measure a model by N, its
parameters without the vocabulary and position embeddings, and its forward
cost per token by ``C_forward = 2 N + 2 n_layer n_ctx d_attn`` FLOPs (the
weights once per token, two FLOPs per MAC, plus the attention scores and
their weighted sum over n_ctx positions, causality ignored).

`non_embedding_params` is the exact N of a network: its parameters minus
those of the token, token-type and position tables (`Embedding`,
`PositionalEmbedding`, T5's `RelativePositionBias`) and of an untied output
head (a final `Linear` onto the vocabulary: the de-embedding, which Kaplan's
tied models do not count either).  Biases and norms are in N (Kaplan's
table 1 approximates them away: ``tests/test_llm_formulas.py`` asserts the
difference).  `forward_flops_per_token` is C_forward with that N.

>>> from costgraph.models import gpt2
>>> net = gpt2("small")
>>> net.non_embedding_params() == 124439808 - (50257 + 1024) * 768   # minus wte and wpe
True
"""

from __future__ import annotations

import sympy

from .errors import CostGraphError
from .kinds import Embedding, Linear, PositionalEmbedding, RelativePositionBias
from .symbols import S, as_size

__all__ = ["non_embedding_params", "forward_flops_per_token", "embedding_layers", "transformer_shape"]

_TABLES = (Embedding, PositionalEmbedding, RelativePositionBias)


def embedding_layers(net, head: bool = True) -> list[str]:
    """Names of the layers whose parameters Kaplan's N leaves out.

    The lookup tables, and with `head` an untied output head: a `Linear`
    that feeds nothing and has as many outputs as some `Embedding` has rows.

    >>> from costgraph.models import llama2_7b
    >>> embedding_layers(llama2_7b())
    ['embed_tokens', 'lm_head']
    """
    graph = net.graph
    vocabularies = {graph.nodes[n]["layer"].num_embeddings for n in net._order if isinstance(graph.nodes[n]["layer"], Embedding)}
    found = []
    for name in net._order:
        layer = graph.nodes[name]["layer"]
        if isinstance(layer, _TABLES):
            found.append(name)
        elif head and isinstance(layer, Linear) and graph.out_degree(name) == 0 and layer.out_features in vocabularies:
            found.append(name)
    return found


def non_embedding_params(net, head: bool = False):
    """Kaplan's N, exactly: parameters without the embedding tables (and the untied head).

    Parameters
    ----------
    head : bool
        Count an untied output head as non-embedding (default: no, it is the
        de-embedding).  A tied head adds nothing either way.

    Returns
    -------
    int or sympy.Expr
        An int when the parameters do not depend on sizes (every LLM here).

    Raises
    ------
    CostGraphError
        Never for a built network; listed for symmetry with `Network.totals`.

    >>> from costgraph.models import llama3_8b
    >>> net = llama3_8b()
    >>> net.non_embedding_params() == 8030261248 - 2 * 128256 * 4096     # embed_tokens and lm_head
    True
    """
    removed = sympy.Add(*[sum(net._owned(name)) for name in embedding_layers(net, head=not head)])
    total = sympy.expand(net.totals().params - removed)
    return int(total) if total.is_Integer else total


def transformer_shape(net) -> dict:
    """``{"n_layer": ..., "d_attn": ...}`` as the builder recorded it (`decoder`, `encoder`).

    Raises
    ------
    CostGraphError
        If the network was not built by a transformer builder that records them.
    """
    shape = net.graph.graph.get("transformer")
    if not shape:
        raise CostGraphError(
            f"{net.name}: no transformer shape recorded (built by decoder/encoder?); pass n_layer= and d_attn=", value=None
        )
    return shape


def forward_flops_per_token(net, n_ctx=None, *, n_layer: int | None = None, d_attn: int | None = None):
    """Kaplan's ``C_forward = 2 N + 2 n_layer n_ctx d_attn`` FLOPs per token, N from `non_embedding_params`.

    For a mixture of experts N is what a token uses: the non-embedding
    parameters without the experts it is not routed to
    (``Totals.active_params``), as C_forward counts the weights a token
    multiplies.

    Parameters
    ----------
    n_ctx : int, size name or formula, optional
        Context length; default the sequence size ``S`` (a formula in S).
    n_layer, d_attn : int, optional
        Default: what the builder recorded (layers, and heads x head_dim).

    Raises
    ------
    CostGraphError
        Without `n_layer`/`d_attn` for a network that did not record them.

    >>> from costgraph.models import gpt2
    >>> N_ = 124439808 - (50257 + 1024) * 768
    >>> forward_flops_per_token(gpt2("small"), 1024) == 2 * N_ + 2 * 12 * 1024 * 768
    True
    >>> forward_flops_per_token(gpt2("small")) == 2 * N_ + 2 * 12 * 768 * S
    True
    >>> from costgraph.models import mixtral_8x7b
    >>> active = 46702792704 - 2 * 32000 * 4096 - 32 * 6 * 3 * 4096 * 14336   # minus embedding, head, idle experts
    >>> forward_flops_per_token(mixtral_8x7b(), 4096) == 2 * active + 2 * 32 * 4096 * 4096
    True
    """
    if n_layer is None or d_attn is None:
        recorded = transformer_shape(net)
        n_layer = recorded["n_layer"] if n_layer is None else n_layer
        d_attn = recorded["d_attn"] if d_attn is None else d_attn
    context = S if n_ctx is None else as_size(n_ctx, owner="forward_flops_per_token", what="n_ctx")
    totals = net.totals()
    active = non_embedding_params(net) - (totals.params - totals.active_params)  # a token's experts only
    total = sympy.expand(2 * active + 2 * n_layer * context * d_attn)
    return int(total) if total.is_Integer else total
