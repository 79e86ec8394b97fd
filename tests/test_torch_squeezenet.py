"""SqueezeNet 1.0 and 1.1 against plain-torch twins of torchvision's, at sizes drawn by hypothesis.

The three max pools run in ``ceil_mode``, where PyTorch's rule (a window
must start inside the input) differs from a plain ceiling at some sizes.
"""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import models

from .differential import assert_names_match_torch, assert_same_as_torch, meta
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
@settings(max_examples=25)
@given(h=st.integers(21, 480), w=st.integers(21, 480), n=st.integers(1, 2))
@example(h=224, w=224, n=1).via("torchvision's size")
@example(h=225, w=225, n=1).via("odd")
@example(h=193, w=193, n=1).via("odd")
@example(h=161, w=287, n=1).via("odd, non-square")
@example(h=21, w=21, n=1).via("squeezenet1_0's min_size")
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
    params, gflops = PUBLISHED[version]
    totals = nets[version].totals(H=224)
    assert totals.params == params
    digits = Decimal(gflops)
    # within half a unit of the last digit torchvision gives
    assert abs(Decimal(totals.macs) / 10**9 - digits) <= Decimal(5) / 10 ** (-digits.as_tuple().exponent + 1)
