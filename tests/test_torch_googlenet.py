"""GoogLeNet against a plain-torch twin of torchvision's, at sizes drawn by hypothesis."""

from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import (
    TrainingForward,
    assert_names_match_torch,
    assert_published_figures,
    assert_same_as_torch,
    at_drawn_sizes,
    meta,
    net_and_twin_fixtures,
)
from .twins.googlenet import GoogLeNet


net, twin = net_and_twin_fixtures(models.googlenet, GoogLeNet)


@at_drawn_sizes(smallest=15, largest=480, max_examples=20)
def test_matches_torch_twin(net, twin, h, w, n):
    assert_same_as_torch(net, twin, H=h, W=w, N=n)


@settings(max_examples=8)
@given(h=st.integers(15, 400), w=st.integers(15, 400))
@example(h=224, w=224)
def test_aux_heads_match_torch_in_training(h, w):
    """With ``aux_logits=True`` the heads are counted as torch runs them: in training mode."""
    net = models.googlenet(aux_logits=True)
    with meta():
        twin = TrainingForward(GoogLeNet(aux_logits=True))
    assert_same_as_torch(net, twin, H=h, W=w, N=2)


def test_layer_names_are_torchvision_module_paths(net, twin):
    assert_names_match_torch(net, twin, H=161, W=287)


def test_published_figures(net):
    """torchvision's GoogLeNet_Weights.IMAGENET1K_V1.meta: num_params 6624904, _ops 1.498 GFLOPS (MACs) at 224.

    torchvision's pretrained googlenet has no auxiliary heads: ``googlenet(weights=...)``
    deletes them, so the published count is the plain network's.
    """
    assert_published_figures(net, 6624904, "1.498")


def test_aux_head_parameters():
    """Each head, derived from torchvision's InceptionAux: 1x1 conv to 128 without bias and its
    batch norm, fc 2048 -> 1024 and fc 1024 -> 1000, on 512 (aux1) and 528 (aux2) channels."""

    def head(channels):
        return channels * 128 + 2 * 128 + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)

    assert models.googlenet(aux_logits=True).totals().params == 6624904 + head(512) + head(528)
