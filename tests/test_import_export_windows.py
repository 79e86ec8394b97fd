"""Shifted-window attention (Swin) through from_torch: divisions by size formulas, padding by formulas, export's guards.

Sources of truth: hand derivations written next to each expected formula,
Python's own integer ``//`` and ``%`` (hypothesis draws the sizes), and
PyTorch on the meta device at sizes never used in the import
(``FlopCounterMode`` total // 2 for MACs, the module's own output shape).
"""

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from costgraph import CostGraphError, DomainError, size_symbol
from costgraph.intmath import FloorDiv
from costgraph.kinds.indexing import Pad
from costgraph.symbols import H, N, W

from .support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

from torch.utils._sympy.functions import FloorDiv as TorchFloorDiv  # noqa: E402
from torch.utils._sympy.functions import Mod as TorchMod  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costgraph import from_torch  # noqa: E402
from costgraph.importers.aten.shapes import exact_quotient, to_formula  # noqa: E402

s0 = sympy.Symbol("s0", integer=True, positive=True)


def value(formula, **sizes):
    return int(sympy.sympify(formula).subs({size_symbol(k): v for k, v in sizes.items()}))


# -- exact division by a size formula (shapes.exact_quotient) -----------------------------------

def test_exact_quotient_by_hand():
    windows = FloorDiv(W + 6, 7)                          # ceil(W / 7)
    # a map padded to a multiple of 7 is 7 * windows long: over the windows, 7
    assert exact_quotient(7 * windows, windows) == 7
    # (H + 2) * W over W
    assert sympy.expand(exact_quotient(H * W + 2 * W, W) - (H + 2)) == 0
    # N * (H//4) * (W//4) windows over the W//4 of one row: N * (H//4)
    assert sympy.expand(exact_quotient(N * FloorDiv(H, 4) * FloorDiv(W, 4), FloorDiv(W, 4)) - N * FloorDiv(H, 4)) == 0
    # not exact: a remainder, a quotient of 1/2, two different floors
    assert exact_quotient(H + 1, W) is None
    assert exact_quotient(W, 2 * W) is None
    assert exact_quotient(FloorDiv(W, 4), FloorDiv(W, 2)) is None
    assert exact_quotient(W, 0) is None


def test_swin_window_count_division_maps_to_the_window():
    """torchvision's Swin: P = W//4 + (7 - (W//4) % 7) % 7 is W//4 padded up to a multiple of 7, and P // (P // 7) = 7.

    By hand: with a = W//4, (7 - a % 7) % 7 = (-a) % 7, so P = a + (-a) % 7 = 7 * ceil(a / 7)
    and P // 7 = ceil(a / 7); P over it is 7 wherever a >= 1.
    """
    a = TorchFloorDiv(s0, 4)
    padded = a + TorchMod(7 - TorchMod(a, 7), 7)
    names = {s0: W}
    assert to_formula(TorchFloorDiv(padded, TorchFloorDiv(padded, 7)), names) == 7
    assert to_formula(TorchMod(padded, TorchFloorDiv(padded, 7)), names) == 0
    ours = to_formula(padded, names)
    for w in (4, 27, 28, 29, 55, 56, 224, 257):
        assert value(ours, W=w) == 7 * -(-(w // 4) // 7), w


def test_division_by_a_size_that_does_not_divide_is_refused_naming_it():
    s1 = sympy.Symbol("s1", integer=True, positive=True)
    with pytest.raises(CostGraphError, match="polynomial multiple"):
        to_formula(TorchFloorDiv(s0, s1), {s0: H, s1: W})
    with pytest.raises(CostGraphError, match="polynomial multiple"):
        to_formula(TorchMod(s0 + 1, s0), {s0: H})


_ATOMS = (sympy.Integer(1), H, W, FloorDiv(H, 3), FloorDiv(W + 1, 2), H * FloorDiv(W + 1, 2))


def _polynomial(coefficients):
    return sympy.Add(*(c * m for c, m in zip(coefficients, _ATOMS)))


coefficients = st.lists(st.integers(-4, 4), min_size=len(_ATOMS), max_size=len(_ATOMS))
points = st.lists(st.tuples(st.integers(1, 200), st.integers(1, 200)), min_size=5, max_size=5)


@settings(max_examples=60, deadline=None)
@given(coefficients, coefficients, st.integers(-3, 3), points)
def test_exact_quotient_agrees_with_python_floor_division(q_coefficients, b_coefficients, remainder, sizes):
    """a = q*b (+ a constant): when accepted, the quotient equals Python's a // b wherever b != 0."""
    q, b = _polynomial(q_coefficients), _polynomial(b_coefficients)
    a = sympy.expand(q * b + remainder)
    ours = exact_quotient(a, b)
    if remainder == 0 and sympy.expand(b) != 0:
        assert ours is not None and sympy.expand(ours - q) == 0
    if ours is None:
        return
    for h, w in sizes:
        divisor = value(b, H=h, W=w)
        if divisor != 0:
            assert value(ours, H=h, W=w) == value(a, H=h, W=w) // divisor, (a, b, h, w)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(1, 8), st.lists(st.integers(1, 4000), min_size=6, max_size=6))
def test_padded_window_formulas_agree_with_python(window, patch, sizes):
    """Swin's pad-to-a-window formulas for any window and patch size, against Python ints."""
    a = TorchFloorDiv(s0, patch)
    padded = a + TorchMod(window - TorchMod(a, window), window)
    names = {s0: W}
    ours_padded = to_formula(padded, names)
    ours_window = to_formula(TorchFloorDiv(padded, TorchFloorDiv(padded, window)), names)
    assert ours_window == window
    for w in sizes:
        x = w // patch
        assert value(ours_padded, W=w) == x + (window - x % window) % window


def test_patch_merging_sizes_become_single_floors():
    """torchvision's PatchMerging pads to even and keeps every other row: (a + a % 2 + 1) // 2 = ceil(a / 2).

    By hand, with a = W // 4: ceil(floor(W/4) / 2) = floor((W + 4) / 8); twice more, floor((W + 28) / 32);
    the last stage padded to a multiple of 7 is 7 * ceil(floor((W + 28)/32) / 7) = 7 * floor((W + 220) / 224).
    """
    a = TorchFloorDiv(s0, 4)
    merge = lambda x: TorchFloorDiv(x + TorchMod(x, 2) + 1, 2)  # noqa: E731
    names = {s0: W}
    assert to_formula(merge(a), names) == FloorDiv(W + 4, 8)
    last = merge(merge(merge(a)))
    assert to_formula(last, names) == FloorDiv(W + 28, 32)
    assert to_formula(last + TorchMod(7 - TorchMod(last, 7), 7), names) == 7 * FloorDiv(W + 220, 224)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 9), st.integers(1, 3), st.lists(st.integers(1, 5000), min_size=6, max_size=6))
def test_merged_and_padded_sizes_agree_with_python(window, merges, sizes):
    def python(w):
        x = w // 4
        for _ in range(merges):
            x = (x + x % 2 + 1) // 2
        return x + (window - x % window) % window

    x = TorchFloorDiv(s0, 4)
    for _ in range(merges):
        x = TorchFloorDiv(x + TorchMod(x, 2) + 1, 2)
    ours = to_formula(x + TorchMod(window - TorchMod(x, window), window), {s0: W})
    for w in sizes:
        assert value(ours, W=w) == python(w), (window, merges, w)


def test_a_floor_the_traced_domain_fixes_is_pinned():
    """Swin's last stage at 224: export's guard 7 >= 7*floor((H + 220)/224), and H >= 4 (export's range),
    so floor((H + 220)/224) is 1 wherever the graph is valid (by hand: 1 at H = 4, and at most 7 // 7)."""
    from costgraph.importers.aten.guards import _pinned_floors
    from costgraph.kinds.base import Constraint

    stage = FloorDiv(H + 220, 224)
    guard = Constraint(7 - 7 * stage, "")
    assert _pinned_floors([guard], {H: 4}) == ({stage: 1}, {H})
    assert _pinned_floors([guard], {H: 1}) == ({}, set())            # floor is 0 at H = 1: not fixed
    assert _pinned_floors([Constraint(14 - 7 * stage, "")], {H: 4}) == ({}, set())   # 1 or 2


# -- padding by a size formula (kinds.indexing.Pad) ------------------------------------------

def test_pad_takes_size_formulas_as_amounts():
    to_multiple = 7 * FloorDiv(W + 6, 7) - W             # (7 - W % 7) % 7, by hand
    pad = Pad((0, 0, 0, to_multiple))
    assert pad.output_shape((N, H, W, 96)) == (N, H, 7 * FloorDiv(W + 6, 7), 96)
    assert [value(to_multiple, W=w) for w in (7, 8, 13, 14)] == [0, 6, 1, 0]
    # outside constant mode a formula amount must not be negative: a constraint checked at every size
    reflect = Pad((H - 5, 0), mode="reflect")
    exprs = [c.expr for c in reflect.constraints((N, 3, H, 2 * H - 5), (N, 3, H, H))]
    assert H - 5 in exprs
    with pytest.raises(CostGraphError, match="integer-valued"):
        Pad((H / 2, 0))
    with pytest.raises(CostGraphError):
        Pad(("H + 1", 0))


# -- a mini shifted-window block against PyTorch ------------------------------------------------

class MiniShiftedWindow(nn.Module):
    """torchvision's shifted_window_attention in small: pad to a multiple of the window, shift when the
    window is smaller than the padded map, attend within windows, merge the windows back, unshift, crop."""

    def __init__(self, c=8, window=4, heads=2, shift=2):
        super().__init__()
        self.window, self.heads, self.shift = window, heads, shift
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        w = self.window
        x = F.pad(x, (0, 0, 0, (w - W % w) % w, 0, (w - H % w) % w))
        _, pH, pW, _ = x.shape
        shift = 0 if w >= pH or w >= pW else self.shift      # a branch on sizes: export guards it
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows = (pH // w) * (pW // w)
        x = x.view(B, pH // w, w, pW // w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(B * windows, w * w, C)
        qkv = self.qkv(x).reshape(x.size(0), x.size(1), 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(-1)
        x = self.proj((attn @ v).transpose(1, 2).reshape(x.size(0), x.size(1), C))
        x = x.view(B, pH // w, pW // w, w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(B, pH, pW, C)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x[:, :H, :W, :].contiguous().permute(0, 3, 1, 2)


@pytest.fixture(scope="module")
def mini():
    with torch.device("meta"):
        block = MiniShiftedWindow().eval()
    return block, from_torch(block, (2, 8, 13, 10))


def test_mini_shifted_window_is_exact_at_held_out_sizes(mini):
    block, net = mini
    assert net.totals().params == sum(p.numel() for p in block.parameters())
    assert {"Pad", "Roll"} <= {net.layer(name).kind for name in net}
    for n, h, w in [(1, 9, 22), (3, 16, 7), (2, 5, 5)]:     # padded and not, odd and non-square
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = block(torch.empty(n, 8, h, w, device="meta"))
        assert net.totals(N=n, H=h, W=w).macs == counter.get_total_flops() // 2, (n, h, w)
        assert tuple(value(d, N=n, H=h, W=w) for d in net.shape(net.outputs[-1])) == tuple(out.shape)


def test_sizes_where_the_traced_branch_flips_are_refused(mini):
    """Exported at 13x10 (padded 16x12 > window 4: shifted); at H = 3 the padded map is 4, no shift in PyTorch.

    The guard export recorded is pH > 4, i.e. 4*ceil(H/4) > 4, i.e. H > 4 (by hand); W alike.
    """
    _, net = mini
    for h, w in [(3, 9), (9, 4), (4, 4)]:
        with pytest.raises(DomainError, match="torch.export traced the model assuming"):
            net.totals(N=1, H=h, W=w)
    net.totals(N=1, H=5, W=5)                                # the smallest shifted size
