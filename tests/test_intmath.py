"""FloorDiv folding and the conv/pool size rules, against plain integer arithmetic."""

import sympy
import pytest
from hypothesis import given, strategies as st

from costgraph import CostGraphError
from costgraph.intmath import FloorDiv, ceil_div, conv_out, pool_out
from costgraph.symbols import H, W

from .strategies import big_sizes, sizes, window


def torch_pooling_output_shape(n, k, s, p, d, ceil_mode):
    """PyTorch's rule, transcribed from torch/_meta_registrations.py
    (pooling_output_shape_pad_lr, torch 2.13.0), with pad_l = pad_r = p;
    div_rtn rounds toward minus infinity, as Python's // does."""
    out = (n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def value(expr, **sizes):
    return int(expr.xreplace({sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}))


@given(big_sizes, st.integers(1, 50), st.integers(1, 50))
def test_nested_floordiv_equals_nested_integer_division(h, m, n):
    folded = FloorDiv(FloorDiv(H, m), n)
    assert folded == FloorDiv(H, m * n)
    assert value(folded, H=h) == (h // m) // n


@given(big_sizes, st.integers(1, 12), st.integers(1, 12), st.integers(-30, 30), st.integers(-30, 30))
def test_floor_with_constants_between_equals_integer_computation(h, m, n, c1, c2):
    expr = FloorDiv(FloorDiv(H + c1, m) + c2, n)
    assert value(expr, H=h) == ((h + c1) // m + c2) // n


@given(st.lists(st.tuples(st.integers(1, 7), st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=6), sizes)
def test_conv_chains_fold_and_stay_exact(layers, h):
    """A chain of conv size rules (k, p, s) equals the nested integer computation."""
    expr, n = H, h
    for k, p, s in layers:
        p = min(p, k // 2)
        expr = conv_out(expr, k, s, p)
        n = (n + 2 * p - (k - 1) - 1) // s + 1
    # folded: no FloorDiv inside another
    for atom in expr.atoms(FloorDiv):
        assert not atom.args[0].atoms(FloorDiv)
    assert value(expr, H=h) == n


def test_vgg_floors_fold_to_powers_of_two():
    expr = H
    for _ in range(5):
        expr = pool_out(conv_out(expr, 3, 1, 1), 2, 2)
    assert expr == FloorDiv(H, 32)


def test_resnet_stem_is_ceil_of_quarter():
    # conv 7/2 pad 3, then max pool 3/2 pad 1: ceil(H/4), derived by hand
    stem = pool_out(conv_out(H, 7, 2, 3), 3, 2, 1)
    assert stem == ceil_div(H, 4)
    for h in range(1, 2000):
        assert value(stem, H=h) == -(-h // 4)


def test_ceil_and_floor_forms_coincide():
    assert FloorDiv(H - 1, 2) + 1 == FloorDiv(H + 1, 2) == ceil_div(H, 2)


def test_multiplied_inner_floor_is_not_folded():
    expr = FloorDiv(3 * FloorDiv(H, 32), 7)
    assert expr != FloorDiv(3 * H, 224)
    # at H = 95: 3 * (95 // 32) // 7 = 6 // 7 = 0, while 3 * 95 // 224 = 285 // 224 = 1
    assert value(expr, H=95) == 0
    assert value(FloorDiv(3 * H, 224), H=95) == 1


@given(st.data(), sizes)
def test_conv_out_matches_pytorch_formula(data, n):
    k, s, p, d = data.draw(window())
    expected = torch_pooling_output_shape(n, k, s, p, d, False)
    assert value(conv_out(H, k, s, p, d), H=n) == expected
    assert conv_out(n, k, s, p, d) == expected


@given(st.data(), sizes)
def test_pool_out_ceil_mode_matches_pytorch_rule(data, n):
    k, s, p, d = data.draw(window())
    ceil_mode = data.draw(st.booleans())
    expected = torch_pooling_output_shape(n, k, s, p, d, ceil_mode)
    assert value(pool_out(H, k, s, p, d, ceil_mode), H=n) == expected


def test_pool_out_ceil_mode_exhaustive_small_grid():
    """Every case of a small grid, including those where plain ceil is wrong."""
    wrong_plain_ceil = 0
    for k in range(1, 5):
        for s in range(1, 5):
            for d in range(1, 3):
                eff = d * (k - 1) + 1
                for p in range(0, eff // 2 + 1):
                    expr = pool_out(H, k, s, p, d, True)
                    for n in range(1, 40):
                        expected = torch_pooling_output_shape(n, k, s, p, d, True)
                        assert value(expr, H=n) == expected, (n, k, s, p, d)
                        wrong_plain_ceil += -(-(n + 2 * p - eff) // s) + 1 != expected
    assert wrong_plain_ceil > 0  # the grid does contain cases the correction matters for


def test_floordiv_refuses_bad_divisors_and_rational_bases():
    with pytest.raises(CostGraphError):
        FloorDiv(H, 0)
    with pytest.raises(CostGraphError):
        FloorDiv(H, -2)
    with pytest.raises(CostGraphError):
        FloorDiv(H / 2, 3)


def test_printing():
    assert str(FloorDiv(H - 1, 4)) == "floor((H + 3)/4) - 1"
    assert sympy.latex(FloorDiv(H, 2)) == r"\left\lfloor \frac{H}{2} \right\rfloor"
    assert sympy.pycode(FloorDiv(H * W, 2)) == "((H*W) // 2)"


@given(st.integers(1, 2000), st.integers(1, 16))
def test_adaptive_window_sum_equals_window_by_window(n, out):
    """PyTorch's adaptive pooling windows [floor(i*n/o), ceil((i+1)*n/o)) summed one by one
    (aten/src/ATen/native/AdaptivePooling.h, start_index / end_index)."""
    from costgraph.kinds.pool import adaptive_window_sum

    by_window = sum(-(-(i + 1) * n // out) - (i * n) // out for i in range(out))
    assert adaptive_window_sum(n, out) == by_window
    assert value(adaptive_window_sum(H, out), H=n) == by_window
    # composed with a floor, as after a strided layer
    assert value(adaptive_window_sum(FloorDiv(H + 1, 32), out), H=32 * n) == sum(
        -(-(i + 1) * ((32 * n + 1) // 32) // out) - (i * ((32 * n + 1) // 32)) // out for i in range(out)
    )
