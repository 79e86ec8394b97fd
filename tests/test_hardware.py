"""Hardware profiles: every figure cited and exact, equal to the datasheet figure as printed.

The expected numbers are the vendors' datasheet figures, typed here from the
sheets (the cited strings in costgraph/hardware.py), with the sheets' own
rule for sparsity ("one-half lower without sparsity") applied by hand.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from costgraph.cli import main
from costgraph.errors import CostGraphError
from costgraph.hardware import DEVICES, Device, device, load_device, measure, save_device

T = 10**12


def test_the_issue_devices_are_all_there():
    names = {d.name for d in DEVICES}
    assert {"a100-40gb", "a100-80gb", "h100-sxm", "h200", "b200", "l4", "t4", "mi300x"} <= names


@pytest.mark.parametrize("profile", DEVICES, ids=lambda d: d.name)
def test_every_figure_is_exact_and_cited(profile):
    for dtype, peak in profile.peak_flops.items():
        assert isinstance(peak, (int, Fraction)) and not isinstance(peak, bool) and peak > 0
        assert "datasheet" in profile.sources[dtype] or "data sheet" in profile.sources[dtype]
    for figure in ("bandwidth", "memory"):
        assert isinstance(getattr(profile, figure), (int, Fraction))
        assert "'" in profile.sources[figure]  # the figure as printed, quoted


@pytest.mark.parametrize(
    "name, dtype, expected",
    [
        # NVIDIA A100 datasheet prints dense | sparse: "BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*"
        ("a100-80gb", "bf16", 312 * T),
        ("a100-40gb", "tf32", 156 * T),
        ("a100-80gb", "fp32", 19 * T + T // 2),  # "FP32 19.5 TFLOPS"
        # NVIDIA H100 SXM datasheet: "BFLOAT16 Tensor Core 1,979 teraFLOPS*", * with sparsity: half dense
        ("h100", "bf16", 1979 * T // 2),
        ("h100-sxm", "fp8", 3958 * T // 2),
        ("h100-sxm", "fp32", 67 * T),
        ("h200", "bf16", 1979 * T // 2),  # H200 SXM prints H100's compute figures
        ("b200", "bf16", 4500 * T // 2),  # HGX B200: "FP16/BF16 Tensor Core 4.5 PFLOPS" (sparse)
        ("l4", "fp16", 242 * T // 2),  # L4: "FP16 Tensor Core 242 teraFLOPs*"
        ("t4", "fp16", 65 * T),  # T4: "Mixed-Precision (FP16/FP32) 65 TFLOPS" (no sparsity on Turing)
        ("t4", "fp32", 8 * T + T // 10),  # "Single-Precision 8.1 TFLOPS"
        ("mi300x", "bf16", 1307 * T + 4 * T // 10),  # AMD: "Peak bfloat16 Performance 1307.4 TFLOPs" (dense)
    ],
)
def test_peaks_as_the_datasheets_print_them(name, dtype, expected):
    assert device(name).peak(dtype) == expected


@pytest.mark.parametrize(
    "name, bandwidth, memory",
    [
        ("a100-40gb", 1555 * 10**9, 40 * 10**9),  # "1,555GB/s", "40GB HBM2"
        ("a100-80gb", 2039 * 10**9, 80 * 10**9),  # "2,039GB/s", "80GB HBM2e"
        ("h100-sxm", 3350 * 10**9, 80 * 10**9),  # "3.35TB/s", "80GB"
        ("h200", 4800 * 10**9, 141 * 10**9),  # "4.8TB/s", "141GB"
        ("b200", 7700 * 10**9, 180 * 10**9),  # "7.7TB/s", "180GB HBM3E"
        ("l4", 300 * 10**9, 24 * 10**9),  # "300GB/s", "24GB"
        ("t4", 300 * 10**9, 16 * 10**9),  # "300 GB/sec", "16 GB GDDR6"
        ("mi300x", 5300 * 10**9, 192 * 10**9),  # "5.3 TB/s", "192 GB HBM3"
    ],
)
def test_bandwidth_and_capacity_as_printed(name, bandwidth, memory):
    profile = device(name)
    assert (profile.bandwidth, profile.memory) == (bandwidth, memory)


def test_ridge_point_is_peak_over_bandwidth():
    # H100 SXM bf16: 989.5e12 / 3.35e12 = 98950 / 335 = 19790 / 67 FLOPs per byte
    assert device("h100").ridge("bf16") == Fraction(19790, 67)


def test_missing_dtype_and_unknown_device_are_errors():
    with pytest.raises(CostGraphError, match="t4 has no peak FLOP/s for bf16"):
        device("t4").peak("bf16")
    with pytest.raises(CostGraphError, match="unknown device"):
        device("h1000")
    with pytest.raises(CostGraphError, match="no peak FLOP/s for dtype"):
        device("h100").peak("int3")


def test_a_user_device_refuses_floats():
    with pytest.raises(CostGraphError, match="positive int or Fraction"):
        Device("mine", {"bf16": 1.5e14}, bandwidth=10**12, memory=10**9)
    with pytest.raises(CostGraphError, match="bandwidth"):
        Device("mine", {"bf16": 10**14}, bandwidth=2.0e12, memory=10**9)
    mine = Device("mine", {"bfloat16": Fraction(3, 2) * 10**14}, bandwidth=10**12, memory=10**9)
    assert mine.peak("bf16") == 150 * T


def test_save_and_load_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTGRAPH_CACHE_DIR", str(tmp_path))
    mine = Device("my-box", {"fp32": Fraction(10**12, 3)}, bandwidth=5 * 10**10, memory=2**34, memory_device="cpu")
    path = save_device(mine)
    assert path == str(tmp_path / "devices" / "my-box.json")
    assert device("my-box") == mine  # found by name in the cache dir
    assert load_device(path).peak("fp32") == Fraction(10**12, 3)


def test_a_profile_with_a_float_or_code_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "peak_flops": {"fp32": 1.5e12}, "bandwidth": 10, "memory": 10}))
    with pytest.raises(CostGraphError, match="expected an int or 'p/q'"):
        load_device(bad)
    bad.write_text(json.dumps({"name": "bad", "peak_flops": {"fp32": "__import__('os')"}, "bandwidth": 10, "memory": 10}))
    with pytest.raises(CostGraphError, match="expected an int or 'p/q'"):
        load_device(bad)
    bad.write_text("{not json")
    with pytest.raises(CostGraphError, match="not JSON"):
        load_device(bad)


def test_measure_this_cpu_small(tmp_path):
    # tiny sizes: this checks the mechanics (exact positive ints, sources), not the machine
    profile = measure("tiny", gemm_size=64, stream_bytes=1 << 16, repeats=1)
    assert profile.memory_device == "cpu"
    assert all(isinstance(v, int) and v > 0 for v in profile.peak_flops.values())
    assert isinstance(profile.bandwidth, int) and profile.bandwidth > 0
    # the faster of numpy and torch is kept (torch is there in CI), and the source says which
    assert any(library in profile.sources["fp32"] for library in ("numpy", "torch"))
    assert any(library in profile.sources["bandwidth"] for library in ("numpy", "torch"))


def test_cli_hardware(tmp_path, capsys):
    assert main(["hardware", "list"]) == 0
    listing = capsys.readouterr().out
    assert "h100-sxm" in listing and "mi300x" in listing
    assert main(["hardware", "show", "h100"]) == 0
    assert "1,979 teraFLOPS" in capsys.readouterr().out
    out = tmp_path / "cpu.json"
    args = ["hardware", "measure", "tiny-cpu", "--out", str(out), "--gemm-size", "64", "--stream-mb", "1", "--repeats", "1"]
    assert main(args) == 0
    assert load_device(out).name == "tiny-cpu"
    assert main(["hardware", "show", "no-such-device"]) == 2
    assert main(["hardware", "measure", "--gemm-size", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 2  # one line per failure
