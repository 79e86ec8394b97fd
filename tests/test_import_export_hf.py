"""from_torch on Hugging Face models built from their configs (one layer, real widths, meta device).

Source of truth: the models themselves, run on the meta device at sequence
lengths and batches never used in the import: ``sum(p.numel() for p in
model.parameters())`` for the parameters (GPT-2's tied embedding and head
counted once, as torch counts them) and ``torch.utils.flop_counter
.FlopCounterMode`` for the MACs (its total // 2) and for the
``flopcountermode`` convention preset (its total, exactly).  Eager
attention, so the attention products are the matmuls FlopCounterMode sees.
The ground-truth forward uses the model's default config (on meta,
``use_cache=False`` fails in mask creation, which calls ``Tensor.item()``).
"""

import pytest

from .support import require, require_torch

torch = require_torch()
transformers = require("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costgraph import from_torch  # noqa: E402

#: one layer each, the published widths (GPT-2 small, BERT base; Llama at 512 wide with GQA 8:4)
CONFIGS = {
    "gpt2": lambda: transformers.GPT2Config(n_layer=1),
    "llama": lambda: transformers.LlamaConfig(
        num_hidden_layers=1, hidden_size=512, intermediate_size=1376, num_attention_heads=8, num_key_value_heads=4, vocab_size=32000
    ),
    "bert": lambda: transformers.BertConfig(num_hidden_layers=1),
}


class Logits(torch.nn.Module):
    """The model as one tensor out, without a cache: logits, or the last hidden state."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        if isinstance(self.model, transformers.BertModel):
            return self.model(input_ids=ids).last_hidden_state
        return self.model(input_ids=ids, use_cache=False).logits


def build(name):
    with torch.device("meta"):
        config = CONFIGS[name]()
        if name == "bert":
            return transformers.BertModel._from_config(config, attn_implementation="eager").eval()
        return transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()


def flop_counter_total(model, n, s):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=torch.zeros(n, s, dtype=torch.long, device="meta"))
    return counter.get_total_flops()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hugging_face_model_params_and_macs_at_held_out_sizes(name):
    model = build(name)
    net = from_torch(Logits(model), torch.zeros(2, 7, dtype=torch.long, device="meta"))   # integer (N, S): both sizes
    assert {s.name for s in net.symbols} == {"N", "S"}
    assert net.totals().params == sum(p.numel() for p in model.parameters())
    for n, s in [(1, 5), (3, 12)]:
        total = flop_counter_total(model, n, s)
        assert net.totals(N=n, S=s).macs == total // 2, (n, s)
        assert net.flops("flopcountermode", N=n, S=s) == total, (n, s)
