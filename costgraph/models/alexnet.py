"""AlexNet (Krizhevsky, 2014, "One weird trick"), as torchvision builds it.

Five convolutions with in-place ReLUs and three 3x3/2 max pools, then
torchvision's ``AdaptiveAvgPool2d((6, 6))`` and three fully connected
layers, so the classifier does not depend on the input size.  Layer names
are torchvision's module paths (``features.0`` is the first conv,
``classifier.1`` the first fully connected layer).
"""

from __future__ import annotations

from ..kinds import AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, Input, Linear, MaxPool2d, ReLU
from ..network import Network
from ..symbols import H, W
from . import register_model

__all__ = ["alexnet"]


@register_model("alexnet")
def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> Network:
    """AlexNet, torchvision's variant (64-192-384-256-256 convs, 6x6 adaptive pool).

    Examples
    --------
    >>> net = alexnet()
    >>> net.totals().params                # torchvision's num_params for AlexNet_Weights
    61100840
    >>> net.shape("features.12")           # conv 11/4 and three 3/2 pools fold into one division
    (N, 256, floor((H + 1)/32) - 1, floor((W + 1)/32) - 1)
    >>> net.min_size()                     # the smallest H = W where the last pool is 1x1
    63
    """
    net = Network("alexnet")
    net.add("input", Input((3, H, W)))
    net.add("features.0", Conv2d(3, 64, kernel_size=11, stride=4, padding=2))
    net.add("features.1", ReLU(inplace=True))
    net.add("features.2", MaxPool2d(kernel_size=3, stride=2))
    net.add("features.3", Conv2d(64, 192, kernel_size=5, padding=2))
    net.add("features.4", ReLU(inplace=True))
    net.add("features.5", MaxPool2d(kernel_size=3, stride=2))
    net.add("features.6", Conv2d(192, 384, kernel_size=3, padding=1))
    net.add("features.7", ReLU(inplace=True))
    net.add("features.8", Conv2d(384, 256, kernel_size=3, padding=1))
    net.add("features.9", ReLU(inplace=True))
    net.add("features.10", Conv2d(256, 256, kernel_size=3, padding=1))
    net.add("features.11", ReLU(inplace=True))
    net.add("features.12", MaxPool2d(kernel_size=3, stride=2))
    net.add("avgpool", AdaptiveAvgPool2d((6, 6)))
    net.add("flatten", Flatten(1))
    net.add("classifier.0", Dropout(p=dropout))
    net.add("classifier.1", Linear(256 * 6 * 6, 4096))
    net.add("classifier.2", ReLU(inplace=True))
    net.add("classifier.3", Dropout(p=dropout))
    net.add("classifier.4", Linear(4096, 4096))
    net.add("classifier.5", ReLU(inplace=True))
    net.add("classifier.6", Linear(4096, num_classes))
    return net
