"""SqueezeNet 1.0 and 1.1 against plain-torch twins of torchvision's, at sizes drawn by hypothesis.

The three max pools run in ``ceil_mode``, where PyTorch's rule (a window
must start inside the input) differs from a plain ceiling at some sizes.
"""

import pytest
from hypothesis import given, strategies as st

from costgraph import models

from .differential import assert_names_match_torch, assert_published_figures, assert_same_as_torch, at_drawn_sizes, meta
from .twins.squeezenet import SqueezeNet

VERSIONS = ["1_0", "1_1"]

#: torchvision's SqueezeNet1_X_Weights.IMAGENET1K_V1.meta: "num_params" and "_ops" (GFLOPS at 224x224)
PUBLISHED = {"1_0": (1248424, "0.819"), "1_1": (1235496, "0.349")}


@pytest.fixture(scope="module")
def nets():
    return {version: getattr(models, f"squeezenet{version}")() for version in VERSIONS}


@pytest.fixture(scope="module")
def twins():
    with meta():
        return {version: SqueezeNet(version) for version in VERSIONS}


@pytest.mark.parametrize("version", VERSIONS)
@at_drawn_sizes(smallest=21, largest=480, max_examples=25, smallest_why="squeezenet1_0's min_size")
def test_matches_torch_twin(nets, twins, version, h, w, n):
    assert_same_as_torch(nets[version], twins[version], H=h, W=w, N=n)


@given(h=st.integers(17, 40), w=st.integers(17, 40))
def test_small_sizes_of_1_1_match_torch(nets, twins, h, w):
    """Near the smallest sizes, where ceil_mode's last-window rule decides the pool sizes."""
    assert_same_as_torch(nets["1_1"], twins["1_1"], H=h, W=w)


@pytest.mark.parametrize("version", VERSIONS)
def test_layer_names_are_torchvision_module_paths(nets, twins, version):
    assert_names_match_torch(nets[version], twins[version], H=161, W=287)


@pytest.mark.parametrize("version", VERSIONS)
def test_published_figures(nets, version):
    """Params equal torchvision's num_params; MACs round to its "_ops" GFLOPS (MACs) at the digits given."""
    assert_published_figures(nets[version], *PUBLISHED[version])
