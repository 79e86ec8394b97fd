"""Plain-torch twin of RegNetY-400MF, written from torchvision's ``models/regnet.py``.

Transcribed from torchvision 0.29.1 (``SimpleStemIN``, ``BottleneckTransform``,
``ResBottleneckBlock``, ``AnyStage``, ``BlockParams``, ``RegNet`` and
``regnet_y_400mf``'s parameters), without weight init or loading.
``Conv2dNormActivation``, ``SqueezeExcitation`` and ``make_divisible`` come
from the MobileNet twin.

The stage widths are computed with float32 torch tensors as torchvision
does (costgraph computes them in Python floats, so this is an independent
check); the twin pins those tensors to the CPU, because torchvision's
``regnet_y_400mf()`` cannot be built under ``torch.device("meta")``
(``.tolist()`` of a meta tensor fails).

Verified by hand against the real torchvision 0.29.1 (torch 2.14.1, the venv
/work/tvenv): the twin's state_dict has the same keys, in the same order,
with the same shapes as ``torchvision.models.regnet_y_400mf()``, and every
Conv2d/Linear/pool module's output shape agrees, module path by module path,
at 224x224, 225x225, 161x287 and 1x1.
"""

import math
from collections import OrderedDict

from tests.support import require_torch

from .mobilenet import Conv2dNormActivation, SqueezeExcitation, make_divisible

torch = require_torch()
nn = torch.nn


class BlockParams:
    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides, se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0, se_ratio=None):
        QUANT, STRIDE = 8, 2
        cpu = torch.device("cpu")
        widths_cont = torch.arange(depth, device=cpu) * w_a + w_0
        block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
        block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), QUANT)) * QUANT).int().tolist()
        num_stages = len(set(block_widths))
        split_helper = zip(block_widths + [0], [0] + block_widths, block_widths + [0], [0] + block_widths)
        splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
        stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
        stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t], device=cpu)).int().tolist()
        strides = [STRIDE] * num_stages
        bottleneck_multipliers = [bottleneck_multiplier] * num_stages
        group_widths = [group_width] * num_stages
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_multipliers)]
        group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
        ws_bot = [make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
        stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_multipliers)]
        return cls(stage_depths, stage_widths, group_widths_min, bottleneck_multipliers, strides, se_ratio)


class BottleneckTransform(nn.Sequential):
    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width, bottleneck_multiplier,
                 se_ratio):
        layers = OrderedDict()
        w_b = int(round(width_out * bottleneck_multiplier))
        g = w_b // group_width
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=g, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            width_se_out = int(round(se_ratio * width_in))
            layers["se"] = SqueezeExcitation(input_channels=w_b, squeeze_channels=width_se_out,
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer, group_width,
                                     bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer, activation_layer,
                 group_width, bottleneck_multiplier, se_ratio=None, stage_index=0):
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                                      norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class RegNet(nn.Module):
    def __init__(self, block_params, num_classes=1000, stem_width=32):
        super().__init__()
        norm_layer = nn.BatchNorm2d
        activation = nn.ReLU
        self.stem = Conv2dNormActivation(3, stem_width, kernel_size=3, stride=2, norm_layer=norm_layer,
                                         activation_layer=activation)
        current_width = stem_width
        blocks = []
        expanded = zip(block_params.widths, block_params.strides, block_params.depths, block_params.group_widths,
                       block_params.bottleneck_multipliers)
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(expanded):
            blocks.append((f"block{i + 1}", AnyStage(current_width, width_out, stride, depth, ResBottleneckBlock,
                                                     norm_layer, activation, group_width, bottleneck_multiplier,
                                                     block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.trunk_output(x)
        x = self.avgpool(x)
        x = x.flatten(start_dim=1)
        return self.fc(x)


def regnet_y_400mf():
    params = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
    return RegNet(params)
