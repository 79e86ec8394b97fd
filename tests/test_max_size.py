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
from costgraph.symbols import S as S_SIZE
from costgraph.cli import main
from costgraph.errors import CostGraphError, DomainError
from costgraph.fit import EverySizeFits, fit
from costgraph.hardware import device
from costgraph.kinds import Conv2d, Flatten, Input, Linear, PositionalEmbedding, ReLU
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


def searched_sizes(name):
    """The sizes searched for a model: the batch, and its resolution or context length (pinned ones
    included: Whisper's encoder accepts S = 1500 only, which the search must find)."""
    names = [s.name for s in zoo(name).symbols]
    return ["N"] + [s for s in ("H", "S") if s in names]


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


def test_a_size_pinned_past_1024_is_found():
    """Whisper's encoder adds its 1500-row position table whole (HF: exactly 3000 mel frames,
    S = 1500): the only valid S is 1500.  The search used to scan 1..1024 and then powers of two,
    and answered None ('no valid value of S') at any budget.  At 1500 the figure is the model's
    own; at a budget just below it nothing fits."""
    net = zoo("whisper_small")
    at_1500 = figure(net, "macs", {"S": 1500, "T": 448})
    result = fit(net, "S", macs=at_1500 * 2, training=False, optimizer=None, T=448)
    assert result.value == 1500 and "S=1501 is not valid" in result.reason
    below = fit(net, "S", macs=at_1500 - 1, training=False, optimizer=None, T=448)
    assert below.value is None and "smallest valid S=1500" in below.reason


def test_smallest_valid_size_by_hand_beyond_the_old_scan():
    """A learned table of 3000 positions added whole pins S = 3000 (neither in 1..1024 nor a
    power of two); a 4 x 4 stride-4 conv into Linear(9, 1) after a flatten needs floor(H / 4) = 3,
    i.e. H in 12..15 (by hand: floor((H - 4) / 4) + 1 = 3), so 15 is the largest and 16 invalid."""
    pinned = Network("pinned")
    pinned.add("tokens", Input((S_SIZE, 8)))
    pinned.add("positions", PositionalEmbedding(3000, 8, whole_table=True))
    pinned.add("head", Linear(8, 2))
    result = fit(pinned, "S", macs=10**9, training=False, optimizer=None)
    assert result.value == 3000  # 3000 x 8 x 2 = 48,000 MACs, within budget
    window = Network("window")
    window.add("x", Input((1, H, W)))
    window.add("conv", Conv2d(1, 1, 4, stride=4))
    window.add("flatten", Flatten(1))
    window.add("fc", Linear(9, 1))
    assert fit(window, "H", macs=10**9, training=False, optimizer=None).value == 15
    tiny = fit(window, "H", macs=9 * 16 + 9 - 1, training=False, optimizer=None)  # 9 x 16 conv + 9 fc MACs at H = 12
    assert tiny.value is None and "smallest valid H=12" in tiny.reason


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
