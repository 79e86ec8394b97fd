"""EfficientNet-B0 against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from costgraph import models

from .differential import (
    assert_min_size_one_as_in_torch,
    assert_names_match_torch,
    assert_same_as_torch,
    at_drawn_sizes,
    net_and_twin_fixtures,
)
from .support import require_torch
from .twins.efficientnet import efficientnet_b0

torch = require_torch()


net, twin = net_and_twin_fixtures(models.efficientnet_b0, efficientnet_b0)


@at_drawn_sizes(smallest=1, largest=400, max_examples=25)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=224)
    assert_names_match_torch(net, twin, H=161, W=287)


def test_min_size_is_what_torch_accepts(net, twin):
    """min_size() is 1: torch runs the twin at 1x1 and refuses 0x0 (the stem's
    3x3 kernel exceeds the padded 2x2 input); costgraph refuses 0 as a size."""
    assert_min_size_one_as_in_torch(net, twin)


def test_published_figures(net):
    """torchvision's EfficientNet_B0_Weights.IMAGENET1K_V1.meta: num_params 5288548, _ops 0.386 at 224.

    torchvision's "GFLOPS" are the multiply-accumulates of the conv and linear
    layers (the squeeze-excitation 1x1 convs included), so costgraph's MACs
    must round to 0.386e9 at the three digits given.  The squeeze-excitation
    scaling ``scale * input`` (one product per element of the expanded
    tensor) is elementwise work, left out of both counts; costgraph has it
    in FLOPs.
    """
    totals = net.totals(H=224)
    assert totals.params == 5288548
    assert 385_500_000 <= totals.macs < 386_500_000


def test_stochastic_depth_on_residual_blocks_only(net):
    """torchvision's drop probability for block k (counted from 0 over all 16
    blocks) is 0.2 * k / 16; only blocks with a residual sum use it, and at
    inference it costs nothing and makes no tensor."""
    probabilities = {name: net.layer(name).p for name in net if name.endswith(".stochastic_depth")}
    assert probabilities == {
        "features.2.1.stochastic_depth": 0.2 * 2 / 16,
        "features.3.1.stochastic_depth": 0.2 * 4 / 16,
        "features.4.1.stochastic_depth": 0.2 * 6 / 16,
        "features.4.2.stochastic_depth": 0.2 * 7 / 16,
        "features.5.1.stochastic_depth": 0.2 * 9 / 16,
        "features.5.2.stochastic_depth": 0.2 * 10 / 16,
        "features.6.1.stochastic_depth": 0.2 * 12 / 16,
        "features.6.2.stochastic_depth": 0.2 * 13 / 16,
        "features.6.3.stochastic_depth": 0.2 * 14 / 16,
    }
    row = next(r for r in net.layers(H=224) if r.name == "features.6.3.stochastic_depth")
    assert (row.activations, row.flops) == (0, 0)


def test_squeeze_channels_are_a_quarter_of_the_block_input():
    """MBConv squeezes to max(1, input_channels // 4): stage 6's first block
    (input 112, expanded 672) squeezes to 28, its second (input 192) to 48."""
    net = models.efficientnet_b0()
    assert net.layer("features.6.0.block.2.fc1").out_channels == 28
    assert net.layer("features.6.1.block.2.fc1").out_channels == 48
