"""DenseNet-121 against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import assert_names_match_torch, assert_same_as_torch, meta
from .twins.densenet import DenseNet


@pytest.fixture(scope="module")
def net():
    return models.densenet121()


@pytest.fixture(scope="module")
def twin():
    with meta():
        return DenseNet()


@settings(max_examples=15)
@given(h=st.integers(29, 480), w=st.integers(29, 480), n=st.integers(1, 2))
@example(h=224, w=224, n=1).via("torchvision's size")
@example(h=225, w=225, n=1).via("odd")
@example(h=193, w=193, n=1).via("odd")
@example(h=161, w=287, n=1).via("odd, non-square")
@example(h=29, w=29, n=1).via("min_size")
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=161, W=287)


def test_published_figures(net):
    """torchvision's DenseNet121_Weights.IMAGENET1K_V1.meta: num_params 7978856, _ops 2.834 GFLOPS (MACs) at 224."""
    totals = net.totals(H=224)
    assert totals.params == 7978856
    assert abs(Decimal(totals.macs) / 10**9 - Decimal("2.834")) <= Decimal("0.0005")


def test_every_dense_layer_concatenates_all_earlier_features(net):
    """torchvision's ``torch.cat(prev_features, 1)``: layer i of a block reads the block input and layers 1..i-1."""
    inputs = net.graph.nodes["features.denseblock2.denselayer4.cat"]["inputs"]
    assert inputs == (
        "features.transition1.pool",
        "features.denseblock2.denselayer1.conv2",
        "features.denseblock2.denselayer2.conv2",
        "features.denseblock2.denselayer3.conv2",
    )
    # 128 channels from transition1, plus 3 layers of growth rate 32
    assert net.shape("features.denseblock2.denselayer4.cat")[1] == 128 + 3 * 32
