"""Differential testing against PyTorch: what torch itself says a network costs.

Two ways to get a torch module for a costgraph network:

* `to_torch(net, **sizes)` builds one mechanically, layer by layer (checks
  costgraph's shape and cost formulas against torch's own layers);
* a hand-written plain-torch twin of a zoo model (``tests/twins/``, each
  checked once against torchvision) checks that the zoo network *is* the
  published architecture.

`torch_counts` runs a module on the meta device (shapes only, nothing
computed) and reports what torch says: parameter count, MACs of every conv
and linear layer (counted by forward hooks from the real output shapes), and
the output shape of every conv, linear and pooling layer.  `assert_same_as_torch`
compares those with costgraph's own figures.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from costgraph import SizeError

from .support import require_torch

torch = require_torch()
nn = torch.nn

#: kinds whose output shapes are compared (torch.nn class names)
SHAPE_KINDS = ("Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")


def meta():
    """Context manager: build torch modules on the meta device (no storage, no init).

    Building VGG16 on the CPU takes about 0.7 s of random initialization;
    on the meta device about 0.02 s.
    """
    return torch.device("meta")


def torch_counts(module, *inputs_shapes, device="meta"):
    """Params, MACs and per-layer output shapes that torch reports for `module`.

    MACs are counted by forward hooks on ``nn.Conv2d`` (output elements x
    in_channels/groups x kernel area) and ``nn.Linear`` (output elements x
    in_features), the way fvcore and thop count them, from the shapes torch
    actually produced.
    """
    module = module.to(device).eval()
    macs = 0
    shapes = Counter()

    def hook(mod, args, out):
        nonlocal macs
        kind = type(mod).__name__
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            macs += out.numel() * (mod.in_channels // mod.groups) * kh * kw
        elif isinstance(mod, nn.Linear):
            macs += out.numel() * mod.in_features
        if kind in SHAPE_KINDS:
            shapes[(kind, tuple(out.shape[1:]))] += 1

    handles = [m.register_forward_hook(hook) for m in module.modules() if type(m).__name__ in SHAPE_KINDS]
    try:
        with torch.no_grad():
            inputs = [torch.empty(s, device=device) for s in inputs_shapes]
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    params = sum(p.numel() for p in module.parameters())
    return {"params": params, "macs": macs, "shapes": shapes}


def costgraph_counts(net, **sizes):
    """The same figures from costgraph's formulas at `sizes`."""
    totals = net.totals(**sizes)
    shapes = Counter()
    for row in net.layers(**sizes):
        if row.kind in SHAPE_KINDS:
            shapes[(row.kind, tuple(row.shape))] += 1
    return {"params": totals.params, "macs": totals.macs, "shapes": shapes}


def assert_same_as_torch(net, module, *, H, W=None, N=1, channels=3):
    """Assert that costgraph and torch agree on params, MACs and every layer's output shape."""
    W = H if W is None else W
    ours = costgraph_counts(net, H=H, W=W, N=N)
    theirs = torch_counts(module, (N, channels, H, W))
    assert ours["params"] == theirs["params"], f"params at {H}x{W}: costgraph {ours['params']}, torch {theirs['params']}"
    assert ours["shapes"] == theirs["shapes"], (
        f"layer output shapes at {H}x{W} differ:\n only costgraph: {ours['shapes'] - theirs['shapes']}\n"
        f" only torch: {theirs['shapes'] - ours['shapes']}"
    )
    assert ours["macs"] == theirs["macs"], f"MACs at {H}x{W}: costgraph {ours['macs']}, torch {theirs['macs']}"


# -- a torch module for any costgraph network -------------------------------------

def _conv(k):
    return nn.Conv2d(k.in_channels, k.out_channels, k.kernel_size, k.stride, k.padding, k.dilation, k.groups, k.bias)


def _linear(k, x):
    return nn.Linear(int(x[-1]) if k.in_features is None else k.in_features, k.out_features, k.bias)


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _add(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _mul(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


class _LayerScale(nn.Module):
    """ConvNeXt's ``layer_scale * x`` with its (C, 1, 1) parameter."""

    def __init__(self, channels, init):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(channels, 1, 1) * init)

    def forward(self, x):
        return self.layer_scale * x


class _LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt): LayerNorm over the channels of (N, C, H, W)."""

    def forward(self, x):
        x = nn.functional.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


#: costgraph kind name -> factory(kind, numeric input shapes) -> nn.Module
TORCH_FACTORIES = {
    "Conv2d": lambda k, x: _conv(k),
    "MaxPool2d": lambda k, x: nn.MaxPool2d(k.kernel_size, k.stride, k.padding, k.dilation, ceil_mode=k.ceil_mode),
    "AvgPool2d": lambda k, x: nn.AvgPool2d(k.kernel_size, k.stride, k.padding, k.ceil_mode, k.count_include_pad),
    "AdaptiveAvgPool2d": lambda k, x: nn.AdaptiveAvgPool2d(k.output_size),
    "Linear": lambda k, x: _linear(k, x),
    "ReLU": lambda k, x: nn.ReLU(k.inplace),
    "ReLU6": lambda k, x: nn.ReLU6(k.inplace),
    "Sigmoid": lambda k, x: nn.Sigmoid(),
    "Hardsigmoid": lambda k, x: nn.Hardsigmoid(k.inplace),
    "Hardswish": lambda k, x: nn.Hardswish(k.inplace),
    "SiLU": lambda k, x: nn.SiLU(k.inplace),
    "GELU": lambda k, x: nn.GELU(approximate=k.approximate),
    "Tanh": lambda k, x: nn.Tanh(),
    "Identity": lambda k, x: nn.Identity(),
    "StochasticDepth": lambda k, x: nn.Identity(),
    "Dropout": lambda k, x: nn.Dropout(k.p, k.inplace),
    "Softmax": lambda k, x: nn.Softmax(k.dim),
    "Flatten": lambda k, x: nn.Flatten(k.start_dim, k.end_dim),
    "BatchNorm2d": lambda k, x: nn.BatchNorm2d(k.num_features, k.eps, k.momentum, k.affine),
    "Add": lambda k, x: _Lambda(_add),
    "Mul": lambda k, x: _Lambda(_mul),
    "Concat": lambda k, x: _Lambda(lambda *xs: torch.cat(xs, k.dim)),
    "Slice": lambda k, x: _Lambda(lambda t: t.narrow(k.dim, k.start, (t.shape[k.dim] if k.stop is None else k.stop) - k.start)),
    "ChannelShuffle": lambda k, x: nn.ChannelShuffle(k.groups),
    "Mean": lambda k, x: _Lambda(lambda t: t.mean(list(k.dims), keepdim=k.keepdim)),
    "LayerScale": lambda k, x: _LayerScale(k.channels, k.init),
    "Permute": lambda k, x: _Lambda(lambda t: t.permute(*k.dims)),
    "LayerNorm": lambda k, x: nn.LayerNorm(k.normalized_shape, k.eps, k.elementwise_affine, bias=k.bias),
    "LayerNorm2d": lambda k, x: _LayerNorm2d(k.num_channels, k.eps, k.elementwise_affine),
}


class GraphModule(nn.Module):
    """Runs a costgraph network's DAG with torch layers, in topological order."""

    def __init__(self, net, **sizes):
        super().__init__()
        rows = {row.name: row for row in net.layers(**sizes)}
        self.order, self.inputs, self.sources = [], [], {}
        self.layers = nn.ModuleDict()
        for name in net:
            layer = net.layer(name)
            node_inputs = net.graph.nodes[name]["inputs"]
            if layer.kind == "Input":
                self.inputs.append(name)
                continue
            shapes = [(sizes.get("N", 1),) + tuple(rows[s].shape) for s in node_inputs]
            self.layers[_key(name)] = TORCH_FACTORIES[layer.kind](layer, shapes[0] if len(shapes) == 1 else shapes)
            self.order.append(name)
            self.sources[name] = node_inputs

    def forward(self, *xs):
        values = dict(zip(self.inputs, xs))
        for name in self.order:
            values[name] = self.layers[_key(name)](*[values[s] for s in self.sources[name]])
        return values[self.order[-1]]


def _key(name):
    return name.replace(".", "__")


def to_torch(net, **sizes):
    """A torch module computing `net` (lazy Linear layers instantiated at `sizes`), on meta."""
    with meta():
        return GraphModule(net, **sizes)


# -- layer names that are state_dict keys ------------------------------------------

def assert_names_match_torch(net, module, *, H, W=None, N=1, channels=3):
    """Assert that every torch module holding parameters is a costgraph layer of the same name.

    For a zoo model and its twin (whose module paths are torchvision's), each
    module with parameters of its own (conv, linear, norm: the prefixes of
    the state_dict keys) must be a costgraph layer with the same parameter
    count and the same output shape at `H` x `W`, and every costgraph layer
    with parameters must be such a module.  A parameter held directly by a
    module that has submodules (ConvNeXt's ``layer_scale``) is matched by its
    state_dict key instead (``features.1.0.layer_scale``).
    """
    W = H if W is None else W
    rows = {row.name: row for row in net.layers(H=H, W=W, N=N)}
    module = module.to("meta").eval()
    owners, bare = {}, {}
    for name, m in module.named_modules():
        own = dict(m.named_parameters(recurse=False))
        if own and any(True for _ in m.children()):
            bare.update({f"{name}.{key}": p.numel() for key, p in own.items()})
        elif own:
            owners[name] = m
    seen = {}

    def record(name):
        def hook(mod, args, out):
            seen.setdefault(name, tuple(out.shape[1:]))  # a hook that returns a value replaces the output

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in owners.items()]
    try:
        with torch.no_grad():
            module(torch.empty((N, channels, H, W), device="meta"))
    finally:
        for h in handles:
            h.remove()
    ours = {name for name, row in rows.items() if row.params}
    theirs = set(owners) | set(bare)
    assert ours == theirs, f"only costgraph: {sorted(ours - theirs)}; only torch: {sorted(theirs - ours)}"
    for name, count in bare.items():
        assert rows[name].params == count, f"{name}: costgraph {rows[name].params} params, torch {count}"
    for name, m in owners.items():
        params = sum(p.numel() for p in m.parameters(recurse=False))
        assert rows[name].params == params, f"{name}: costgraph {rows[name].params} params, torch {params}"
        if name in seen:  # modules torch does not run at inference (aux heads) have no output
            assert tuple(rows[name].shape) == seen[name], f"{name} at {H}x{W}: costgraph {rows[name].shape}, torch {seen[name]}"


class TrainingForward(nn.Module):
    """Runs `module` in training mode, whatever mode it is put in.

    For the layers torch runs only in training (GoogLeNet's and Inception v3's
    auxiliary heads): `torch_counts` puts modules in eval mode.  Use a batch
    of at least 2, as batch norm in training needs more than one value per channel.
    """

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *xs):
        self.module.train()
        return self.module(*xs)


# -- the checks every zoo model's differential test file makes ----------------------

#: sizes where conv and pool arithmetic goes wrong first, as (h, w, why); each file adds its smallest
AWKWARD_SIZES = ((224, 224, "torchvision's size"), (225, 225, "odd"), (193, 193, "odd"), (161, 287, "odd, non-square"))


def at_drawn_sizes(*, smallest, largest, max_examples, smallest_why="min_size", more=()):
    """Decorator: run ``test(..., h, w, n)`` at sizes hypothesis draws, and always at the awkward ones.

    Each side is drawn from ``smallest..largest`` and the batch from 1..2,
    `max_examples` times; `AWKWARD_SIZES`, ``smallest x smallest`` and the
    model's own `more` ``(h, w, why)`` run every time, at batch 1, in that order.
    """

    def decorate(test):
        for h, w, why in reversed(AWKWARD_SIZES + ((smallest, smallest, smallest_why),) + tuple(more)):
            test = example(h=h, w=w, n=1).via(why)(test)  # applied last-first, so they run as listed
        side = st.integers(smallest, largest)
        return settings(max_examples=max_examples)(given(h=side, w=side, n=st.integers(1, 2))(test))

    return decorate


def net_and_twin_fixtures(build_net, build_twin):
    """Module-scoped pytest fixtures: the zoo network, and its torch twin built on the meta device.

    Assign them to the names the tests ask for: ``net, twin = net_and_twin_fixtures(...)``.
    """

    @pytest.fixture(scope="module")
    def net():
        return build_net()

    @pytest.fixture(scope="module")
    def twin():
        with meta():
            return build_twin()

    return net, twin


def assert_min_size_one_as_in_torch(net, twin):
    """Assert that ``net.min_size()`` is 1, as torch says: it runs `twin` at 1x1 and refuses 0x0.

    Torch refuses 0x0 because a kernel exceeds the padded input (its message
    is matched); costgraph refuses a size of 0 itself.
    """
    assert net.min_size() == 1
    torch_counts(twin, (1, 3, 1, 1))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        torch_counts(twin, (1, 3, 0, 0))
    with pytest.raises(SizeError):
        net.totals(H=0)


def assert_published_figures(net, params, gflops, *, H=224):
    """Assert torchvision's published figures: ``num_params``, and ``_ops`` at the digits given.

    `gflops` is torchvision's "GFLOPS" string (multiply-accumulates of the
    conv and linear layers, in 10^9): costgraph's MACs at `H` must be within
    half a unit of its last digit.
    """
    totals = net.totals(H=H)
    assert totals.params == params
    digits = Decimal(gflops)
    assert abs(Decimal(totals.macs) / 10**9 - digits) <= Decimal(5) / 10 ** (-digits.as_tuple().exponent + 1)
