"""Random argument lists for the command line (issue 12, finding 7; issue 16).

The only allowed outcomes are success (status 0) or one line on stderr,
``costgraph: error: ...``, with status 2: never a traceback, never another
status, never the catch-all "internal error" (which would mean a bug that
`main` merely kept from printing a traceback).  Arguments are drawn from the
command line's own vocabulary (commands, flags, model names, option names)
mixed with malformed values: zero, negative, huge and non-integer sizes,
bad ranges, unknown flags and options, abbreviations, empty strings.

No expected number appears here: the property is the shape of the outcome.
The commands of issue 15 (fit, roofline, hardware) get their own lists,
with budgets, devices and the size to maximize.  The in-process examples
call `costgraph.cli.main(argv)`; a few more run
``python -m costgraph`` as a user does, to cover the process's own exit path.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from costgraph.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]

# cheap models keep the example count meaningful; plot, docs and list (every model) are left out for time
COMMANDS = ["table", "summary", "totals", "sweep", "formula", "reconcile"]
GOOD_MODELS = ["vgg11", "alexnet", "resnet18", "squeezenet1_1"]
BAD_MODELS = ["nosuchmodel", "vgg", "missing.onnx", "os:getcwd", "no_such_module_xyz:f", "os.path:1x", "", "-", ":", "a:b:c"]
# about half the examples are well-formed, so success paths are exercised as much as the errors
MODEL = st.one_of(st.sampled_from(GOOD_MODELS), st.sampled_from(GOOD_MODELS), st.sampled_from(BAD_MODELS))
SIZE_TEXT = st.one_of(
    st.integers(24, 300).map(str),
    st.integers(24, 300).map(str),
    st.integers(-3, 400).map(str),
    st.sampled_from(["0", "2.5", "", " ", "abc", "1e3", "+7", "--", "0x10", "٣", "9" * 60, "9" * 2200]),
    st.tuples(st.integers(-5, 300), st.integers(-5, 300), st.integers(-2, 90)).map(lambda t: f"{t[0]}:{t[1]}:{t[2]}"),
    st.lists(st.integers(-2, 300), min_size=1, max_size=4).map(lambda v: ",".join(map(str, v))),
    st.sampled_from(["1:100000000000", "1:5:0", "5:1", "1:2:3:4", "::", "1,,2"]),
)
OPTION_TEXT = st.tuples(
    st.sampled_from(["adaptive_pool", "batch_norm", "num_classes", "dropout", "aux_logits", "foo", "", "=", "size"]),
    st.sampled_from(["true", "no", "1", "0", "maybe", "7", "", "-1", "1e9", "none", "nan", "x" * 100]),
).map(lambda t: f"{t[0]}={t[1]}")
GOOD_FLAG = st.one_of(
    st.tuples(st.sampled_from(["--H", "--W", "--batch", "--N"]), st.integers(1, 300).map(str)),
    st.tuples(st.just("--format"), st.sampled_from(["md", "csv", "json", "latex"])),
    st.tuples(st.just("--option"), st.sampled_from(["adaptive_pool=yes", "num_classes=10", "batch_norm=0"])),
    st.tuples(st.just("--depth"), st.sampled_from(["1", "2"])),
)
BAD_FLAG = st.one_of(
    st.tuples(st.sampled_from(["--H", "--W", "--batch", "--N"]), SIZE_TEXT),
    st.tuples(st.just("--size"), st.tuples(st.sampled_from(["S", "N", "H", "Q", "", "1"]), SIZE_TEXT).map("=".join)),
    st.tuples(st.just("--size"), st.sampled_from(["S", "=", "N=="])),
    st.tuples(st.just("--option"), OPTION_TEXT),
    st.tuples(st.just("--format"), st.sampled_from(["md", "csv", "json", "latex", "xml", "text", ""])),
    st.tuples(st.just("--dtype"), st.sampled_from(["fp32", "fp16", "bf16", "int8", "fp7", ""])),
    st.tuples(st.just("--depth"), st.sampled_from(["1", "2", "0", "-1", "x", "99"])),
    st.tuples(st.just("--optimizer"), st.sampled_from(["adam", "sgd", "lion"])),
    st.sampled_from([("--symbolic",), ("--all",), ("--exact",), ("--training",), ("--skip-invalid",),
                     ("--h",), ("--he",), ("-h",), ("--opt",), ("--",), ("-x",), ("extra",)]),  # fmt: skip
)
FLAG = st.one_of(GOOD_FLAG, GOOD_FLAG, GOOD_FLAG, BAD_FLAG)
ARGV = st.tuples(
    st.one_of(st.sampled_from(COMMANDS), st.sampled_from(COMMANDS), st.sampled_from(["nosuchcommand", "--version", ""])),
    st.one_of(MODEL.map(lambda m: [m]), st.lists(MODEL, max_size=2)),
    st.lists(FLAG, max_size=4),
).map(lambda t: [t[0], *t[1], *[token for flag in t[2] for token in flag]])

# fit, roofline and hardware (issue 15) take the shared flags above plus their own: budgets, a device, the
# size to maximize.  About half the fit and roofline lists carry a well-formed budget or device, so that the
# search and the roofline run.  `hardware measure` is left out: it times the CPU and writes a profile.
AMOUNT_TEXT = st.sampled_from(["1GB", "16GB", "80GiB", "1.5G", "10000", "100G", "1T", "999P",
                               "lots", "0", "-1GB", "1.5", "", "0.5B", "1e9", "9" * 40])  # fmt: skip
SECONDS_TEXT = st.sampled_from(["50ms", "1/4", "0.001", "300us", "2.5e-3", "100", "0", "-1", "1/0", "x", "", "inf", "nan"])
DEVICE = st.sampled_from(["h100", "a100", "a100-40gb", "t4", "l4", "mi300x", "nosuchdevice", "", "h1000"])
GOOD_BUDGET = st.one_of(
    st.tuples(st.just("--memory"), st.sampled_from(["1GB", "16GB", "80GiB"])),
    st.tuples(st.just("--macs"), st.sampled_from(["10G", "100G", "1T"])),
    st.tuples(st.just("--device"), st.sampled_from(["h100", "a100", "t4"])),
)
FIT_FLAG = st.one_of(
    st.tuples(st.sampled_from(["--memory", "--macs"]), AMOUNT_TEXT),
    st.tuples(st.just("--seconds"), SECONDS_TEXT),
    st.tuples(st.just("--device"), DEVICE),
    st.tuples(st.just("--maximize"), st.sampled_from(["N", "N", "H", "W", "S", "", "Q", "=", "N=3"])),
    st.tuples(st.just("--dtype"), st.sampled_from(["fp32", "bf16", "fp16", "int8", "fp7"])),
    st.tuples(st.just("--optimizer"), st.sampled_from(["adam", "sgd", "adamw", "lion"])),
    st.sampled_from([("--training",), ("--fused-attention",), ("--size", "H"), ("--fix", "S=128"), ("--top", "3")]),
)
ROOFLINE_FLAG = st.one_of(
    st.tuples(st.just("--device"), DEVICE),
    st.tuples(st.just("--top"), st.sampled_from(["0", "3", "15", "-1", "x", "9" * 30])),
    st.tuples(st.just("--dtype"), st.sampled_from(["bf16", "fp32", "fp16", "fp8", "int8", "fp7", ""])),
    st.sampled_from([("--training",), ("--fused-attention",), ("--maximize", "N"), ("--out",)]),
)
ONE_MODEL = st.one_of(MODEL.map(lambda m: [m]), MODEL.map(lambda m: [m]), st.lists(MODEL, max_size=2))
FIT_ARGV = st.tuples(
    ONE_MODEL,
    st.one_of(GOOD_BUDGET.map(list), st.just([])),
    st.lists(st.one_of(FIT_FLAG, FIT_FLAG, GOOD_FLAG, BAD_FLAG), max_size=4),
).map(lambda t: ["fit", *t[0], *t[1], *[token for flag in t[2] for token in flag]])
DEVICE_FLAG = st.sampled_from(["h100", "a100", "mi300x"]).map(lambda d: ["--device", d])
ROOFLINE_ARGV = st.tuples(
    ONE_MODEL,
    st.one_of(DEVICE_FLAG, DEVICE_FLAG, st.just([])),
    st.lists(st.one_of(ROOFLINE_FLAG, GOOD_FLAG, GOOD_FLAG, BAD_FLAG), max_size=4),
).map(lambda t: ["roofline", *t[0], *t[1], *[token for flag in t[2] for token in flag]])
HARDWARE_ARGV = st.tuples(
    st.sampled_from(["list", "list", "show", "show", "nosuchaction", ""]),
    st.one_of(DEVICE.map(lambda d: [d]), st.just([]), st.lists(DEVICE, max_size=2)),
    st.lists(st.one_of(st.tuples(st.just("--format"), st.sampled_from(["md", "csv", "json", "latex", "text", ""])),
                       st.tuples(st.sampled_from(["--gemm-size", "--repeats", "--stream-mb"]), SIZE_TEXT),
                       st.sampled_from([("--H", "224"), ("--h",), ("--out",), ("--",)])), max_size=2),  # fmt: skip
).map(lambda t: ["hardware", t[0], *t[1], *[token for flag in t[2] for token in flag]])


def assert_allowed(status: int, stderr: str, argv: list) -> None:
    assert "Traceback" not in stderr, (argv, stderr)
    assert status in (0, 2), (argv, status, stderr)
    if status == 2:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("costgraph: error: "), (argv, stderr)
        assert "internal error" not in lines[0], (argv, stderr)


@settings(max_examples=40, deadline=None)
@given(ARGV)
def test_random_argument_lists_succeed_or_fail_in_one_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert_allowed(status, err.getvalue(), argv)


@settings(max_examples=30, deadline=None)
@given(st.one_of(FIT_ARGV, ROOFLINE_ARGV, HARDWARE_ARGV))
def test_fit_roofline_and_hardware_argument_lists_succeed_or_fail_in_one_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert_allowed(status, err.getvalue(), argv)


@settings(max_examples=4, deadline=None)
@given(ARGV)
def test_random_argument_lists_in_a_real_process(argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "costgraph", *argv], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=300)  # fmt: skip
    assert_allowed(result.returncode, result.stderr, argv)
