"""ResNet (He et al., 2015), as torchvision builds it: ``resnet18`` to ``resnet152``.

A stem (7x7/2 conv, batch norm, ReLU, 3x3/2 max pool), four stages of
residual blocks, global average pooling and one fully connected layer.
ResNet-18 and -34 stack `basic_block`; ResNet-50, -101 and -152 stack
`bottleneck` (torchvision's "ResNet V1.5": the stride sits on the 3x3 conv).

Layer names are torchvision's module paths (``layer1.0.conv1``,
``layer2.0.downsample.0``), so every row matches a state_dict key.
torchvision applies a block's one ``relu`` module two or three times; here
each application is a layer of its own, ``relu1``, ``relu2`` (and ``relu3``),
and ``out += identity`` is the in-place ``add``.
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, Add, BatchNorm2d, Conv2d, Flatten, Input, Linear, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import latest

__all__ = ["resnet", "basic_block", "bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """3x3 convolution with padding 1 and no bias (torchvision's ``conv3x3``)."""
    return Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """1x1 convolution without bias (torchvision's ``conv1x1``)."""
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _downsample(net: Network, name: str, source: str, in_planes: int, out_planes: int, stride: int) -> str:
    """The shortcut's 1x1 conv and batch norm (``downsample.0``, ``downsample.1``)."""
    net.add(f"{name}.downsample.0", conv1x1(in_planes, out_planes, stride), source)
    return net.add(f"{name}.downsample.1", BatchNorm2d(out_planes))


def basic_block(net: Network, name: str, inplanes: int, planes: int, stride: int = 1, downsample: bool = False) -> str:
    """Two 3x3 convs and a residual connection (torchvision's ``BasicBlock``, expansion 1).

    Reads the layer added last; `downsample` adds the 1x1 conv shortcut that
    torchvision adds when the stride or the width changes.  Returns the
    block's output layer.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("block")
    >>> net.add("input", Input((64, H, W)))
    'input'
    >>> basic_block(net, "layer2.0", 64, 128, stride=2, downsample=True)
    'layer2.0.relu2'
    >>> net.graph.nodes["layer2.0.add"]["inputs"]
    ('layer2.0.bn2', 'layer2.0.downsample.1')
    >>> net.totals().params      # 64*128*9 + 2*128 + 128*128*9 + 2*128 + 64*128 + 2*128
    230144
    """
    identity = latest(net)
    net.add(f"{name}.conv1", conv3x3(inplanes, planes, stride))
    net.add(f"{name}.bn1", BatchNorm2d(planes))
    net.add(f"{name}.relu1", ReLU(inplace=True))
    net.add(f"{name}.conv2", conv3x3(planes, planes))
    out = net.add(f"{name}.bn2", BatchNorm2d(planes))
    if downsample:
        identity = _downsample(net, name, identity, inplanes, planes, stride)
    net.add(f"{name}.add", Add(inplace=True), out, identity)
    return net.add(f"{name}.relu2", ReLU(inplace=True))


basic_block.expansion = 1


def bottleneck(net: Network, name: str, inplanes: int, planes: int, stride: int = 1, downsample: bool = False) -> str:
    """1x1 reduce, 3x3 (with the stride), 1x1 expand to ``4 * planes``, and a residual
    connection (torchvision's ``Bottleneck``).

    Reads the layer added last and returns the block's output layer.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("block")
    >>> net.add("input", Input((256, H, W)))
    'input'
    >>> bottleneck(net, "layer1.1", 256, 64)
    'layer1.1.relu3'
    >>> net.totals().params      # 256*64 + 64*64*9 + 64*256 convs, 2*(64 + 64 + 256) norm
    70400
    """
    width = planes
    identity = latest(net)
    net.add(f"{name}.conv1", conv1x1(inplanes, width))
    net.add(f"{name}.bn1", BatchNorm2d(width))
    net.add(f"{name}.relu1", ReLU(inplace=True))
    net.add(f"{name}.conv2", conv3x3(width, width, stride))
    net.add(f"{name}.bn2", BatchNorm2d(width))
    net.add(f"{name}.relu2", ReLU(inplace=True))
    net.add(f"{name}.conv3", conv1x1(width, planes * bottleneck.expansion))
    out = net.add(f"{name}.bn3", BatchNorm2d(planes * bottleneck.expansion))
    if downsample:
        identity = _downsample(net, name, identity, inplanes, planes * bottleneck.expansion, stride)
    net.add(f"{name}.add", Add(inplace=True), out, identity)
    return net.add(f"{name}.relu3", ReLU(inplace=True))


bottleneck.expansion = 4


def resnet(name: str, block, layers: tuple, num_classes: int = 1000) -> Network:
    """A ResNet of `block` (`basic_block` or `bottleneck`) with ``layers[i]`` blocks in stage i+1.

    As torchvision's ``ResNet._make_layer``: a stage's first block takes the
    stride (2 from stage 2 on) and a downsampling shortcut when the stride or
    the width changes.
    """
    net = Network(name)
    net.add("input", Input((3, H, W)))
    net.add("conv1", Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False))
    net.add("bn1", BatchNorm2d(64))
    net.add("relu", ReLU(inplace=True))
    net.add("maxpool", MaxPool2d(kernel_size=3, stride=2, padding=1))
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        stride = 1 if stage == 1 else 2
        for index in range(blocks):
            first = index == 0
            block(
                net,
                f"layer{stage}.{index}",
                inplanes,
                planes,
                stride=stride if first else 1,
                downsample=first and (stride != 1 or inplanes != planes * block.expansion),
            )
            inplanes = planes * block.expansion
    net.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(512 * block.expansion, num_classes))
    return net


@register_model("resnet18")
def resnet18(num_classes: int = 1000) -> Network:
    """ResNet-18: basic blocks, 2-2-2-2.

    >>> resnet18().totals().params         # torchvision's num_params for ResNet18_Weights
    11689512
    """
    return resnet("resnet18", basic_block, (2, 2, 2, 2), num_classes)


@register_model("resnet34")
def resnet34(num_classes: int = 1000) -> Network:
    """ResNet-34: basic blocks, 3-4-6-3."""
    return resnet("resnet34", basic_block, (3, 4, 6, 3), num_classes)


@register_model("resnet50")
def resnet50(num_classes: int = 1000) -> Network:
    """ResNet-50: bottleneck blocks, 3-4-6-3.

    >>> net = resnet50()
    >>> net.totals(H=224).params, net.min_size()      # it runs even at 1x1
    (25557032, 1)
    """
    return resnet("resnet50", bottleneck, (3, 4, 6, 3), num_classes)


@register_model("resnet101")
def resnet101(num_classes: int = 1000) -> Network:
    """ResNet-101: bottleneck blocks, 3-4-23-3."""
    return resnet("resnet101", bottleneck, (3, 4, 23, 3), num_classes)


@register_model("resnet152")
def resnet152(num_classes: int = 1000) -> Network:
    """ResNet-152: bottleneck blocks, 3-8-36-3."""
    return resnet("resnet152", bottleneck, (3, 8, 36, 3), num_classes)
