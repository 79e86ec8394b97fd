"""costgraph's speed and scale benchmark: ``python benchmarks/run.py``.

Prints Markdown tables (the figures in benchmarks/README.md come from one run):

1. the machine;
2. build + symbolic totals of every zoo model (`costgraph.models.MODELS`), each
   in a fresh process: the first build after the imports, a second build, one
   numeric instantiation (compiling the checks and totals), and the warm fast path;
3. a sweep of 10^6 (H, W) pairs through ``Network.totals`` (numpy arrays), exact;
4. generated deep stacks of 1,000 and 10,000 layers (plain, residual, and one whose
   every layer has a new shape), each in a fresh process;
5. cold processes: ``python -c "import sympy, networkx"`` (the floor of the
   symbolic path), ``python -m costgraph table vgg16 --H 224``, and the cached
   numeric path ``python -m costgraph totals vgg16 --H 224``;
6. when torch and the tools are installed: the same VGG16 and ResNet-50 questions
   answered by ptflops, fvcore, thop, torchinfo and FlopCounterMode on plain-torch
   twins (tests/twins/), at one size and for a sweep of 16 sizes, whole process
   against whole process (wall time and peak RSS from ``os.wait4``), with every
   tool's figure checked against costgraph's preset for that tool.

Everything runs against a snapshot of the working tree copied at the start (other
people may be editing it), with a private formula cache.  Options: ``--quick``
(fewer repeats, no 10,000-layer distinct-shape stack, one tool sweep size set),
``--no-tools``, ``--repeat N`` (cold-process repeats; the minimum is reported),
``--sections 1,2,...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable

#: GNU time, to measure each process's own peak RSS (see Snapshot.run)
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None

#: the sweep the tools are timed on: 16 square sizes
SWEEP_SIZES = list(range(128, 368 + 1, 16))
ONE_SIZE = 224


# -- running processes ------------------------------------------------------------------------
class Snapshot:
    """A copy of costgraph/ and tests/twins/ in a temporary directory, with its own formula cache."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="costgraph-bench-")
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(os.path.join(ROOT, "costgraph"), os.path.join(self.root, "costgraph"), ignore=ignore)
        os.makedirs(os.path.join(self.root, "tests"))
        open(os.path.join(self.root, "tests", "__init__.py"), "w").close()
        shutil.copytree(os.path.join(ROOT, "tests", "twins"), os.path.join(self.root, "tests", "twins"), ignore=ignore)
        self.cache = os.path.join(self.root, "cache")
        self.env = {**os.environ, "PYTHONPATH": self.root, "COSTGRAPH_CACHE_DIR": self.cache, "PYTHONHASHSEED": "0"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def run(self, argv, *, check=True):
        """Run `argv` from the snapshot; return (wall seconds, peak RSS in MiB, stdout).

        The peak RSS is measured by GNU time, which forks the command from its
        own small image: a child forked (vforked) straight from this process
        would report this process's peak (ru_maxrss survives exec), which
        holds sympy, numpy and torch's figures by then.
        """
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
            launcher = [GNU_TIME, "-f", "%M", "-o", rss.name] if GNU_TIME else []
            start = time.perf_counter()
            process = subprocess.Popen(launcher + list(argv), cwd=self.root, env=self.env, stdout=out, stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
            peak_kib = int(rss.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
        if check and process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr[-3000:]}")
        return wall, peak_kib / 1024, stdout

    def python(self, code, *, check=True):
        return self.run([PYTHON, "-c", textwrap.dedent(code)], check=check)

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def table(header, rows, align=None) -> str:
    """A Markdown table; numbers right-aligned."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = align or ["l"] + ["r"] * (len(header) - 1)
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |"]
    lines.append("|" + "|".join((":" + "-" * (w + 1)) if a == "l" else ("-" * (w + 1) + ":") for a, w in zip(align, widths)) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ms(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def say(text=""):
    print(text, flush=True)


# -- 1. the machine ---------------------------------------------------------------------------
def machine(snapshot) -> None:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    _, _, versions = snapshot.python(
        """
        import importlib.metadata as m, json, sys
        out = {"python": sys.version.split()[0]}
        for name in ("sympy", "networkx", "numpy", "torch", "fvcore", "thop", "torchinfo", "ptflops"):
            try:
                out[name] = m.version(name)
            except m.PackageNotFoundError:
                out[name] = "not installed"
        print(json.dumps(out))
        """
    )
    versions = json.loads(versions)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "costgraph"], capture_output=True, text=True).stdout.strip()
    say("## 1. Machine\n")
    rows = [
        ("CPU", cpu),
        ("cores (nproc)", os.cpu_count()),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("OS", platform.platform()),
        ("costgraph", f"{commit}{' + uncommitted changes' if dirty else ''}"),
    ] + [(name, version) for name, version in versions.items()]
    say(table(("", "value"), rows, ["l", "l"]))
    say()


# -- 2. the zoo -------------------------------------------------------------------------------
ZOO_WORKER = """
import json, sys, time
t0 = time.perf_counter()
import costgraph.models as models, sympy, networkx
from costgraph import fast
imports = time.perf_counter() - t0
name = sys.argv[1]
info = models.MODELS[name]
t = time.perf_counter(); net = models.build(name); net.totals(); first = time.perf_counter() - t
t = time.perf_counter(); again = models.build(name); again.totals(); second = time.perf_counter() - t
sizes = info.sizes()
t = time.perf_counter(); value = net.totals(**sizes); numeric_first = time.perf_counter() - t
t = time.perf_counter(); net.totals(**sizes); numeric_again = time.perf_counter() - t
fast.formulas(name)  # derives and caches, or loads
fast._LOADED.clear()
t = time.perf_counter(); row = fast.totals(name, **sizes); fast_warm = time.perf_counter() - t
assert {**value.sizes, **value.as_dict()} == row, (value, row)
print(json.dumps(dict(layers=len(net), imports=imports, first=first, second=second, numeric_first=numeric_first,
                      numeric_again=numeric_again, fast=fast_warm, sizes=sizes)))
"""

TARGETS_MS = {"vgg16": 100, "resnet50": 100, "resnet152": 300}


def zoo(snapshot, repeat) -> None:
    say("## 2. Zoo: build + symbolic totals, each model in a fresh process\n")
    say("first = first build + `net.totals()` after `import costgraph.models, sympy, networkx` (nothing cached);")
    say("again = the same in the same process (per-layer formulas cached); numeric = first `net.totals(H=...)`")
    say("(compiles the checks and totals) / again; fast = `costgraph.fast.totals` from the formula cache.")
    say(f"Targets: vgg16 and resnet50 under 100 ms, resnet152 under 300 ms (best of {repeat} processes for those).\n")
    _, _, names = snapshot.python("import costgraph.models as m; print(' '.join(sorted(m.MODELS)))")
    rows = []
    for name in names.split():
        runs = [json.loads(snapshot.run([PYTHON, "-c", ZOO_WORKER, name])[2]) for _ in range(repeat if name in TARGETS_MS else 1)]
        best = min(runs, key=lambda r: r["first"])
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else ("met" if best["first"] * 1000 < target else "MISSED") + f" (<{target} ms)"
        rows.append((name, best["layers"], ms(best["first"]), ms(best["second"]), ms(best["numeric_first"]), ms(best["numeric_again"]), ms(best["fast"]), verdict))
    say(table(("model", "layers", "first", "again", "numeric first", "numeric again", "fast", "target"), rows))
    say()


# -- 3. a sweep of 10^6 sizes -------------------------------------------------------------------
SWEEP_WORKER = """
import json, sys, time
import numpy as np
import costgraph.models as models
name, count, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
options = {"adaptive_pool": True} if name == "vgg16-tv" else {}
net = models.build(name.replace("-tv", ""), **options)
net.totals(H=224)  # the scalar path compiled, as after one numeric instantiation
rng = np.random.default_rng(1)
h, w = rng.integers(32, high, count), rng.integers(32, high, count)
t = time.perf_counter(); first = net.totals(H=h, W=w); t_first = time.perf_counter() - t
t = time.perf_counter(); again = net.totals(H=h, W=w); t_again = time.perf_counter() - t
checked = 0
for i in rng.integers(0, count, 300):
    scalar = net.totals(H=int(h[i]), W=int(w[i]))
    assert all(getattr(again, f)[i] == getattr(scalar, f) for f in scalar.FIELDS), i
    checked += 1
print(json.dumps(dict(first=t_first, again=t_again, dtype=str(again.flops.dtype), checked=checked,
                      largest=int(max(again.flops)))))
"""


def sweep(snapshot) -> None:
    say("## 3. A sweep of 10^6 (H, W) pairs, exact (`net.totals(H=array, W=array)`)\n")
    say("first = the first array call (compiles the overflow bound); again = a second call. 300 random")
    say("elements are compared with the scalar path (Python ints). Target: under 1 s.\n")
    rows = []
    for name, count, high in (("vgg16", 10**6, 4096), ("resnet50", 10**6, 4096), ("resnet152", 10**6, 4096), ("vgg16", 10**5, 2**40)):
        r = json.loads(snapshot.run([PYTHON, "-c", SWEEP_WORKER, name, str(count), str(high)])[2])
        verdict = ("met" if r["again"] < 1 else "MISSED") if count == 10**6 else "(object path, for comparison)"
        rows.append((name, f"{count:,}", f"[32, {high:,})", ms(r["first"]), ms(r["again"]), r["dtype"], f"{r['checked']} equal", verdict))
    say(table(("model", "pairs", "H, W in", "first", "again", "dtype", "vs scalar", "target"), rows))
    say()


# -- 4. deep stacks ---------------------------------------------------------------------------------
STACK_WORKER = """
import json, sys, time
from costgraph import Network, H, W
from costgraph.kinds import Input, Conv2d, ReLU, BatchNorm2d, Add
kind, layers = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
net = Network(kind)
previous = net.add("input", Input((16, H, W)))
if kind == "plain":          # conv + relu pairs, same-padded: every conv sees the same shape
    for i in range((layers - 1) // 2):
        net.add(f"conv{i}", Conv2d(16, 16, 3, padding=1))
        net.add(f"relu{i}", ReLU(inplace=True))
elif kind == "residual":     # basic blocks: conv-bn-relu-conv-bn, add, relu
    for i in range((layers - 1) // 7):
        net.add(f"b{i}.conv1", Conv2d(16, 16, 3, padding=1, bias=False), previous)
        net.add(f"b{i}.bn1", BatchNorm2d(16))
        net.add(f"b{i}.relu1", ReLU(inplace=True))
        net.add(f"b{i}.conv2", Conv2d(16, 16, 3, padding=1, bias=False))
        net.add(f"b{i}.bn2", BatchNorm2d(16))
        net.add(f"b{i}.add", Add(), f"b{i}.bn2", previous)
        previous = net.add(f"b{i}.relu2", ReLU(inplace=True))
else:                        # unpadded convs: every layer has a new shape, nothing is reused
    for i in range(layers - 1):
        net.add(f"conv{i}", Conv2d(16, 16, 3))
t1 = time.perf_counter(); net.totals(); t2 = time.perf_counter()
size = 2 * layers + 8
net.totals(H=size); t3 = time.perf_counter()
print(json.dumps(dict(layers=len(net), build=t1 - t0, symbolic=t2 - t1, numeric=t3 - t2, total=t3 - t0)))
"""


def stacks(snapshot, quick) -> None:
    say("## 4. Generated deep stacks, each in a fresh process\n")
    say("build = `net.add` for every layer; symbolic = `net.totals()`; numeric = first `net.totals(H=...)`")
    say("(compiles the domain checks and the totals). Target: 10,000 layers under 20 s and under 10x 1,000 layers.\n")
    rows = []
    kinds = ("plain", "residual", "distinct")
    for kind in kinds:
        results = {}
        for layers in (1_000, 10_000):
            if quick and kind == "distinct" and layers == 10_000:
                continue
            r = json.loads(snapshot.run([PYTHON, "-c", STACK_WORKER, kind, str(layers)])[2])
            results[layers] = r
            ratio = ""
            if layers == 10_000:
                ratio = f"{r['total'] / results[1_000]['total']:.1f}x"
                ok = r["total"] < 20 and r["total"] < 10 * results[1_000]["total"]
                ratio += " met" if ok else " MISSED"
            rows.append((kind, r["layers"], ms(r["build"]), ms(r["symbolic"]), ms(r["numeric"]), ms(r["total"]), ratio))
    say(table(("stack", "layers", "build", "symbolic", "numeric", "total", "10k / 1k, target"), rows))
    say()


# -- 5. cold processes ------------------------------------------------------------------------------
def cold(snapshot, repeat) -> None:
    say(f"## 5. Cold processes (best and median of {repeat}, interleaved)\n")
    snapshot.run([PYTHON, "-m", "costgraph", "totals", "vgg16", "--H", "224"])  # derive and cache once
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        'python -c "import sympy, networkx"': [PYTHON, "-c", "import sympy, networkx"],
        "python -m costgraph table vgg16 --H 224": [PYTHON, "-m", "costgraph", "table", "vgg16", "--H", "224"],
        "python -m costgraph totals vgg16 --H 224": [PYTHON, "-m", "costgraph", "totals", "vgg16", "--H", "224"],
        f"python -m costgraph totals vgg16 --H {SWEEP_SIZES[0]}:{SWEEP_SIZES[-1]}:16": [
            PYTHON, "-m", "costgraph", "totals", "vgg16", "--H", f"{SWEEP_SIZES[0]}:{SWEEP_SIZES[-1]}:16"],
    }  # fmt: skip
    times = {name: [] for name in commands}
    memory = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            wall, rss, _ = snapshot.run(argv)
            times[name].append(wall)
            memory[name].append(rss)
    floor = min(times['python -c "import sympy, networkx"'])
    rows = []
    for name in commands:
        best = min(times[name])
        rows.append((f"`{name}`", ms(best), ms(statistics.median(times[name])), f"{max(memory[name]):.0f} MiB", f"{best / floor:.2f}x"))
    say(table(("process", "best", "median", "peak RSS", "vs import sympy, networkx"), rows))
    table_ratio = min(times["python -m costgraph table vgg16 --H 224"]) / floor
    say(f"\nTarget: `costgraph table vgg16 --H 224` within 1.5x of the bare import: {table_ratio:.2f}x, {'met' if table_ratio <= 1.5 else 'MISSED'}.\n")


# -- 6. the torch tools ----------------------------------------------------------------------------
TOOL_PRELUDE = """
import json, sys, types, contextlib, io, warnings
import torch
# the twins import tests.support (which imports pytest) only for require_torch
support = types.ModuleType("tests.support"); support.require_torch = lambda: torch
sys.modules["tests.support"] = support
warnings.simplefilter("ignore")
model_name, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
def twin():
    if model_name == "vgg16":
        from tests.twins.vgg import VGG
        return VGG("D")
    from tests.twins.resnet import resnet
    return resnet("resnet50")
def quiet(call):
    with contextlib.redirect_stdout(io.StringIO()):
        return call()
figures = []
"""

TOOLS = {
    # name: (device the model is built on, code counting `model` at size h)
    "FlopCounterMode (meta)": ("meta", """
from torch.utils.flop_counter import FlopCounterMode
def count(model, h):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, h, h, device="meta"))
    return counter.get_total_flops()
"""),
    "FlopCounterMode (CPU, as usually run)": ("cpu-init", """
from torch.utils.flop_counter import FlopCounterMode
def count(model, h):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, h, h))
    return counter.get_total_flops()
"""),
    "thop (meta)": ("meta", """
import thop
def count(model, h):
    return int(quiet(lambda: thop.profile(model, inputs=(torch.empty(1, 3, h, h, device="meta"),), verbose=False))[0])
"""),
    "torchinfo (meta)": ("meta", """
import torchinfo
def count(model, h):
    return quiet(lambda: torchinfo.summary(model, input_size=(1, 3, h, h), device="meta", verbose=0)).total_mult_adds
"""),
    "ptflops aten (meta)": ("meta", """
import ptflops
def count(model, h):
    return quiet(lambda: ptflops.get_model_complexity_info(model, (3, h, h), as_strings=False, print_per_layer_stat=False, backend="aten"))[0]
"""),
    "ptflops pytorch (CPU)": ("cpu", """
import ptflops
def count(model, h):
    return quiet(lambda: ptflops.get_model_complexity_info(model, (3, h, h), as_strings=False, print_per_layer_stat=False, backend="pytorch"))[0]
"""),
    "fvcore (CPU)": ("cpu", """
from fvcore.nn import FlopCountAnalysis
def count(model, h):
    analysis = FlopCountAnalysis(model, torch.zeros(1, 3, h, h))
    analysis.unsupported_ops_warnings(False); analysis.uncalled_modules_warnings(False)
    return quiet(analysis.total)
"""),
}

TOOL_PRESET = {
    "FlopCounterMode (meta)": "flopcountermode",
    "FlopCounterMode (CPU, as usually run)": "flopcountermode",
    "thop (meta)": "thop",
    "torchinfo (meta)": "torchinfo",
    "ptflops aten (meta)": "ptflops-aten",
    "ptflops pytorch (CPU)": "ptflops",
    "fvcore (CPU)": "fvcore",
}

TOOL_BODY = """
{code}
device = {device!r}
if device == "cpu-init":
    model = twin().eval()                                 # random initialization on the CPU
else:
    with torch.device("meta"):
        model = twin().eval()
    if device == "cpu":
        model = model.to_empty(device="cpu").eval()       # no initialization: counts do not need values
for h in sizes:
    figures.append(count(model, h))
print(json.dumps(figures))
"""


def tools(snapshot, repeat) -> None:
    say("## 6. Against the torch tools, whole process against whole process\n")
    try:
        snapshot.python("import torch, thop, torchinfo, ptflops, fvcore")
    except RuntimeError:
        say("torch or a tool is missing: skipped (pip install ptflops fvcore thop torchinfo)\n")
        return
    say("Each tool runs on the plain-torch twin (tests/twins/: torchvision's VGG16 with its adaptive pool, and")
    say("ResNet-50) in its fastest setting: the model built on the meta device where the tool can count there,")
    say("else built on meta and moved to the CPU without initialization; FlopCounterMode is also shown as")
    say("usually run (CPU model, CPU forward).  costgraph answers with `python -m costgraph totals` from its")
    say("formula cache (params, activations, MACs and FLOPs at every size).  Every tool's figure is checked")
    say("against costgraph's preset for that tool (`net.flops(preset, H=h)`), and costgraph's MACs against")
    say("FlopCounterMode (2 FLOPs per MAC).  Wall time and peak RSS are of the whole process.\n")
    import costgraph.models as models  # the parent checks the figures (imported from the snapshot)

    sweeps = (("one size", [ONE_SIZE]), (f"{len(SWEEP_SIZES)} sizes ({SWEEP_SIZES[0]}..{SWEEP_SIZES[-1]} step 16)", SWEEP_SIZES))
    floor = [snapshot.run([PYTHON, "-c", "import torch"]) for _ in range(repeat)]
    floor_wall, floor_rss = min(r[0] for r in floor), max(r[1] for r in floor)
    summary = []
    for model in ("vgg16", "resnet50"):
        net = models.vgg16(adaptive_pool=True) if model == "vgg16" else models.resnet50()
        option = ["--option", "adaptive_pool=true"] if model == "vgg16" else []
        for label, sizes in sweeps:
            spec = ",".join(str(s) for s in sizes)
            argv = [PYTHON, "-m", "costgraph", "totals", model, "--H", spec, "--format", "json", *option]
            snapshot.run(argv)  # derive and cache once
            ours = [snapshot.run(argv) for _ in range(5)]
            wall_ours = min(r[0] for r in ours)
            rss_ours = max(r[1] for r in ours)
            rows_ours = json.loads(ours[0][2])
            assert [r["macs"] for r in rows_ours] == [net.totals(H=h).macs for h in sizes]
            measured = []
            for tool, (device, code) in TOOLS.items():
                script = TOOL_PRELUDE + TOOL_BODY.format(code=code, device=device)
                runs = [snapshot.run([PYTHON, "-c", script, model, spec]) for _ in range(repeat if len(sizes) == 1 else 1)]
                wall, rss = min(r[0] for r in runs), max(r[1] for r in runs)
                figures = json.loads(runs[0][2])
                preset = TOOL_PRESET[tool]
                agree = figures == [net.flops(preset, H=h) for h in sizes]
                if preset == "flopcountermode":
                    agree = agree and figures == [2 * r["macs"] for r in rows_ours]
                measured.append((tool, wall, rss, agree))
            rows = [
                (tool, ms(wall), f"{rss:.0f} MiB", f"{wall / wall_ours:,.0f}x", f"{rss / rss_ours:,.1f}x", "yes" if agree else "NO")
                for tool, wall, rss, agree in measured
            ]
            rows.append(("(floor: `python -c \"import torch\"`)", ms(floor_wall), f"{floor_rss:.0f} MiB", f"{floor_wall / wall_ours:,.0f}x", f"{floor_rss / rss_ours:,.1f}x", ""))
            rows.append(("**costgraph totals** (cached formulas)", ms(wall_ours), f"{rss_ours:.0f} MiB", "1x", "1x", "(the reference)"))
            say(f"### {model}, {label}\n")
            say(table(("process", "wall", "peak RSS", "time / costgraph", "memory / costgraph", "figure agrees"), rows))
            say()
            fastest = min(measured, key=lambda m: m[1])
            fastest_cpu = min((m for m in measured if "meta" not in m[0]), key=lambda m: m[1])
            for kind, (tool, wall, rss, _) in (("fastest tool", fastest), ("fastest CPU-forward run", fastest_cpu)):
                summary.append((model, label, kind, tool, wall, wall / wall_ours, rss / rss_ours, len(sizes)))
    say("### Summary: the tools against costgraph\n")
    out = []
    for model, label, kind, tool, wall, time_ratio, memory_ratio, count in summary:
        need = 10 if count == 1 else 1000
        verdict = f"time {'met' if time_ratio >= need else 'MISSED'} (>= {need:,}x), memory {'met' if memory_ratio >= 10 else 'MISSED'} (>= 10x)"
        out.append((model, label, f"{kind}: {tool}", ms(wall), f"{time_ratio:,.0f}x", f"{memory_ratio:,.1f}x", verdict))
    say(table(("model", "question", "against", "its wall", "time ratio", "memory ratio", "target"), out, ["l", "l", "l", "r", "r", "r", "l"]))
    say()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-tools", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sections", default="1,2,3,4,5,6")
    args = parser.parse_args(argv)
    sections = {int(s) for s in args.sections.split(",")}
    repeat = 2 if args.quick else args.repeat
    snapshot = Snapshot()
    sys.path.insert(0, snapshot.root)
    os.environ["COSTGRAPH_CACHE_DIR"] = snapshot.cache
    started = time.perf_counter()
    try:
        say("# costgraph benchmark\n")
        if 1 in sections:
            machine(snapshot)
        if 2 in sections:
            zoo(snapshot, min(repeat, 3))
        if 3 in sections:
            sweep(snapshot)
        if 4 in sections:
            stacks(snapshot, args.quick)
        if 5 in sections:
            cold(snapshot, repeat)
        if 6 in sections and not args.no_tools:
            tools(snapshot, min(repeat, 3))
        say(f"_Benchmark wall time: {time.perf_counter() - started:.0f} s._")
    finally:
        snapshot.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
