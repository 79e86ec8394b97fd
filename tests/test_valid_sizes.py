"""valid_interval: the valid values of one size, read off the validity formulas, against a brute-force scan.

The independent source is `Network.check_sizes` itself, called value by
value (what the old search did for 1..1024): every value the scan finds
valid lies in the interval and every value in it is valid.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costgraph import H, Network, W
from costgraph.errors import DomainError
from costgraph.intmath import FloorDiv
from costgraph.kinds import Conv2d, Flatten, Input, Linear, MaxPool2d, PositionalEmbedding
from costgraph.symbols import S
from costgraph.valid_sizes import LIMIT, direction, valid_interval
from tests.strategies import window


def valid(net, sizes):
    try:
        net.check_sizes(**sizes)
    except DomainError:
        return False
    return True


def scanned(net, size, values, **fixed):
    return [v for v in values if valid(net, {**fixed, size: v})]


@st.composite
def conv_stacks(draw):
    """A few convolutions and max pools (ceil mode too), maybe pinned by a Linear after a flatten."""
    net = Network("stack")
    net.add("x", Input((1, H, W)))
    for i in range(draw(st.integers(1, 4))):
        kernel, stride, padding, dilation = draw(window(max_kernel=5, max_stride=3, max_dilation=2))
        if draw(st.booleans()):
            net.add(f"conv{i}", Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation))
        else:
            net.add(f"pool{i}", MaxPool2d(kernel, stride, padding=padding, dilation=dilation, ceil_mode=draw(st.booleans())))
    pinned_side = draw(st.one_of(st.none(), st.integers(1, 6)))
    if pinned_side is not None:
        net.add("flatten", Flatten(1))
        net.add("fc", Linear(pinned_side**2, 1))
    return net


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(net=conv_stacks())
def test_interval_equals_the_scan_on_random_conv_stacks(net):
    values = range(1, 301)
    found = scanned(net, "H", values)
    interval = valid_interval(net, "H")
    if interval is None:
        assert found == [] and not valid(net, {"H": 5000})
        return
    low, high = interval
    assert found == [v for v in values if low <= v <= high]
    assert valid(net, {"H": low}) and (low == 1 or not valid(net, {"H": low - 1}))
    assert high == LIMIT or (valid(net, {"H": high}) and not valid(net, {"H": high + 1}))


def test_a_pinned_sequence_far_past_the_old_scan():
    """A learned table of 3000 positions added whole (as Whisper's 1500): S = 3000 and nothing else."""
    net = Network("pinned")
    net.add("tokens", Input((S, 8)))
    net.add("positions", PositionalEmbedding(3000, 8, whole_table=True))
    assert valid_interval(net, "S") == (3000, 3000)
    assert scanned(net, "S", [1, 2999, 3000, 3001, 4096]) == [3000]


def test_direction_rules_by_hand():
    # floor((H + 2) / 4) grows; 100 - 3 H shrinks; (H - 5) * H is negative at H = 1..4 (not proved from 1,
    # proved from 5 where both factors are >= 0); a sum of a rising and a falling term is not proved
    assert direction(FloorDiv(H + 2, 4), H, 1) == 1
    assert direction(100 - 3 * H, H, 1) == -1
    assert direction((H - 5) * H, H, 1) is None and direction((H - 5) * H, H, 5) == 1
    assert direction(FloorDiv(H, 2) - FloorDiv(H, 3), H, 1) is None


def test_no_valid_value_is_none():
    """A Linear expecting 7 features after a flatten of 2 x 2 pooling: H // 2 squared is never 7."""
    net = Network("never")
    net.add("x", Input((1, H, W)))
    net.add("pool", MaxPool2d(2))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(7, 1))
    assert valid_interval(net, "H") is None
    assert scanned(net, "H", range(1, 200)) == []


@pytest.mark.parametrize("fixed_w", [None, 40])
def test_width_follows_height_unless_fixed(fixed_w):
    """Conv 5 x 5 into Linear(4, 1): with W = H the flatten is (H - 4)^2 = 4, so H = 6; with W = 40 fixed
    the flatten is (H - 4) * 36, never 4: no value."""
    net = Network("square")
    net.add("x", Input((1, H, W)))
    net.add("conv", Conv2d(1, 1, 5))
    net.add("flatten", Flatten(1))
    net.add("fc", Linear(4, 1))
    fixed = {} if fixed_w is None else {"W": fixed_w}
    assert valid_interval(net, "H", **fixed) == ((6, 6) if fixed_w is None else None)
