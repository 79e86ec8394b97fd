"""AlexNet against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from costgraph import models

from .differential import assert_names_match_torch, assert_same_as_torch, at_drawn_sizes, net_and_twin_fixtures
from .twins.alexnet import AlexNet


net, twin = net_and_twin_fixtures(models.alexnet, AlexNet)


@at_drawn_sizes(smallest=63, largest=480, max_examples=25)
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
