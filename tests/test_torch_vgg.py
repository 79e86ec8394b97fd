"""VGG against real PyTorch, at sizes drawn by hypothesis (odd and non-square included)."""

import pytest
from hypothesis import given, strategies as st

from costgraph import models

from .differential import assert_same_as_torch, meta, to_torch
from .twins.vgg import VGG

FAMILY = [("vgg11", "A"), ("vgg13", "B"), ("vgg16", "D"), ("vgg19", "E")]


@pytest.mark.parametrize("name,cfg", FAMILY)
@pytest.mark.parametrize("batch_norm", [False, True])
@given(h=st.integers(32, 400), w=st.integers(32, 400))
def test_seed_form_matches_torch_twin(name, cfg, batch_norm, h, w):
    """Seed form: fc1 takes 512 * (H//32) * (W//32) features, as torch computes them."""
    net = getattr(models, name + ("_bn" if batch_norm else ""))()
    with meta():
        twin = VGG(cfg, batch_norm, avgpool=False, fc1_in=512 * (h // 32) * (w // 32))
    assert_same_as_torch(net, twin, H=h, W=w)


@pytest.mark.parametrize("name,cfg", FAMILY)
@given(h=st.integers(32, 400), w=st.integers(32, 400), n=st.integers(1, 3))
def test_adaptive_form_matches_torchvision_twin(name, cfg, h, w, n):
    net = getattr(models, name)(adaptive_pool=True)
    with meta():
        twin = VGG(cfg)
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


@given(h=st.integers(32, 300), w=st.integers(32, 300))
def test_mechanical_conversion_agrees(h, w):
    net = models.vgg16()
    assert_same_as_torch(net, to_torch(net, H=h, W=w), H=h, W=w)


def test_torchvision_param_counts():
    """torchvision's published num_params for vgg16 and vgg16_bn (weights metadata)."""
    assert models.vgg16(adaptive_pool=True).totals().params == 138357544
    assert models.vgg16_bn(adaptive_pool=True).totals().params == 138365992
    assert models.vgg11(adaptive_pool=True).totals().params == 132863336
    assert models.vgg19(adaptive_pool=True).totals().params == 143667240
