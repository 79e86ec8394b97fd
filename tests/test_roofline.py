"""Roofline time against hand derivations: max(FLOPs / peak, bytes / bandwidth) per layer, summed exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from costgraph import N, Network, S
from costgraph.errors import CostGraphError
from costgraph.hardware import Device
from costgraph.kinds import Input, Linear, ReLU
from costgraph.models import decoder, gpt2, resnet50, vgg16
from costgraph.roofline import LABEL, llm_figures, pass_seconds

# a device with round figures, so the hand derivations stay readable: 100 FLOP/s (fp32), 10 B/s
TOY = Device("toy", {"fp32": 100, "bf16": 200}, bandwidth=10, memory=10**6)


def mlp():
    net = Network("mlp")
    net.add("x", Input((64,)))
    net.add("fc", Linear(64, 100))
    net.add("relu", ReLU())
    return net


def test_one_linear_layer_by_hand():
    # fc at batch N: FLOPs 2*64*100 N (bias adds make it exactly 2 per MAC); bytes 4*(64N + 6500 + 100N)
    # relu: FLOPs 100N; bytes 4*(100N + 100N)
    net = mlp()
    r = net.roofline(TOY, "fp32", N=1)
    fc, relu = r.rows[1], r.rows[2]
    assert (fc.flops, fc.bytes_moved) == (12800, 4 * (64 + 6500 + 100))
    assert fc.seconds == Fraction(4 * 6664, 10) and fc.bound == "memory"  # 2665.6 s > 128 s
    assert relu.seconds == Fraction(800, 10) and relu.bound == "memory"
    assert r.seconds == Fraction(4 * 6664 + 800, 10)
    # at batch 10**6 the weights amortize: compute 12.8e9 / 100 = 1.28e8 s > memory 4*(164e6 + 6500)/10 s
    big = net.roofline(TOY, "fp32", N=10**6).rows[1]
    assert big.seconds == Fraction(12800 * 10**6, 100) and big.bound == "compute"


def test_symbolic_total_is_a_sum_of_max_terms_that_evaluates_to_the_exact_figure():
    net = mlp()
    formula = net.roofline(TOY, "fp32").seconds
    # by hand: fc Max(12800 N / 100, 4 (164 N + 6500) / 10), relu Max(100 N / 100, 800 N / 10)
    fc = sympy.Max(128 * N, sympy.Rational(328, 5) * N + 2600)
    relu = sympy.Max(N, 80 * N)
    for n in (1, 7, 10**6):
        assert Fraction(str(formula.xreplace({N: n}))) == net.roofline(TOY, "fp32", N=n).seconds
        assert formula.xreplace({N: n}) == (fc + relu).xreplace({N: n})


def test_dtype_halves_the_bytes_and_uses_its_own_peak():
    net = mlp()
    fp32, bf16 = net.roofline(TOY, "fp32", N=3), net.roofline(TOY, "bf16", N=3)
    assert bf16.rows[1].bytes_moved * 2 == fp32.rows[1].bytes_moved
    # bf16 at batch 10**6: compute 12.8e9 / 200 = 6.4e7 s > memory 2*(164e6 + 6500)/10 s
    assert net.roofline(TOY, "bf16", N=10**6).rows[1].seconds == Fraction(12800 * 10**6, 200)
    # fp32 tensors on the bf16 peak: the compute term is FLOPs / 200
    row = net.roofline(TOY, "fp32", compute_dtype="bf16", N=10**6).rows[1]
    assert row.seconds == max(Fraction(row.flops, 200), Fraction(row.bytes_moved, 10))


def test_training_adds_backward_flops_and_bytes():
    # fc's input is data: backward computes only the weight gradient, 6400 N MACs = 12800 N FLOPs;
    # bytes: forward 4*(64N + 6500 + 100N) + backward 4*(100N grad + 64N saved + 6500 written); the
    # weights are not read, as the input needs no gradient
    net = mlp()
    row = net.roofline(TOY, "fp32", training=True, N=2).rows[1]
    assert row.flops == 2 * 12800 + 2 * 12800
    assert row.bytes_moved == 4 * (64 * 2 + 6500 + 100 * 2) + 4 * (100 * 2 + 64 * 2 + 6500)


def test_rows_sum_to_the_total_and_label_says_lower_bound():
    r = vgg16().roofline("h100", "bf16", H=224, N=8)
    assert r.seconds == sum((row.seconds for row in r.rows), Fraction(0))
    assert r.compute_seconds + r.memory_seconds == r.seconds
    assert "lower bound" in r.label == LABEL and "lower bound" in str(r)


def test_fused_attention_is_never_slower():
    net = gpt2("small")
    unfused = net.roofline("a100-80gb", "bf16", S=1024, N=4).seconds
    fused = net.roofline("a100-80gb", "bf16", fused_attention=True, S=1024, N=4).seconds
    assert fused <= unfused


def test_unknown_dtype_for_the_device_is_an_error():
    with pytest.raises(CostGraphError, match="no peak FLOP/s for bf16"):
        resnet50().roofline("t4", "bf16", H=224)


def test_pass_seconds_of_a_decoder_step_by_hand():
    # a tiny decoder's forward at S=1, N=1 (one token, nothing cached): read every weight at least once,
    # so bytes / bandwidth dominates; the bound is exactly max(flops / peak, bytes / bandwidth)
    net = decoder(layers=2, d_model=64, heads=4, kv_heads=4, d_ff=128, vocab=100)
    totals = net.totals("bf16", S=1, N=1)
    seconds = pass_seconds(totals, TOY, "bf16")
    assert seconds == max(Fraction(totals.flops, 200), Fraction(totals.bytes_moved, 10))
    # every parameter outside the lookup tables is read at least once (a lookup reads only its rows)
    tables = sum(
        int(net.graph.nodes[n]["cost"].weights) for n in net if net.layer(n).kind in ("Embedding", "PositionalEmbedding")
    )
    assert totals.bytes_moved >= 2 * (totals.params - tables)
    # without sizes: Max(flops / 200, bytes / 10) as a formula, equal to the exact figure at S=1, N=1
    formula = pass_seconds(net.totals("bf16"), TOY, "bf16")
    assert Fraction(str(formula.xreplace({S: 1, N: 1}))) == seconds


def test_llm_figures_prefill_and_decode_when_available():
    net = decoder(layers=2, d_model=64, heads=4, kv_heads=4, d_ff=128, vocab=100)
    figures = llm_figures(net, TOY, "bf16", batch=2, context=16)
    assert figures["prefill_seconds"] == net.roofline(TOY, "bf16", fused_attention=True, N=2, S=16).seconds
    if hasattr(net, "decode_step"):  # the llm-runtime branch adds it
        step = net.decode_step("bf16", S=17, N=2)
        assert figures["token_seconds"] == pass_seconds(step, TOY, "bf16")
        assert figures["tokens_per_second"] == 2 / figures["token_seconds"]
    else:
        assert figures["token_seconds"] is None and figures["tokens_per_second"] is None
    formulas = llm_figures(net, TOY, "bf16")  # in N and S
    assert Fraction(str(formulas["prefill_seconds"].xreplace({N: 2, S: 16}))) == figures["prefill_seconds"]
    with pytest.raises(CostGraphError, match="sequence length"):
        llm_figures(vgg16(), TOY, batch=1, context=16)
    with pytest.raises(CostGraphError, match="both batch and context"):
        llm_figures(net, TOY, context=16)


def test_roofline_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib") if __import__("os").environ.get("CI") != "true" else None
    from costgraph.hardware import device
    from costgraph.render.plot import roofline_figure, save_figure

    r = resnet50().roofline("h100", "bf16", H=64, N=2)
    path = tmp_path / "roofline.png"
    save_figure(roofline_figure("resnet50", r, device("h100")), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(CostGraphError, match="symbolic"):
        roofline_figure("resnet50", resnet50().roofline("h100", "bf16"), device("h100"))


def test_a_network_of_only_views_still_works():
    net = Network("views")
    net.add("x", Input((S, 4)))
    r = net.roofline(TOY, "fp32", S=3)
    assert r.seconds == 0 and r.rows[0].bound == "memory"


def test_cli_roofline(capsys, tmp_path):
    from costgraph.cli import main

    assert main(["roofline", "resnet18", "--device", "h100", "--batch", "8", "--top", "3"]) == 0
    out = capsys.readouterr().out
    from costgraph.models import resnet18

    total = float(resnet18().roofline("h100", "bf16", H=224, N=8).seconds)
    assert f"{total:.6g} s" in out and "lower bound" in out
    assert out.count("\n| ") == 5  # the header, the 3 slowest layers, "(n more layers)"
    assert main(["roofline", "gpt2", "--device", "a100", "--size", "S=128", "--format", "json"]) == 0
    assert '"label": "ideal lower bound' in capsys.readouterr().out
    for bad in (["roofline", "resnet18", "--device", "t4"], ["roofline", "resnet18"], ["roofline", "resnet18", "--device", "x"]):
        assert main(bad) == 2, bad
    assert capsys.readouterr().err.count("costgraph: error: ") == 3
