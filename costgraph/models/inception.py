"""Inception v3 (Szegedy et al., 2015), as torchvision builds it: ``inception_v3``.

A stem of unpadded `basic_conv2d` blocks and 3x3/2 max pools, then eleven
mixed blocks of five kinds: `inception_a` (35x35 at 299), `inception_b`
(grid reduction), `inception_c` (factorized 7x7), `inception_d` (grid
reduction) and `inception_e` (expanded 3x3 branches), global average
pooling, dropout and one fully connected layer.  Its default input is
299x299; it needs at least 75x75.

By default there is no auxiliary head.  Note that torchvision's published
``num_params`` for ``Inception_V3_Weights`` (27161264) *includes* it,
because ``inception_v3(weights=...)`` keeps ``AuxLogits``:
``inception_v3(aux_logits=True)`` builds that network, with the head after
``Mixed_6e`` counted as torch's training forward runs it.

Layer names are torchvision's module paths (``Mixed_5b.branch5x5_2.conv``,
``AuxLogits.fc``); each block's ``torch.cat`` is the layer ``.cat``, and
the functions torchvision calls (``F.relu``, ``F.avg_pool2d``,
``F.max_pool2d``, ``F.adaptive_avg_pool2d``) are layers named after them
(``.relu``, ``.avg_pool``, ``.max_pool``, ``.adaptive_avg_pool``).
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, AvgPool2d, Concat, Dropout, Flatten, Input, Linear, MaxPool2d
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import basic_conv2d, latest

__all__ = ["inception_a", "inception_b", "inception_c", "inception_d", "inception_e", "inception_aux", "inception_v3"]


def _source(net: Network, input: str | None) -> str:
    return latest(net) if input is None else input


def inception_a(net: Network, name: str, in_channels: int, pool_features: int, *, input: str | None = None) -> str:
    """1x1; 1x1 then 5x5; 1x1 then two 3x3; 3x3/1 average pool then 1x1 to
    `pool_features` (torchvision's ``InceptionA``).  Returns the concat of
    ``224 + pool_features`` channels.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("block")
    >>> net.add("input", Input((192, H, W)))
    'input'
    >>> inception_a(net, "Mixed_5b", 192, pool_features=32)
    'Mixed_5b.cat'
    >>> net.shape("Mixed_5b.cat")                 # 64 + 64 + 96 + 32 channels, same size
    (N, 256, H, W)
    """
    x = _source(net, input)
    branch1x1 = basic_conv2d(net, f"{name}.branch1x1", in_channels, 64, kernel_size=1, input=x)

    basic_conv2d(net, f"{name}.branch5x5_1", in_channels, 48, kernel_size=1, input=x)
    branch5x5 = basic_conv2d(net, f"{name}.branch5x5_2", 48, 64, kernel_size=5, padding=2)

    basic_conv2d(net, f"{name}.branch3x3dbl_1", in_channels, 64, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch3x3dbl_2", 64, 96, kernel_size=3, padding=1)
    branch3x3dbl = basic_conv2d(net, f"{name}.branch3x3dbl_3", 96, 96, kernel_size=3, padding=1)

    net.add(f"{name}.avg_pool", AvgPool2d(kernel_size=3, stride=1, padding=1), x)
    branch_pool = basic_conv2d(net, f"{name}.branch_pool", in_channels, pool_features, kernel_size=1)
    return net.add(f"{name}.cat", Concat(1), branch1x1, branch5x5, branch3x3dbl, branch_pool)


def inception_b(net: Network, name: str, in_channels: int, *, input: str | None = None) -> str:
    """Grid reduction (torchvision's ``InceptionB``): 3x3/2; 1x1, 3x3, 3x3/2;
    3x3/2 max pool.  Returns the concat of ``480 + in_channels`` channels.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    x = _source(net, input)
    branch3x3 = basic_conv2d(net, f"{name}.branch3x3", in_channels, 384, kernel_size=3, stride=2, input=x)

    basic_conv2d(net, f"{name}.branch3x3dbl_1", in_channels, 64, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch3x3dbl_2", 64, 96, kernel_size=3, padding=1)
    branch3x3dbl = basic_conv2d(net, f"{name}.branch3x3dbl_3", 96, 96, kernel_size=3, stride=2)

    branch_pool = net.add(f"{name}.max_pool", MaxPool2d(kernel_size=3, stride=2), x)
    return net.add(f"{name}.cat", Concat(1), branch3x3, branch3x3dbl, branch_pool)


def inception_c(net: Network, name: str, in_channels: int, channels_7x7: int, *, input: str | None = None) -> str:
    """Factorized 7x7 convolutions (torchvision's ``InceptionC``): 1x1; 1x1,
    1x7, 7x1; 1x1, 7x1, 1x7, 7x1, 1x7; 3x3/1 average pool then 1x1.
    Returns the concat of 768 channels.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    c7 = channels_7x7
    x = _source(net, input)
    branch1x1 = basic_conv2d(net, f"{name}.branch1x1", in_channels, 192, kernel_size=1, input=x)

    basic_conv2d(net, f"{name}.branch7x7_1", in_channels, c7, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch7x7_2", c7, c7, kernel_size=(1, 7), padding=(0, 3))
    branch7x7 = basic_conv2d(net, f"{name}.branch7x7_3", c7, 192, kernel_size=(7, 1), padding=(3, 0))

    basic_conv2d(net, f"{name}.branch7x7dbl_1", in_channels, c7, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch7x7dbl_2", c7, c7, kernel_size=(7, 1), padding=(3, 0))
    basic_conv2d(net, f"{name}.branch7x7dbl_3", c7, c7, kernel_size=(1, 7), padding=(0, 3))
    basic_conv2d(net, f"{name}.branch7x7dbl_4", c7, c7, kernel_size=(7, 1), padding=(3, 0))
    branch7x7dbl = basic_conv2d(net, f"{name}.branch7x7dbl_5", c7, 192, kernel_size=(1, 7), padding=(0, 3))

    net.add(f"{name}.avg_pool", AvgPool2d(kernel_size=3, stride=1, padding=1), x)
    branch_pool = basic_conv2d(net, f"{name}.branch_pool", in_channels, 192, kernel_size=1)
    return net.add(f"{name}.cat", Concat(1), branch1x1, branch7x7, branch7x7dbl, branch_pool)


def inception_d(net: Network, name: str, in_channels: int, *, input: str | None = None) -> str:
    """Grid reduction (torchvision's ``InceptionD``): 1x1 then 3x3/2; 1x1, 1x7,
    7x1, 3x3/2; 3x3/2 max pool.  Returns the concat of ``512 + in_channels`` channels.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    x = _source(net, input)
    basic_conv2d(net, f"{name}.branch3x3_1", in_channels, 192, kernel_size=1, input=x)
    branch3x3 = basic_conv2d(net, f"{name}.branch3x3_2", 192, 320, kernel_size=3, stride=2)

    basic_conv2d(net, f"{name}.branch7x7x3_1", in_channels, 192, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch7x7x3_2", 192, 192, kernel_size=(1, 7), padding=(0, 3))
    basic_conv2d(net, f"{name}.branch7x7x3_3", 192, 192, kernel_size=(7, 1), padding=(3, 0))
    branch7x7x3 = basic_conv2d(net, f"{name}.branch7x7x3_4", 192, 192, kernel_size=3, stride=2)

    branch_pool = net.add(f"{name}.max_pool", MaxPool2d(kernel_size=3, stride=2), x)
    return net.add(f"{name}.cat", Concat(1), branch3x3, branch7x7x3, branch_pool)


def inception_e(net: Network, name: str, in_channels: int, *, input: str | None = None) -> str:
    """Expanded filter bank (torchvision's ``InceptionE``): 1x1; 1x1 then 1x3
    and 3x1 side by side; 1x1, 3x3, then 1x3 and 3x1 side by side; 3x3/1
    average pool then 1x1.  Returns the concat of 2048 channels; the two
    inner concatenations are ``.branch3x3.cat`` and ``.branch3x3dbl.cat``.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    x = _source(net, input)
    branch1x1 = basic_conv2d(net, f"{name}.branch1x1", in_channels, 320, kernel_size=1, input=x)

    split = basic_conv2d(net, f"{name}.branch3x3_1", in_channels, 384, kernel_size=1, input=x)
    branch3x3_2a = basic_conv2d(net, f"{name}.branch3x3_2a", 384, 384, kernel_size=(1, 3), padding=(0, 1), input=split)
    branch3x3_2b = basic_conv2d(net, f"{name}.branch3x3_2b", 384, 384, kernel_size=(3, 1), padding=(1, 0), input=split)
    branch3x3 = net.add(f"{name}.branch3x3.cat", Concat(1), branch3x3_2a, branch3x3_2b)

    basic_conv2d(net, f"{name}.branch3x3dbl_1", in_channels, 448, kernel_size=1, input=x)
    split = basic_conv2d(net, f"{name}.branch3x3dbl_2", 448, 384, kernel_size=3, padding=1)
    dbl_3a = basic_conv2d(net, f"{name}.branch3x3dbl_3a", 384, 384, kernel_size=(1, 3), padding=(0, 1), input=split)
    dbl_3b = basic_conv2d(net, f"{name}.branch3x3dbl_3b", 384, 384, kernel_size=(3, 1), padding=(1, 0), input=split)
    branch3x3dbl = net.add(f"{name}.branch3x3dbl.cat", Concat(1), dbl_3a, dbl_3b)

    net.add(f"{name}.avg_pool", AvgPool2d(kernel_size=3, stride=1, padding=1), x)
    branch_pool = basic_conv2d(net, f"{name}.branch_pool", in_channels, 192, kernel_size=1)
    return net.add(f"{name}.cat", Concat(1), branch1x1, branch3x3, branch3x3dbl, branch_pool)


def inception_aux(net: Network, name: str, in_channels: int, num_classes: int, *, input: str | None = None) -> str:
    """The auxiliary classifier (torchvision's ``InceptionAux``): 5x5/3 average
    pool, 1x1 conv to 128, 5x5 conv to 768, global average pool, fc.
    Returns its logits.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    net.add(f"{name}.avg_pool", AvgPool2d(kernel_size=5, stride=3), _source(net, input))
    basic_conv2d(net, f"{name}.conv0", in_channels, 128, kernel_size=1)
    basic_conv2d(net, f"{name}.conv1", 128, 768, kernel_size=5)
    net.add(f"{name}.adaptive_avg_pool", AdaptiveAvgPool2d((1, 1)))
    net.add(f"{name}.flatten", Flatten(1))
    return net.add(f"{name}.fc", Linear(768, num_classes))


@register_model("inception_v3", default_size=299)
def inception_v3(num_classes: int = 1000, aux_logits: bool = False, dropout: float = 0.5) -> Network:
    """Inception v3, torchvision's variant, without the auxiliary head by default.

    Examples
    --------
    >>> net = inception_v3()
    >>> net.totals().params                        # torchvision's 27161264 less AuxLogits' 3326696
    23834568
    >>> net.min_size()                             # torchvision's inception_v3 fails at 74x74
    75
    """
    net = Network("inception_v3")
    net.add("input", Input((3, H, W)))
    basic_conv2d(net, "Conv2d_1a_3x3", 3, 32, kernel_size=3, stride=2)
    basic_conv2d(net, "Conv2d_2a_3x3", 32, 32, kernel_size=3)
    basic_conv2d(net, "Conv2d_2b_3x3", 32, 64, kernel_size=3, padding=1)
    net.add("maxpool1", MaxPool2d(kernel_size=3, stride=2))
    basic_conv2d(net, "Conv2d_3b_1x1", 64, 80, kernel_size=1)
    basic_conv2d(net, "Conv2d_4a_3x3", 80, 192, kernel_size=3)
    net.add("maxpool2", MaxPool2d(kernel_size=3, stride=2))
    inception_a(net, "Mixed_5b", 192, pool_features=32)
    inception_a(net, "Mixed_5c", 256, pool_features=64)
    inception_a(net, "Mixed_5d", 288, pool_features=64)
    inception_b(net, "Mixed_6a", 288)
    inception_c(net, "Mixed_6b", 768, channels_7x7=128)
    inception_c(net, "Mixed_6c", 768, channels_7x7=160)
    inception_c(net, "Mixed_6d", 768, channels_7x7=160)
    x = inception_c(net, "Mixed_6e", 768, channels_7x7=192)
    if aux_logits:
        inception_aux(net, "AuxLogits", 768, num_classes, input=x)
    inception_d(net, "Mixed_7a", 768, input=x)
    inception_e(net, "Mixed_7b", 1280)
    inception_e(net, "Mixed_7c", 2048)
    net.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    net.add("dropout", Dropout(p=dropout))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(2048, num_classes))
    return net
