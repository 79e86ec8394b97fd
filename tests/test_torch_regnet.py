"""RegNetY-400MF against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

import pytest

from costgraph import models
from costgraph.models.regnet import regnet_block_params

from .differential import (
    assert_min_size_one_as_in_torch,
    assert_names_match_torch,
    assert_same_as_torch,
    at_drawn_sizes,
    net_and_twin_fixtures,
)
from .support import require_torch
from .twins.regnet import BlockParams, regnet_y_400mf

torch = require_torch()

#: the arguments of every RegNet torchvision 0.29.1 defines (models/regnet.py), Y then X
TORCHVISION_REGNETS = [
    dict(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25),
    dict(depth=14, w_0=56, w_a=38.84, w_m=2.4, group_width=16, se_ratio=0.25),
    dict(depth=27, w_0=48, w_a=20.71, w_m=2.65, group_width=24, se_ratio=0.25),
    dict(depth=21, w_0=80, w_a=42.63, w_m=2.66, group_width=24, se_ratio=0.25),
    dict(depth=17, w_0=192, w_a=76.82, w_m=2.19, group_width=56, se_ratio=0.25),
    dict(depth=18, w_0=200, w_a=106.23, w_m=2.48, group_width=112, se_ratio=0.25),
    dict(depth=20, w_0=232, w_a=115.89, w_m=2.53, group_width=232, se_ratio=0.25),
    dict(depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264, se_ratio=0.25),
    dict(depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16),
    dict(depth=16, w_0=56, w_a=35.73, w_m=2.28, group_width=16),
    dict(depth=18, w_0=80, w_a=34.01, w_m=2.25, group_width=24),
    dict(depth=25, w_0=88, w_a=26.31, w_m=2.25, group_width=48),
    dict(depth=23, w_0=80, w_a=49.56, w_m=2.88, group_width=120),
    dict(depth=22, w_0=216, w_a=55.59, w_m=2.1, group_width=128),
    dict(depth=23, w_0=320, w_a=69.86, w_m=2.0, group_width=168),
]


net, twin = net_and_twin_fixtures(models.regnet_y_400mf, regnet_y_400mf)


@at_drawn_sizes(smallest=1, largest=400, max_examples=25)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=224)
    assert_names_match_torch(net, twin, H=161, W=287)


@pytest.mark.parametrize("config", TORCHVISION_REGNETS, ids=lambda c: f"d{c['depth']}w{c['w_0']}")
def test_stage_widths_agree_with_torch_float32(config):
    """costgraph computes RegNet's quantized widths in Python floats; torchvision
    (and the twin) in float32 tensors.  They agree on every torchvision RegNet."""
    ours = regnet_block_params(**config)
    theirs = BlockParams.from_init_params(**config)
    assert (ours.depths, ours.widths, ours.group_widths) == (theirs.depths, theirs.widths, theirs.group_widths)


def test_min_size_is_what_torch_accepts(net, twin):
    """min_size() is 1: torch runs the twin at 1x1 and refuses 0x0 (the stem's
    3x3 kernel exceeds the padded 2x2 input); costgraph refuses 0 as a size."""
    assert_min_size_one_as_in_torch(net, twin)


def test_published_figures(net):
    """torchvision's RegNet_Y_400MF_Weights.IMAGENET1K_V1.meta: num_params 4344144, _ops 0.402 at 224.

    torchvision's "GFLOPS" are the multiply-accumulates of the conv and linear
    layers (the squeeze-excitation 1x1 convs included, its ``scale * input``
    product not), so costgraph's MACs must round to 0.402e9 at the three
    digits given.
    """
    totals = net.totals(H=224)
    assert totals.params == 4344144
    assert 401_500_000 <= totals.macs < 402_500_000


def test_squeeze_excitation_is_relative_to_block_input(net):
    """SE squeezes to round(0.25 * width_in): the first block of stage 2 takes
    48 channels (squeeze 12) into a 104-wide bottleneck with 104 // 8 = 13 groups."""
    assert net.layer("trunk_output.block2.block2-0.f.se.fc1").out_channels == 12
    assert net.layer("trunk_output.block2.block2-1.f.se.fc1").out_channels == 26
    assert net.layer("trunk_output.block2.block2-0.f.b.0").groups == 13
