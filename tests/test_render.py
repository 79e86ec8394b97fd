"""Renderers: human units, Markdown/LaTeX/CSV/JSON tables, sweeps, notebook display, PNG encoding.

Sources of truth, named in each test: hand arithmetic written in the test,
the seed's VGG16 table (/work/shared/seeds, "TOTAL params: 138M",
"15M * 4 bytes ~= 60MB"), issue 2's exact VGG16 totals (params 138,357,544,
activations 15,237,608, MACs 15,470,264,320), `sympy.latex` itself for
LaTeX, and an independent PNG decoder (Pillow, when installed) for PNGs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib

import pytest
import sympy
from hypothesis import given, strategies as st

from costgraph import H, N, S, W, FloorDiv, Network
from costgraph.kinds import Conv2d, Embedding, Flatten, Input, Linear, ReLU
from costgraph.models import vgg16
from costgraph.render import (
    human_bytes,
    human_count,
    rows_csv,
    rows_json,
    rows_latex,
    rows_markdown,
    table_document,
    thousands,
    totals_latex,
    totals_markdown,
)
from costgraph.render.sweep import evaluate_totals, size_grid, sweep
from costgraph.totals import LayerTable

# Issue 2's exact VGG16 totals at 224x224, batch 1 (the seed rounds them to 138M, 15M, 60MB).
VGG16_PARAMS = 138_357_544
VGG16_ACTIVATIONS = 15_237_608
VGG16_MACS = 15_470_264_320


@pytest.fixture(scope="module")
def net():
    return vgg16()


def markdown_rows(table: str) -> list[list[str]]:
    """Cells of a Markdown table, header included, rule line skipped."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if not line.startswith("|:")]


# -- human units -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (999, "999"),  # below 1000: exact
        (1728, "1.7K"),  # the seed's conv1_1 weights, "1.7K"
        (36_864, "36.9K"),  # 36.864K rounds half up to 36.9K
        (102_760_448, "102.8M"),  # the seed's fc1 "102.7M" truncates; we round
        (VGG16_PARAMS, "138.4M"),  # 138.357544M
        (VGG16_MACS, "15.5B"),  # 15.47026432 billion: B for billions (issue 16)
        (6_738_415_616, "6.7B"),  # Llama 2 7B's parameters (Touvron et al. 2023 / HF's count), "6.7B" not "6.7G"
        (999_950, "1.0M"),  # 999.95K rounds to 1000.0K, shown as 1.0M
        (-1500, "-1.5K"),
        (10**19, "10000000.0T"),  # past trillions: still T, never an ambiguous letter
    ],
)
def test_human_count_by_hand(value, text):
    assert human_count(value) == text


@pytest.mark.parametrize(
    "value, binary, text",
    [
        (60_950_432, True, "58.1 MiB"),  # 60950432 / 2**20 = 58.127...
        (60_950_432, False, "61.0 MB"),  # the seed's "~= 60MB / image", exactly 60.95 MB
        (1_500, False, "1.5 kB"),
        (2 * 60_950_432, False, "121.9 MB"),
        (512, True, "512 B"),
        (2**30, True, "1.0 GiB"),
        (1536, True, "1.5 KiB"),
    ],
)
def test_human_bytes_by_hand(value, binary, text):
    assert human_bytes(value, binary=binary) == text


def test_bytes_are_decimal_by_default():
    """One unit convention (README): MB = 10**6 bytes everywhere unless binary units are asked for."""
    assert human_bytes(60_950_432) == "61.0 MB"


@given(st.integers(1000, 10**20))
def test_human_count_is_within_half_a_tenth_of_the_value(value):
    text = human_count(value)
    match = re.fullmatch(r"(\d+)\.(\d)([KMBT])", text)
    assert match, text
    power = 3 * "KMBT".index(match.group(3)) + 3
    tenths = int(match.group(1)) * 10 + int(match.group(2))
    # |tenths * 10**power / 10 - value| <= half a tenth of the unit
    assert abs(tenths * 10**power - 10 * value) <= 10**power // 2
    assert int(match.group(1)) < 1000 or match.group(3) == "T"


def test_counts_are_never_floats():
    with pytest.raises(TypeError):
        human_count(1.5)
    with pytest.raises(TypeError):
        thousands(True)


# -- the seed's table -------------------------------------------------------------------------
SEED_ROWS = [  # name, channels, spatial size (the seed's table; our pools are named pool1..pool5)
    ("input", 3, 224), ("conv1_1", 64, 224), ("conv1_2", 64, 224), ("pool1", 64, 112),
    ("conv2_1", 128, 112), ("conv2_2", 128, 112), ("pool2", 128, 56),
    ("conv3_1", 256, 56), ("conv3_2", 256, 56), ("conv3_3", 256, 56), ("pool3", 256, 28),
    ("conv4_1", 512, 28), ("conv4_2", 512, 28), ("conv4_3", 512, 28), ("pool4", 512, 14),
    ("conv5_1", 512, 14), ("conv5_2", 512, 14), ("conv5_3", 512, 14), ("pool5", 512, 7),
    ("fc1", 4096, None), ("fc2", 4096, None), ("fc3", 1000, None),
]  # fmt: skip


def test_markdown_table_has_the_seed_rows_and_hides_views(net):
    table = rows_markdown(net.layers(H=224), exact=True)
    cells = markdown_rows(table)
    header, body = cells[0], cells[1:]
    assert header == ["name", "kind", "kernel", "stride", "padding", "channels", "size", "params", "activations", "macs"]
    assert [row[0] for row in body[:-1]] == [name for name, _, _ in SEED_ROWS]
    for row, (name, channels, size) in zip(body, SEED_ROWS):
        assert row[5] == str(channels)
        if size is None:
            assert row[6] == "" and row[8] == f"{channels:,}"  # fc: C features, C elements
        else:
            assert row[6] == f"{size}x{size}"
            assert row[8] == f"{channels * size * size:,}"  # the seed's memory = C*H*W
    conv1_1 = body[1]
    # hand: (3*3*3)*64 weights + 64 biases; 64*224*224 outputs of 27 MACs each
    assert conv1_1[2:5] == ["3", "1", "1"]
    assert conv1_1[7] == f"{27 * 64 + 64:,}" and conv1_1[9] == f"{27 * 64 * 224 * 224:,}"
    assert body[-1][0] == "**total**"
    assert body[-1][7:] == [f"{VGG16_PARAMS:,}", f"{VGG16_ACTIVATIONS:,}", f"{VGG16_MACS:,}"]
    every = markdown_rows(rows_markdown(net.layers(H=224), all_layers=True))
    assert "relu1_1" in [row[0] for row in every] and "flatten" in [row[0] for row in every]


def test_human_table_cells_follow_the_seed_units(net):
    body = markdown_rows(rows_markdown(net.layers(H=224)))[1:]
    fc1 = next(row for row in body if row[0] == "fc1")
    # hand: 7*7*512*4096 + 4096 = 102,764,544 params -> 102.8M; 4096 outputs -> 4.1K
    assert fc1[7] == "102.8M" and fc1[8] == "4.1K"
    assert body[-1][7:] == ["138.4M", "15.2M", "15.5B"]


def test_totals_markdown_states_exact_numbers_flop_convention_and_memory(net):
    text = totals_markdown(net.totals(H=224))
    assert f"{VGG16_PARAMS:,}" in text and f"{VGG16_MACS:,}" in text
    assert "FLOPs = 2 per multiply-accumulate" in text
    # the seed: "15M * 4 bytes ~= 60MB / image (only forward! ~*2 for bwd)"
    memory = text.splitlines()[-1]
    assert memory.startswith("memory: forward 61.0 MB (")
    assert f"{VGG16_ACTIVATIONS:,} activations x 4 bytes" in memory
    # the seed's guess, labelled as one: the memory model's figures are another line (memory_model_line)
    assert "rule of thumb (the seed's, not the memory model): with backward about 2x (121.9 MB)" in memory


def test_fp16_halves_the_memory_line(net):
    text = totals_markdown(net.totals(H=224, dtype="fp16"))
    assert f"{VGG16_ACTIVATIONS * 2:,}" in text and "x 2 bytes, fp16" in text


def test_symbolic_markdown_shows_formulas(net):
    table = rows_markdown(net.layers())
    assert "`64*N*floor(H/2)*floor(W/2)`" in table  # pool1's 64 x H/2 x W/2 elements
    assert "**total**" not in table  # symbolic sums are left to the totals
    totals = totals_markdown(net.totals())
    assert f"`{net.totals().macs}`" in totals


# -- LaTeX ---------------------------------------------------------------------------------------
def test_latex_table_is_booktabs_with_consistent_columns(net):
    tex = rows_latex(net.layers(H=224))
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{llrrrrlrrr}" and lines[-1] == r"\end{tabular}"
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in lines
    rows = [line for line in lines if line.endswith(r"\\")]
    assert all(line.count(" & ") == 9 for line in rows)
    assert r"conv1\_1 & Conv2d" in tex  # underscores escaped


def test_symbolic_latex_cells_are_sympy_latex(net):
    symbolic = net.layers()
    tex = rows_latex(symbolic)
    for row in symbolic:
        if row.macs != 0:
            assert f"${sympy.latex(row.macs)}$" in tex


def test_totals_latex_is_sympy_latex_of_each_total(net):
    totals = net.totals()
    lines = totals_latex(totals).splitlines()
    assert lines[0] == r"\begin{align*}" and lines[-1] == r"\end{align*}"
    rhs = [line.split("&= ", 1)[1].removesuffix(r" \\") for line in lines[1:-1]]
    expected = [totals.params, totals.weights, totals.biases, totals.activations, totals.activation_bytes, totals.macs, totals.flops]
    assert rhs == [sympy.latex(e) for e in expected]


def test_latex_of_a_squared_floor():
    """sympy passes `exp` to FloorDiv's printer for floor(H/16)**2 (ViT's token count)."""
    assert sympy.latex(FloorDiv(H, 16) ** 2) == r"\left\lfloor \frac{H}{16} \right\rfloor^{2}"


# -- machine formats ----------------------------------------------------------------------------
def test_csv_parses_back_to_the_totals(net):
    totals = net.totals(H=224)
    records = list(csv.DictReader(io.StringIO(rows_csv(net.layers(H=224), totals))))
    *layers, total = records
    assert total["name"] == "total"
    for field in ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops"):
        assert int(total[field]) == getattr(totals, field)
        assert sum(int(r[field]) for r in layers) == getattr(totals, field)  # no tied weights in VGG
    assert int(total["params"]) == VGG16_PARAMS and int(total["macs"]) == VGG16_MACS
    assert (layers[1]["channels"], layers[1]["size"], layers[1]["kernel"]) == ("64", "224x224", "3")


def test_json_parses_back_to_the_totals(net):
    totals = net.totals(H=224, N=2)
    doc = json.loads(json.dumps(rows_json(net.layers(H=224, N=2), totals, model="vgg16")))
    assert doc["totals"] == totals.as_dict()
    assert doc["sizes"] == {"H": 224, "W": 224, "N": 2}
    assert doc["totals"]["activations"] == 2 * VGG16_ACTIVATIONS  # activations are linear in N
    assert sum(layer["macs"] for layer in doc["layers"]) == totals.macs
    assert doc["memory"]["rule_of_thumb_with_backward_2x_bytes"] == 2 * doc["memory"]["forward_activation_bytes"]
    assert "2 per multiply-accumulate" in doc["flop_convention"]


def test_symbolic_json_holds_formula_strings(net):
    doc = rows_json(net.layers(), net.totals())
    # one bias per output channel, by hand: the 13 convs' widths 2x64 + 2x128 + 3x256 + 6x512 = 4224,
    # the three fc layers' 4096 + 4096 + 1000 = 9192; together 13416
    biases = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 4096 + 4096 + 1000
    assert int(doc["totals"]["biases"]) == biases == 13416  # a constant stays a number (a plain integer string)
    assert doc["totals"]["macs"] == str(net.totals().macs)


# -- tied parameters ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tied():
    """Embedding(100, 8) tied to a bias-free head: 800 parameters, counted once (hand)."""
    net = Network("tied")
    net.add("ids", Input((S,)))
    net.add("wte", Embedding(100, 8))
    net.add("lm_head", Linear(8, 100, bias=False), shares="wte")
    return net


def test_tied_parameters_are_counted_once_in_every_format(tied):
    rows, totals = tied.layers(S=5), tied.totals(S=5)
    body = markdown_rows(rows_markdown(rows, exact=True))[1:]
    assert [row[7] for row in body] == ["", "800", "(800)", "800"]  # ids, wte, lm_head (tied), total
    records = list(csv.DictReader(io.StringIO(rows_csv(rows, totals))))
    assert records[2]["shares"] == "wte" and records[-1]["params"] == "800"
    assert "tied to another layer" in table_document("tied", rows, totals)


# -- documents and notebooks ----------------------------------------------------------------------
def test_table_document_main_job(net):
    text = table_document("vgg16", net.layers(H=224), net.totals(H=224))
    assert text.startswith("vgg16 at H=224, W=224, N=1\n")
    assert "18 layers without parameters, MACs or a new tensor are hidden (15 ReLU, 2 Dropout, 1 Flatten)" in text
    assert "with backward about 2x" in text
    with pytest.raises(ValueError):
        table_document("vgg16", net.layers(H=224), net.totals(H=224), fmt="xml")


def test_notebook_display(net):
    totals = net.totals()
    assert totals._repr_markdown_() == totals_markdown(totals)
    latex = totals._repr_latex_()
    assert latex.startswith(r"$\begin{aligned}") and latex.endswith(r"\end{aligned}$")
    assert sympy.latex(totals.macs) in latex
    rows = net.layers(H=224)
    assert isinstance(rows, LayerTable) and isinstance(rows, list)
    assert "relu1_1" in rows._repr_markdown_()  # notebooks show every layer
    array = rows._repr_latex_()
    assert array.startswith(r"$\begin{array}") and r"\text{conv1\_1}" in array


# -- sweeps ----------------------------------------------------------------------------------------
def test_size_grid_is_a_product_in_order():
    assert size_grid({"H": [1, 2], "N": [3, 4]}) == [
        {"H": 1, "N": 3}, {"H": 1, "N": 4}, {"H": 2, "N": 3}, {"H": 2, "N": 4},
    ]  # fmt: skip


def test_sweep_equals_totals_and_the_hand_formula(net):
    sizes = list(range(128, 513, 32))
    rows = sweep(net, {"H": sizes})
    assert [r["H"] for r in rows] == sizes and all(r["W"] == r["H"] and r["N"] == 1 for r in rows)
    for row in rows:
        # fc1 sees 512*(H//32)**2 features: params = 138,357,544 + 512*4096*((H//32)**2 - 7*7)
        assert row["params"] == VGG16_PARAMS + 512 * 4096 * ((row["H"] // 32) ** 2 - 49)
        assert {k: row[k] for k in net.totals().as_dict()} == net.totals(H=row["H"]).as_dict()
    assert evaluate_totals(net, [{"H": 224}])[0].macs == VGG16_MACS


# -- PNG encoding ---------------------------------------------------------------------------------
def decode_png(data: bytes):
    """A small independent PNG decoder (8-bit RGB/RGBA, filters 0-4) for the test."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        chunks.append((kind, body))
        pos += 12 + length
    width, height, depth, color, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {2: 3, 6: 4}[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    previous, rows = bytearray(stride), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, upleft = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def test_png_bytes_round_trip():
    np = pytest.importorskip("numpy")
    from costgraph.render.plot import png_bytes

    rng = np.random.default_rng(0)
    for channels in (3, 4):
        pixels = rng.integers(0, 256, size=(7, 5, channels), dtype=np.uint8)
        width, height, got_channels, rows = decode_png(png_bytes(pixels))
        assert (width, height, got_channels) == (5, 7, channels)
        assert b"".join(rows) == pixels.tobytes()
    opaque = np.full((3, 2, 4), 255, dtype=np.uint8)
    assert decode_png(png_bytes(opaque))[2] == 3  # opaque RGBA is written as RGB
    assert png_bytes(opaque) == png_bytes(opaque.copy())  # no timestamps, no metadata


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    import sys

    from costgraph import CostGraphError
    from costgraph.render import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(CostGraphError, match=r"pip install 'costgraph\[plot\]'"):
        plot.require_matplotlib()


def test_resolution_axis_for_images_and_sequences():
    from costgraph.render.plot import _sweep_points, resolution_axis

    image = Network("image")
    image.add("input", Input((3, H, W)))
    image.add("conv", Conv2d(3, 4, 5))  # valid from H = 5: 5 - 5 + 1 = 1 (hand)
    image.add("relu", ReLU(inplace=True))
    image.add("flatten", Flatten())
    assert resolution_axis(image, {"H": 20}) == "H"
    values, fixed = _sweep_points(image, "H", {"H": 20})
    assert values[0] == 5 and values[-1] == 40 and 20 in values and fixed == {}
    sequence = Network("sequence")
    sequence.add("ids", Input((S,)))
    sequence.add("wte", Embedding(10, 4))
    assert resolution_axis(sequence, {"S": 16}) == "S"


def test_sweep_vectorized_equals_one_call_per_point():
    """The vectorized sweep gives exactly what `Network.totals` gives point by point."""
    from costgraph import models
    from costgraph.render.sweep import evaluate_totals

    net = models.resnet18()
    points = [{"H": h, "W": w, "N": n} for h, w, n in [(32, 32, 1), (225, 193, 2), (161, 287, 3), (2**40 + 7, 33, 1)]]
    together = evaluate_totals(net, points)
    for point, totals in zip(points, together):
        alone = net.totals(**point)
        assert totals.as_dict() == alone.as_dict() and totals.sizes == alone.sizes
        assert totals.bytes_moved == alone.bytes_moved and totals.active_params == alone.active_params
        assert all(type(v) is int for v in totals.as_dict().values())


def test_resolution_plot_skips_a_pinned_size():
    """Whisper's encoder adds its 1500-row position table whole (HF accepts exactly 3000 mel frames):
    S = 1500 is its only valid value, so sweeping S drew one point (and matplotlib warned about
    identical x limits).  The plot sweeps the decoder length T (1..448 learned positions, Whisper's
    max_target_positions) with S held, and the model page says S is fixed."""
    import warnings

    from costgraph.docsgen import model_page
    from costgraph.models import MODELS
    from costgraph.render.plot import _sweep_points, resolution_axis, resolution_figure

    from .support import require

    info = MODELS["whisper_small"]
    net = info.builder()
    assert resolution_axis(net, info.sizes()) == "T"
    values, fixed = _sweep_points(net, "T", info.sizes())
    assert values[0] == 1 and values[-1] == 448 and fixed == {"S": 1500}
    assert "S is fixed at 1500: its only valid value." in model_page("whisper_small", info, net)
    # a sequence model with no pinned size still sweeps S (GPT-2: 1..1024 positions)
    sequence = Network("sequence")
    sequence.add("ids", Input((S,)))
    sequence.add("wte", Embedding(10, 4))
    assert resolution_axis(sequence, {"S": 16}) == "S"
    require("matplotlib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the single-point plot warned: "identical low and high xlims"
        figure = resolution_figure("whisper_small", net, info.sizes())
    assert "S=1500 (its only valid value)" in figure.texts[0].get_text()
