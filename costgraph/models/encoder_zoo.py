"""BERT-family encoders from their published configurations: RoBERTa-base and DistilBERT.

Both are `costgraph.models.encoder` (BERT's post-norm layout) with the
values of the model's ``config.json``: RoBERTa keeps one token type and a
position table of 514 rows (its position ids start after the padding id
1, so 512 tokens fit); DistilBERT has no token types and no pooler.
Keyword overrides go to `encoder` (``layers=2``, ...).

>>> from costgraph.models import distilbert
>>> distilbert().totals().params             # Hugging Face's distilbert-base-uncased (DistilBertModel)
66362880
"""

from __future__ import annotations

from ..network import Network
from . import register_model
from .transformer import encoder

__all__ = ["roberta_base", "distilbert", "ENCODER_CONFIGS"]

#: `encoder` arguments per zoo entry, from FacebookAI/roberta-base and distilbert-base-uncased
ENCODER_CONFIGS = {
    "roberta_base": dict(
        layers=12, d_model=768, heads=12, d_ff=3072, vocab=50265, max_positions=514, type_vocab=1, eps=1e-5, pooler=True,
        position_offset=2,
    ),
    "distilbert": dict(
        layers=6, d_model=768, heads=12, d_ff=3072, vocab=30522, max_positions=512, type_vocab=0, eps=1e-12, pooler=False,
        names="distilbert",
    ),
}


@register_model("roberta_base", default_size=None, sizes={"S": 512})
def roberta_base(**options) -> Network:
    """RoBERTa-base (Liu et al. 2019) as Hugging Face's ``RobertaModel``, with the pooler.

    >>> roberta_base().totals().params
    124645632
    """
    return encoder(**{**ENCODER_CONFIGS["roberta_base"], "name": "roberta-base", **options})


@register_model("distilbert", default_size=None, sizes={"S": 512})
def distilbert(**options) -> Network:
    """DistilBERT-base (Sanh et al. 2019) as Hugging Face's ``DistilBertModel``: 6 layers, no token types.

    >>> distilbert().totals().params
    66362880
    """
    return encoder(**{**ENCODER_CONFIGS["distilbert"], "name": "distilbert", **options})
