"""Vision Transformers (Dosovitskiy et al. 2020) as torchvision builds them, H and W symbolic.

torchvision's ``VisionTransformer(image_size=...)`` is built for one square
image size: its position embedding has ``(image_size // patch)**2 + 1``
rows, and ``forward`` asserts the input is exactly that size.  costgraph
keeps H and W symbolic by sizing the position table for the input at hand
(``image_size=None``, the default): at each size the network is the model
torchvision builds for that size, so its parameters follow the number of
patches -- ``768 * ((H//16) * (W//16) + 1)`` position parameters for ViT-B/16.
torchvision's own weights confirm the choice: ViT-B/16 has 86,567,656
parameters at 224 and 86,859,496 at 384 (its SWAG weights), exactly the
difference in position rows.  ``image_size=224`` instead fixes the table
(then only inputs with 14 x 14 patches are valid), for a model trained at
one size and evaluated on it.

The patch grid is ``H // p`` by ``W // p`` (the stride-p convolution drops
any remainder); torchvision further requires ``H = W`` divisible by p.

Attention is built from its parts (`costgraph.models.transformer.attention`)
with torchvision's names: ``self_attention.in_proj`` (the packed
``in_proj_weight``) and ``self_attention.out_proj``.
"""

from __future__ import annotations

from ..kinds import GELU, Add, ClassToken, Conv2d, Dropout, Flatten, Input, LayerNorm, Linear, Permute, PositionalEmbedding, Reshape, Slice
from ..network import Network
from ..symbols import H, W
from . import register_model
from .transformer import attention

__all__ = ["vision_transformer", "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "VIT_CONFIGS"]

#: torchvision's (patch_size, num_layers, num_heads, hidden_dim, mlp_dim)
VIT_CONFIGS = {
    "vit_b_16": (16, 12, 12, 768, 3072),
    "vit_b_32": (32, 12, 12, 768, 3072),
    "vit_l_16": (16, 24, 16, 1024, 4096),
    "vit_l_32": (32, 24, 16, 1024, 4096),
    "vit_h_14": (14, 32, 16, 1280, 5120),
}


def vision_transformer(
    patch_size: int,
    num_layers: int,
    num_heads: int,
    hidden_dim: int,
    mlp_dim: int,
    *,
    name: str = "vit",
    image_size: int | None = None,
    num_classes: int = 1000,
    blocks: str = "parts",
) -> Network:
    """torchvision's ``VisionTransformer`` on ``(N, 3, H, W)`` images.

    ``conv_proj`` (patch embedding) -> flatten and permute to ``(N, P, D)``
    -> ``class_token`` -> ``encoder.pos_embedding`` -> `num_layers` pre-norm
    encoder blocks (``ln_1``, ``self_attention``, ``dropout``, residual,
    ``ln_2``, ``mlp`` 0..4, residual; LayerNorm eps 1e-6) -> ``encoder.ln``
    -> the class token -> ``heads.head``.

    `image_size`: None sizes the position embedding for the input (see the
    module docstring); an int fixes it at ``(image_size // patch)**2 + 1``.

    >>> net = vision_transformer(8, 1, 2, 32, 64, num_classes=10)
    >>> net.shape("class_token")                 # (H//8)(W//8) patches and the class token
    (N, floor(H/8)*floor(W/8) + 1, 32)
    """
    net = Network(name)
    net.add("input", Input((3, H, W)))
    net.add("conv_proj", Conv2d(3, hidden_dim, patch_size, stride=patch_size))
    net.add("flatten", Flatten(2))
    x = net.add("permute", Permute((0, 2, 1)))
    x = net.add("class_token", ClassToken(hidden_dim), x)
    positions = None if image_size is None else (image_size // patch_size) ** 2 + 1
    x = net.add("encoder.pos_embedding", PositionalEmbedding(positions, hidden_dim, whole_table=True), x)
    x = net.add("encoder.dropout", Dropout(0.0), x)
    attn_names = dict(qkv="in_proj", out="out_proj", attn_dropout="attn_dropout")
    for i in range(num_layers):
        p = f"encoder.layers.encoder_layer_{i}."
        h = net.add(p + "ln_1", LayerNorm(hidden_dim, eps=1e-6), x)
        a = attention(
            net, p + "self_attention", h, d_model=hidden_dim, heads=num_heads, fused_qkv=True,
            dropout=True, blocks=blocks, names=attn_names,
        )
        a = net.add(p + "dropout", Dropout(0.0), a)
        x = net.add(p + "residual_1", Add(), a, x)
        h = net.add(p + "ln_2", LayerNorm(hidden_dim, eps=1e-6), x)
        h = net.add(p + "mlp.0", Linear(hidden_dim, mlp_dim), h)
        h = net.add(p + "mlp.1", GELU(), h)
        h = net.add(p + "mlp.2", Dropout(0.0), h)
        h = net.add(p + "mlp.3", Linear(mlp_dim, hidden_dim), h)
        h = net.add(p + "mlp.4", Dropout(0.0), h)
        x = net.add(p + "residual_2", Add(), x, h)
    x = net.add("encoder.ln", LayerNorm(hidden_dim, eps=1e-6), x)
    x = net.add("class_output", Reshape((hidden_dim,)), net.add("class_slice", Slice(1, 0, 1), x))
    net.add("heads.head", Linear(hidden_dim, num_classes), x)
    return net


def _vit(key, image_size, num_classes, blocks):
    return vision_transformer(*VIT_CONFIGS[key], name=key, image_size=image_size, num_classes=num_classes, blocks=blocks)


@register_model("vit_b_16", default_size=224)
def vit_b_16(*, image_size: int | None = None, num_classes: int = 1000, blocks: str = "parts") -> Network:
    """ViT-B/16 (torchvision): 16x16 patches, 12 layers of width 768, 12 heads, MLP 3072.

    >>> net = vit_b_16()
    >>> net.totals(H=224).params       # torchvision's num_params for ViT_B_16_Weights.IMAGENET1K_V1
    86567656
    >>> net.totals(H=384).params       # and for IMAGENET1K_SWAG_E2E_V1, built for 384 x 384
    86859496
    """
    return _vit("vit_b_16", image_size, num_classes, blocks)


@register_model("vit_b_32", default_size=224)
def vit_b_32(*, image_size: int | None = None, num_classes: int = 1000, blocks: str = "parts") -> Network:
    """ViT-B/32 (torchvision): 32x32 patches, 12 layers of width 768, 12 heads, MLP 3072."""
    return _vit("vit_b_32", image_size, num_classes, blocks)


@register_model("vit_l_16", default_size=224)
def vit_l_16(*, image_size: int | None = None, num_classes: int = 1000, blocks: str = "parts") -> Network:
    """ViT-L/16 (torchvision): 16x16 patches, 24 layers of width 1024, 16 heads, MLP 4096."""
    return _vit("vit_l_16", image_size, num_classes, blocks)


@register_model("vit_l_32", default_size=224)
def vit_l_32(*, image_size: int | None = None, num_classes: int = 1000, blocks: str = "parts") -> Network:
    """ViT-L/32 (torchvision): 32x32 patches, 24 layers of width 1024, 16 heads, MLP 4096."""
    return _vit("vit_l_32", image_size, num_classes, blocks)


@register_model("vit_h_14", default_size=224)
def vit_h_14(*, image_size: int | None = None, num_classes: int = 1000, blocks: str = "parts") -> Network:
    """ViT-H/14 (torchvision): 14x14 patches, 32 layers of width 1280, 16 heads, MLP 5120."""
    return _vit("vit_h_14", image_size, num_classes, blocks)
