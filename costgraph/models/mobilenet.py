"""MobileNetV2 (Sandler et al., 2018) and MobileNetV3-Large (Howard et al., 2019), as torchvision builds them.

Written from torchvision's ``models/mobilenetv2.py`` and ``models/mobilenetv3.py``.
Layer names are torchvision's module paths (``features.2.conv.1.0`` is the
depthwise conv of MobileNetV2's second inverted residual); operations that
are not modules in torchvision are named after the module whose ``forward``
does them (``features.2.add`` for a residual sum, ``flatten``).

Also `make_divisible`, torchvision's ``_make_divisible``, which rounds every
channel count of the mobile models.
"""

from __future__ import annotations

from functools import partial
from itertools import count
from typing import NamedTuple

from ..kinds import (
    AdaptiveAvgPool2d,
    Add,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Input,
    Linear,
    ReLU,
    ReLU6,
)
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import conv_norm_activation, squeeze_excitation

__all__ = ["make_divisible", "mobilenet_v2", "mobilenet_v3_large", "InvertedResidualConfig", "MOBILENET_V3_LARGE"]


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round `value` to the nearest multiple of `divisor`, never below `min_value` or 90% of `value`.

    torchvision's ``_make_divisible`` (from the TensorFlow MobileNet code),
    used for every channel count of the mobile models.

    Examples
    --------
    >>> make_divisible(32 * 1.0, 8)       # already a multiple
    32
    >>> make_divisible(72 // 4, 8)        # 18 rounds to 16, under 0.9 * 18, so one step up
    24
    >>> make_divisible(120 // 4, 8)       # 30 rounds to 32
    32
    """
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# -- MobileNetV2 ----------------------------------------------------------------------

#: (expand ratio t, output channels c, repeats n, first stride s), torchvision's inverted_residual_setting
MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def inverted_residual_v2(
    net: Network, name: str, inp: int, oup: int, stride: int, expand_ratio: int, *, input: str
) -> str:
    """MobileNetV2's ``InvertedResidual``: 1x1 expand, 3x3 depthwise, 1x1 linear projection.

    Layers ``{name}.conv.{i}``: the expansion (left out when `expand_ratio`
    is 1) and the depthwise conv are ``Conv2dNormActivation`` blocks with
    ReLU6; the projection is a bare conv and batch norm.  With stride 1 and
    ``inp == oup`` the block adds its input back (``{name}.add``, ``x + conv(x)``).

    Returns
    -------
    str
        The block's output layer.
    """
    hidden_dim = int(round(inp * expand_ratio))
    use_res_connect = stride == 1 and inp == oup
    index = count()
    out = input
    if expand_ratio != 1:
        out = conv_norm_activation(
            net, f"{name}.conv.{next(index)}", inp, hidden_dim, kernel_size=1, activation_layer=ReLU6, input=out
        )
    conv_norm_activation(
        net, f"{name}.conv.{next(index)}", hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
        activation_layer=ReLU6, input=out,
    )
    net.add(f"{name}.conv.{next(index)}", Conv2d(hidden_dim, oup, 1, 1, 0, bias=False))
    out = net.add(f"{name}.conv.{next(index)}", BatchNorm2d(oup))
    if use_res_connect:
        out = net.add(f"{name}.add", Add(), input, out)
    return out


@register_model("mobilenet_v2")
def mobilenet_v2(num_classes: int = 1000) -> Network:
    """MobileNetV2 (width 1.0), torchvision's ``mobilenet_v2()``.

    Stem conv 3x3/2 to 32 channels, 17 inverted residuals, a 1x1 conv to
    1280 channels, global average pooling (a functional call in torchvision,
    here the layer ``adaptive_avg_pool`` as in the rest of the zoo), dropout and the classifier.

    Examples
    --------
    >>> t = mobilenet_v2().totals(H=224)
    >>> t.params                 # torchvision's num_params for MobileNet_V2_Weights
    3504872
    >>> round(t.macs / 1e9, 3)   # torchvision's "_ops" (GFLOPS, counted as MACs)
    0.301
    """
    net = Network("mobilenet_v2")
    x = net.add("input", Input((3, H, W)))
    input_channel = make_divisible(32 * 1.0, 8)
    last_channel = make_divisible(1280 * max(1.0, 1.0), 8)
    x = conv_norm_activation(net, "features.0", 3, input_channel, stride=2, activation_layer=ReLU6, input=x)
    block_index = 1
    for t, c, n, s in MOBILENET_V2:
        output_channel = make_divisible(c * 1.0, 8)
        for i in range(n):
            stride = s if i == 0 else 1
            x = inverted_residual_v2(net, f"features.{block_index}", input_channel, output_channel, stride, t, input=x)
            input_channel = output_channel
            block_index += 1
    conv_norm_activation(
        net, f"features.{block_index}", input_channel, last_channel, kernel_size=1, activation_layer=ReLU6, input=x
    )
    net.add("adaptive_avg_pool", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    net.add("classifier.0", Dropout(0.2))
    net.add("classifier.1", Linear(last_channel, num_classes))
    return net


# -- MobileNetV3-Large -------------------------------------------------------------------


class InvertedResidualConfig(NamedTuple):
    """One row of MobileNetV3's table (torchvision's ``bneck_conf``), width multiplier 1.0."""

    input_channels: int
    kernel: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    activation: str  # "RE" (ReLU) or "HS" (hard swish)
    stride: int
    dilation: int


#: torchvision's ``_mobilenet_v3_conf("mobilenet_v3_large")`` (Table 1 of the paper)
MOBILENET_V3_LARGE = tuple(
    InvertedResidualConfig(*row)
    for row in (
        (16, 3, 16, 16, False, "RE", 1, 1),
        (16, 3, 64, 24, False, "RE", 2, 1),
        (24, 3, 72, 24, False, "RE", 1, 1),
        (24, 5, 72, 40, True, "RE", 2, 1),
        (40, 5, 120, 40, True, "RE", 1, 1),
        (40, 5, 120, 40, True, "RE", 1, 1),
        (40, 3, 240, 80, False, "HS", 2, 1),
        (80, 3, 200, 80, False, "HS", 1, 1),
        (80, 3, 184, 80, False, "HS", 1, 1),
        (80, 3, 184, 80, False, "HS", 1, 1),
        (80, 3, 480, 112, True, "HS", 1, 1),
        (112, 3, 672, 112, True, "HS", 1, 1),
        (112, 5, 672, 160, True, "HS", 2, 1),
        (160, 5, 960, 160, True, "HS", 1, 1),
        (160, 5, 960, 160, True, "HS", 1, 1),
    )
)


def inverted_residual_v3(net: Network, name: str, cnf: InvertedResidualConfig, norm_layer, *, input: str) -> str:
    """MobileNetV3's ``InvertedResidual``: expand, depthwise, optional squeeze-excitation, project.

    Layers ``{name}.block.{i}``.  The expansion is left out when it would
    not change the width; the squeeze-excitation block squeezes to
    ``make_divisible(expanded // 4, 8)`` channels with a ReLU and a hard
    sigmoid.  With stride 1 and equal widths the input is added in place
    (``{name}.add``, torchvision's ``result += input``).

    Returns
    -------
    str
        The block's output layer.
    """
    use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
    activation_layer = Hardswish if cnf.activation == "HS" else ReLU
    index = count()
    out = input
    if cnf.expanded_channels != cnf.input_channels:
        out = conv_norm_activation(
            net, f"{name}.block.{next(index)}", cnf.input_channels, cnf.expanded_channels, kernel_size=1,
            norm_layer=norm_layer, activation_layer=activation_layer, input=out,
        )
    stride = 1 if cnf.dilation > 1 else cnf.stride
    out = conv_norm_activation(
        net, f"{name}.block.{next(index)}", cnf.expanded_channels, cnf.expanded_channels, kernel_size=cnf.kernel,
        stride=stride, dilation=cnf.dilation, groups=cnf.expanded_channels, norm_layer=norm_layer,
        activation_layer=activation_layer, input=out,
    )
    if cnf.use_se:
        squeeze_channels = make_divisible(cnf.expanded_channels // 4, 8)
        out = squeeze_excitation(
            net, f"{name}.block.{next(index)}", cnf.expanded_channels, squeeze_channels,
            scale_activation=Hardsigmoid, input=out,
        )
    out = conv_norm_activation(
        net, f"{name}.block.{next(index)}", cnf.expanded_channels, cnf.out_channels, kernel_size=1,
        norm_layer=norm_layer, activation_layer=None, input=out,
    )
    if use_res_connect:
        out = net.add(f"{name}.add", Add(inplace=True), out, input)
    return out


@register_model("mobilenet_v3_large")
def mobilenet_v3_large(num_classes: int = 1000) -> Network:
    """MobileNetV3-Large (width 1.0), torchvision's ``mobilenet_v3_large()``.

    Batch norms use ``eps=0.001, momentum=0.01``; the stem and head use
    hard swish; the classifier is Linear(960, 1280), hard swish, dropout,
    Linear(1280, classes).

    Examples
    --------
    >>> t = mobilenet_v3_large().totals(H=224)
    >>> t.params                 # torchvision's num_params for MobileNet_V3_Large_Weights
    5483032
    >>> round(t.macs / 1e9, 3)   # torchvision's "_ops" (GFLOPS, counted as MACs)
    0.217
    """
    settings = MOBILENET_V3_LARGE
    norm_layer = partial(BatchNorm2d, eps=0.001, momentum=0.01)
    last_channel = make_divisible(1280 * 1.0, 8)
    net = Network("mobilenet_v3_large")
    x = net.add("input", Input((3, H, W)))
    x = conv_norm_activation(
        net, "features.0", 3, settings[0].input_channels, kernel_size=3, stride=2,
        norm_layer=norm_layer, activation_layer=Hardswish, input=x,
    )
    for index, cnf in enumerate(settings, start=1):
        x = inverted_residual_v3(net, f"features.{index}", cnf, norm_layer, input=x)
    lastconv_input_channels = settings[-1].out_channels
    lastconv_output_channels = 6 * lastconv_input_channels
    conv_norm_activation(
        net, f"features.{len(settings) + 1}", lastconv_input_channels, lastconv_output_channels, kernel_size=1,
        norm_layer=norm_layer, activation_layer=Hardswish, input=x,
    )
    net.add("avgpool", AdaptiveAvgPool2d(1))
    net.add("flatten", Flatten(1))
    net.add("classifier.0", Linear(lastconv_output_channels, last_channel))
    net.add("classifier.1", Hardswish(inplace=True))
    net.add("classifier.2", Dropout(0.2, inplace=True))
    net.add("classifier.3", Linear(last_channel, num_classes))
    return net
