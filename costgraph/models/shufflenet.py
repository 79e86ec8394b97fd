"""ShuffleNetV2 (Ma et al., 2018), as torchvision builds it.

Written from torchvision's ``models/shufflenetv2.py``.  Layer names are
torchvision's module paths (``stage2.0.branch1.0``); the operations of
``InvertedResidual.forward`` that are not modules are named after the block:
``{block}.chunk.0`` and ``{block}.chunk.1`` (the two halves of
``x.chunk(2, dim=1)``, views), ``{block}.cat`` and ``{block}.channel_shuffle``
(a copy, because torchvision's ``channel_shuffle`` calls ``.contiguous()``).
The global pooling is ``x.mean([2, 3])``, the layer ``mean``.
"""

from __future__ import annotations

from ..errors import CostGraphError
from ..kinds import BatchNorm2d, ChannelShuffle, Concat, Conv2d, Input, Linear, MaxPool2d, Mean, ReLU, Slice
from ..network import Network
from ..symbols import H, W
from . import register_model

__all__ = ["shufflenet_v2_x1_0", "shuffle_inverted_residual", "SHUFFLENET_V2_X1_0"]

#: (repeats per stage 2-4, output channels of conv1, stage2, stage3, stage4, conv5), torchvision's arguments
SHUFFLENET_V2_X1_0 = ((4, 8, 4), (24, 116, 232, 464, 1024))


def _depthwise_conv(channels: int, stride: int) -> Conv2d:
    """torchvision's ``InvertedResidual.depthwise_conv``: 3x3, padding 1, no bias, one group per channel."""
    return Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


def shuffle_inverted_residual(net: Network, name: str, inp: int, oup: int, stride: int, *, input: str) -> str:
    """ShuffleNetV2's ``InvertedResidual``: two branches, concatenated, then channels shuffled.

    With stride 1 the input is split in two halves: the first passes
    through untouched, the second through ``branch2`` (1x1 conv, 3x3
    depthwise, 1x1 conv).  With stride 2 both branches see the whole input
    and ``branch1`` (3x3 depthwise stride 2, 1x1 conv) downsamples it too.

    Returns
    -------
    str
        The block's output layer (the channel shuffle).

    Raises
    ------
    CostGraphError
        If stride is 1 and ``inp != oup``, as torchvision refuses.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("block")
    >>> net.add("input", Input((116, H, W)))
    'input'
    >>> shuffle_inverted_residual(net, "stage2.1", 116, 116, 1, input="input")
    'stage2.1.channel_shuffle'
    >>> net.shape("stage2.1.chunk.1")
    (N, 58, H, W)
    """
    branch_features = oup // 2
    if stride == 1 and inp != branch_features << 1:
        raise CostGraphError(f"{name}: with stride 1, inp ({inp}) must equal oup ({oup}) rounded down to even")
    if stride > 1:
        net.add(f"{name}.branch1.0", _depthwise_conv(inp, stride), input)
        net.add(f"{name}.branch1.1", BatchNorm2d(inp))
        net.add(f"{name}.branch1.2", Conv2d(inp, branch_features, 1, 1, 0, bias=False))
        net.add(f"{name}.branch1.3", BatchNorm2d(branch_features))
        left = net.add(f"{name}.branch1.4", ReLU(inplace=True))
        right, right_channels = input, inp
    else:
        left = net.add(f"{name}.chunk.0", Slice(1, 0, inp // 2), input)
        right = net.add(f"{name}.chunk.1", Slice(1, inp // 2, inp), input)
        right_channels = branch_features
    net.add(f"{name}.branch2.0", Conv2d(right_channels, branch_features, 1, 1, 0, bias=False), right)
    net.add(f"{name}.branch2.1", BatchNorm2d(branch_features))
    net.add(f"{name}.branch2.2", ReLU(inplace=True))
    net.add(f"{name}.branch2.3", _depthwise_conv(branch_features, stride))
    net.add(f"{name}.branch2.4", BatchNorm2d(branch_features))
    net.add(f"{name}.branch2.5", Conv2d(branch_features, branch_features, 1, 1, 0, bias=False))
    net.add(f"{name}.branch2.6", BatchNorm2d(branch_features))
    right = net.add(f"{name}.branch2.7", ReLU(inplace=True))
    net.add(f"{name}.cat", Concat(1), left, right)
    return net.add(f"{name}.channel_shuffle", ChannelShuffle(2))


@register_model("shufflenet_v2_x1_0")
def shufflenet_v2_x1_0(num_classes: int = 1000) -> Network:
    """ShuffleNetV2 with width 1.0, torchvision's ``shufflenet_v2_x1_0()``.

    conv1 (3x3/2 to 24 channels), a 3x3/2 max pool, stages of 4, 8 and 4
    blocks (116, 232, 464 channels, each opened by a stride-2 block), conv5
    (1x1 to 1024), a spatial mean and the classifier.

    Examples
    --------
    >>> t = shufflenet_v2_x1_0().totals(H=224)
    >>> t.params                 # torchvision's num_params for ShuffleNet_V2_X1_0_Weights
    2278604
    """
    stages_repeats, stages_out_channels = SHUFFLENET_V2_X1_0
    net = Network("shufflenet_v2_x1_0")
    net.add("input", Input((3, H, W)))
    input_channels = stages_out_channels[0]
    net.add("conv1.0", Conv2d(3, input_channels, 3, 2, 1, bias=False))
    net.add("conv1.1", BatchNorm2d(input_channels))
    net.add("conv1.2", ReLU(inplace=True))
    x = net.add("maxpool", MaxPool2d(kernel_size=3, stride=2, padding=1))
    for stage, repeats, output_channels in zip((2, 3, 4), stages_repeats, stages_out_channels[1:]):
        x = shuffle_inverted_residual(net, f"stage{stage}.0", input_channels, output_channels, 2, input=x)
        for i in range(1, repeats):
            x = shuffle_inverted_residual(net, f"stage{stage}.{i}", output_channels, output_channels, 1, input=x)
        input_channels = output_channels
    output_channels = stages_out_channels[-1]
    net.add("conv5.0", Conv2d(input_channels, output_channels, 1, 1, 0, bias=False), x)
    net.add("conv5.1", BatchNorm2d(output_channels))
    net.add("conv5.2", ReLU(inplace=True))
    net.add("mean", Mean((2, 3)))
    net.add("fc", Linear(output_channels, num_classes))
    return net
