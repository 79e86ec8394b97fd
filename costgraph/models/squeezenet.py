"""SqueezeNet 1.0 and 1.1 (Iandola et al., 2016), as torchvision builds them.

A stem conv, eight `fire` modules between 3x3/2 max pools in ``ceil_mode``,
then a 1x1 conv classifier with global average pooling (no fully connected
layer).  Layer names are torchvision's module paths (``features.3.squeeze``,
``classifier.1``); each fire module's ``torch.cat`` is the layer ``.cat``.
"""

from __future__ import annotations

from ..errors import CostGraphError
from ..kinds import AdaptiveAvgPool2d, Concat, Conv2d, Dropout, Flatten, Input, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model

__all__ = ["fire", "squeezenet", "squeezenet1_0", "squeezenet1_1"]


def fire(net: Network, name: str, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int) -> str:
    """A 1x1 "squeeze" conv feeding a 1x1 and a 3x3 "expand" conv, concatenated
    (torchvision's ``Fire``).  Reads the layer added last; returns the concat.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("fire")
    >>> net.add("input", Input((96, H, W)))
    'input'
    >>> fire(net, "features.3", 96, 16, 64, 64)
    'features.3.cat'
    >>> net.shape("features.3.cat")
    (N, 128, H, W)
    >>> net.totals().params     # (96*16 + 16) + (16*64 + 64) + (16*64*9 + 64)
    11920
    """
    net.add(f"{name}.squeeze", Conv2d(inplanes, squeeze_planes, kernel_size=1))
    squeezed = net.add(f"{name}.squeeze_activation", ReLU(inplace=True))
    net.add(f"{name}.expand1x1", Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1), squeezed)
    left = net.add(f"{name}.expand1x1_activation", ReLU(inplace=True))
    net.add(f"{name}.expand3x3", Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1), squeezed)
    right = net.add(f"{name}.expand3x3_activation", ReLU(inplace=True))
    return net.add(f"{name}.cat", Concat(1), left, right)


#: torchvision's ``features``: ("conv", out, kernel), ("pool",) or ("fire", in, squeeze, e1x1, e3x3)
FEATURES = {
    "1_0": (
        ("conv", 96, 7),
        ("pool",),
        ("fire", 96, 16, 64, 64),
        ("fire", 128, 16, 64, 64),
        ("fire", 128, 32, 128, 128),
        ("pool",),
        ("fire", 256, 32, 128, 128),
        ("fire", 256, 48, 192, 192),
        ("fire", 384, 48, 192, 192),
        ("fire", 384, 64, 256, 256),
        ("pool",),
        ("fire", 512, 64, 256, 256),
    ),
    "1_1": (
        ("conv", 64, 3),
        ("pool",),
        ("fire", 64, 16, 64, 64),
        ("fire", 128, 16, 64, 64),
        ("pool",),
        ("fire", 128, 32, 128, 128),
        ("fire", 256, 32, 128, 128),
        ("pool",),
        ("fire", 256, 48, 192, 192),
        ("fire", 384, 48, 192, 192),
        ("fire", 384, 64, 256, 256),
        ("fire", 512, 64, 256, 256),
    ),
}


def squeezenet(version: str, num_classes: int = 1000, dropout: float = 0.5) -> Network:
    """SqueezeNet `version` "1_0" or "1_1".

    The stem conv (stride 2, no padding) is followed by its ReLU, so the
    indices of ``features`` are torchvision's: the stem takes ``features.0``
    and ``features.1``, and every later entry of `FEATURES` one index.

    Raises
    ------
    CostGraphError
        For a version other than "1_0" and "1_1".
    """
    if version not in FEATURES:
        raise CostGraphError(f"unsupported SqueezeNet version {version!r}: '1_0' or '1_1' expected", value=version)
    net = Network(f"squeezenet{version}")
    net.add("input", Input((3, H, W)))
    index = 0
    for spec in FEATURES[version]:
        if spec[0] == "conv":
            _, out_channels, kernel = spec
            net.add(f"features.{index}", Conv2d(3, out_channels, kernel_size=kernel, stride=2))
            index += 1
            net.add(f"features.{index}", ReLU(inplace=True))
        elif spec[0] == "pool":
            net.add(f"features.{index}", MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
        else:
            fire(net, f"features.{index}", *spec[1:])
        index += 1
    net.add("classifier.0", Dropout(p=dropout))
    net.add("classifier.1", Conv2d(512, num_classes, kernel_size=1))
    net.add("classifier.2", ReLU(inplace=True))
    net.add("classifier.3", AdaptiveAvgPool2d((1, 1)))
    net.add("flatten", Flatten(1))
    return net


@register_model("squeezenet1_0")
def squeezenet1_0(num_classes: int = 1000, dropout: float = 0.5) -> Network:
    """SqueezeNet 1.0: 7x7 stem, 96 channels.

    >>> squeezenet1_0().totals().params    # torchvision's num_params for SqueezeNet1_0_Weights
    1248424
    """
    return squeezenet("1_0", num_classes, dropout)


@register_model("squeezenet1_1")
def squeezenet1_1(num_classes: int = 1000, dropout: float = 0.5) -> Network:
    """SqueezeNet 1.1: 3x3 stem, 64 channels, earlier pools: about 2.3x fewer MACs than 1.0 at 224."""
    return squeezenet("1_1", num_classes, dropout)
