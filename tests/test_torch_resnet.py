"""ResNet-18 to -152 against plain-torch twins of torchvision's, at sizes drawn by hypothesis."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import assert_names_match_torch, assert_same_as_torch, meta
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
@settings(max_examples=12)
@given(h=st.integers(1, 480), w=st.integers(1, 480), n=st.integers(1, 2))
@example(h=224, w=224, n=1).via("torchvision's size")
@example(h=225, w=225, n=1).via("odd")
@example(h=193, w=193, n=1).via("odd")
@example(h=161, w=287, n=1).via("odd, non-square")
@example(h=1, w=1, n=1).via("min_size")
def test_matches_torch_twin(nets, twins, name, h, w, n):
    assert_same_as_torch(nets[name], twins[name], H=h, W=w, N=n)


@pytest.mark.parametrize("name", NAMES)
def test_layer_names_are_torchvision_module_paths(nets, twins, name):
    assert_names_match_torch(nets[name], twins[name], H=161, W=287)


@pytest.mark.parametrize("name", NAMES)
def test_published_figures(nets, name):
    """Params equal torchvision's num_params; MACs round to its "_ops" GFLOPS (MACs) at the digits given."""
    params, gflops = PUBLISHED[name]
    totals = nets[name].totals(H=224)
    assert totals.params == params
    digits = Decimal(gflops)
    # within half a unit of the last digit torchvision gives
    assert abs(Decimal(totals.macs) / 10**9 - digits) <= Decimal(5) / 10 ** (-digits.as_tuple().exponent + 1)


def test_residual_add_is_in_place(nets):
    """torchvision's ``out += identity``: the sum overwrites the block's last batch norm output."""
    net = nets["resnet50"]
    add = net.layer("layer1.0.add")
    assert add.kind == "Add" and add.inplace
    assert net.graph.nodes["layer1.0.add"]["inputs"] == ("layer1.0.bn3", "layer1.0.downsample.1")
    assert net.graph.nodes["layer1.1.add"]["inputs"] == ("layer1.1.bn3", "layer1.0.relu3")
