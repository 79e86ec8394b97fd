"""Inception v3 against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import TrainingForward, assert_names_match_torch, assert_same_as_torch, meta
from .twins.inception import Inception3


@pytest.fixture(scope="module")
def net():
    return models.inception_v3()


@pytest.fixture(scope="module")
def twin():
    with meta():
        return Inception3()


@settings(max_examples=15)
@given(h=st.integers(75, 520), w=st.integers(75, 520), n=st.integers(1, 2))
@example(h=299, w=299, n=1).via("torchvision's size")
@example(h=224, w=224, n=1).via("even")
@example(h=225, w=225, n=1).via("odd")
@example(h=193, w=193, n=1).via("odd")
@example(h=161, w=287, n=1).via("odd, non-square")
@example(h=75, w=75, n=1).via("min_size")
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


@settings(max_examples=5)
@given(h=st.integers(299, 520), w=st.integers(299, 520))
@example(h=299, w=299)
def test_aux_head_matches_torch_in_training(h, w):
    """With ``aux_logits=True`` AuxLogits is counted as torch runs it: in training mode."""
    net = models.inception_v3(aux_logits=True)
    with meta():
        twin = TrainingForward(Inception3(aux_logits=True))
    assert_same_as_torch(net, twin, H=h, W=w, N=2)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=161, W=287)


def test_published_figures(net):
    """torchvision's Inception_V3_Weights.IMAGENET1K_V1.meta: num_params 27161264, _ops 5.713 GFLOPS (MACs) at 299.

    The published count includes AuxLogits, which ``inception_v3(weights=...)``
    keeps; the head is derived here from torchvision's InceptionAux: 1x1 conv
    768 -> 128 and 5x5 conv 128 -> 768 (no bias, each with a batch norm), fc 768 -> 1000.
    The published MACs are the inference forward's, where the head does not run.
    """
    aux_head = (768 * 128 + 2 * 128) + (128 * 768 * 5 * 5 + 2 * 768) + (768 * 1000 + 1000)
    assert models.inception_v3(aux_logits=True).totals().params == 27161264
    totals = net.totals(H=299)
    assert totals.params == 27161264 - aux_head
    assert abs(Decimal(totals.macs) / 10**9 - Decimal("5.713")) <= Decimal("0.0005")
