"""max_size / fit: exact on every zoo model for memory, MAC and roofline-time budgets.

The property (hypothesis, a few examples per model): for a budget drawn as the
figure at some size times a factor, the answer's figure is within the budget
and answer + 1's is not (or answer + 1 is not a valid size), each figure
evaluated independently through the public `Network.memory`, `Network.totals`
and `Network.roofline`; and the figures are non-decreasing in the size on a
grid, which the search assumes.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costgraph import H, Network, W
from costgraph.cli import main
from costgraph.errors import CostGraphError, DomainError
from costgraph.fit import EverySizeFits, fit
from costgraph.hardware import device
from costgraph.kinds import Conv2d, Input, ReLU
from costgraph.models import MODELS

OPTIONS = {"dtype": "bf16", "optimizer": "adam"}
H100 = device("h100")


@functools.lru_cache(maxsize=None)
def zoo(name):
    """One network per model for the whole module, so its compiled figures are reused."""
    return MODELS[name].builder()


def figure(net, which, sizes):
    """The figure `which` at `sizes`, evaluated through the public API (training step, bf16, Adam)."""
    if which == "memory":
        return net.memory(OPTIONS["dtype"], optimizer=OPTIONS["optimizer"], **sizes).total_training_bytes
    if which == "macs":
        return net.totals(**sizes).macs
    return net.roofline(H100, OPTIONS["dtype"], training=True, **sizes).seconds


def pinned(name, size):
    """True when the model accepts one value of `size` only (Whisper's encoder: exactly 1500 positions)."""
    sizes = dict(MODELS[name].sizes())
    if size not in sizes:
        return False
    net = zoo(name)
    return all(not valid(net, {**sizes, size: sizes[size] + step}) for step in (-1, 1))


def searched_sizes(name):
    """The sizes searched for a model: the batch, and its resolution or context length (unless pinned)."""
    names = [s.name for s in zoo(name).symbols]
    return ["N"] + [s for s in ("H", "S") if s in names and not pinned(name, s)]


def fixed_for(name, size):
    sizes = dict(MODELS[name].sizes())
    if size == "H":
        sizes.pop("W", None)
    sizes.pop(size, None)
    return sizes


def valid(net, sizes):
    try:
        net.check_sizes(**sizes)
    except DomainError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_max_size_is_exact_on_the_zoo(name, data):
    net = zoo(name)
    size = data.draw(st.sampled_from(searched_sizes(name)), label="size")
    which = data.draw(st.sampled_from(["memory", "macs", "seconds"]), label="figure")
    fixed = fixed_for(name, size)
    default = MODELS[name].sizes().get(size, 8)
    start = data.draw(st.integers(1, max(2, default)), label="at")
    if not valid(net, {**fixed, size: start}):
        start = default
    factor = data.draw(st.sampled_from([Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(7)]), label="factor")
    budget = figure(net, which, {**fixed, size: start}) * factor
    if which != "seconds":
        budget = int(budget)
    result = fit(net, size, **{which: budget}, device="h100", **OPTIONS, **fixed)
    if result.value is None:
        # nothing fits: the smallest valid value is already over budget
        smallest = next(v for v in range(1, 2049) if valid(net, {**fixed, size: v}))
        assert figure(net, which, {**fixed, size: smallest}) > budget
        return
    assert figure(net, which, {**fixed, size: result.value}) <= budget
    following = {**fixed, size: result.value + 1}
    assert not valid(net, following) or figure(net, which, following) > budget
    if factor >= 1:
        assert result.value >= start  # the starting point itself fits


@pytest.mark.parametrize("name", sorted(MODELS))
def test_figures_are_monotone_on_a_grid(name):
    net = zoo(name)
    for size in searched_sizes(name):
        fixed = fixed_for(name, size)
        default = MODELS[name].sizes().get(size, 8)
        grid = sorted({1, 2, 3, default // 2, default - 1, default, default + 1, 2 * default})
        points = [v for v in grid if v >= 1 and valid(net, {**fixed, size: v})]
        for which in ("memory", "macs", "seconds"):
            values = [figure(net, which, {**fixed, size: v}) for v in points]
            assert values == sorted(values), (name, size, which, points)


def test_the_answer_by_hand_vgg16_batch():
    # VGG16 (seed form) at 224, bf16, Adam: 4 x 2 bytes per parameter (weights, gradients, two states)
    # plus what autograd saves per image, 1,367,703,552 B for 32 images (README) = 42,740,736 B each
    net = zoo("vgg16")
    assert net.max_size("N", memory=80 * 10**9, H=224, **OPTIONS) == (80 * 10**9 - 8 * 138357544) // 42740736


def test_the_answer_by_hand_vgg16_resolution_under_a_mac_budget():
    # the seed's MACs at H=224: 15,470,264,320; at twice the budget the side grows about sqrt(2)
    net = zoo("vgg16")
    h = net.max_size("H", macs=15470264320)
    assert h == 224 or net.totals(H=h).macs <= 15470264320 < net.totals(H=h + 1).macs
    assert net.totals(H=224).macs == 15470264320 and h >= 224


def test_none_when_nothing_fits_and_every_size_when_nothing_grows():
    net = zoo("resnet18")
    assert net.max_size("N", memory=10**6, H=224) is None  # 11.7M parameters alone are more
    only_relu = Network("relu")
    only_relu.add("x", Input((3, H, W)))
    only_relu.add("relu", ReLU())
    with pytest.raises(EverySizeFits):
        only_relu.max_size("H", macs=0)  # no MACs at any size


def test_bad_queries_are_errors():
    net = zoo("resnet18")
    with pytest.raises(CostGraphError, match="at least one budget"):
        net.max_size("N", H=224)
    with pytest.raises(CostGraphError, match="has no size 'S'"):
        net.max_size("S", memory=10**9)
    with pytest.raises(CostGraphError, match="the one searched"):
        net.max_size("N", memory=10**9, N=3)
    with pytest.raises(CostGraphError, match="needs a device profile"):
        net.max_size("N", seconds=1, H=224)


def test_domain_limit_is_the_answer_for_gpt2_context():
    # GPT-2 has 1024 learned positions: a generous budget stops at S = 1024, where S = 1025 is not valid
    result = fit(zoo("gpt2"), "S", memory=10**12, training=False, optimizer=None)
    assert result.value == 1024 and "not valid" in result.reason


def test_conv_net_smallest_valid_size_is_found():
    net = Network("needs 5")
    net.add("x", Input((1, H, W)))
    net.add("conv", Conv2d(1, 1, 5))  # valid from H = 5 (output H - 4)
    result = fit(net, "H", macs=25 * 3 * 3, training=False, optimizer=None)  # 25 MACs per output pixel
    assert result.value == 7  # (7-4)^2 * 25 = 225 MACs; H = 8: 16 * 25 = 400


def test_cli_fit(capsys):
    assert main(["fit", "resnet18", "--memory", "16GB", "--training", "--optimizer", "adam", "--dtype", "bf16"]) == 0
    out = capsys.readouterr().out
    n = int(out.split("largest N = ")[1].split()[0])
    net = zoo("resnet18")
    assert net.memory("bf16", optimizer="adam", H=224, N=n).total_training_bytes <= 16 * 10**9
    assert net.memory("bf16", optimizer="adam", H=224, N=n + 1).total_training_bytes > 16 * 10**9
    assert main(["fit", "vgg16", "--maximize", "H", "--macs", "100G"]) == 0
    assert main(["fit", "resnet18", "--seconds", "50ms", "--device", "a100", "--dtype", "bf16", "--format", "json"]) == 0
    capsys.readouterr()
    for bad in (["fit", "resnet18"], ["fit", "resnet18", "--memory", "lots"], ["fit", "resnet18", "--seconds", "1"],
                ["fit", "resnet18", "--memory", "1GB", "--device", "h1000"], ["fit", "resnet18", "--maximize", "S", "--memory", "1GB"]):  # fmt: skip
        assert main(bad) == 2, bad
    err = capsys.readouterr().err
    assert err.count("\n") == 5 and all(line.startswith("costgraph: error: ") for line in err.splitlines())
