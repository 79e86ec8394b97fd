"""Plain-torch twin of torchvision's DenseNet-121, written from torchvision/models/densenet.py.

One change, for the hooks: torchvision's functional ``F.adaptive_avg_pool2d``
at the end is the module ``adaptive_avg_pool`` here (it has no parameters, so the
state_dict is unchanged).  The memory-efficient (checkpointing) path is left
out: it changes training memory, not the network.

Checked by hand against torchvision 0.29.1 (torch 2.14.1, in /work/tvenv):
``torchvision.models.densenet121()`` and this twin have the same state_dict
keys, order and shapes, and every leaf module has the same output shapes on
a meta-device forward at 224x224, 29x29 (the smallest size it accepts) and
161x287.
"""

from collections import OrderedDict

from tests.support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features, growth_rate, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, prev_features):
        bottleneck = self.conv1(self.relu1(self.norm1(torch.cat(prev_features, 1))))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(
                "denselayer%d" % (i + 1), _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
            )

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(
                "denseblock%d" % (i + 1), _DenseBlock(num_layers, num_features, bn_size, growth_rate)
            )
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module("transition%d" % (i + 1), _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        self.adaptive_avg_pool = nn.AdaptiveAvgPool2d((1, 1))  # F.adaptive_avg_pool2d in torchvision

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(self.adaptive_avg_pool(out), 1)
        return self.classifier(out)
