"""Encoders (RoBERTa, DistilBERT) and encoder-decoders (T5, Whisper) against Hugging Face ``transformers``.

As tests/test_llm_zoo.py: models built on the meta device from the
published ``config.json`` values written below (hub names in comments),
1 and 2 layers deep at real widths; parameters at full depth from HF's
counts at 1 and 2 layers (affine in the depth), MACs from FlopCounterMode
on the eager forward at two sequence lengths, batch 2.  For the
encoder-decoders both stacks get the same depth; the encoder length S and
the decoder length T vary independently (Whisper's encoder takes exactly
3000 mel frames, S = 1500, so there only T varies; a narrow Whisper with
64 source positions checks that the front end follows S).
"""

import logging

import pytest

from costgraph import CostGraphError
from costgraph.models import distilbert, encoder_decoder, roberta_base, t5_base, t5_small, whisper_small
from costgraph.models.whisper import whisper

from .differential import meta
from .support import require, require_torch

torch = require_torch()
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


@pytest.fixture(scope="module")
def hf():
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return transformers


def counted_macs(model, **inputs):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**inputs)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2


def params(module):
    return sum(p.numel() for p in module.parameters())


def ids(n, s):
    return torch.zeros(n, s, dtype=torch.long, device="meta")


def build_hf(hf, config_class, model_class, config):
    cfg = getattr(hf, config_class)(**config, attn_implementation="eager")
    with meta():
        return getattr(hf, model_class)(cfg).eval()


ENCODERS = {
    # FacebookAI/roberta-base
    "roberta_base": (roberta_base, "RobertaConfig", "RobertaModel", 12, "num_hidden_layers", dict(
        vocab_size=50265, hidden_size=768, num_attention_heads=12, intermediate_size=3072, max_position_embeddings=514,
        type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)),
    # distilbert/distilbert-base-uncased
    "distilbert": (distilbert, "DistilBertConfig", "DistilBertModel", 6, "n_layers", dict(
        vocab_size=30522, dim=768, n_heads=12, hidden_dim=3072, max_position_embeddings=512, activation="gelu")),
}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_encoder_matches_hugging_face(hf, name):
    build, config_class, model_class, depth, depth_key, config = ENCODERS[name]
    one, two = (build_hf(hf, config_class, model_class, {**config, depth_key: layers}) for layers in (1, 2))
    assert build().totals().params == params(one) + (depth - 1) * (params(two) - params(one))
    net = build(layers=2)
    assert net.totals().params == params(two)
    for s in (7, 40):
        assert net.totals(S=s, N=2).macs == counted_macs(two, input_ids=ids(2, s)), (name, s)


#: google-t5/t5-small and t5-base
T5 = {
    "t5_small": (t5_small, 6, dict(d_model=512, d_ff=2048, num_heads=8)),
    "t5_base": (t5_base, 12, dict(d_model=768, d_ff=3072, num_heads=12)),
}


@pytest.mark.parametrize("name", list(T5))
def test_t5_matches_hugging_face(hf, name):
    """Self-attention with the relative position bias in both stacks, cross-attention T x S."""
    build, depth, widths = T5[name]
    common = dict(vocab_size=32128, d_kv=64, relative_attention_num_buckets=32, feed_forward_proj="relu",
                  tie_word_embeddings=True, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **widths)
    one, two = (
        build_hf(hf, "T5Config", "T5ForConditionalGeneration", {**common, "num_layers": n, "num_decoder_layers": n})
        for n in (1, 2)
    )
    assert build().totals().params == params(one) + (depth - 1) * (params(two) - params(one))
    net = build(layers=2)
    assert net.totals().params == params(two)
    for s, t in ((9, 4), (30, 17)):
        macs = counted_macs(two, input_ids=ids(2, s), decoder_input_ids=ids(2, t))
        assert net.totals(S=s, T=t, N=2).macs == macs, (name, s, t)


# openai/whisper-small
WHISPER = dict(vocab_size=51865, num_mel_bins=80, d_model=768, encoder_attention_heads=12, decoder_attention_heads=12,
               encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_source_positions=1500, max_target_positions=448,
               tie_word_embeddings=True, decoder_start_token_id=50258, pad_token_id=50257, bos_token_id=50257,
               eos_token_id=50257)


def whisper_hf(hf, layers, **overrides):
    return build_hf(hf, "WhisperConfig", "WhisperForConditionalGeneration",
                    {**WHISPER, "encoder_layers": layers, "decoder_layers": layers, **overrides})


def test_whisper_small_matches_hugging_face(hf):
    """The Conv1d front end, encoder at S = 1500, decoder at two T."""
    one, two = whisper_hf(hf, 1), whisper_hf(hf, 2)
    assert whisper_small().totals().params == params(one) + 11 * (params(two) - params(one))
    net = whisper_small(layers=2)
    assert net.totals().params == params(two)
    features = torch.zeros(2, 80, 3000, device="meta")
    for t in (3, 21):
        macs = counted_macs(two, input_features=features, decoder_input_ids=ids(2, t))
        assert net.totals(S=1500, T=t, N=2).macs == macs


def test_whisper_front_end_follows_the_source_length(hf):
    """A narrow Whisper (width 64, 64 source positions: 128 frames) where S is not 1500."""
    model = whisper_hf(hf, 1, d_model=64, encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=96,
                       decoder_ffn_dim=96, max_source_positions=64)
    net = whisper(1, 64, 4, 96, source_positions=64)
    assert net.totals().params == params(model)
    macs = counted_macs(model, input_features=torch.zeros(2, 80, 128, device="meta"), decoder_input_ids=ids(2, 5))
    assert net.totals(S=64, T=5, N=2).macs == macs
    with pytest.raises(CostGraphError):
        net.totals(S=63, T=5)  # the position table is added whole: exactly 64 positions


def test_unknown_option_of_encoder_decoder():
    with pytest.raises(CostGraphError, match="unknown option 'num_layers'; accepted: .*decoder_layers"):
        encoder_decoder(2, 64, 4, 128, num_layers=2)


def test_t5_v1_1_gated_gelu_matches_hugging_face(hf):
    """google/t5-v1_1-small's config (gated GELU, 6 heads of 64 on 512, 8 + 8 layers).  Its
    checkpoint has an untied head: 76,961,152 parameters published (the hub's model card, and
    transformers 4.x).  transformers 5.24 ties T5's head to the embedding whatever the config
    says (``T5Config`` forces ``tie_word_embeddings = True`` and reads False only as "do not
    scale the decoder output"), so HF's count here is one 32128 x 512 table less: our tied
    model must equal HF's build, and the untied one the published figure."""
    config = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_heads=6, relative_attention_num_buckets=32,
                  feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0,
                  eos_token_id=1)
    one, two = (
        build_hf(hf, "T5Config", "T5ForConditionalGeneration", {**config, "num_layers": n, "num_decoder_layers": n})
        for n in (1, 2)
    )
    options = dict(d_model=512, heads=6, d_ff=1024, head_dim=64, mlp="geglu")
    hf_full = params(one) + 7 * (params(two) - params(one))
    assert encoder_decoder(8, tied=True, **options).totals().params == hf_full
    assert encoder_decoder(8, tied=False, **options).totals().params == hf_full + 32128 * 512 == 76_961_152
    net = encoder_decoder(1, tied=True, **options)
    assert net.totals().params == params(one)
    assert net.totals(S=11, T=6, N=2).macs == counted_macs(one, input_ids=ids(2, 11), decoder_input_ids=ids(2, 6))


def test_t5_and_whisper_layers_are_named_as_hugging_face_modules(hf):
    """Every layer with parameters (tied ones once) is named as HF's module holding them ("model." dropped)."""
    def modules(model):
        return {name.removeprefix("model.").rsplit(".", 1)[0] for name, _ in model.named_parameters()}

    def layers(net):
        return {row.name for row in net.layers() if row.params and not row.shares}

    t5 = build_hf(hf, "T5Config", "T5ForConditionalGeneration",
                  dict(vocab_size=32128, d_kv=64, d_model=512, d_ff=2048, num_heads=8, num_layers=1, num_decoder_layers=1))
    assert layers(t5_small(layers=1)) == modules(t5)
    assert layers(whisper_small(layers=1, decoder_layers=1)) == modules(whisper_hf(hf, 1))


@pytest.mark.parametrize("name", list(ENCODERS))
def test_encoder_layers_are_named_as_hugging_face_modules(hf, name):
    """Every layer with parameters is named as the HF module holding them, and every Dropout node as
    one of HF's nn.Dropout modules.  Before: DistilBERT carried BertModel's names
    (encoder.layer.0.attention.self.query, not transformer.layer.0.attention.q_lin) and a dropout
    after the attention's output projection that DistilBertModel does not have."""
    build, config_class, model_class, _depth, depth_key, config = ENCODERS[name]
    model = build_hf(hf, config_class, model_class, {**config, depth_key: 1})
    net = build(layers=1)
    modules = {n.rsplit(".", 1)[0] for n, _ in model.named_parameters()}
    assert {row.name for row in net.layers() if row.params and not row.shares} == modules
    dropouts = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
    assert {n for n in net if net.graph.nodes[n]["layer"].kind == "Dropout"} == dropouts


def test_offset_position_tables_take_as_many_tokens_as_hugging_face(hf):
    """OPT looks positions up from row 2 of a table of max_positions + 2 rows, RoBERTa from row
    padding id + 1 = 2 of its 514: HF runs S = max_positions (OPT) / 512 (RoBERTa) tokens and fails
    one more (measured below on tiny CPU models: IndexError / RuntimeError).  Before, costgraph
    accepted two more tokens (S <= table rows), so fit and sweeps could answer S = 2050 for OPT."""
    from costgraph.errors import DomainError
    from costgraph.models import decoder, encoder, opt_125m
    from costgraph.models.llm_zoo import CONFIGS

    def runs(model, s):
        try:
            with torch.no_grad():
                model(input_ids=torch.full((1, s), 3))
        except (IndexError, RuntimeError):
            return False
        return True

    def valid(net, s):
        try:
            net.check_sizes(S=s)
        except DomainError:
            return False
        return True

    opt = hf.OPTModel(hf.OPTConfig(hidden_size=16, ffn_dim=32, num_attention_heads=2, num_hidden_layers=1, vocab_size=50,
                                   max_position_embeddings=8, word_embed_proj_dim=16)).eval()
    ours = decoder(**{**CONFIGS["opt_125m"], "layers": 1, "d_model": 16, "heads": 2, "kv_heads": 2, "d_ff": 32,
                      "vocab": 50, "max_positions": 8})
    roberta = hf.RobertaModel(hf.RobertaConfig(hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                               num_hidden_layers=1, vocab_size=50, max_position_embeddings=10,
                                               pad_token_id=1, type_vocab_size=1)).eval()
    mine = encoder(1, 16, 2, 32, 50, max_positions=10, type_vocab=1, position_offset=2)
    for model, net, longest in ((opt, ours, 8), (roberta, mine, 8)):
        assert [runs(model, s) for s in (longest, longest + 1)] == [True, False]
        assert [valid(net, s) for s in (longest, longest + 1)] == [True, False]
    assert valid(opt_125m(), 2048) and not valid(opt_125m(), 2049)      # facebook/opt-125m: 2048 positions
    assert valid(roberta_base(), 512) and not valid(roberta_base(), 513)  # 514 rows, ids from 2
