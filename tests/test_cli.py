"""The command line, run as a user runs it: ``python -m costgraph ...`` in a subprocess.

Sources of truth: the seed's VGG16 table (/work/shared/seeds: each row's
channels, size and weights ``(3*3*C_in)*C_out``, "TOTAL memory: 15M * 4 bytes
~= 60MB / image (only forward! ~*2 for bwd)"), from which every expected
number below is derived by hand in the test; issue 2's exact totals
(params 138,357,544, MACs 15,470,264,320); `sympy.latex` and sympy's parser
for the formulas; the PNG specification for the image header.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import struct
import subprocess
import sys

import pytest
import sympy

from costgraph.models import MODELS, vgg16

from .support import require

ROOT = pathlib.Path(__file__).resolve().parents[1]
VGG16_PARAMS = 138_357_544
VGG16_ACTIVATIONS = 15_237_608
VGG16_MACS = 15_470_264_320


def run(*args, check: bool = True, cwd=None, python_code: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m costgraph *args`` (or `python_code`) with this checkout on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-c", python_code] if python_code else [sys.executable, "-m", "costgraph", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    return result


def markdown_rows(text: str) -> list[list[str]]:
    table = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|:"):
            table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table


# The seed's VGG16 rows: name, kind, output channels, output size (None for fc), input
# channels of a conv / input features of an fc.
SEED = [
    ("input", None, 3, 224, None),
    ("conv1_1", "conv", 64, 224, 3), ("conv1_2", "conv", 64, 224, 64), ("pool1", "pool", 64, 112, None),
    ("conv2_1", "conv", 128, 112, 64), ("conv2_2", "conv", 128, 112, 128), ("pool2", "pool", 128, 56, None),
    ("conv3_1", "conv", 256, 56, 128), ("conv3_2", "conv", 256, 56, 256), ("conv3_3", "conv", 256, 56, 256),
    ("pool3", "pool", 256, 28, None),
    ("conv4_1", "conv", 512, 28, 256), ("conv4_2", "conv", 512, 28, 512), ("conv4_3", "conv", 512, 28, 512),
    ("pool4", "pool", 512, 14, None),
    ("conv5_1", "conv", 512, 14, 512), ("conv5_2", "conv", 512, 14, 512), ("conv5_3", "conv", 512, 14, 512),
    ("pool5", "pool", 512, 7, None),
    ("fc1", "fc", 4096, None, 7 * 7 * 512), ("fc2", "fc", 4096, None, 4096), ("fc3", "fc", 1000, None, 4096),
]  # fmt: skip


def seed_row(name, kind, channels, size, fan_in):
    """Expected exact cells (params, memory, MACs), derived from the seed's row by hand."""
    if kind == "conv":
        weights = 3 * 3 * fan_in * channels  # the seed: (3*3*C_in)*C_out
        return weights + channels, channels * size * size, weights * size * size
    if kind == "fc":
        weights = fan_in * channels  # the seed: 7*7*512*4096 etc.
        return weights + channels, channels, weights
    return 0, channels * size * size, 0  # input and pools: no params, no MACs


# -- the main job ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def main_job():
    return run("table", "vgg16", "--H", "224")


def test_main_job_prints_the_seed_table_with_macs(main_job):
    out = main_job.stdout
    assert out.startswith("vgg16 at H=224, W=224, N=1\n")
    table = markdown_rows(out)
    assert table[0] == ["name", "kind", "ksize", "stride", "padding", "channels", "size", "params", "memory", "MACs"]
    names = [row[0] for row in table[1:23]]
    assert names == [row[0] for row in SEED]
    conv1_1 = table[2]
    assert conv1_1[:7] == ["conv1_1", "Conv2d", "3", "1", "1", "64", "224x224"]
    pool1 = table[4]
    assert pool1[:7] == ["pool1", "MaxPool2d", "2", "2", "0", "64", "112x112"]
    assert table[23][0] == "**total**" and table[23][7:10] == ["138.4M", "15.2M", "15.5G"]


def test_main_job_prints_totals_flop_convention_and_memory_line(main_job):
    out = main_job.stdout
    assert f"| params                   | {VGG16_PARAMS:>14,} |" in out
    assert f"{VGG16_MACS:,}" in out
    flops_line = next(line for line in out.splitlines() if line.startswith("| FLOPs"))
    convention = out[out.index(flops_line) :].split("\n\n")[1]
    assert convention.startswith("FLOPs = 2 per multiply-accumulate")  # right below the FLOP figure
    # the seed: "15M * 4 bytes ~= 60MB / image (only forward! ~*2 for bwd)"; hand: 15,237,608 * 4 = 60,950,432
    memory = next(line for line in out.splitlines() if line.startswith("memory: forward"))
    assert memory == (
        "memory: forward 61.0 MB (58.1 MiB = 15,237,608 activations x 4 bytes, fp32) for N=1; "
        "with backward about 2x (121.9 MB)"
    )
    assert "15 ReLU, 2 Dropout, 1 Flatten" in out and "--all shows them" in out


def test_exact_table_matches_the_seed_row_by_row():
    table = markdown_rows(run("table", "vgg16", "--H", "224", "--exact").stdout)
    for cells, seed in zip(table[1:], SEED):
        params, memory, macs = seed_row(*seed)
        assert cells[0] == seed[0]
        assert cells[7:10] == [f"{params:,}" if params else "", f"{memory:,}", f"{macs:,}" if macs else ""], seed[0]
    assert table[23][7:10] == [f"{VGG16_PARAMS:,}", f"{VGG16_ACTIVATIONS:,}", f"{VGG16_MACS:,}"]


def test_all_shows_in_place_and_view_layers():
    names = [row[0] for row in markdown_rows(run("table", "vgg16", "--all").stdout)]
    assert {"relu1_1", "drop_fc1", "flatten"} <= set(names)


def test_console_script_entry_point_is_main():
    """pyproject declares ``costgraph = costgraph.cli:main``; the function exits with its return value."""
    result = run(python_code="import sys; from costgraph.cli import main; sys.exit(main(['table', 'vgg16', '--format', 'csv']))")
    assert result.stdout.splitlines()[-1].startswith(f"total,,,,,,{VGG16_PARAMS},")


# -- formats parse back ---------------------------------------------------------------------------
def test_csv_parses_back_to_totals():
    records = list(csv.DictReader(io.StringIO(run("table", "vgg16", "--H", "256", "--batch", "3", "--format", "csv").stdout)))
    totals = vgg16().totals(H=256, N=3)
    total = records[-1]
    assert total["name"] == "total"
    for field, value in totals.as_dict().items():
        assert int(total[field]) == value
        assert sum(int(r[field]) for r in records[:-1]) == value
    # hand: at H=256 fc1 sees 512*8*8 features, 512*4096*(64-49) more weights than at 224
    assert int(total["params"]) == VGG16_PARAMS + 512 * 4096 * (64 - 49)


def test_json_parses_back_to_totals():
    doc = json.loads(run("table", "vgg16", "--H", "224", "--W", "320", "--format", "json").stdout)
    totals = vgg16().totals(H=224, W=320)
    assert doc["model"] == "vgg16" and doc["sizes"] == {"H": 224, "W": 320, "N": 1}
    assert doc["totals"] == totals.as_dict()
    assert [layer["name"] for layer in doc["layers"]] == list(vgg16())
    assert doc["memory"]["forward_bytes"] == totals.activation_bytes


def test_symbolic_latex_table_uses_sympy_latex():
    tex = run("table", "vgg16", "--symbolic", "--format", "latex").stdout
    totals = vgg16().totals()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    for value in (totals.params, totals.activations, totals.macs, totals.flops):
        assert sympy.latex(value) in tex


def test_formula_latex_is_sympy_latex_of_the_totals():
    lines = run("formula", "vgg16", "--format", "latex").stdout.splitlines()
    body = lines[lines.index(r"\begin{align*}") + 1 : lines.index(r"\end{align*}")]
    totals = vgg16().totals()
    expected = [totals.params, totals.weights, totals.biases, totals.activations, totals.activation_bytes, totals.macs, totals.flops]
    assert [line.split("&= ", 1)[1].removesuffix(r" \\") for line in body] == [sympy.latex(e) for e in expected]


def test_formula_text_parses_in_sympy_and_evaluates_to_the_totals():
    out = run("formula", "vgg16").stdout
    h, w, n = sympy.symbols("H W N")
    names = {"H": h, "W": w, "N": n}  # sympy's parser would read N as its N() function
    formulas = {}
    for line in out.splitlines()[1:]:
        if " = " in line and not line.startswith("valid"):
            name, _, text = line.partition(" = ")
            formulas[name.strip()] = sympy.parse_expr(text.split("    (")[0], local_dict=names)
    assert "valid for square inputs H = W >= 32" in out  # 2**5: five 2x2 pools (hand)
    for sizes in ({"H": 224, "W": 224, "N": 1}, {"H": 161, "W": 287, "N": 3}):
        expected = vgg16().totals(**sizes).as_dict()
        for field in ("params", "activations", "macs", "flops"):
            value = formulas[field].subs({h: sizes["H"], w: sizes["W"], n: sizes["N"]})
            assert int(value) == expected[field], field


# -- sweep ------------------------------------------------------------------------------------------
def test_sweep_csv_gives_one_exact_row_per_size():
    records = list(csv.DictReader(io.StringIO(run("sweep", "vgg16", "--H", "128:512:32").stdout)))
    assert [int(r["H"]) for r in records] == list(range(128, 513, 32))  # stop included: 13 sizes
    net = vgg16()
    for record in records:
        h = int(record["H"])
        assert int(record["W"]) == h and int(record["N"]) == 1
        assert {k: int(record[k]) for k in net.totals().as_dict()} == net.totals(H=h).as_dict()
        assert int(record["params"]) == VGG16_PARAMS + 512 * 4096 * ((h // 32) ** 2 - 49)  # hand, as above


def test_sweep_json_grid_over_width_and_batch():
    doc = json.loads(run("sweep", "vgg16", "--H", "224", "--W", "224,256", "--batch", "1,2", "--format", "json").stdout)
    points = [(r["H"], r["W"], r["N"]) for r in doc["rows"]]
    assert points == [(224, 224, 1), (224, 224, 2), (224, 256, 1), (224, 256, 2)]
    assert doc["rows"][0]["macs"] == VGG16_MACS and doc["rows"][1]["macs"] == 2 * VGG16_MACS  # linear in N


# -- list, plot, help --------------------------------------------------------------------------------
def test_list_covers_the_registry_with_exact_totals():
    doc = json.loads(run("list", "--format", "json").stdout)
    assert [entry["model"] for entry in doc] == sorted(MODELS)
    vgg = next(entry for entry in doc if entry["model"] == "vgg16")
    assert vgg["params"] == VGG16_PARAMS and vgg["macs"] == VGG16_MACS and vgg["sizes"] == {"H": 224, "W": 224, "N": 1}
    text = run("list").stdout
    assert all(f"| {name} " in text for name in MODELS)


def png_size(path: pathlib.Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (PNG spec: signature, then IHDR first)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("kind", ["layers", "resolution"])
def test_plot_writes_a_sensible_png(tmp_path, kind):
    require("matplotlib")
    out = tmp_path / f"vgg16-{kind}.png"
    result = run("plot", "vgg16", "--kind", kind, "--out", str(out))
    assert result.stdout == ""
    width, height = png_size(out)
    assert 600 <= width <= 1600 and 300 <= height <= 1200
    assert out.stat().st_size > 10_000  # a drawn figure, not an empty canvas


COMMANDS = ["list", "table", "formula", "sweep", "plot", "docs"]


def test_help_for_every_command():
    top = run("--help").stdout
    assert all(command in top for command in COMMANDS)
    script = "import sys; from costgraph.cli import main\nfor c in sys.argv[1:]: assert main([c, '--help']) == 0"
    result = run(python_code=script.replace("sys.argv[1:]", repr(COMMANDS)))
    for command in COMMANDS:
        assert f"usage: costgraph {command}" in result.stdout


def test_cli_import_is_cheap():
    """The command line pulls in neither matplotlib nor torch for a table."""
    script = (
        "import sys, io, contextlib; from costgraph.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['table', 'vgg16'])\n"
        "print(sorted(m for m in ('matplotlib', 'torch', 'numpy.testing') if m in sys.modules))"
    )
    assert run(python_code=script).stdout.strip() == "[]"


# -- errors: one line, exit status 2, never a traceback ------------------------------------------------
SUBPROCESS_ERRORS = [  # the cases issue 2 names, run exactly as a user would
    (["table", "vgg16", "--H", "0"], "size H must be a positive integer, got 0"),
    (["table", "vgg16", "--H", "-5"], "size H must be a positive integer, got -5"),
    # hand: 31 -> 15 -> 7 -> 3 -> 1 -> 0 through the five 2x2 pools: pool5 is empty
    (["table", "vgg16", "--H", "31"], "layer 'pool5' (MaxPool2d) at H=31, W=31, N=1"),
    (["table", "nosuchmodel"], "unknown model 'nosuchmodel'"),
]
MORE_ERRORS = [  # the same path through `main`, in one process to keep the suite fast
    (["table", "vgg61"], "did you mean"),
    (["table", "vgg16", "--H", "2.5"], "'2.5' is not an integer"),
    (["table", "vgg16", "--size", "S=128"], "vgg16 has no size 'S'"),
    (["table", "vgg16", "--size", "H=224", "--H", "224"], "size H is given twice"),
    (["table", "vgg16", "--format", "xml"], "invalid choice: 'xml'"),
    (["table", "vgg16", "--dtype", "fp7"], "unknown dtype 'fp7'"),
    (["table", "vgg16", "--symbolic", "--H", "224"], "give no sizes with it"),
    (["sweep", "vgg16", "--H", "512:128"], "stop 128 is below start 512"),
    (["sweep", "vgg16", "--H", "16:64:0"], "the step must be a positive integer"),
    (["sweep", "vgg16", "--H", "16:64:16"], "layer 'pool5'"),
    (["sweep", "vgg16"], "sweep needs at least one size range"),
    (["plot", "vgg16", "--out", "plot.gif"], "use .png, .svg or .pdf"),
    (["nosuchcommand"], "invalid choice: 'nosuchcommand'"),
    ([], "the following arguments are required: COMMAND"),
]


def assert_one_line_error(returncode, stdout, stderr, words):
    assert returncode == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("costgraph: error: "), stderr
    assert words in lines[0]


@pytest.mark.parametrize("args, words", SUBPROCESS_ERRORS)
def test_errors_are_one_clear_line(args, words):
    result = run(*args, check=False)
    assert_one_line_error(result.returncode, result.stdout, result.stderr, words)


@pytest.mark.parametrize("args, words", MORE_ERRORS)
def test_more_errors_are_one_clear_line(args, words, capsys, tmp_path, monkeypatch):
    from costgraph.cli import main

    if args[:1] == ["plot"]:
        require("matplotlib")
    monkeypatch.chdir(tmp_path)
    status = main(args)
    captured = capsys.readouterr()
    assert_one_line_error(status, captured.out, captured.err, words)


def test_missing_matplotlib_is_one_line_telling_how_to_install(tmp_path):
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"  # `import matplotlib` now fails
        "from costgraph.cli import main\n"
        f"sys.exit(main(['plot', 'vgg16', '--out', {str(tmp_path / 'x.png')!r}]))"
    )
    result = run(python_code=script, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "costgraph: error: plots need matplotlib: pip install 'costgraph[plot]' (or: pip install matplotlib)"
    )
