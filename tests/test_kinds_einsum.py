"""Einsum: the equation parser (strict: a specification, never code) and the costs, by hand.

MACs by hand: with labels contracted between two operands, torch runs one
``bmm`` over every remaining label, so MACs = product of the sizes of the
output labels and the contracted ones; labels in one operand only are summed
first; without a contracted label torch multiplies elementwise (no MACs).
The same against FlopCounterMode is in tests/test_kinds_torch.py.
"""

import pytest
import sympy

from costgraph.errors import CostGraphError, ShapeError
from costgraph.kinds import Einsum
from costgraph.kinds.matmul import parse_einsum
from costgraph.symbols import N, S


def test_implicit_output_is_torchs():
    # letters once, alphabetical; ellipsis first
    assert parse_einsum("ij,jk")[1] == ("i", "k")
    assert parse_einsum("ba")[1] == ("a", "b")
    assert parse_einsum("j...i,ik")[1] == ("...", "j", "k")
    assert parse_einsum(" i j , j k -> i k ")[1] == ("i", "k")


@pytest.mark.parametrize(
    "equation, message",
    [
        ("ij,jk->ik->i", "at most one '->'"),
        ("ij-jk", "at most one '->'"),
        ("i1,jk", "unexpected characters"),
        ("__import__('os')", "unexpected characters"),
        ("i..j,jk", "one '...' per term"),
        ("ij,jk->ii", "repeated"),
        ("ij,jk->iz", "appear in no operand"),
        ("...ij,jk->ik", "keep '...'"),
        ("->i", "no operands"),
        ("ij,jk->i,k", "one output term"),
        (b"ij", "must be a string"),
        (["ij"], "must be a string"),
        ("ij,jk,kl->il", "3 operands"),
    ],
)
def test_malformed_equations_are_refused(equation, message):
    with pytest.raises(CostGraphError, match=message):
        Einsum(equation)


def test_attention_scores_by_hand():
    kind = Einsum("bhqd,bhkd->bhqk")
    q, k = (N, 4, S, 16), (N, 4, 10, 16)
    out = kind.output_shape(q, k)
    assert out == (N, 4, S, 10)
    # N*4*S*10 outputs, 16 products each
    assert kind.macs(out, q, k) == 640 * N * S
    assert kind.other_flops(out, q, k) == 0
    assert [s.index for s in kind.saved_tensors(out, q, k)] == [1, 0]
    assert kind.backward_macs(out, q, k, needs_input_grad=(True, False)) == 640 * N * S


def test_label_summed_in_one_operand_is_summed_first():
    kind = Einsum("ijk,jl->il")
    a, b = (3, 4, 2), (4, 5)
    out = kind.output_shape(a, b)
    assert out == (3, 5)
    # k summed first: 24 -> 12 elements, 12 additions; then 3*5 outputs x 4
    assert (kind.macs(out, a, b), kind.other_flops(out, a, b)) == (60, 12)
    # the reduced left operand (12 elements) is kept for the right's gradient
    saved = kind.saved_tensors(out, a, b)
    assert [(s.source, s.numel) for s in saved] == [("input", None), ("extra", 12)]


def test_outer_product_is_a_product_not_macs():
    kind = Einsum("i,j->ij")
    assert (kind.macs((3, 4), (3,), (4,)), kind.other_flops((3, 4), (3,), (4,))) == (0, 12)
    # fvcore's einsum_flop_jit: numpy's einsum_path reports 12 products + 1, halved and floored
    assert kind.flop_terms((3, 4), (3,), (4,)) == {"mul": 12, "einsum_fvcore": 6}


def test_ellipsis_broadcasts():
    kind = Einsum("...ij,jk->...ik")
    assert kind.output_shape((N, 2, S, 8), (8, 5)) == (N, 2, S, 5)
    both = Einsum("...ij,...jk->...ik")
    assert both.output_shape((N, 1, S, 8), (3, 8, 5)) == (N, 3, S, 5)  # ellipsis dims (N, 1) and (3,) broadcast


def test_one_operand_views_and_sums():
    transpose, diagonal, total = Einsum("ij->ji"), Einsum("ii->i"), Einsum("ij->")
    assert transpose.output_shape((2, 3)) == (3, 2) and not transpose.materializes
    assert diagonal.output_shape((S, S)) == (S,) and not diagonal.materializes
    assert total.output_shape((2, 3)) == () and total.materializes
    assert total.other_flops((), (2, 3)) == 5  # 6 elements, 5 additions
    assert total.saved_tensors((), (2, 3)) == ()


def test_shapes_must_fit():
    with pytest.raises(ShapeError, match="sizes 4 and 5"):
        Einsum("ij,jk->ik").output_shape((3, 4), (5, 6))
    with pytest.raises(ShapeError, match="does not fit"):
        Einsum("ij,jk->ik").output_shape((3, 4, 1), (4, 6))
    with pytest.raises(ShapeError, match="takes 2 operands"):
        Einsum("ij,jk->ik").output_shape((3, 4))
    assert sympy.sympify(Einsum("ii->").other_flops((), (S, S))) == S - 1
