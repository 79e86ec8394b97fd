"""Padding, rolling, strided slices, gathers, masked fills and selects, by hand
(torch's documented shape rules; saved tensors per derivatives.yaml)."""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import Gather, IndexSelect, IndexTensor, MaskedFill, Pad, Roll, StridedSlice, Where
from costgraph.symbols import H, N, S, W, size_symbol

T = size_symbol("T")


def at(expr, **values):
    return int(sympy.sympify(expr).subs({size_symbol(k): v for k, v in values.items()}))


def test_pad_pairs_run_from_the_last_dimension():
    pad = Pad((1, 2, 3, 4, 5, 6), mode="replicate")
    assert pad.output_shape((N, 2, T, H, W)) == (N, 2, T + 11, H + 7, W + 3)
    assert Pad((-1, 2)).output_shape((N, 3, S)) == (N, 3, S + 1)  # crop 1, add 2
    assert pad.other_flops(None, None) == 0 and pad.flop_terms(None, None) == {}


@pytest.mark.parametrize("mode, keeps", [("constant", 0), ("reflect", 1), ("replicate", 1), ("circular", 0)])
def test_pad_saves_the_input_only_for_reflect_and_replicate(mode, keeps):
    x = (N, 3, H, W)
    pad = Pad((1, 1), mode=mode)
    assert len(pad.saved_tensors(pad.output_shape(x), x)) == keeps


def test_reflect_pad_constraint():
    pad = Pad((2, 3), mode="reflect")
    x = (N, 3, S)
    constraints = pad.constraints(pad.output_shape(x), x)
    # each amount below the size: S - 2 - 1 >= 0 and S - 3 - 1 >= 0
    assert [c.expr for c in constraints] == [S - 3, S - 4]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Pad((1,)), "pairs"),
        (lambda: Pad(()), "pairs"),
        (lambda: Pad((1, 1), mode="edge"), "mode must be one of"),
        (lambda: Pad((-1, 1), mode="reflect"), "negative padding"),
        (lambda: Pad((1.5, 1)), "integer"),
        (lambda: Roll((1, 2), (1,)), "2 shifts for 1 dims"),
        (lambda: Roll((1, 2)), "one shift"),
        (lambda: StridedSlice(1, 0, None, 0), "positive integer"),
        (lambda: StridedSlice(1, "S - 1"), "must be an integer, a size name"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(CostGraphError, match=message):
        make()


def test_pad_more_dims_than_input():
    with pytest.raises(ShapeError, match="3 padded dimensions for a 2-d input"):
        Pad((1, 1, 1, 1, 1, 1)).output_shape((N, S))


def test_roll_keeps_the_shape_and_nothing():
    roll = Roll((-3, -3), (1, 2))
    x = (N, H, W, 96)
    assert roll.output_shape(x) == x and roll.saved_tensors(x, x) == ()
    with pytest.raises(ShapeError, match="out of range"):
        Roll(1, 5).output_shape(x)


def test_strided_slices_by_hand():
    x = (N, S, 64)
    # x[:, 1::2]: ceil((S - 1)/2) = floor(S/2); at S=7: indices 1,3,5
    assert at(StridedSlice(1, 1, None, 2).output_shape(x)[1], S=7) == 3
    # x[:, -3:]: 3 elements; x[:, :S-1]
    assert StridedSlice(1, -3).output_shape(x)[1] == 3
    assert StridedSlice(1, 0, S - 1).output_shape(x)[1] == S - 1
    assert StridedSlice(1, 0, 2**63 - 1).output_shape(x)[1] == S  # export's "to the end"
    # numeric sizes clamp as Python does: range(10)[2:100:3] = 2,5,8
    assert StridedSlice(0, 2, 100, 3).output_shape((10,)) == (3,)
    assert not StridedSlice(1).materializes
    with pytest.raises(ShapeError, match="empty"):
        StridedSlice(0, 5, 2).output_shape((10,))


def test_index_ops_keep_the_index():
    x = (N, S, 64)
    select = IndexSelect(1)
    assert select.output_shape(x, (10,)) == (N, 10, 64)
    assert [e.index for e in select.saved_tensors((N, 10, 64), x, (10,))] == [1]
    table = IndexTensor(0)
    assert table.output_shape((169, 12), (49, 49)) == (49, 49, 12)
    gather = Gather(2)
    assert gather.output_shape(x, (N, S, 5)) == (N, S, 5)
    assert [e.index for e in gather.saved_tensors((N, S, 5), x, (N, S, 5))] == [0, 1]
    with pytest.raises(ShapeError, match="1-d index"):
        select.output_shape(x, (2, 3))
    with pytest.raises(ShapeError, match="one rank"):
        gather.output_shape(x, (N, 5))


def test_masked_fill_and_where_by_hand():
    x, mask = (N, 12, S, S), (1, 1, S, S)
    fill = MaskedFill(float("-inf"))
    assert fill.output_shape(x, mask) == x
    assert fill.other_flops(x, x, mask) == 12 * N * S**2  # one select per element
    assert [e.index for e in fill.saved_tensors(x, x, mask)] == [1]
    with pytest.raises(ShapeError, match="does not broadcast"):
        fill.output_shape((1, 12, S, S), (N, 1, S, S))
    where = Where()
    assert where.output_shape(mask, x, (12, 1, 1)) == x
    assert [e.index for e in where.saved_tensors(x, mask, x)] == [0]
    with pytest.raises(ShapeError, match="condition and one or two"):
        where.output_shape(x)
