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


def call(*args) -> subprocess.CompletedProcess:
    """`main(args)` in this process (cheaper than `run`); asserts success and no traceback like `run`."""
    import contextlib

    from costgraph.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    assert status == 0, err.getvalue()
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


def total_row(table: list[list[str]]) -> list[str]:
    """The ``**total**`` line of the per-layer table."""
    return next(row for row in table if row[0] == "**total**")


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
    # the same column names as the csv and json outputs (issue 16)
    assert table[0] == ["name", "kind", "kernel", "stride", "padding", "channels", "size", "params", "activations", "macs"]
    names = [row[0] for row in table[1:23]]
    assert names == [row[0] for row in SEED]
    conv1_1 = table[2]
    assert conv1_1[:7] == ["conv1_1", "Conv2d", "3", "1", "1", "64", "224x224"]
    pool1 = table[4]
    assert pool1[:7] == ["pool1", "MaxPool2d", "2", "2", "0", "64", "112x112"]
    # issue 2's totals in human units: K, M, B (billions) for every count
    assert table[23][0] == "**total**" and table[23][7:10] == ["138.4M", "15.2M", "15.5B"]


def test_main_job_prints_totals_flop_convention_and_memory_line(main_job):
    out = main_job.stdout
    assert f"| params                  | {VGG16_PARAMS:>14,} |" in out
    assert f"{VGG16_MACS:,}" in out
    flops_line = next(line for line in out.splitlines() if line.startswith("| flops"))
    convention = out[out.index(flops_line) :].split("\n\n")[1]
    assert convention.startswith("FLOPs = 2 per multiply-accumulate")  # right below the FLOP figure
    # the seed: "15M * 4 bytes ~= 60MB / image (only forward! ~*2 for bwd)"; hand: 15,237,608 * 4 = 60,950,432
    memory = next(line for line in out.splitlines() if line.startswith("memory: forward"))
    # one memory story (issue 16): the seed's 2x is labelled a rule of thumb; MB = 10**6 bytes throughout
    assert memory == (
        "memory: forward 61.0 MB (15,237,608 activations x 4 bytes, fp32) for N=1; "
        "rule of thumb (the seed's, not the memory model): with backward about 2x (121.9 MB)"
    )
    assert "MiB" not in out and "GiB" not in out
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
    assert result.stdout.splitlines()[-1].startswith(f"total,,,,,,,{VGG16_PARAMS},")


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
    assert doc["memory"]["forward_activation_bytes"] == totals.activation_bytes


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


def test_formula_markdown_parses_in_sympy_and_evaluates_to_the_totals():
    out = run("formula", "vgg16").stdout
    h, w, n = sympy.symbols("H W N")
    names = {"H": h, "W": w, "N": n}  # sympy's parser would read N as its N() function
    formulas = {}
    for cells in markdown_rows(out)[1:]:
        if cells[1].startswith("`"):
            formulas[cells[0].split(" (")[0]] = sympy.parse_expr(cells[1].strip("`"), local_dict=names)
    assert "valid for square inputs H = W >= 32" in out  # 2**5: five 2x2 pools (hand)
    for sizes in ({"H": 224, "W": 224, "N": 1}, {"H": 161, "W": 287, "N": 3}):
        expected = vgg16().totals(**sizes).as_dict()
        for field in ("params", "activations", "macs", "flops"):
            value = formulas[field].subs({h: sizes["H"], w: sizes["W"], n: sizes["N"]})
            assert int(value) == expected[field], field


# -- sweep ------------------------------------------------------------------------------------------
def test_sweep_csv_gives_one_exact_row_per_size():
    records = list(csv.DictReader(io.StringIO(run("sweep", "vgg16", "--H", "128:512:32", "--format", "csv").stdout)))
    assert [int(r["H"]) for r in records] == list(range(128, 513, 32))  # stop included: 13 sizes
    net = vgg16()
    for record in records:
        h = int(record["H"])
        assert int(record["W"]) == h and int(record["N"]) == 1
        assert {k: int(record[k]) for k in net.totals().as_dict()} == net.totals(H=h).as_dict()
        assert int(record["params"]) == VGG16_PARAMS + 512 * 4096 * ((h // 32) ** 2 - 49)  # hand, as above


def test_sweep_json_grid_over_width_and_batch():
    doc = json.loads(run("sweep", "vgg16", "--H", "224", "--W", "224,256", "--batch", "1,2", "--format", "json").stdout)
    points = [(r["H"], r["W"], r["N"]) for r in doc]
    assert points == [(224, 224, 1), (224, 224, 2), (224, 256, 1), (224, 256, 2)]
    assert doc[0]["macs"] == VGG16_MACS and doc[1]["macs"] == 2 * VGG16_MACS  # linear in N


# -- list, plot, help --------------------------------------------------------------------------------
def test_list_covers_the_registry_with_exact_totals():
    doc = json.loads(run("list", "--format", "json").stdout)["rows"]
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


COMMANDS = ["list", "table", "summary", "totals", "sweep", "formula", "plot", "reconcile", "docs", "fit", "roofline", "hardware"]


def test_help_for_every_command():
    top = run("--help").stdout
    assert all(command in top for command in COMMANDS)
    script = "import sys; from costgraph.cli import main\nfor c in sys.argv[1:]: assert main([c, '--help']) == 0"
    result = run(python_code=script.replace("sys.argv[1:]", repr(COMMANDS)))
    for command in COMMANDS:
        assert f"usage: costgraph {command}" in result.stdout or command == "sweep"  # sweep is totals' other name
    assert "{totals,sweep}" in top or "totals (sweep)" in top


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
    # every size invalid: the first reason, with the smallest valid size (hand: 2**5 for five 2x2 pools)
    (["sweep", "vgg16", "--H", "16:31:15"], "layer 'pool5'"),
    (["sweep", "vgg16", "--H", "31"], "the smallest valid square input is H = W = 32"),
    (["table", "vgg16", "--H", "224:256"], "--H takes one value here"),
    (["table", "vgg16", "--h", "224"], "unrecognized arguments: --h"),  # allow_abbrev=False: not --help
    (["table", "vgg16", "--opt", "adaptive_pool=1"], "unrecognized arguments: --opt"),
    (["table", "vgg16", "--option", "adaptive_pool=maybe"], "adaptive_pool takes true/false/yes/no/1/0, not 'maybe'"),
    (["table", "vgg16", "--option", "adaptive_pool=7"], "adaptive_pool takes true/false/yes/no/1/0, not '7'"),
    (["totals", "vgg16", "--option", "foo=1"], "valid options: adaptive_pool (bool), batch_norm (bool), num_classes (int)"),
    (["table", "vgg16", "--option", "num_classes=ten"], "option num_classes takes an integer, not 'ten'"),
    (["table", "vgg16", "--option", "adaptive_pool"], "is not NAME=VALUE"),
    (["totals", "vgg16", "--H", "1:100000000000"], "expands to 100,000,000,000 values; at most 100,000"),
    (["totals", "vgg16", "--H", "9" * 2200], "sizes are limited to 40 digits"),
    (["table", "missing.onnx"], "no such ONNX file: 'missing.onnx'"),
    (["table", "no_such_module_xyz:build"], "cannot import 'no_such_module_xyz'"),
    (["table", "os:getcwd"], "expected a costgraph Network or a torch.nn.Module, got str"),
    (["table", "os.path:1bad"], "is not package.module:callable"),
    (["summary", "vgg16", "--depth", "0"], "--depth must be at least 1"),
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


# -- issue 12 (finding 7): output that cannot be written, huge values ---------------------------------
def test_a_closed_pipe_ends_silently_with_status_zero():
    """``costgraph list | head -1``: the reader goes away; no traceback, no message, status 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "costgraph", "table", "vgg16", "--all", "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)  # fmt: skip
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0
    assert first.startswith(b"{") and stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
def test_a_full_disk_is_one_line_and_status_two():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["table", "vgg16", "--H", "224"], ["--help"]):
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, "-m", "costgraph", *args], stdout=full, stderr=subprocess.PIPE,
                                    text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip
        assert result.returncode == 2, args
        assert result.stderr == "costgraph: error: cannot write the output: No space left on device\n"


# -- issue 16: sweeps with invalid sizes, options, models from files and modules ------------------------
def test_a_sweep_reports_invalid_sizes_as_rows_with_the_reason():
    records = list(csv.DictReader(io.StringIO(call("sweep", "vgg16", "--H", "30:40:2", "--format", "csv").stdout)))
    assert [int(r["H"]) for r in records] == [30, 32, 34, 36, 38, 40]
    # hand: 30 -> 15 -> 7 -> 3 -> 1 -> 0 through the five 2x2 pools; 32 is 2**5, the smallest valid size
    assert records[0]["params"] == "" and records[0]["error"].startswith("layer 'pool5' (MaxPool2d) at H=30")
    assert records[0]["error"].endswith("the smallest valid square input is H = W = 32")
    # hand: at 32 fc1 sees 512 x 1 x 1 features instead of 512 x 7 x 7
    assert int(records[1]["params"]) == VGG16_PARAMS - 512 * 4096 * (49 - 1) and records[1]["error"] == ""
    skipped = list(csv.DictReader(io.StringIO(call("totals", "vgg16", "--H", "30:40:2", "--format", "csv", "--skip-invalid").stdout)))
    assert [int(r["H"]) for r in skipped] == [32, 34, 36, 38, 40] and "error" not in skipped[0]


def test_totals_and_sweep_are_one_command_with_the_same_columns_in_every_format():
    outputs = {fmt: call("totals", "vgg16", "--H", "224", "--batch", "1,2", "--format", fmt).stdout for fmt in ("md", "csv", "json")}
    md_header = markdown_rows(outputs["md"])[0]
    csv_header = outputs["csv"].splitlines()[0].split(",")
    json_keys = list(json.loads(outputs["json"])[0])
    assert md_header == csv_header == json_keys == ["H", "W", "N", *vgg16().totals().as_dict()]
    assert call("sweep", "vgg16", "--H", "224", "--batch", "1,2", "--format", "csv").stdout == outputs["csv"]


def test_table_columns_are_named_alike_in_every_format():
    md = markdown_rows(call("table", "vgg16", "--H", "224").stdout)[0]
    csv_header = call("table", "vgg16", "--H", "224", "--format", "csv").stdout.splitlines()[0].split(",")
    layer = json.loads(call("table", "vgg16", "--H", "224", "--format", "json").stdout)["layers"][0]
    assert set(md) <= set(csv_header) and set(md) <= set(layer)


def test_options_take_booleans_as_words_or_digits():
    # torchvision's VGG16 (adaptive pool to 7x7) keeps 138,357,544 parameters at any input size
    # (VGG16_Weights.IMAGENET1K_V1 num_params); the seed's form grows fc1 with the input
    for spelling in ("true", "yes", "1", "TRUE"):
        doc = json.loads(call("totals", "vgg16", "--H", "256", "--option", f"adaptive_pool={spelling}", "--format", "json").stdout)
        assert doc[0]["params"] == VGG16_PARAMS, spelling
    doc = json.loads(call("totals", "vgg16", "--H", "256", "--option", "adaptive_pool=no", "--format", "json").stdout)
    assert doc[0]["params"] == VGG16_PARAMS + 512 * 4096 * (64 - 49)  # hand: 8x8 instead of 7x7 positions
    table = markdown_rows(call("table", "vgg16", "--H", "256", "--option", "adaptive_pool=yes", "--exact").stdout)
    assert total_row(table)[7] == f"{VGG16_PARAMS:,}"


def test_batch_and_n_are_the_same_flag():
    one = call("totals", "vgg16", "--batch", "3", "--format", "csv").stdout
    assert call("totals", "vgg16", "--N", "3", "--format", "csv").stdout == one
    assert call("totals", "vgg16", "--size", "N=3", "--format", "csv").stdout == one


TINY_MODULE = '''
from costgraph import H, W, Network
from costgraph.kinds import Conv2d, Input, ReLU


def tiny(width: int = 8, bias: bool = True):
    net = Network("tiny")
    net.add("input", Input((3, H, W)))
    net.add("features.conv", Conv2d(3, width, 3, bias=bias))
    net.add("features.relu", ReLU())
    return net
'''


def test_a_users_module_callable_is_a_model_everywhere(tmp_path):
    (tmp_path / "my_models.py").write_text(TINY_MODULE)
    doc = json.loads(run("totals", "my_models:tiny", "--H", "10", "--option", "width=4", "--option", "bias=no",
                         "--format", "json", cwd=tmp_path).stdout)  # fmt: skip
    # hand: a 3x3 conv from 3 to 4 channels without bias, 8x8 outputs: 108 weights, 108 x 64 MACs
    assert (doc[0]["params"], doc[0]["macs"]) == (4 * 3 * 3 * 3, 4 * 3 * 3 * 3 * 8 * 8)
    summary = run("summary", "my_models:tiny", "--H", "10", "--depth", "1", "--format", "csv", cwd=tmp_path).stdout
    rows = list(csv.DictReader(io.StringIO(summary)))
    features = next(r for r in rows if r["name"] == "features")
    assert int(features["params"]) == 8 * 27 + 8 and int(features["layers"]) == 2  # hand: 8 x 3x3x3 + 8 biases
    bad = run("table", "my_models:tiny", "--option", "depth=3", check=False, cwd=tmp_path)
    assert_one_line_error(bad.returncode, bad.stdout, bad.stderr, "valid options: bias (bool), width (int)")


def test_an_onnx_path_is_a_model_everywhere(tmp_path):
    onnx = require("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], strides=[2, 2])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, None, None])],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    doc = json.loads(call("totals", str(path), "--H", "32", "--format", "json").stdout)
    # hand: (32 - 3)//2 + 1 = 15 positions per side, 8 x 27 MACs each; 216 weights
    assert (doc[0]["params"], doc[0]["macs"]) == (216, 8 * 27 * 15 * 15)
    table = markdown_rows(call("table", str(path), "--H", "32", "--exact").stdout)
    assert total_row(table)[9] == f"{8 * 27 * 15 * 15:,}"


def test_subcommands_are_registered_in_one_list(capsys, monkeypatch):
    from costgraph import cli

    def setup(parser):
        cli.add_model_argument(parser)
        cli.add_size_arguments(parser)

    def run_hello(args):
        """Say which model and sizes were given."""
        print(args.model, cli.given_sizes(args))
        return 0

    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register_command("hello", setup, run_hello)
    assert cli.main(["hello", "vgg16", "--H", "64"]) == 0
    assert capsys.readouterr().out == "vgg16 {'H': 64}\n"
    with pytest.raises(cli.CostGraphError):
        cli.register_command("table", setup, run_hello)


def test_a_cached_sweep_imports_no_sympy(tmp_path, monkeypatch):
    """totals and sweep on a zoo model read cached formulas: the second run never imports sympy."""
    script = (
        "import sys, io, contextlib; from costgraph.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): status = main(['sweep', 'resnet18', '--H', '128:256:64'])\n"
        "print(status, 'sympy' in sys.modules)"
    )
    monkeypatch.setenv("COSTGRAPH_CACHE_DIR", str(tmp_path))  # `run` passes the environment on
    run(python_code=script)  # derives and caches the formulas
    assert run(python_code=script).stdout.split() == ["0", "False"]


def test_reconcile_speaks_every_format():
    records = {r["convention"]: r for r in csv.DictReader(io.StringIO(call("reconcile", "vgg16", "--H", "224", "--format", "csv").stdout))}
    assert int(records["macs"]["figure"]) == VGG16_MACS  # issue 2's MACs
    assert int(records["flopcountermode"]["figure"]) == 2 * VGG16_MACS  # FlopCounterMode: 2 per MAC, nothing else
    tex = call("reconcile", "vgg16", "--H", "224", "--format", "latex").stdout
    assert tex.startswith(r"\begin{tabular}") and r"\bottomrule" in tex
