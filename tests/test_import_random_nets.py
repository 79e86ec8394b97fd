"""Random small conv nets, imported with from_torch and checked against PyTorch at other sizes.

Hypothesis draws a net (convolutions with random kernels, strides, paddings,
dilations and groups; max and average pools with ceil_mode; residual adds,
some in place; batch norm and functional ReLUs; sometimes a global pool and a
linear head), imports it at one example size, then evaluates the symbolic
network at fresh random sizes.  Source of truth: PyTorch itself on the meta
device at those sizes (parameter count, conv/linear MACs from forward hooks,
every leaf module's output shape), and where torch refuses a size, costgraph
must refuse it too.
"""

import pytest
from hypothesis import assume, event, given, settings, strategies as st

from costgraph import DomainError

from .support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

from costgraph import from_torch  # noqa: E402

from .differential import meta, torch_counts  # noqa: E402


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def block_specs(draw, channels):
    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "residual", "bn_relu"]))
    if kind == "conv":
        groups = draw(st.sampled_from(_divisors(channels)))
        out = groups * draw(st.integers(1, 3))
        kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        return {
            "kind": kind,
            "out": out,
            "kernel": kernel,
            "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "padding": (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
            "dilation": dilation,
            "groups": groups,
            "bias": draw(st.booleans()),
        }
    if kind in ("maxpool", "avgpool"):
        kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if kind == "maxpool" else (1, 1)
        reach = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]   # torch: padding <= half of it
        return {
            "kind": kind,
            "kernel": kernel,
            "dilation": dilation,
            "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "padding": (draw(st.integers(0, reach[0] // 2)), draw(st.integers(0, reach[1] // 2))),
            "ceil_mode": draw(st.booleans()),
            "count_include_pad": draw(st.booleans()),
        }
    if kind == "residual":
        kernel = draw(st.sampled_from([1, 3, 5]))
        return {"kind": kind, "kernel": kernel, "inplace": draw(st.booleans()), "groups": draw(st.sampled_from(_divisors(channels)))}
    return {"kind": kind}


@st.composite
def net_specs(draw):
    channels = draw(st.integers(1, 6))
    specs, current = [], channels
    for _ in range(draw(st.integers(1, 6))):
        spec = draw(block_specs(current))
        specs.append(spec)
        current = spec.get("out", current)
    head = draw(st.sampled_from([None, "adaptive", "mean"]))
    return channels, specs, head


class RandomNet(nn.Module):
    def __init__(self, channels, specs, head):
        super().__init__()
        self.specs = specs
        self.head = head
        self.blocks = nn.ModuleList()
        for spec in specs:
            kind = spec["kind"]
            if kind == "conv":
                block = nn.Conv2d(channels, spec["out"], spec["kernel"], spec["stride"], spec["padding"], spec["dilation"], spec["groups"], spec["bias"])
                channels = spec["out"]
            elif kind == "maxpool":
                block = nn.MaxPool2d(spec["kernel"], spec["stride"], spec["padding"], spec["dilation"], ceil_mode=spec["ceil_mode"])
            elif kind == "avgpool":
                block = nn.AvgPool2d(spec["kernel"], spec["stride"], spec["padding"], spec["ceil_mode"], spec["count_include_pad"])
            elif kind == "residual":
                block = nn.Conv2d(channels, channels, spec["kernel"], padding=spec["kernel"] // 2, groups=spec["groups"])
            else:
                block = nn.BatchNorm2d(channels)
            self.blocks.append(block)
        self.pool = nn.AdaptiveAvgPool2d((2, 1)) if head == "adaptive" else None
        self.fc = nn.Linear(channels * (2 if head == "adaptive" else 1), 5) if head else None

    def forward(self, x):
        for spec, block in zip(self.specs, self.blocks):
            if spec["kind"] == "residual":
                if spec["inplace"]:
                    y = block(x)
                    y += x
                    x = y
                else:
                    x = x + block(x)
            elif spec["kind"] == "bn_relu":
                x = F.relu(block(x))
            else:
                x = block(x)
        if self.head == "adaptive":
            x = torch.flatten(self.pool(x), 1)
        elif self.head == "mean":
            x = x.mean((2, 3))
        return self.fc(x) if self.fc is not None else x


def leaf_shapes(module, shape):
    """Output shape of every leaf module at input `shape`, as torch computes it (meta device)."""
    shapes = {}
    handles = [
        m.register_forward_hook(lambda mod, args, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
        for name, m in module.named_modules()
        if name and not list(m.children())
    ]
    try:
        with torch.no_grad():
            out = module(torch.empty(shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return shapes, tuple(out.shape)


sizes = st.tuples(st.integers(1, 48), st.integers(1, 48), st.integers(1, 3))


# each example is a torch.export (about 1-2 s on 2 cores): 15 keep CI in budget; run more by hand
@settings(max_examples=15)
@given(spec=net_specs(), example=st.tuples(st.integers(24, 64), st.integers(24, 64)), at=st.lists(sizes, min_size=1, max_size=3))
def test_random_conv_net_matches_torch(spec, example, at):
    channels, specs, head = spec
    with meta():
        module = RandomNet(channels, specs, head).eval()
    example_shape = (2, channels) + example
    try:
        leaf_shapes(module, example_shape)
    except RuntimeError:
        assume(False)  # the net does not accept the example size; nothing to import
    net = from_torch(module, example_shape)
    params = sum(p.numel() for p in module.parameters())
    assert net.totals().params == params
    output = net.outputs[-1]
    for h, w, n in at:
        try:
            shapes, out_shape = leaf_shapes(module, (n, channels, h, w))
        except RuntimeError:
            # torch refuses this size: so must costgraph
            event("a size torch refuses")
            with pytest.raises(DomainError):
                net.check_sizes(H=h, W=w, N=n)
            continue
        event("a size torch accepts")
        rows = {row.name: (n,) + tuple(row.shape) for row in net.layers(H=h, W=w, N=n)}
        for name, shape in shapes.items():
            assert rows[name] == shape, f"{name} at {n}x{channels}x{h}x{w}"
        assert rows[output] == out_shape
        totals = net.totals(H=h, W=w, N=n)
        theirs = torch_counts(module, (n, channels, h, w))
        assert totals.params == theirs["params"]
        assert totals.macs == theirs["macs"], f"MACs at {n}x{channels}x{h}x{w}"
