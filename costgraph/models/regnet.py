"""RegNetY-400MF (Radosavovic et al., 2020), as torchvision builds it.

Written from torchvision's ``models/regnet.py``.  Layer names are
torchvision's module paths, including its stage and block names with a dash:
``trunk_output.block2.block2-0.f.b.0`` is the grouped 3x3 conv of the first
block of stage 2.  A block's residual sum (``proj(x) + f(x)`` or
``x + f(x)``) is ``{block}.add``, followed by the block's ReLU
``{block}.activation``.

The stage widths come from torchvision's quantized linear rule
(`regnet_block_params`), computed here in Python floats; torchvision computes
them with float32 tensors, and the two agree on every RegNet torchvision
defines (checked by hand for all 15 RegNetX/RegNetY configurations).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..errors import CostGraphError
from ..kinds import AdaptiveAvgPool2d, Add, Flatten, Input, Linear, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import conv_norm_activation, squeeze_excitation
from .mobilenet import make_divisible

__all__ = ["regnet_y_400mf", "regnet_block_params", "res_bottleneck_block", "BlockParams"]


class BlockParams(NamedTuple):
    """Per-stage settings of a RegNet (torchvision's ``BlockParams``)."""

    depths: list
    widths: list
    group_widths: list
    bottleneck_multipliers: list
    strides: list
    se_ratio: float | None


def regnet_block_params(
    depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
    bottleneck_multiplier: float = 1.0, se_ratio: float | None = None,
) -> BlockParams:
    """Stage depths and widths from RegNet's parameters (torchvision's ``BlockParams.from_init_params``).

    Block ``i`` gets the continuous width ``w_0 + i * w_a``, which is snapped
    to ``w_0 * w_m ** k`` (k rounded in log space) and to a multiple of 8;
    consecutive blocks of equal width form a stage.  Stage widths are then
    made compatible with the group width.

    Raises
    ------
    CostGraphError
        For parameters torchvision refuses (``w_a < 0``, ``w_0 <= 0``,
        ``w_m <= 1`` or ``w_0`` not a multiple of 8).

    Examples
    --------
    >>> p = regnet_block_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
    >>> p.depths, p.widths, p.group_widths          # RegNetY-400MF
    ([1, 3, 6, 6], [48, 104, 208, 440], [8, 8, 8, 8])
    """
    quant, stride = 8, 2
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
        raise CostGraphError(f"invalid RegNet settings: w_0={w_0}, w_a={w_a}, w_m={w_m}")
    widths_cont = [i * w_a + w_0 for i in range(depth)]
    block_capacity = [round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont]
    block_widths = [int(round(w_0 * w_m**c / quant) * quant) for c in block_capacity]
    stage_widths, stage_depths = [], []
    for width in block_widths:
        if stage_widths and stage_widths[-1] == width:
            stage_depths[-1] += 1
        else:
            stage_widths.append(width)
            stage_depths.append(1)
    num_stages = len(stage_widths)
    bottleneck_multipliers = [bottleneck_multiplier] * num_stages
    # torchvision's _adjust_widths_groups_compatibilty
    bottleneck_widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_multipliers)]
    group_widths = [min(group_width, w_bot) for w_bot in bottleneck_widths]
    bottleneck_widths = [make_divisible(w_bot, g) for w_bot, g in zip(bottleneck_widths, group_widths)]
    stage_widths = [int(w_bot / b) for w_bot, b in zip(bottleneck_widths, bottleneck_multipliers)]
    strides = [stride] * num_stages
    return BlockParams(stage_depths, stage_widths, group_widths, bottleneck_multipliers, strides, se_ratio)


def bottleneck_transform(
    net: Network, name: str, width_in: int, width_out: int, stride: int, group_width: int,
    bottleneck_multiplier: float, se_ratio: float | None, *, input: str,
) -> str:
    """RegNet's ``BottleneckTransform``: 1x1 (``a``), grouped 3x3 (``b``), squeeze-excitation (``se``), 1x1 (``c``).

    The 3x3 conv has ``w_b // group_width`` groups, ``w_b = round(width_out *
    bottleneck_multiplier)``; the squeeze-excitation block squeezes to
    ``round(se_ratio * width_in)`` channels, relative to the block's input.
    """
    w_b = int(round(width_out * bottleneck_multiplier))
    groups = w_b // group_width
    out = conv_norm_activation(net, f"{name}.a", width_in, w_b, kernel_size=1, stride=1, input=input)
    out = conv_norm_activation(net, f"{name}.b", w_b, w_b, kernel_size=3, stride=stride, groups=groups, input=out)
    if se_ratio:
        width_se_out = int(round(se_ratio * width_in))
        out = squeeze_excitation(net, f"{name}.se", w_b, width_se_out, activation=ReLU, input=out)
    return conv_norm_activation(
        net, f"{name}.c", w_b, width_out, kernel_size=1, stride=1, activation_layer=None, input=out
    )


def res_bottleneck_block(
    net: Network, name: str, width_in: int, width_out: int, stride: int, group_width: int = 1,
    bottleneck_multiplier: float = 1.0, se_ratio: float | None = None, *, input: str,
) -> str:
    """RegNet's ``ResBottleneckBlock``: ``relu(x + f(x))``, with a 1x1 projection of x if the shape changes.

    Returns
    -------
    str
        The block's ReLU (``{name}.activation``).
    """
    shortcut = input
    if width_in != width_out or stride != 1:
        shortcut = conv_norm_activation(
            net, f"{name}.proj", width_in, width_out, kernel_size=1, stride=stride, activation_layer=None, input=input
        )
    out = bottleneck_transform(
        net, f"{name}.f", width_in, width_out, stride, group_width, bottleneck_multiplier, se_ratio, input=input
    )
    net.add(f"{name}.add", Add(), shortcut, out)
    return net.add(f"{name}.activation", ReLU(inplace=True))


@register_model("regnet_y_400mf")
def regnet_y_400mf(num_classes: int = 1000) -> Network:
    """RegNetY-400MF, torchvision's ``regnet_y_400mf()``.

    Stem conv 3x3/2 to 32 channels, four stages of 1, 3, 6 and 6 residual
    bottleneck blocks (48, 104, 208, 440 channels, group width 8,
    squeeze-excitation ratio 0.25, each stage opened with stride 2), global
    average pooling and the classifier.

    Examples
    --------
    >>> t = regnet_y_400mf().totals(H=224)
    >>> t.params                 # torchvision's num_params for RegNet_Y_400MF_Weights
    4344144
    """
    params = regnet_block_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
    stem_width = 32
    net = Network("regnet_y_400mf")
    x = net.add("input", Input((3, H, W)))
    x = conv_norm_activation(net, "stem", 3, stem_width, kernel_size=3, stride=2, input=x)
    current_width = stem_width
    stages = zip(params.widths, params.strides, params.depths, params.group_widths, params.bottleneck_multipliers)
    for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(stages, start=1):
        for j in range(depth):
            x = res_bottleneck_block(
                net, f"trunk_output.block{i}.block{i}-{j}", current_width if j == 0 else width_out, width_out,
                stride if j == 0 else 1, group_width, bottleneck_multiplier, params.se_ratio, input=x,
            )
        current_width = width_out
    net.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(current_width, num_classes))
    return net
