"""Hardware profiles: peak dense FLOP/s per dtype, memory bandwidth and capacity, with their sources.

Every figure is an exact integer (or a `fractions.Fraction`) copied from the
vendor's datasheet, with the datasheet's name and the figure as printed beside
it.  Where a datasheet prints only the figure *with* 2:4 structured sparsity
(NVIDIA's H100, H200, B200 and L4 sheets mark those with "*"), the dense
figure is half of it, as the same sheets' footnotes say ("one-half lower
without sparsity").  Memory capacities and bandwidths are the sheets'
decimal units: "80GB" is 80 * 10**9 bytes, "3.35TB/s" 3.35 * 10**12 bytes/s
(the physical HBM is 80 GiB: the decimal figure is the smaller).

A peak is what the tensor cores (matrix units) do on a dense matrix product
in that dtype; ``"fp32"`` is the plain (non-tensor-core) FP32 rate.  Real
kernels reach a fraction of either.

>>> h100 = device("h100")
>>> h100.name, h100.peak("bf16"), h100.bandwidth         # 1,979 teraFLOPS with sparsity / 2; 3.35 TB/s
('h100-sxm', 989500000000000, 3350000000000)
>>> [d.name for d in DEVICES]
['a100-40gb', 'a100-80gb', 'h100-sxm', 'h200', 'b200', 'l4', 't4', 'mi300x']

Your own device is a `Device`; `measure` times this machine's CPU (numpy)
and `save_device` / `device(name)` keep and load the profile as JSON.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from fractions import Fraction

from .errors import CostGraphError

__all__ = ["Device", "DEVICES", "device", "measure", "save_device", "load_device", "devices_dir", "compute_dtype"]

#: dtype names a peak is given for, and the names that mean them
_DTYPE_ALIASES = {
    "fp64": "fp64", "float64": "fp64", "double": "fp64",
    "fp32": "fp32", "float32": "fp32", "float": "fp32",
    "tf32": "tf32",
    "bf16": "bf16", "bfloat16": "bf16",
    "fp16": "fp16", "float16": "fp16", "half": "fp16",
    "fp8": "fp8", "float8": "fp8",
    "int8": "int8",
}  # fmt: skip

T = 10**12  # tera
P = 10**15  # peta
GB = 10**9


def compute_dtype(dtype: str) -> str:
    """The canonical name of a compute dtype (``"bfloat16"`` -> ``"bf16"``).

    Raises
    ------
    CostGraphError
        For a dtype no peak is given for.

    >>> compute_dtype("bfloat16"), compute_dtype("half")
    ('bf16', 'fp16')
    """
    try:
        return _DTYPE_ALIASES[str(dtype).lower()]
    except KeyError:
        raise CostGraphError(f"no peak FLOP/s for dtype {dtype!r}; known: {', '.join(sorted(set(_DTYPE_ALIASES.values())))}", value=dtype) from None


def _exact(value, what: str):
    """`value` as an exact positive int or Fraction: floats and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)) or value <= 0:
        raise CostGraphError(f"{what} must be a positive int or Fraction, got {value!r}", value=value)
    return value


@dataclass(frozen=True, eq=True)
class Device:
    """One accelerator or CPU: peak dense FLOP/s per dtype, memory bandwidth and capacity.

    Parameters
    ----------
    name : str
        How `device` finds it (lower case, e.g. ``"h100-sxm"``).
    peak_flops : dict
        ``{dtype: FLOP/s}``, exact ints or Fractions, dtypes among fp64, fp32,
        tf32, bf16, fp16, fp8, int8 (int8: operations/s).
    bandwidth : int or Fraction
        Main-memory bandwidth, bytes per second.
    memory : int
        Capacity in bytes.
    sources : dict
        ``{figure: "datasheet, figure as printed"}``: where each number comes from.
    memory_device : {"cuda", "cpu"}
        Which of `costgraph.memory`'s device rules apply (dropout masks, statistics).

    Raises
    ------
    CostGraphError
        For a float, zero or negative figure, or an unknown dtype.

    Examples
    --------
    >>> mine = Device("my-gpu", {"bf16": 100 * 10**12}, bandwidth=10**12, memory=16 * 10**9)
    >>> mine.peak("bfloat16"), mine.ridge("bf16")          # FLOPs per byte where the roofs meet
    (100000000000000, 100)
    """

    name: str
    peak_flops: dict
    bandwidth: object
    memory: int
    sources: dict = field(default_factory=dict, compare=False)
    memory_device: str = "cuda"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise CostGraphError(f"a device name must be a non-empty string, got {self.name!r}", value=self.name)
        peaks = {compute_dtype(k): _exact(v, f"{self.name}: peak FLOP/s of {k}") for k, v in dict(self.peak_flops).items()}
        if not peaks:
            raise CostGraphError(f"{self.name}: a device needs at least one peak FLOP/s", value=self.peak_flops)
        object.__setattr__(self, "peak_flops", peaks)
        _exact(self.bandwidth, f"{self.name}: bandwidth")
        if isinstance(self.memory, bool) or not isinstance(self.memory, int) or self.memory <= 0:
            raise CostGraphError(f"{self.name}: memory must be a positive int of bytes, got {self.memory!r}", value=self.memory)
        if self.memory_device not in ("cuda", "cpu"):
            raise CostGraphError(f"{self.name}: memory_device must be 'cuda' or 'cpu', got {self.memory_device!r}", value=self.memory_device)

    def __hash__(self):
        return hash((self.name, tuple(sorted(self.peak_flops.items())), self.bandwidth, self.memory))

    def peak(self, dtype: str):
        """Peak dense FLOP/s in `dtype` (exact).

        Raises
        ------
        CostGraphError
            If the device has no figure for that dtype.
        """
        name = compute_dtype(dtype)
        try:
            return self.peak_flops[name]
        except KeyError:
            raise CostGraphError(
                f"{self.name} has no peak FLOP/s for {name}; it has: {', '.join(self.peak_flops)}", value=dtype
            ) from None

    def ridge(self, dtype: str):
        """The arithmetic intensity (FLOPs per byte) where compute and memory roofs meet: peak / bandwidth."""
        value = Fraction(self.peak(dtype)) / Fraction(self.bandwidth)
        return int(value) if value.denominator == 1 else value

    def as_dict(self) -> dict:
        """The profile as JSON-ready data (Fractions as ``"p/q"`` strings)."""
        show = lambda v: v if isinstance(v, int) else f"{v.numerator}/{v.denominator}"  # noqa: E731
        return {
            "name": self.name,
            "peak_flops": {k: show(v) for k, v in self.peak_flops.items()},
            "bandwidth": show(self.bandwidth),
            "memory": self.memory,
            "memory_device": self.memory_device,
            "sources": dict(self.sources),
        }


# -- the datasheets ------------------------------------------------------------------------
_A100_SHEET = "NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4), A100 SXM column"
_A100_PEAKS = {
    "fp32": 195 * T // 10,  # "FP32 19.5 TFLOPS"
    "tf32": 156 * T,  # "Tensor Float 32 (TF32) 156 TFLOPS | 312 TFLOPS*" (* sparsity)
    "bf16": 312 * T,  # "BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*"
    "fp16": 312 * T,  # "FP16 Tensor Core 312 TFLOPS | 624 TFLOPS*"
    "int8": 624 * T,  # "INT8 Tensor Core 624 TOPS | 1248 TOPS*"
}
_A100_SOURCES = {
    "fp32": f"{_A100_SHEET}: 'FP32 19.5 TFLOPS'",
    "tf32": f"{_A100_SHEET}: 'TF32 156 TFLOPS | 312 TFLOPS*' (dense figure)",
    "bf16": f"{_A100_SHEET}: 'BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*' (dense figure)",
    "fp16": f"{_A100_SHEET}: 'FP16 Tensor Core 312 TFLOPS | 624 TFLOPS*' (dense figure)",
    "int8": f"{_A100_SHEET}: 'INT8 Tensor Core 624 TOPS | 1248 TOPS*' (dense figure)",
}

_HOPPER_PEAKS = {  # H100 SXM and H200 SXM print the same compute figures, with sparsity
    "fp32": 67 * T,  # "FP32 67 teraFLOPS"
    "tf32": 989 * T // 2,  # "TF32 Tensor Core 989 teraFLOPS*"
    "bf16": 1979 * T // 2,  # "BFLOAT16 Tensor Core 1,979 teraFLOPS*"
    "fp16": 1979 * T // 2,  # "FP16 Tensor Core 1,979 teraFLOPS*"
    "fp8": 3958 * T // 2,  # "FP8 Tensor Core 3,958 teraFLOPS*"
    "int8": 3958 * T // 2,  # "INT8 Tensor Core 3,958 TOPS*"
}


def _hopper_sources(sheet: str) -> dict:
    half = "(* with sparsity: dense is half)"
    return {
        "fp32": f"{sheet}: 'FP32 67 teraFLOPS'",
        "tf32": f"{sheet}: 'TF32 Tensor Core 989 teraFLOPS*' {half}",
        "bf16": f"{sheet}: 'BFLOAT16 Tensor Core 1,979 teraFLOPS*' {half}",
        "fp16": f"{sheet}: 'FP16 Tensor Core 1,979 teraFLOPS*' {half}",
        "fp8": f"{sheet}: 'FP8 Tensor Core 3,958 teraFLOPS*' {half}",
        "int8": f"{sheet}: 'INT8 Tensor Core 3,958 TOPS*' {half}",
    }


_H100_SHEET = "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column"
_H200_SHEET = "NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column"
_B200_SHEET = "NVIDIA HGX B200 datasheet (Individual Blackwell GPU Specifications, HGX B200 column; tensor figures with sparsity)"
_L4_SHEET = "NVIDIA L4 Tensor Core GPU datasheet ('* Shown with sparsity. Specifications are one-half lower without sparsity.')"
_T4_SHEET = "NVIDIA T4 Tensor Core GPU datasheet (Turing, no sparsity figures)"
_MI300X_SHEET = "AMD Instinct MI300X Accelerator data sheet (peak theoretical, dense figures as printed)"

DEVICES: list = [
    Device(
        "a100-40gb",
        dict(_A100_PEAKS),
        bandwidth=1555 * GB,
        memory=40 * GB,
        sources={**_A100_SOURCES, "bandwidth": f"{_A100_SHEET}: '1,555GB/s'", "memory": f"{_A100_SHEET}: '40GB HBM2'"},
    ),
    Device(
        "a100-80gb",
        dict(_A100_PEAKS),
        bandwidth=2039 * GB,
        memory=80 * GB,
        sources={**_A100_SOURCES, "bandwidth": f"{_A100_SHEET}: '2,039GB/s'", "memory": f"{_A100_SHEET}: '80GB HBM2e'"},
    ),
    Device(
        "h100-sxm",
        dict(_HOPPER_PEAKS),
        bandwidth=335 * T // 100,
        memory=80 * GB,
        sources={**_hopper_sources(_H100_SHEET), "bandwidth": f"{_H100_SHEET}: 'GPU Memory Bandwidth 3.35TB/s'", "memory": f"{_H100_SHEET}: 'GPU Memory 80GB'"},
    ),
    Device(
        "h200",
        dict(_HOPPER_PEAKS),
        bandwidth=48 * T // 10,
        memory=141 * GB,
        sources={**_hopper_sources(_H200_SHEET), "bandwidth": f"{_H200_SHEET}: 'GPU Memory Bandwidth 4.8TB/s'", "memory": f"{_H200_SHEET}: 'GPU Memory 141GB'"},
    ),
    Device(
        "b200",
        {
            "fp32": 75 * T,  # "FP32 75 TFLOPS"
            "tf32": 22 * P // 10 // 2,  # "TF32 Tensor Core 2.2 PFLOPS" (sparse)
            "bf16": 45 * P // 10 // 2,  # "FP16/BF16 Tensor Core 4.5 PFLOPS" (sparse)
            "fp16": 45 * P // 10 // 2,
            "fp8": 9 * P // 2,  # "FP8/FP6 Tensor Core 9 PFLOPS" (sparse)
            "int8": 9 * P // 2,  # "INT8 Tensor Core 9 POPS" (sparse)
        },
        bandwidth=77 * T // 10,
        memory=180 * GB,
        sources={
            "fp32": f"{_B200_SHEET}: 'FP32 75 TFLOPS'",
            "tf32": f"{_B200_SHEET}: 'TF32 Tensor Core 2.2 PFLOPS' (with sparsity: dense is half)",
            "bf16": f"{_B200_SHEET}: 'FP16/BF16 Tensor Core 4.5 PFLOPS' (with sparsity: dense is half)",
            "fp16": f"{_B200_SHEET}: 'FP16/BF16 Tensor Core 4.5 PFLOPS' (with sparsity: dense is half)",
            "fp8": f"{_B200_SHEET}: 'FP8/FP6 Tensor Core 9 PFLOPS' (with sparsity: dense is half)",
            "int8": f"{_B200_SHEET}: 'INT8 Tensor Core 9 POPS' (with sparsity: dense is half)",
            "bandwidth": f"{_B200_SHEET}: 'GPU Memory | Bandwidth 180GB HBM3E | 7.7TB/s'",
            "memory": f"{_B200_SHEET}: '180GB HBM3E'",
        },
    ),
    Device(
        "l4",
        {
            "fp32": 303 * T // 10,  # "FP32 30.3 teraFLOPs"
            "tf32": 120 * T // 2,  # "TF32 Tensor Core 120 teraFLOPs*"
            "bf16": 242 * T // 2,  # "BFLOAT16 Tensor Core 242 teraFLOPs*"
            "fp16": 242 * T // 2,  # "FP16 Tensor Core 242 teraFLOPs*"
            "fp8": 485 * T // 2,  # "FP8 Tensor Core 485 teraFLOPs*"
            "int8": 485 * T // 2,  # "INT8 Tensor Core 485 TOPs*"
        },
        bandwidth=300 * GB,
        memory=24 * GB,
        sources={
            "fp32": f"{_L4_SHEET}: 'FP32 30.3 teraFLOPs'",
            "tf32": f"{_L4_SHEET}: 'TF32 Tensor Core 120 teraFLOPs*' (dense is half)",
            "bf16": f"{_L4_SHEET}: 'BFLOAT16 Tensor Core 242 teraFLOPs*' (dense is half)",
            "fp16": f"{_L4_SHEET}: 'FP16 Tensor Core 242 teraFLOPs*' (dense is half)",
            "fp8": f"{_L4_SHEET}: 'FP8 Tensor Core 485 teraFLOPs*' (dense is half)",
            "int8": f"{_L4_SHEET}: 'INT8 Tensor Core 485 TOPs*' (dense is half)",
            "bandwidth": f"{_L4_SHEET}: 'GPU memory bandwidth 300GB/s'",
            "memory": f"{_L4_SHEET}: 'GPU memory 24GB'",
        },
    ),
    Device(
        "t4",
        {
            "fp32": 81 * T // 10,  # "Single-Precision 8.1 TFLOPS"
            "fp16": 65 * T,  # "Mixed-Precision (FP16/FP32) 65 TFLOPS"
            "int8": 130 * T,  # "INT8 130 TOPS"
        },
        bandwidth=300 * GB,
        memory=16 * GB,
        sources={
            "fp32": f"{_T4_SHEET}: 'Single-Precision 8.1 TFLOPS'",
            "fp16": f"{_T4_SHEET}: 'Mixed-Precision (FP16/FP32) 65 TFLOPS'",
            "int8": f"{_T4_SHEET}: 'INT8 130 TOPS'",
            # 256-bit GDDR6 at 10 Gbps is 320 GB/s; the sheet prints 300
            "bandwidth": f"{_T4_SHEET}: 'GPU Memory 16 GB GDDR6 300 GB/sec'",
            "memory": f"{_T4_SHEET}: 'GPU Memory 16 GB GDDR6'",
        },
    ),
    Device(
        "mi300x",
        {
            "fp32": 1634 * T // 10,  # "Peak Single Precision (FP32) Vector Performance 163.4 TFLOPs"
            "tf32": 6537 * T // 10,  # "Peak TF32 Performance 653.7 TFLOPs"
            "bf16": 13074 * T // 10,  # "Peak bfloat16 Performance 1307.4 TFLOPs"
            "fp16": 13074 * T // 10,  # "Peak Half Precision (FP16) Performance 1307.4 TFLOPs"
            "fp8": 26149 * T // 10,  # "Peak FP8 Performance 2614.9 TFLOPs"
            "int8": 26149 * T // 10,  # "Peak INT8 Performance 2614.9 TOPs"
        },
        bandwidth=53 * T // 10,
        memory=192 * GB,
        sources={
            "fp32": f"{_MI300X_SHEET}: 'Peak Single Precision (FP32) Vector Performance 163.4 TFLOPs'",
            "tf32": f"{_MI300X_SHEET}: 'Peak TF32 Performance 653.7 TFLOPs'",
            "bf16": f"{_MI300X_SHEET}: 'Peak bfloat16 Performance 1307.4 TFLOPs'",
            "fp16": f"{_MI300X_SHEET}: 'Peak Half Precision (FP16) Performance 1307.4 TFLOPs'",
            "fp8": f"{_MI300X_SHEET}: 'Peak FP8 Performance 2614.9 TFLOPs'",
            "int8": f"{_MI300X_SHEET}: 'Peak INT8 Performance 2614.9 TOPs'",
            "bandwidth": f"{_MI300X_SHEET}: 'Peak Theoretical Memory Bandwidth 5.3 TB/s'",
            "memory": f"{_MI300X_SHEET}: 'Memory Capacity 192 GB HBM3'",
        },
    ),
]

#: other names of the devices above
ALIASES = {"h100": "h100-sxm", "h100sxm": "h100-sxm", "h200-sxm": "h200", "a100": "a100-80gb", "a100-80g": "a100-80gb", "a100-40g": "a100-40gb"}


def devices_dir() -> str:
    """Where `save_device` keeps measured profiles by default: ``<costgraph cache>/devices``."""
    from .fast import cache_dir

    return os.path.join(cache_dir(), "devices")


def device(name) -> Device:
    """The device called `name`: a built-in profile, or one saved with `save_device` (or a path to its JSON).

    Names are case-insensitive; ``"h100"`` is the SXM part, ``"a100"`` the 80 GB one.

    Raises
    ------
    CostGraphError
        For an unknown name (listing the known ones) or an unreadable profile.

    Examples
    --------
    >>> device("MI300X").memory, device("a100").bandwidth     # 192 GB; 2,039 GB/s
    (192000000000, 2039000000000)
    """
    if isinstance(name, Device):
        return name
    text = str(name).strip()
    key = ALIASES.get(text.lower(), text.lower())
    for known in DEVICES:
        if known.name == key:
            return known
    if text.endswith(".json") or os.sep in text:
        return load_device(text)
    saved = os.path.join(devices_dir(), f"{key}.json")
    if key.replace("-", "").replace("_", "").isalnum() and os.path.exists(saved):
        return load_device(saved)
    known = [d.name for d in DEVICES] + sorted(ALIASES)
    raise CostGraphError(f"unknown device {name!r}; known: {', '.join(known)} (or a profile saved with `costgraph hardware measure`)", value=name)


def _parse_exact(value, what: str):
    """A JSON figure: an int, or a ``"p/q"`` string of ints; never a float, never evaluated."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        numerator, sep, denominator = value.partition("/")
        if sep and numerator.strip().isdigit() and denominator.strip().isdigit() and int(denominator) > 0:
            return Fraction(int(numerator), int(denominator))
    raise CostGraphError(f"{what}: expected an int or 'p/q', got {value!r}", value=value)


def load_device(path) -> Device:
    """Read a `Device` from a JSON profile (data only: ints, ``"p/q"`` strings, text).

    Raises
    ------
    CostGraphError
        If the file cannot be read or is not a valid profile.

    Examples
    --------
    >>> import os, tempfile
    >>> path = save_device(Device("box", {"fp32": 10**11}, bandwidth=2 * 10**10, memory=2**35), os.path.join(tempfile.mkdtemp(), "box.json"))
    >>> load_device(path).peak("fp32")
    100000000000
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise CostGraphError(f"cannot read device profile {path}: {error.strerror or error}", value=path) from None
    except ValueError as error:
        raise CostGraphError(f"device profile {path} is not JSON: {error}", value=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("peak_flops"), dict):
        raise CostGraphError(f"device profile {path}: expected an object with 'peak_flops'", value=path)
    try:
        return Device(
            name=str(data.get("name") or os.path.splitext(os.path.basename(path))[0]),
            peak_flops={str(k): _parse_exact(v, f"{path}: peak_flops[{k}]") for k, v in data["peak_flops"].items()},
            bandwidth=_parse_exact(data.get("bandwidth"), f"{path}: bandwidth"),
            memory=_parse_exact(data.get("memory"), f"{path}: memory"),
            sources={str(k): str(v) for k, v in dict(data.get("sources") or {}).items()},
            memory_device=str(data.get("memory_device", "cuda")),
        )
    except CostGraphError as error:
        raise CostGraphError(f"device profile {path}: {error}", value=path) from None


def save_device(profile: Device, path=None) -> str:
    """Write `profile` as JSON to `path` (default ``devices_dir()/<name>.json``); return the path.

    Raises
    ------
    CostGraphError
        If the file cannot be written.
    """
    path = os.fspath(path) if path is not None else os.path.join(devices_dir(), f"{profile.name}.json")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(profile.as_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
    except OSError as error:
        raise CostGraphError(f"cannot write device profile {path}: {error.strerror or error}", value=path) from None
    return path


# -- measuring this machine -----------------------------------------------------------------
def _best_seconds(run, repeats: int) -> float:
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None or elapsed < best else best
    return best


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1


def _torch_gemm(dtype_name: str, n: int, repeats: int):
    """(seconds, version) of the best ``torch.mm`` of two n x n matrices, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    dtype = {"fp32": torch.float32, "fp64": torch.float64}[dtype_name]
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, dtype=dtype, generator=generator)
    b = torch.randn(n, n, dtype=dtype, generator=generator)
    torch.mm(a, b)
    return _best_seconds(lambda: torch.mm(a, b), repeats), torch.__version__


def measure(name: str = "local-cpu", *, gemm_size: int = 2048, stream_bytes: int = 1 << 27, repeats: int = 5, use_torch: bool = True) -> Device:
    """Measure this machine's CPU: achieved GEMM FLOP/s (numpy, and torch if installed) and streaming bandwidth.

    GEMM: the best of `repeats` runs of an ``n x n`` by ``n x n`` product
    (``2 n**3`` FLOPs) in float32 and float64, with numpy's matmul and (with
    `use_torch`, when torch imports) ``torch.mm``; the faster library's
    figure is kept, and the source says which.  Bandwidth: the best of
    `repeats` runs of ``c = a + b`` over float64 arrays of `stream_bytes`
    each (STREAM's "add": two arrays read, one written, ``3 * stream_bytes``
    bytes), and of a copy (one read, one written); the faster of the two.
    Achieved figures, not peaks: the roofline against them is what this
    machine's libraries reach on large, regular work.  Timings are floats;
    the profile keeps them rounded to whole FLOP/s and bytes/s.

    Raises
    ------
    CostGraphError
        If numpy is missing or the sizes are not positive.

    Examples
    --------
    >>> tiny = measure("tiny", gemm_size=32, stream_bytes=1 << 12, repeats=1, use_torch=False)
    >>> tiny.memory_device, sorted(tiny.peak_flops), isinstance(tiny.bandwidth, int)
    ('cpu', ['fp32', 'fp64'], True)
    """
    try:
        import numpy as np
    except ImportError:
        raise CostGraphError("measuring needs numpy: pip install numpy") from None
    for value, what in ((gemm_size, "gemm_size"), (stream_bytes, "stream_bytes"), (repeats, "repeats")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CostGraphError(f"measure: {what} must be a positive integer, got {value!r}", value=value)
    peaks, sources = {}, {}
    rng = np.random.default_rng(0)
    for dtype, label in ((np.float32, "fp32"), (np.float64, "fp64")):
        a = rng.standard_normal((gemm_size, gemm_size)).astype(dtype)
        b = rng.standard_normal((gemm_size, gemm_size)).astype(dtype)
        a @ b  # warm up the BLAS threads
        seconds = _best_seconds(lambda: a @ b, repeats)
        library = f"numpy {np.__version__} matmul"
        other = _torch_gemm(label, gemm_size, repeats) if use_torch else None
        if other is not None and other[0] < seconds:
            seconds, library = other[0], f"torch {other[1]} mm"
        peaks[label] = max(1, round(2 * gemm_size**3 / seconds))
        sources[label] = f"measured: {library} {gemm_size}x{gemm_size} {label} (the faster library), best of {repeats}: {seconds:.6f} s"
    count = max(1, stream_bytes // 8)
    a, b, c = np.ones(count), np.ones(count), np.empty(count)
    np.add(a, b, out=c)
    add = _best_seconds(lambda: np.add(a, b, out=c), repeats)
    copy = _best_seconds(lambda: np.copyto(c, a), repeats)
    rates = {"add": 3 * 8 * count / add, "copy": 2 * 8 * count / copy}
    kind = max(rates, key=rates.get)
    sources["bandwidth"] = (
        f"measured: numpy {kind} over {8 * count} B arrays, best of {repeats} "
        f"(add {rates['add'] / 1e9:.2f} GB/s, copy {rates['copy'] / 1e9:.2f} GB/s)"
    )
    sources["memory"] = "os.sysconf: SC_PAGE_SIZE x SC_PHYS_PAGES"
    sources["machine"] = f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} logical CPUs"
    return Device(name, peaks, bandwidth=max(1, round(rates[kind])), memory=_physical_memory(), sources=sources, memory_device="cpu")
