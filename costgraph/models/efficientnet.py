"""EfficientNet-B0 (Tan and Le, 2019), as torchvision builds it.

Written from torchvision's ``models/efficientnet.py``.  Layer names are
torchvision's module paths (``features.2.0.block.1.0`` is the depthwise conv
of the first MBConv of stage 2); a block's residual sum, ``result += input``,
is ``{block}.add``.

Stochastic depth is kept as a layer (``{block}.stochastic_depth``, with
torchvision's drop probability ``0.2 * block_index / 16``) on the residual
path only, where torchvision applies it.  At inference it is the identity:
it costs nothing and makes no tensor.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import count
from typing import NamedTuple

from ..kinds import AdaptiveAvgPool2d, Add, Dropout, Flatten, Input, Linear, SiLU, StochasticDepth
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import conv_norm_activation, squeeze_excitation
from .mobilenet import make_divisible

__all__ = ["efficientnet_b0", "mbconv", "MBConvConfig", "EFFICIENTNET_B0"]


class MBConvConfig(NamedTuple):
    """One stage of EfficientNet's table (Table 1 of the paper), after width and depth scaling."""

    expand_ratio: float
    kernel: int
    stride: int
    input_channels: int
    out_channels: int
    num_layers: int

    @classmethod
    def scaled(cls, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
               width_mult=1.0, depth_mult=1.0) -> "MBConvConfig":
        """torchvision's ``MBConvConfig``: widths by `make_divisible` to 8, depths rounded up."""
        return cls(
            expand_ratio,
            kernel,
            stride,
            make_divisible(input_channels * width_mult, 8),
            make_divisible(out_channels * width_mult, 8),
            int(math.ceil(num_layers * depth_mult)),
        )


#: torchvision's ``_efficientnet_conf("efficientnet_b0")``: width 1.0, depth 1.0
EFFICIENTNET_B0 = tuple(
    MBConvConfig.scaled(*row)
    for row in (
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    )
)


def mbconv(net: Network, name: str, cnf: MBConvConfig, stochastic_depth_prob: float, *, input: str) -> str:
    """EfficientNet's ``MBConv``: expand, depthwise, squeeze-excitation, project (all SiLU but the last).

    Layers ``{name}.block.{i}``.  The expansion to
    ``make_divisible(input_channels * expand_ratio, 8)`` channels is left out
    when it would not change the width.  The squeeze-excitation block
    squeezes to ``max(1, input_channels // 4)`` channels (a quarter of the
    block's *input* width, not of the expanded one), with SiLU and a sigmoid.
    With stride 1 and equal widths, stochastic depth and the residual sum follow.

    Returns
    -------
    str
        The block's output layer.
    """
    use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
    expanded_channels = make_divisible(cnf.input_channels * cnf.expand_ratio, 8)
    index = count()
    out = input
    if expanded_channels != cnf.input_channels:
        out = conv_norm_activation(
            net, f"{name}.block.{next(index)}", cnf.input_channels, expanded_channels, kernel_size=1,
            activation_layer=SiLU, input=out,
        )
    out = conv_norm_activation(
        net, f"{name}.block.{next(index)}", expanded_channels, expanded_channels, kernel_size=cnf.kernel,
        stride=cnf.stride, groups=expanded_channels, activation_layer=SiLU, input=out,
    )
    squeeze_channels = max(1, cnf.input_channels // 4)
    out = squeeze_excitation(
        net, f"{name}.block.{next(index)}", expanded_channels, squeeze_channels,
        activation=partial(SiLU, inplace=True), input=out,
    )
    out = conv_norm_activation(
        net, f"{name}.block.{next(index)}", expanded_channels, cnf.out_channels, kernel_size=1,
        activation_layer=None, input=out,
    )
    if use_res_connect:
        out = net.add(f"{name}.stochastic_depth", StochasticDepth(stochastic_depth_prob, "row"), out)
        out = net.add(f"{name}.add", Add(inplace=True), out, input)
    return out


@register_model("efficientnet_b0")
def efficientnet_b0(num_classes: int = 1000) -> Network:
    """EfficientNet-B0, torchvision's ``efficientnet_b0()``.

    Stem conv 3x3/2 to 32 channels, 16 MBConv blocks in 7 stages, a 1x1
    conv to 1280 channels, global average pooling, dropout 0.2 and the
    classifier.

    Examples
    --------
    >>> t = efficientnet_b0().totals(H=224)
    >>> t.params                 # torchvision's num_params for EfficientNet_B0_Weights
    5288548
    """
    settings = EFFICIENTNET_B0
    stochastic_depth_prob = 0.2
    net = Network("efficientnet_b0")
    x = net.add("input", Input((3, H, W)))
    x = conv_norm_activation(
        net, "features.0", 3, settings[0].input_channels, kernel_size=3, stride=2, activation_layer=SiLU, input=x
    )
    total_stage_blocks = sum(cnf.num_layers for cnf in settings)
    stage_block_id = 0
    for stage, cnf in enumerate(settings, start=1):
        for i in range(cnf.num_layers):
            block_cnf = cnf if i == 0 else cnf._replace(input_channels=cnf.out_channels, stride=1)
            sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks
            x = mbconv(net, f"features.{stage}.{i}", block_cnf, sd_prob, input=x)
            stage_block_id += 1
    lastconv_input_channels = settings[-1].out_channels
    lastconv_output_channels = 4 * lastconv_input_channels
    conv_norm_activation(
        net, f"features.{len(settings) + 1}", lastconv_input_channels, lastconv_output_channels, kernel_size=1,
        activation_layer=SiLU, input=x,
    )
    net.add("avgpool", AdaptiveAvgPool2d(1))
    net.add("flatten", Flatten(1))
    net.add("classifier.0", Dropout(0.2, inplace=True))
    net.add("classifier.1", Linear(lastconv_output_channels, num_classes))
    return net
