"""ShuffleNetV2 x1.0 against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from hypothesis import given, settings, strategies as st

from costgraph import models

from .differential import (
    assert_min_size_one_as_in_torch,
    assert_names_match_torch,
    assert_same_as_torch,
    at_drawn_sizes,
    net_and_twin_fixtures,
    to_torch,
)
from .support import require_torch
from .twins.shufflenet import channel_shuffle, shufflenet_v2_x1_0

torch = require_torch()


net, twin = net_and_twin_fixtures(models.shufflenet_v2_x1_0, shufflenet_v2_x1_0)


@at_drawn_sizes(smallest=1, largest=400, max_examples=25)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


@settings(max_examples=5)
@given(h=st.integers(1, 300), w=st.integers(1, 300))
def test_mechanical_conversion_agrees(net, h, w):
    """The layer-by-layer torch build (nn.ChannelShuffle, Tensor.narrow for the
    chunk halves, Tensor.mean) agrees with costgraph's kinds."""
    assert_same_as_torch(net, to_torch(net, H=h, W=w), H=h, W=w)


def test_channel_shuffle_kind_is_torchvision_channel_shuffle():
    """ChannelShuffle's torch factory (nn.ChannelShuffle) moves channels exactly as
    torchvision's channel_shuffle does (on real data, 6 channels in 2 groups)."""
    x = torch.arange(2 * 6 * 3 * 2, dtype=torch.float32).reshape(2, 6, 3, 2)
    assert torch.equal(torch.nn.ChannelShuffle(2)(x), channel_shuffle(x, 2))
    assert channel_shuffle(x, 2)[0, :, 0, 0].tolist() == x[0, [0, 3, 1, 4, 2, 5], 0, 0].tolist()


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=224)
    assert_names_match_torch(net, twin, H=161, W=287)


def test_min_size_is_what_torch_accepts(net, twin):
    """min_size() is 1: torch runs the twin at 1x1 and refuses 0x0 (conv1's 3x3
    kernel exceeds the padded 2x2 input); costgraph refuses 0 as a size."""
    assert_min_size_one_as_in_torch(net, twin)


def test_published_figures(net):
    """torchvision's ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1.meta: num_params 2278604, _ops 0.145 at 224.

    torchvision's "GFLOPS" are the multiply-accumulates of the conv and linear
    layers, so costgraph's MACs must round to 0.145e9 at the three digits given.
    """
    totals = net.totals(H=224)
    assert totals.params == 2278604
    assert 144_500_000 <= totals.macs < 145_500_000


def test_shuffle_copies_and_chunks_are_views(net):
    """channel_shuffle's .contiguous() writes a new tensor; chunk halves are views."""
    rows = {row.name: row for row in net.layers(H=224)}
    assert rows["stage2.1.channel_shuffle"].activations == 116 * 28 * 28  # 224 -> 112 -> 56 -> 28
    assert rows["stage2.1.chunk.0"].activations == 0
    assert rows["stage2.1.chunk.1"].shape == (58, 28, 28)
