"""ResNet-18 to -152 against plain-torch twins of torchvision's, at sizes drawn by hypothesis."""

import pytest

from costgraph import models

from .differential import assert_names_match_torch, assert_published_figures, assert_same_as_torch, at_drawn_sizes, meta
from .twins.resnet import resnet

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

#: torchvision's ResNetXX_Weights.IMAGENET1K_V1.meta: "num_params" and "_ops" (GFLOPS at 224x224)
PUBLISHED = {
    "resnet18": (11689512, "1.814"),
    "resnet34": (21797672, "3.664"),
    "resnet50": (25557032, "4.089"),
    "resnet101": (44549160, "7.801"),
    "resnet152": (60192808, "11.514"),
}


@pytest.fixture(scope="module")
def nets():
    return {name: getattr(models, name)() for name in NAMES}


@pytest.fixture(scope="module")
def twins():
    with meta():
        return {name: resnet(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@at_drawn_sizes(smallest=1, largest=480, max_examples=12)
def test_matches_torch_twin(nets, twins, name, h, w, n):
    assert_same_as_torch(nets[name], twins[name], H=h, W=w, N=n)


@pytest.mark.parametrize("name", NAMES)
def test_layer_names_are_torchvision_module_paths(nets, twins, name):
    assert_names_match_torch(nets[name], twins[name], H=161, W=287)


@pytest.mark.parametrize("name", NAMES)
def test_published_figures(nets, name):
    """Params equal torchvision's num_params; MACs round to its "_ops" GFLOPS (MACs) at the digits given."""
    assert_published_figures(nets[name], *PUBLISHED[name])


def test_residual_add_is_in_place(nets):
    """torchvision's ``out += identity``: the sum overwrites the block's last batch norm output."""
    net = nets["resnet50"]
    add = net.layer("layer1.0.add")
    assert add.kind == "Add" and add.inplace
    assert net.graph.nodes["layer1.0.add"]["inputs"] == ("layer1.0.bn3", "layer1.0.downsample.1")
    assert net.graph.nodes["layer1.1.add"]["inputs"] == ("layer1.1.bn3", "layer1.0.relu3")
