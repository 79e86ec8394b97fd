"""Plain-torch twins of transformers: torchvision's ViT, and a GPT-2 layer in Megatron's layout.

`VisionTransformer` is written from torchvision's models/vision_transformer.py.
Checked by hand against torchvision 0.29.1 (with torch 2.14.1, in a separate
venv): for vit_b_16 at image_size 224 and 384, vit_b_32, vit_l_16 and vit_h_14
(at 224), every state_dict key and shape equals torchvision's, and so does
the output shape.  CI uses the twin because torchvision does not install
beside the torch CI uses.

`MegatronGPT` is a GPT-2 language model whose attention runs in Megatron-LM's
``[s, b, h]`` layout (``ParallelAttention``: the fused QKV output viewed per
head as ``[s, b, np, 3 hn]``, ``baddbmm``/``bmm`` on views), the layout
Korthikanti et al. 2022 count activations for.  Its parameters are GPT-2's
(the same tensors as Hugging Face's, in another order); its computation is
the same up to the order of the QKV columns.
"""

from collections import OrderedDict

from tests.support import require_torch

torch = require_torch()
nn = torch.nn
F = nn.functional


class MLPBlock(nn.Sequential):
    """torchvision's MLPBlock: Linear, GELU, Dropout, Linear, Dropout (keys 0..4)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, in_dim), nn.Dropout(dropout))


class EncoderBlock(nn.Module):
    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout=0.0, attention_dropout=0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(
            OrderedDict((f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim)) for i in range(num_layers))
        )
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, input):
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """torchvision's VisionTransformer (no conv stem, no representation layer)."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, num_classes=1000):
        super().__init__()
        assert image_size % patch_size == 0, "Input shape indivisible by patch size!"
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))

    def forward(self, x):
        n, _, h, w = x.shape
        assert h == self.image_size and w == self.image_size, "Wrong image size!"
        x = self.conv_proj(x).reshape(n, self.hidden_dim, (h // self.patch_size) * (w // self.patch_size)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


class MegatronAttention(nn.Module):
    """Self-attention in Megatron-LM's layout: [s, b, h] activations, products on views."""

    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query_key_value = nn.Linear(hidden, 3 * hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.attention_dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        s, b, _ = x.shape
        np_, hn = self.heads, self.head_dim
        mixed = self.query_key_value(x).view(s, b, np_, 3 * hn)
        q, k, v = mixed.split(hn, dim=-1)  # [s, b, np, hn] views
        q = q.reshape(s, b * np_, hn).transpose(0, 1)  # views: b and np merge
        k = k.reshape(s, b * np_, hn).transpose(0, 1)
        v = v.reshape(s, b * np_, hn).transpose(0, 1)
        scores = torch.bmm(q, k.transpose(1, 2)) * hn**-0.5
        probs = F.softmax(scores + mask, dim=-1)  # an additive mask, as Hugging Face's
        context = torch.bmm(self.attention_dropout(probs), v)  # [b np, s, hn]
        context = context.view(b, np_, s, hn).permute(2, 0, 1, 3).reshape(s, b, np_ * hn)
        return self.dense(context)


class MegatronLayer(nn.Module):
    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(hidden)
        self.attention = MegatronAttention(hidden, heads, dropout)
        self.post_attention_layernorm = nn.LayerNorm(hidden)
        self.dense_h_to_4h = nn.Linear(hidden, 4 * hidden)
        self.dense_4h_to_h = nn.Linear(4 * hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        x = x + self.dropout(self.attention(self.input_layernorm(x), mask))
        h = F.gelu(self.dense_h_to_4h(self.post_attention_layernorm(x)), approximate="tanh")
        return x + self.dropout(self.dense_4h_to_h(h))


class MegatronGPT(nn.Module):
    """GPT-2 (tied head) with Megatron-layout layers; token ids ``(b, s)`` in, logits ``(s, b, V)`` out."""

    def __init__(self, layers, hidden, heads, vocab, positions, dropout=0.1):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(positions, hidden)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(MegatronLayer(hidden, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden)

    def forward(self, ids):
        b, s = ids.shape
        positions = torch.arange(s, device=ids.device)
        x = self.drop(self.wte(ids.t()) + self.wpe(positions)[:, None, :])  # [s, b, h]
        # built once, shared by every layer; an add keeps nothing for backward
        mask = torch.full((s, s), float("-inf"), device=ids.device).triu(1)
        for layer in self.h:
            x = layer(x, mask)
        return F.linear(self.ln_f(x), self.wte.weight)
