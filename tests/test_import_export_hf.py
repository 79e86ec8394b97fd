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

import sympy  # noqa: E402

from costgraph import from_torch, size_symbol  # noqa: E402

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


def test_vit_interpolating_its_position_embeddings_imports_with_symbolic_h_and_w():
    """ViT-Base widths, one layer, ``interpolate_pos_encoding=True``: any H, W (the table resized bicubically).

    Held out at non-square sizes, one not a multiple of the patch (the patch
    conv floors it); truth: the model on meta under FlopCounterMode and its
    own output shape.
    """

    class Hidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixels):
            return self.model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state

    with torch.device("meta"):
        model = transformers.ViTModel._from_config(transformers.ViTConfig(num_hidden_layers=1), attn_implementation="eager").eval()
    wrapped = Hidden(model)
    net = from_torch(wrapped, torch.empty(2, 3, 224, 192, device="meta"))
    assert {s.name for s in net.symbols} == {"N", "H", "W"}
    assert net.totals().params == sum(p.numel() for p in model.parameters())
    for n, h, w in [(1, 160, 224), (3, 231, 97)]:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = wrapped(torch.empty(n, 3, h, w, device="meta"))
        assert net.totals(N=n, H=h, W=w).macs == counter.get_total_flops() // 2, (n, h, w)
        assert net.flops("flopcountermode", N=n, H=h, W=w) == counter.get_total_flops()
        (last,) = net.graph.graph["returns"]
        at = {size_symbol("N"): n, size_symbol("H"): h, size_symbol("W"): w}
        assert tuple(int(sympy.sympify(d).subs(at)) for d in net.shape(last)) == tuple(out.shape)
