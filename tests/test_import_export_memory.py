"""Memory of imported models: ``saved_bytes`` against what autograd really keeps.

Source of truth: PyTorch 2.13 on the CPU, as in tests/test_torch_memory.py
(every tensor handed to ``saved_tensors_hooks``' pack hook in a training
forward pass, by storage, parameters and buffers left out).  The imported
ATen graph shows what eager PyTorch saves: Hugging Face's RMSNorm keeps its
product before the weight, ``repeat_kv``'s reshape of expanded keys and
values is a copy (kept for the attention products), tanh-GELU built from
pow/mul/add/tanh keeps each intermediate it needs.
"""

import pytest

from .support import require, require_torch

torch = require_torch()
transformers = require("transformers")

from costgraph import from_torch  # noqa: E402

from .test_torch_memory import autograd_saved_bytes, on_cpu  # noqa: E402
from .twins import resnet  # noqa: E402


def test_imported_resnet50_saves_what_autograd_keeps():
    with torch.device("meta"):
        twin = resnet.resnet("resnet50")
    net = from_torch(twin, (2, 3, 64, 48))
    real = on_cpu(lambda: resnet.resnet("resnet50")).train()
    for n, h, w in [(1, 57, 45)]:                                    # odd, non-square, batch 1
        assert net.memory(H=h, W=w, N=n, device="cpu").saved_bytes == autograd_saved_bytes(real, torch.zeros(n, 3, h, w))


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(input_ids=ids, use_cache=False).logits


#: two layers, small widths; GPT-2's dropouts at 0 here: an eval-mode export, where GPT-2's
#: attention passes p=0 to its functional dropout whatever the config says (the published
#: dropouts need ``training=True``: test_training_mode_import_keeps_gpt2_dropout_masks)
CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(
        num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, vocab_size=100
    ),
    "gpt2": lambda: transformers.GPT2Config(
        n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=64, attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0,
        bos_token_id=0, eos_token_id=0,
    ),
}
#: batch 1 included: torch.matmul folds a batch of one into a view of GPT-2's fused q/k/v output
#: where it copies q, k and v at larger batches, the same bytes kept either way.  The truth runs the
#: imported call itself (``Logits``: use_cache=False); the model's default call with a cache keeps
#: its own copies of keys and values at batch 1 (GPT-2 at N=1, S=5: 80,440 bytes against 75,320)
SIZES = {"llama": [(1, 5), (3, 11)], "gpt2": [(1, 5), (2, 5), (3, 11)]}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_imported_hugging_face_model_saves_what_autograd_keeps(name):
    def build():
        return transformers.AutoModelForCausalLM.from_config(CONFIGS[name](), attn_implementation="eager")

    with torch.device("meta"):
        model = build()
    net = from_torch(Logits(model), torch.zeros(2, 7, dtype=torch.long, device="meta"))
    real = Logits(on_cpu(build)).train()    # the imported forward: use_cache=False (a cache keeps other tensors)
    for n, s in SIZES[name]:
        theirs = autograd_saved_bytes(real, torch.zeros(n, s, dtype=torch.long))
        assert net.memory(N=n, S=s, device="cpu").saved_bytes == theirs, (n, s)


def test_training_mode_import_keeps_gpt2_dropout_masks():
    """GPT-2 with its published dropouts (0.1 for embeddings, attention and residuals).

    Hugging Face passes the attention dropout's p only in train mode, so an
    eval-mode export has no attention mask to keep; ``training=True`` exports
    what a training step runs.  Truth: autograd's saved tensors in a real CPU
    training forward (dropout masks included); at p = 0.1 the eval-mode
    import keeps fewer bytes than autograd, the train-mode one exactly as many.
    """

    def build():
        config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0)
        assert config.attn_pdrop == config.resid_pdrop == config.embd_pdrop == 0.1   # the published defaults
        return transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")

    with torch.device("meta"):
        model = build().eval()
    ids = torch.zeros(2, 7, dtype=torch.long, device="meta")
    trained = from_torch(Logits(model), ids, training=True)
    assert not model.training                                        # the module's mode is restored
    inferred = from_torch(Logits(model), ids)
    real = Logits(on_cpu(build)).train()
    for n, s in [(1, 5), (3, 11)]:
        theirs = autograd_saved_bytes(real, torch.zeros(n, s, dtype=torch.long))
        assert trained.memory(N=n, S=s, device="cpu").saved_bytes == theirs, (n, s)
        assert inferred.memory(N=n, S=s, device="cpu").saved_bytes < theirs
        assert trained.totals(N=n, S=s).macs == inferred.totals(N=n, S=s).macs


def test_training_mode_import_of_batch_norm_and_dropout():
    """Conv, batch norm (batch statistics), ReLU, dropout: train mode's graph, autograd's truth on the CPU."""

    def build():
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Dropout(0.25), torch.nn.Conv2d(8, 4, 1)
        )

    with torch.device("meta"):
        model = build().eval()
    net = from_torch(model, (2, 3, 16, 12), training=True)
    assert not model.training                                        # the module's mode is restored
    real = on_cpu(build).train()
    for n, h, w in [(1, 9, 13), (3, 20, 7)]:
        assert net.memory(N=n, H=h, W=w, device="cpu").saved_bytes == autograd_saved_bytes(real, torch.zeros(n, 3, h, w))
