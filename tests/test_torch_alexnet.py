"""AlexNet against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import assert_names_match_torch, assert_same_as_torch, meta
from .twins.alexnet import AlexNet


@pytest.fixture(scope="module")
def net():
    return models.alexnet()


@pytest.fixture(scope="module")
def twin():
    with meta():
        return AlexNet()


@settings(max_examples=25)
@given(h=st.integers(63, 480), w=st.integers(63, 480), n=st.integers(1, 2))
@example(h=224, w=224, n=1).via("torchvision's size")
@example(h=225, w=225, n=1).via("odd")
@example(h=193, w=193, n=1).via("odd")
@example(h=161, w=287, n=1).via("odd, non-square")
@example(h=63, w=63, n=1).via("min_size")
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=224)


def test_published_figures(net):
    """torchvision's AlexNet_Weights.IMAGENET1K_V1.meta: num_params 61100840, _ops 0.714 GFLOPS at 224.

    torchvision's "GFLOPS" are multiply-accumulates of the conv and linear layers, so
    costgraph's MACs must round to 0.714e9 at the three digits given.
    """
    totals = net.totals(H=224)
    assert totals.params == 61100840
    assert 713_500_000 <= totals.macs < 714_500_000
