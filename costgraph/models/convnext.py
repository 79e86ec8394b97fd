"""ConvNeXt-Tiny (Liu et al., 2022), as torchvision builds it.

Written from torchvision's ``models/convnext.py``.  Layer names are
torchvision's module paths (``features.1.0.block.3`` is the first pointwise
Linear of the first block).  A block's learned per-channel scale is
``{block}.layer_scale``, the state_dict key of its parameter (``dim``
values per block, counted in the parameters); its residual sum
``result += input`` is ``{block}.add``.

The pointwise layers of a block are ``nn.Linear`` on a channels-last tensor:
the block permutes ``(N, C, H, W)`` to ``(N, H, W, C)`` (a view), normalizes
and applies the two Linears per position, and permutes back.  Stochastic
depth (torchvision's probability ``0.1 * k / 17`` for block k of 18) is the
identity at inference.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from ..kinds import (
    AdaptiveAvgPool2d,
    Add,
    Conv2d,
    Flatten,
    GELU,
    Input,
    LayerNorm,
    LayerNorm2d,
    LayerScale,
    Linear,
    Permute,
    StochasticDepth,
)
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import conv_norm_activation

__all__ = ["convnext_tiny", "cn_block", "CNBlockConfig", "CONVNEXT_TINY"]


class CNBlockConfig(NamedTuple):
    """One ConvNeXt stage: its width, the width after its downsampling (None: last stage), its depth."""

    input_channels: int
    out_channels: int | None
    num_layers: int


#: torchvision's ``convnext_tiny`` block_setting: depths (3, 3, 9, 3), widths (96, 192, 384, 768)
CONVNEXT_TINY = (
    CNBlockConfig(96, 192, 3),
    CNBlockConfig(192, 384, 3),
    CNBlockConfig(384, 768, 9),
    CNBlockConfig(768, None, 3),
)


def cn_block(net: Network, name: str, dim: int, layer_scale: float, stochastic_depth_prob: float, *, input: str) -> str:
    """ConvNeXt's ``CNBlock``: 7x7 depthwise conv, LayerNorm, Linear 4x, GELU, Linear back, scale, residual.

    Layers ``{name}.block.0`` .. ``{name}.block.6`` as torchvision's
    ``nn.Sequential`` (with the two permutes at 1 and 6), then
    ``{name}.layer_scale``, ``{name}.stochastic_depth`` and ``{name}.add``.

    Returns
    -------
    str
        The block's output layer.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("block")
    >>> net.add("input", Input((96, H, W)))
    'input'
    >>> cn_block(net, "features.1.0", 96, 1e-6, 0.0, input="input")
    'features.1.0.add'
    >>> net.shape("features.1.0.block.3")            # channels last, 4 * 96 wide
    (N, H, W, 384)
    >>> net.totals().params     # dw 96*49+96, LN 2*96, 96*384+384, 384*96+96, layer_scale 96
    79296
    """
    net.add(f"{name}.block.0", Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True), input)
    net.add(f"{name}.block.1", Permute((0, 2, 3, 1)))
    net.add(f"{name}.block.2", LayerNorm(dim, eps=1e-6))
    net.add(f"{name}.block.3", Linear(dim, 4 * dim))
    net.add(f"{name}.block.4", GELU())
    net.add(f"{name}.block.5", Linear(4 * dim, dim))
    net.add(f"{name}.block.6", Permute((0, 3, 1, 2)))
    net.add(f"{name}.layer_scale", LayerScale(dim, layer_scale))
    result = net.add(f"{name}.stochastic_depth", StochasticDepth(stochastic_depth_prob, "row"))
    return net.add(f"{name}.add", Add(inplace=True), result, input)


@register_model("convnext_tiny")
def convnext_tiny(num_classes: int = 1000) -> Network:
    """ConvNeXt-Tiny, torchvision's ``convnext_tiny()``.

    A 4x4/4 patchify stem with LayerNorm, four stages of 3, 3, 9 and 3
    CNBlocks (96, 192, 384, 768 channels) joined by LayerNorm + 2x2/2 conv
    downsampling, global average pooling, LayerNorm, and the classifier.
    The smallest input is 32x32 (the last downsampling needs a 2x2 map).

    Examples
    --------
    >>> net = convnext_tiny()
    >>> net.totals(H=224).params   # torchvision's num_params for ConvNeXt_Tiny_Weights
    28589128
    >>> net.min_size()             # torchvision's meta "min_size": (32, 32)
    32
    """
    block_setting = CONVNEXT_TINY
    stochastic_depth_prob = 0.1
    layer_scale = 1e-6
    norm_layer = partial(LayerNorm2d, eps=1e-6)
    net = Network("convnext_tiny")
    x = net.add("input", Input((3, H, W)))
    x = conv_norm_activation(
        net, "features.0", 3, block_setting[0].input_channels, kernel_size=4, stride=4, padding=0,
        norm_layer=norm_layer, activation_layer=None, bias=True, input=x,
    )
    total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
    stage_block_id = 0
    index = 1
    for cnf in block_setting:
        for i in range(cnf.num_layers):
            sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
            x = cn_block(net, f"features.{index}.{i}", cnf.input_channels, layer_scale, sd_prob, input=x)
            stage_block_id += 1
        index += 1
        if cnf.out_channels is not None:
            net.add(f"features.{index}.0", norm_layer(cnf.input_channels), x)
            x = net.add(f"features.{index}.1", Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2))
            index += 1
    last = block_setting[-1]
    lastconv_output_channels = last.out_channels if last.out_channels is not None else last.input_channels
    net.add("avgpool", AdaptiveAvgPool2d(1), x)
    net.add("classifier.0", norm_layer(lastconv_output_channels))
    net.add("classifier.1", Flatten(1))
    net.add("classifier.2", Linear(lastconv_output_channels, num_classes))
    return net
