"""VGG (Simonyan and Zisserman, 2014): configurations A, B, D and E.

By default the network is the one the seed tabulates for VGG16: five conv
stacks with 2x2 max pools, then the last feature map flattened straight into
fc 4096, 4096, 1000, so fc1's weights follow the input size
(``2097152*floor(H/32)*floor(W/32)`` for VGG16).  ``adaptive_pool=True``
inserts torchvision's ``AdaptiveAvgPool2d((7, 7))``, after which the
classifier no longer depends on H and W.
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Input, Linear, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model

__all__ = ["vgg", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "CONFIGS"]

#: conv widths per stage (torchvision's cfgs "A", "B", "D", "E"); each stage ends with a 2x2 max pool
CONFIGS = {
    "A": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "B": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "D": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "E": ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}


def vgg(config: str, name: str, *, batch_norm: bool = False, adaptive_pool: bool = False, num_classes: int = 1000) -> Network:
    """Build a VGG network of configuration `config` ("A", "B", "D" or "E").

    Layers are named as in the seed: ``conv{stage}_{i}`` (each followed by
    ``relu{stage}_{i}``, in place, and ``bn{stage}_{i}`` before it with batch
    norm), ``pool{stage}``, ``flatten``, ``fc1``..``fc3``.
    """
    net = Network(name)
    net.add("input", Input((3, H, W)))
    channels = 3
    for stage, widths in enumerate(CONFIGS[config], start=1):
        for i, width in enumerate(widths, start=1):
            net.add(f"conv{stage}_{i}", Conv2d(channels, width, 3, padding=1))
            if batch_norm:
                net.add(f"bn{stage}_{i}", BatchNorm2d(width))
            net.add(f"relu{stage}_{i}", ReLU(inplace=True))
            channels = width
        net.add(f"pool{stage}", MaxPool2d(2, 2))
    if adaptive_pool:
        net.add("avgpool", AdaptiveAvgPool2d((7, 7)))
    net.add("flatten", Flatten(1))
    net.add("fc1", Linear(512 * 7 * 7 if adaptive_pool else None, 4096))
    net.add("relu_fc1", ReLU(inplace=True))
    net.add("drop_fc1", Dropout(0.5))
    net.add("fc2", Linear(4096, 4096))
    net.add("relu_fc2", ReLU(inplace=True))
    net.add("drop_fc2", Dropout(0.5))
    net.add("fc3", Linear(4096, num_classes))
    return net


@register_model("vgg11")
def vgg11(**options) -> Network:
    """VGG11 (configuration A), as the seed tabulates VGG16."""
    return vgg("A", "vgg11", **options)


@register_model("vgg13")
def vgg13(**options) -> Network:
    """VGG13 (configuration B), as the seed tabulates VGG16."""
    return vgg("B", "vgg13", **options)


@register_model("vgg16")
def vgg16(**options) -> Network:
    """VGG16 (configuration D), the seed's network.

    >>> t = vgg16().totals(H=224)
    >>> t.params                     # the seed's "TOTAL params: 138M parameters"
    138357544
    >>> t.activation_bytes           # the seed's "15M * 4 bytes ~= 60MB / image"
    60950432
    """
    return vgg("D", "vgg16", **options)


@register_model("vgg19")
def vgg19(**options) -> Network:
    """VGG19 (configuration E), as the seed tabulates VGG16."""
    return vgg("E", "vgg19", **options)


@register_model("vgg11_bn")
def vgg11_bn(**options) -> Network:
    """VGG11 with batch normalization after every conv."""
    return vgg("A", "vgg11_bn", batch_norm=True, **options)


@register_model("vgg13_bn")
def vgg13_bn(**options) -> Network:
    """VGG13 with batch normalization after every conv."""
    return vgg("B", "vgg13_bn", batch_norm=True, **options)


@register_model("vgg16_bn")
def vgg16_bn(**options) -> Network:
    """VGG16 with batch normalization after every conv."""
    return vgg("D", "vgg16_bn", batch_norm=True, **options)


@register_model("vgg19_bn")
def vgg19_bn(**options) -> Network:
    """VGG19 with batch normalization after every conv."""
    return vgg("E", "vgg19_bn", batch_norm=True, **options)
