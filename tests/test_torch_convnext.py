"""ConvNeXt-Tiny against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

import pytest
from hypothesis import given, settings, strategies as st

from costgraph import DomainError, models

from .differential import (
    assert_names_match_torch,
    assert_same_as_torch,
    at_drawn_sizes,
    net_and_twin_fixtures,
    to_torch,
    torch_counts,
)
from .support import require_torch
from .twins.convnext import convnext_tiny

torch = require_torch()


net, twin = net_and_twin_fixtures(models.convnext_tiny, convnext_tiny)


@at_drawn_sizes(smallest=32, largest=400, max_examples=20)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


@settings(max_examples=3)
@given(h=st.integers(32, 300), w=st.integers(32, 300))
def test_mechanical_conversion_agrees(net, h, w):
    """The layer-by-layer torch build (LayerScale with its parameter, LayerNorm on
    channels-last tensors, LayerNorm2d, permutes) agrees with costgraph's kinds."""
    assert_same_as_torch(net, to_torch(net, H=h, W=w), H=h, W=w)


def test_layer_names_are_torchvision_module_paths(net, twin):
    """Module paths, and ``features.k.i.layer_scale``, the state_dict key of each block's scale."""
    assert_names_match_torch(net, twin, H=224)
    assert_names_match_torch(net, twin, H=161, W=287)


def test_min_size_is_what_torch_accepts(net, twin):
    """min_size() is 32 (torchvision's meta "min_size": (32, 32)): the stem divides
    by 4 and three 2x2/2 convs follow, so the last one needs 32 // 4 // 2 // 2 = 2.
    torch runs the twin at 32x32 and fails at 31x31 and 32x31."""
    assert net.min_size() == 32
    torch_counts(twin, (1, 3, 32, 32))
    for h, w in [(31, 31), (32, 31), (31, 32)]:
        with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
            torch_counts(twin, (1, 3, h, w))


def _first_failing_torch_conv(twin, h, w):
    """The module path of the conv torch was running when it refused the size."""
    started = []
    handles = [m.register_forward_pre_hook(lambda m, a, name=name: started.append(name))
               for name, m in twin.named_modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with pytest.raises(RuntimeError):
            torch_counts(twin, (1, 3, h, w))
    finally:
        for handle in handles:
            handle.remove()
    return started[-1]


@pytest.mark.parametrize("h,w", [(31, 31), (32, 31), (100, 16), (64, 7), (3, 50)])
def test_too_small_names_the_layer_torch_fails_in(net, twin, h, w):
    """Too small a size raises DomainError naming the first layer with an empty
    output: the same conv torch refuses the input in."""
    with pytest.raises(DomainError) as caught:
        net.totals(H=h, W=w)
    assert caught.value.layer == _first_failing_torch_conv(twin, h, w)


def test_published_figures(net):
    """torchvision's ConvNeXt_Tiny_Weights.IMAGENET1K_V1.meta: num_params 28589128, _ops 4.456 at 224.

    The params include each block's layer_scale, a bare (dim, 1, 1) parameter:
    3*96 + 3*192 + 9*384 + 3*768 = 6624 of them.  torchvision's "GFLOPS" are
    the multiply-accumulates of the conv and linear layers (the pointwise
    Linears run on every position), so costgraph's MACs must round to 4.456e9;
    the layer-scale products are elementwise work, in neither count.
    """
    totals = net.totals(H=224)
    assert totals.params == 28589128
    assert 4_455_500_000 <= totals.macs < 4_456_500_000
    layer_scale = sum(row.params for row in net.layers() if row.kind == "LayerScale")
    assert layer_scale == 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768
