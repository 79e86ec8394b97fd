"""GoogLeNet (Szegedy et al., 2014, Inception v1), as torchvision builds it.

A stem of `basic_conv2d` blocks and ceil-mode max pools, nine `inception`
modules (four parallel branches concatenated), global average pooling,
dropout and one fully connected layer.  As in torchvision, the 5x5 branch
uses a 3x3 kernel (torchvision keeps this for compatibility with its
published weights) and every max pool runs in ``ceil_mode``.

By default there are no auxiliary heads: torchvision's ``googlenet(weights=...)``
removes them, and its published parameter count leaves them out.
``aux_logits=True`` adds them where torchvision's training forward runs them
(after ``inception4a`` and ``inception4d``); their costs are then counted
as torch counts them in training mode.

Layer names are torchvision's module paths (``inception3a.branch2.1.conv``,
``aux1.fc1``); each module's ``torch.cat`` is the layer ``.cat``, and the
functions torchvision calls (``F.relu``, ``F.adaptive_avg_pool2d``) are
layers named after them (``.relu``, ``.adaptive_avg_pool``).
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, Concat, Dropout, Flatten, Input, Linear, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model
from .blocks import basic_conv2d, latest

__all__ = ["inception", "inception_aux", "googlenet"]


def inception(
    net: Network,
    name: str,
    in_channels: int,
    ch1x1: int,
    ch3x3red: int,
    ch3x3: int,
    ch5x5red: int,
    ch5x5: int,
    pool_proj: int,
    *,
    input: str | None = None,
) -> str:
    """Four branches on the same input, concatenated (torchvision's ``Inception``):
    a 1x1 conv; 1x1 then 3x3; 1x1 then 3x3 (the "5x5" branch, as torchvision
    builds it); and a 3x3/1 ceil-mode max pool then 1x1.

    Reads `input` (default: the layer added last) and returns the concat.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("module")
    >>> net.add("input", Input((192, H, W)))
    'input'
    >>> inception(net, "inception3a", 192, 64, 96, 128, 16, 32, 32)
    'inception3a.cat'
    >>> net.shape("inception3a.cat")                   # 64 + 128 + 32 + 32 channels
    (N, 256, H, W)
    """
    x = latest(net) if input is None else input
    branch1 = basic_conv2d(net, f"{name}.branch1", in_channels, ch1x1, kernel_size=1, input=x)
    basic_conv2d(net, f"{name}.branch2.0", in_channels, ch3x3red, kernel_size=1, input=x)
    branch2 = basic_conv2d(net, f"{name}.branch2.1", ch3x3red, ch3x3, kernel_size=3, padding=1)
    basic_conv2d(net, f"{name}.branch3.0", in_channels, ch5x5red, kernel_size=1, input=x)
    branch3 = basic_conv2d(net, f"{name}.branch3.1", ch5x5red, ch5x5, kernel_size=3, padding=1)
    net.add(f"{name}.branch4.0", MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True), x)
    branch4 = basic_conv2d(net, f"{name}.branch4.1", in_channels, pool_proj, kernel_size=1)
    return net.add(f"{name}.cat", Concat(1), branch1, branch2, branch3, branch4)


def inception_aux(
    net: Network, name: str, in_channels: int, num_classes: int, dropout: float = 0.7, *, input: str | None = None
) -> str:
    """An auxiliary classifier (torchvision's ``InceptionAux``): 4x4 adaptive
    average pool, 1x1 conv to 128, then fc 2048 -> 1024 -> `num_classes`.

    Reads `input` (default: the layer added last) and returns its logits.  The pool and the
    ReLU after ``fc1`` are functions in torchvision, the layers ``.adaptive_avg_pool``
    and ``.relu`` here.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.
    """
    net.add(f"{name}.adaptive_avg_pool", AdaptiveAvgPool2d((4, 4)), *(() if input is None else (input,)))
    basic_conv2d(net, f"{name}.conv", in_channels, 128, kernel_size=1)
    net.add(f"{name}.flatten", Flatten(1))
    net.add(f"{name}.fc1", Linear(2048, 1024))
    net.add(f"{name}.relu", ReLU(inplace=True))
    net.add(f"{name}.dropout", Dropout(p=dropout))
    return net.add(f"{name}.fc2", Linear(1024, num_classes))


@register_model("googlenet")
def googlenet(num_classes: int = 1000, aux_logits: bool = False, dropout: float = 0.2, dropout_aux: float = 0.7) -> Network:
    """GoogLeNet (Inception v1), torchvision's variant, without auxiliary heads by default.

    Examples
    --------
    >>> net = googlenet()
    >>> net.totals().params           # torchvision's num_params for GoogLeNet_Weights
    6624904
    >>> net.min_size()                # every pool in ceil_mode: it runs from 15x15
    15
    """
    net = Network("googlenet")
    net.add("input", Input((3, H, W)))
    basic_conv2d(net, "conv1", 3, 64, kernel_size=7, stride=2, padding=3)
    net.add("maxpool1", MaxPool2d(3, stride=2, ceil_mode=True))
    basic_conv2d(net, "conv2", 64, 64, kernel_size=1)
    basic_conv2d(net, "conv3", 64, 192, kernel_size=3, padding=1)
    net.add("maxpool2", MaxPool2d(3, stride=2, ceil_mode=True))

    inception(net, "inception3a", 192, 64, 96, 128, 16, 32, 32)
    inception(net, "inception3b", 256, 128, 128, 192, 32, 96, 64)
    net.add("maxpool3", MaxPool2d(3, stride=2, ceil_mode=True))

    x = inception(net, "inception4a", 480, 192, 96, 208, 16, 48, 64)
    if aux_logits:
        inception_aux(net, "aux1", 512, num_classes, dropout_aux, input=x)
    inception(net, "inception4b", 512, 160, 112, 224, 24, 64, 64, input=x)
    inception(net, "inception4c", 512, 128, 128, 256, 24, 64, 64)
    x = inception(net, "inception4d", 512, 112, 144, 288, 32, 64, 64)
    if aux_logits:
        inception_aux(net, "aux2", 528, num_classes, dropout_aux, input=x)
    inception(net, "inception4e", 528, 256, 160, 320, 32, 128, 128, input=x)
    net.add("maxpool4", MaxPool2d(2, stride=2, ceil_mode=True))

    inception(net, "inception5a", 832, 256, 160, 320, 32, 128, 128)
    inception(net, "inception5b", 832, 384, 192, 384, 48, 128, 128)

    net.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    net.add("dropout", Dropout(p=dropout))
    net.add("fc", Linear(1024, num_classes))
    return net
