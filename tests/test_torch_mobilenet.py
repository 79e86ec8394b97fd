"""MobileNetV2 and MobileNetV3-Large against plain-torch twins of torchvision's, at sizes drawn by hypothesis."""

import pytest

from costgraph import models

from .differential import (
    assert_min_size_one_as_in_torch,
    assert_names_match_torch,
    assert_same_as_torch,
    at_drawn_sizes,
    meta,
)
from .support import require_torch
from .twins import mobilenet as twins

torch = require_torch()

NAMES = ["mobilenet_v2", "mobilenet_v3_large"]


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    """(costgraph network, torch twin on meta) of one model, built once per module."""
    with meta():
        twin = getattr(twins, request.param)()
    return getattr(models, request.param)(), twin


@at_drawn_sizes(smallest=1, largest=400, max_examples=20, more=[(1, 287, "one pixel high")])
def test_matches_torch_twin(pair, h, w, n):
    net, twin = pair
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(pair):
    net, twin = pair
    assert_names_match_torch(net, twin, H=224)
    assert_names_match_torch(net, twin, H=161, W=287)


def test_min_size_is_what_torch_accepts(pair):
    """min_size() is 1: torch runs the twin at 1x1 and refuses 0x0 (the stem's
    3x3 kernel exceeds the padded 2x2 input); costgraph refuses 0 as a size."""
    assert_min_size_one_as_in_torch(*pair)


def test_mobilenet_v2_published_figures():
    """torchvision's MobileNet_V2_Weights.IMAGENET1K_V1.meta: num_params 3504872, _ops 0.301 at 224.

    torchvision's "GFLOPS" are the multiply-accumulates of the conv and linear
    layers, so costgraph's MACs must round to 0.301e9 at the three digits given.
    """
    totals = models.mobilenet_v2().totals(H=224)
    assert totals.params == 3504872
    assert 300_500_000 <= totals.macs < 301_500_000


def test_mobilenet_v3_large_published_figures():
    """torchvision's MobileNet_V3_Large_Weights.IMAGENET1K_V1.meta: num_params 5483032, _ops 0.217 at 224.

    The squeeze-excitation scaling (``scale * input``) is an elementwise product,
    not a multiply-accumulate of a conv or linear layer; torchvision's count
    leaves it out, and so do costgraph's MACs (it is in costgraph's FLOPs).
    """
    totals = models.mobilenet_v3_large().totals(H=224)
    assert totals.params == 5483032
    assert 216_500_000 <= totals.macs < 217_500_000


def test_squeeze_channels_follow_make_divisible():
    """MobileNetV3's SE squeezes to make_divisible(expanded // 4, 8) channels:
    72 // 4 = 18 rounds to 16, which is below 0.9 * 18, so 24 (torchvision's
    features.4.block.2.fc1 is Conv2d(72, 24, 1))."""
    net = models.mobilenet_v3_large()
    fc1 = net.layer("features.4.block.2.fc1")
    assert (fc1.in_channels, fc1.out_channels) == (72, 24)
