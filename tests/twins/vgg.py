"""Plain-torch twins of the VGG family, written from torchvision's models/vgg.py.

Checked against torchvision 0.29.1 (with torch 2.14.1, installed by hand):
every twin's state_dict keys and shapes equal torchvision's model of the
same name, so parameter counts and layer shapes are the same.  CI uses these
twins because torchvision does not install beside the torch CI uses.
"""

from tests.support import require_torch

torch = require_torch()
nn = torch.nn

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """torchvision's VGG; ``avgpool=False`` gives the seed's form, where
    classifier[0] is sized for the input at hand (the features flattened straight)."""

    def __init__(self, cfg, batch_norm=False, num_classes=1000, avgpool=True, fc1_in=512 * 7 * 7):
        super().__init__()
        layers, channels = [], 3
        for v in CFGS[cfg]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU(inplace=True))
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7)) if avgpool else nn.Identity()
        self.classifier = nn.Sequential(
            nn.Linear(fc1_in, 4096),
            nn.ReLU(True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)
