"""DenseNet-121 against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from costgraph import models

from .differential import (
    assert_names_match_torch,
    assert_published_figures,
    assert_same_as_torch,
    at_drawn_sizes,
    net_and_twin_fixtures,
)
from .twins.densenet import DenseNet


net, twin = net_and_twin_fixtures(models.densenet121, DenseNet)


@at_drawn_sizes(smallest=29, largest=480, max_examples=15)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=161, W=287)


def test_published_figures(net):
    """torchvision's DenseNet121_Weights.IMAGENET1K_V1.meta: num_params 7978856, _ops 2.834 GFLOPS (MACs) at 224."""
    assert_published_figures(net, 7978856, "2.834")


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
