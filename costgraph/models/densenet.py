"""DenseNet-BC (Huang et al., 2016), as torchvision builds it: ``densenet121``.

A stem (7x7/2 conv, batch norm, ReLU, 3x3/2 max pool), four dense blocks
joined by `transition` layers, a final batch norm and ReLU, global average
pooling and one fully connected layer.

Every `dense_layer` concatenates *all* the features before it (torchvision's
``torch.cat(prev_features, 1)``, a new tensor each time, even of one input)
and adds ``growth_rate`` channels; a dense block ends by concatenating them
all once more.  Layer names are torchvision's module paths
(``features.denseblock1.denselayer1.conv1``, ``features.transition1.pool``);
the concatenations are the layers ``.cat``, and the functions torchvision
calls at the end (``F.relu``, ``F.adaptive_avg_pool2d``, ``torch.flatten``)
are layers named after them.
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Concat, Conv2d, Flatten, Input, Linear, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import latest

__all__ = ["dense_layer", "dense_block", "transition", "densenet", "densenet121"]


def dense_layer(net: Network, name: str, features: list[str], num_input_features: int, growth_rate: int, bn_size: int) -> str:
    """Concatenate `features`, then norm-ReLU-1x1 conv to ``bn_size * growth_rate``
    channels and norm-ReLU-3x3 conv to `growth_rate` (torchvision's ``_DenseLayer``).

    Returns the new features (the second conv).

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    net.add(f"{name}.cat", Concat(1), *features)
    net.add(f"{name}.norm1", BatchNorm2d(num_input_features))
    net.add(f"{name}.relu1", ReLU(inplace=True))
    net.add(f"{name}.conv1", Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, bias=False))
    net.add(f"{name}.norm2", BatchNorm2d(bn_size * growth_rate))
    net.add(f"{name}.relu2", ReLU(inplace=True))
    return net.add(f"{name}.conv2", Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False))


def dense_block(net: Network, name: str, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int) -> str:
    """`num_layers` dense layers, each fed by the block's input and every layer
    before it, then their concatenation (torchvision's ``_DenseBlock``).

    Reads the layer added last and returns the final concat, of
    ``num_input_features + num_layers * growth_rate`` channels.

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
    >>> dense_block(net, "denseblock1", 2, 64, bn_size=4, growth_rate=32)
    'denseblock1.cat'
    >>> net.graph.nodes["denseblock1.denselayer2.cat"]["inputs"]
    ('input', 'denseblock1.denselayer1.conv2')
    >>> net.shape("denseblock1.cat")
    (N, 128, H, W)
    """
    features = [latest(net)]
    for i in range(num_layers):
        features.append(
            dense_layer(
                net, f"{name}.denselayer{i + 1}", features, num_input_features + i * growth_rate, growth_rate, bn_size
            )
        )
    return net.add(f"{name}.cat", Concat(1), *features)


def transition(net: Network, name: str, num_input_features: int, num_output_features: int) -> str:
    """Norm, ReLU, 1x1 conv and 2x2/2 average pool between dense blocks
    (torchvision's ``_Transition``).  Returns the pool.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    net.add(f"{name}.norm", BatchNorm2d(num_input_features))
    net.add(f"{name}.relu", ReLU(inplace=True))
    net.add(f"{name}.conv", Conv2d(num_input_features, num_output_features, kernel_size=1, bias=False))
    return net.add(f"{name}.pool", AvgPool2d(kernel_size=2, stride=2))


def densenet(
    name: str,
    growth_rate: int = 32,
    block_config: tuple = (6, 12, 24, 16),
    num_init_features: int = 64,
    bn_size: int = 4,
    num_classes: int = 1000,
) -> Network:
    """A DenseNet-BC with torchvision's ``DenseNet`` arguments (no dropout:
    torchvision's ``drop_rate`` is 0 for every published model)."""
    net = Network(name)
    net.add("input", Input((3, H, W)))
    net.add("features.conv0", Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False))
    net.add("features.norm0", BatchNorm2d(num_init_features))
    net.add("features.relu0", ReLU(inplace=True))
    net.add("features.pool0", MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_features = num_init_features
    for i, num_layers in enumerate(block_config):
        dense_block(net, f"features.denseblock{i + 1}", num_layers, num_features, bn_size, growth_rate)
        num_features += num_layers * growth_rate
        if i != len(block_config) - 1:
            transition(net, f"features.transition{i + 1}", num_features, num_features // 2)
            num_features //= 2
    net.add("features.norm5", BatchNorm2d(num_features))
    net.add("relu", ReLU(inplace=True))
    net.add("adaptive_avg_pool", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    net.add("classifier", Linear(num_features, num_classes))
    return net


@register_model("densenet121")
def densenet121(num_classes: int = 1000) -> Network:
    """DenseNet-121: growth rate 32, blocks of 6, 12, 24 and 16 layers.

    >>> net = densenet121()
    >>> net.totals().params                 # torchvision's num_params for DenseNet121_Weights
    7978856
    >>> net.shape("features.norm5")         # 64 + 6*32 -> 128 + 12*32 -> 256 + 24*32 -> 512 + 16*32
    (N, 1024, floor((H + 3)/32), floor((W + 3)/32))
    """
    return densenet("densenet121", 32, (6, 12, 24, 16), 64, num_classes=num_classes)
