"""from_torch (torch.export + ATen converters) on n-d nets, data-dependent ops, tied parameters and bad input.

Sources of truth: PyTorch on the meta device at sizes never used in the
import (``FlopCounterMode`` total // 2 for MACs, the module's own output
shape, ``sum(p.numel() for p in parameters())``), and hand counts written
next to the numbers.
"""

import pytest
import sympy

from costgraph import CostGraphError, N, S, size_symbol
from costgraph.errors import DomainError

from .support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costgraph import from_torch  # noqa: E402
from costgraph.importers.aten import DataDependentError, UnusedParametersWarning  # noqa: E402, F401
from costgraph.importers.aten.shapes import to_formula  # noqa: E402


def meta(*shape):
    return torch.empty(shape, device="meta")


def torch_macs_and_shape(module, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(x)
    return counter.get_total_flops() // 2, tuple(out.shape)


def assert_exact_at(net, module, x, **sizes):
    macs, shape = torch_macs_and_shape(module, x)
    assert net.totals(**sizes).macs == macs, sizes
    at = {size_symbol(k): v for k, v in sizes.items()}
    assert tuple(int(sympy.sympify(d).subs(at)) for d in net.shape(net.outputs[-1])) == shape


class UNet(nn.Module):
    """ConvTranspose2d, GroupNorm, LeakyReLU, F.interpolate (to the skip's size and bilinear) and skip concatenation."""

    def __init__(self, c=8):
        super().__init__()
        block = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(2, o), nn.LeakyReLU(0.1))  # noqa: E731
        self.down1, self.down2 = block(3, c), block(c, 2 * c)
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec = block(2 * c, c)
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        up = F.interpolate(self.up(d2), size=d1.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.dec(torch.cat([up, d1], 1)))


def test_unet_is_exact_at_held_out_sizes():
    with torch.device("meta"):
        unet = UNet().eval()
    net = from_torch(unet, (2, 3, 32, 24))
    assert net.totals().params == sum(p.numel() for p in unet.parameters())
    kinds = {net.layer(name).kind for name in net}
    assert {"ConvTranspose2d", "GroupNorm", "LeakyReLU", "Upsample", "Concat"} <= kinds
    for n, h, w in [(1, 21, 40), (3, 64, 18)]:          # odd and non-square sizes
        assert_exact_at(net, unet, meta(n, 3, h, w), N=n, H=h, W=w)


def test_one_and_three_dimensional_convolutions():
    with torch.device("meta"):
        audio = nn.Sequential(nn.Conv1d(1, 8, 10, stride=5), nn.BatchNorm1d(8), nn.GELU(), nn.MaxPool1d(2), nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=2)).eval()
        video = nn.Sequential(nn.Conv3d(3, 4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)), nn.BatchNorm3d(4), nn.ReLU(), nn.AdaptiveAvgPool3d((2, 1, 1))).eval()
    net = from_torch(audio, (2, 1, 400), {"N": 0, "L": 2})
    for n, length in [(1, 999), (3, 160)]:
        assert_exact_at(net, audio, meta(n, 1, length), N=n, L=length)
    net = from_torch(video, (2, 3, 8, 32, 24), {"N": 0, "T": 2, "H": 3, "W": 4})
    for n, t, h, w in [(1, 5, 17, 40), (3, 3, 64, 9)]:
        assert_exact_at(net, video, meta(n, 3, t, h, w), N=n, T=t, H=h, W=w)


def test_data_dependent_ops_are_a_clear_error_naming_op_and_module():
    class Picks(nn.Module):
        def __init__(self):
            super().__init__()
            self.score = nn.Linear(4, 1)

        def forward(self, x):
            keep = self.score(x)[..., 0] > 0
            return x[keep]                              # boolean-mask indexing: as many rows as the data says

    with pytest.raises(DataDependentError, match=r"aten::index\.Tensor at node 'index' in the top-level forward: .*depends on the data"):
        from_torch(Picks(), (2, 5, 4))

    class Nonzero(nn.Module):
        def forward(self, x):
            return torch.nonzero(x)

    with torch.device("meta"):
        wrapped = nn.Sequential(nn.ReLU(), Nonzero())
    with pytest.raises(DataDependentError, match=r"aten::nonzero.* in module '1' \(Nonzero\): .*depends on the data"):
        from_torch(wrapped, (2, 5, 4))


def test_branching_on_a_data_dependent_size_is_a_clear_error(capfd):
    """Export itself stops when forward branches on a size the data decides (a detector's post-processing).

    The error names the operation that made the data-sized tensor, its source
    line, and the branch; torch's partial graph is not printed.
    """

    class FiltersThenBranches(nn.Module):
        def forward(self, x):
            kept = x[x > 0]
            if kept.numel() == 0:
                return x
            return kept.sum() * x

    with pytest.raises(
        DataDependentError,
        match=r"aten::index\.Tensor at .*test_import_export_ops\.py:\d+ in forward \(kept = x\[x > 0\]\) .*branches on Eq\(u0, 0\)",
    ):
        from_torch(FiltersThenBranches(), torch.randn(2, 3, 8, 8))
    assert "def forward" not in capfd.readouterr().err


def test_a_forward_that_branches_on_a_size_is_valid_only_on_the_captured_side():
    """``if h > 32`` captured at h = 48: export guards h > 32; below it the model runs the other branch.

    Truth: the real module under FlopCounterMode on meta.  Inside the range the
    import is exact; outside it costgraph refuses (it would otherwise count the
    3x3 branch where torch runs the 5x5 one).
    """

    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.small = nn.Conv2d(3, 8, 3)
            self.large = nn.Conv2d(3, 8, 5)

        def forward(self, x):
            return self.small(x) if x.shape[2] > 32 else self.large(x)

    with torch.device("meta"):
        model = Branches()
    net = from_torch(model, (2, 3, 48, 40))
    for n, h, w in [(1, 33, 20), (3, 64, 41)]:
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(n, 3, h, w, device="meta"))
        assert net.totals(N=n, H=h, W=w).macs == counter.get_total_flops() // 2
    with pytest.raises(DomainError, match=r"torch\.export traced the model assuming H > 32"):
        net.totals(N=1, H=32, W=40)


def test_tied_parameters_count_once_and_buffers_apart():
    """A head tied to the embedding is one tensor (torch counts 50*16 once); a buffer is no parameter."""

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(50, 16)
            self.head = nn.Linear(16, 50, bias=False)
            self.head.weight = self.wte.weight
            self.register_buffer("scale", torch.ones(16))

        def forward(self, ids):
            return self.head(self.wte(ids) * self.scale)

    with torch.device("meta"):
        tied = Tied()
    net = from_torch(tied, torch.zeros(2, 7, dtype=torch.long, device="meta"))
    assert sum(p.numel() for p in tied.parameters()) == 800                 # torch: 50*16, once
    assert net.totals().params == 800
    # MACs by hand: the head's 16*50 per token, nothing for the lookup or the scale
    assert sympy.expand(net.totals().macs - 800 * N * S) == 0


def test_bad_examples_and_dynamic_values_are_cost_graph_errors():
    with torch.device("meta"):
        linear = nn.Linear(16, 4)
    with pytest.raises(CostGraphError, match="torch.export cannot capture"):
        from_torch(linear, (2, 5, 15))                                  # 15 features, the layer takes 16
    with pytest.raises(CostGraphError, match="does not fit"):
        from_torch(linear, (2, 5, 16), {"S": 7})
    with pytest.raises(CostGraphError, match="must be a dim"):
        from_torch(linear, (2, 5, 16), {"S": "1"})
    with pytest.raises(CostGraphError, match="identifier"):
        from_torch(linear, (2, 5, 16), {"not a name": 1})
    with pytest.raises(CostGraphError, match="example input must be a tensor or a shape"):
        from_torch(linear, [(2, 5, 16), "x"])
    with pytest.raises(CostGraphError, match="expects a torch.nn.Module"):
        from_torch(lambda x: x, (2, 5, 16))


def test_torch_size_functions_map_onto_exact_arithmetic():
    """torch's FloorDiv, CeilDiv, Mod, Min and Max become costgraph's formulas (checked at many sizes)."""
    from torch.utils._sympy.functions import CeilDiv, FloorDiv, Max, Min, Mod

    s0, s1 = sympy.symbols("s0 s1", integer=True, positive=True)
    h, w = size_symbol("H"), size_symbol("W")
    names = {s0: h, s1: w}
    cases = [
        (FloorDiv(s0 - 1, 4) + 1, lambda a, b: (a - 1) // 4 + 1),
        (CeilDiv(s0, 3), lambda a, b: -(-a // 3)),
        (Mod(s0, 5) + s1, lambda a, b: a % 5 + b),
        (Min(s0, 2 * s1), lambda a, b: min(a, 2 * b)),
        (Max(FloorDiv(s0, 2), s1), lambda a, b: max(a // 2, b)),
    ]
    for expr, python in cases:
        ours = to_formula(expr, names)
        for a, b in [(1, 1), (7, 3), (64, 48), (101, 2)]:
            assert int(ours.subs({h: a, w: b})) == python(a, b), (expr, a, b)
    with pytest.raises(CostGraphError, match="not one of the input sizes"):
        to_formula(s0 + sympy.Symbol("s9", integer=True), names)


def _meta_output_shape(module, shape):
    with torch.no_grad():
        return tuple(module(torch.empty(shape, device="meta")).shape)


def _ours(net, sizes):
    (last,) = net.graph.graph["returns"]
    at = {size_symbol(k): v for k, v in sizes.items()}
    return tuple(int(sympy.sympify(d).subs(at)) for d in net.shape(last))


@pytest.mark.parametrize("mode, scale", [("bicubic", 2), ("nearest", 1.5), ("bilinear", 1.5)])
def test_interpolation_by_a_float_scale_factor(mode, scale):
    """torch writes floor(scale * size) as TruncToInt(1.5*ToFloat(s)): an exact rational floor here.

    Truth: the module's own output shape on meta at held-out sizes (odd, so 1.5 x size is not whole).
    """
    module = nn.Upsample(scale_factor=scale, mode=mode)
    net = from_torch(module, (2, 3, 10, 12))
    for n, h, w in [(1, 7, 9), (3, 13, 20)]:
        assert _ours(net, {"N": n, "H": h, "W": w}) == _meta_output_shape(module, (n, 3, h, w))


def test_var_and_std_keep_their_dims_in_every_overload():
    """``x.var(dims, keepdim=True)`` exports as ``var.correction``; ``var(x, dims, False, True)`` as ``var.dim``."""

    class Moments(nn.Module):
        def forward(self, x):
            return x.var((2, 3), keepdim=True) + torch.std(x, (2, 3), False, True) + x.var(3, keepdim=True)

    net = from_torch(Moments(), (2, 3, 10, 12))
    for n, h, w in [(1, 7, 9), (3, 13, 20)]:
        assert _ours(net, {"N": n, "H": h, "W": w}) == _meta_output_shape(Moments(), (n, 3, h, w))


def test_adaptive_max_pooling_of_symbolic_sizes_counts_its_comparisons():
    """Comparisons = window elements - outputs, windows as torch defines them: [floor(i L / o), ceil((i + 1) L / o)).

    Hand derivation in the test (a loop over torch's window bounds); FlopCounterMode counts no MACs.
    """

    def window_sum(length, out):
        return sum(-((-(i + 1) * length) // out) - (i * length) // out for i in range(out))

    module = nn.AdaptiveMaxPool2d((3, 2))
    net = from_torch(module, (2, 3, 10, 12))
    for n, h, w in [(1, 10, 12), (3, 7, 2), (2, 31, 17)]:
        expected = n * 3 * (window_sum(h, 3) * window_sum(w, 2) - 3 * 2)
        totals = net.totals(N=n, H=h, W=w)
        assert totals.flops - 2 * totals.macs == expected, (n, h, w)
        assert _ours(net, {"N": n, "H": h, "W": w}) == _meta_output_shape(module, (n, 3, h, w))
