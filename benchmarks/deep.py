"""Deep graphs: how `totals`, `layers` and `memory` grow with the number of layers.

``python benchmarks/deep.py`` prints a Markdown table (benchmarks/README.md, section
"Deep graphs", holds one run): for a chain and a residual network of 10^3, 10^4
and 10^5 layers, the time to build, then ``totals()`` (symbolic) and
``totals(H=...)``, ``layers(H=...)``, ``memory(H=...)`` (numeric; each the first
call, so compiling is included), and the growth ratio from one size to the next
(10x the layers: a linear pass gives about 10x, a quadratic one 100x).  Times are
the process's CPU time (``time.process_time``), which other jobs on a shared machine
disturb much less than wall time.

* chain: ``Input (16, H, W)`` then conv 3x3 (padding 1) and in-place ReLU, alternately;
* residual: blocks of conv, ReLU, conv, Add (the block's input), ReLU: 5 layers
  each, so 10^5 layers are 20,000 blocks and every skip lives across its block.

Each network runs in a fresh process (``--timeout`` seconds each, default 600).
It is a benchmark, not a test: the test suite never runs it.  ``--sizes 1000,10000``
picks other layer counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = """
import json, sys, time
from costgraph import Network, H, W
from costgraph.kinds import Input, Conv2d, ReLU, Add
shape, layers = sys.argv[1], int(sys.argv[2])
times = {}
t = time.process_time()
net = Network(shape)
previous = net.add("input", Input((16, H, W)))
if shape == "chain":
    for i in range((layers - 1) // 2):
        net.add(f"conv{i}", Conv2d(16, 16, 3, padding=1))
        net.add(f"relu{i}", ReLU(inplace=True))
else:
    for i in range((layers - 1) // 5):
        net.add(f"b{i}.conv1", Conv2d(16, 16, 3, padding=1), previous)
        net.add(f"b{i}.relu1", ReLU(inplace=True))
        net.add(f"b{i}.conv2", Conv2d(16, 16, 3, padding=1))
        net.add(f"b{i}.add", Add(), f"b{i}.conv2", previous)
        previous = net.add(f"b{i}.relu2", ReLU(inplace=True))
times["build"] = time.process_time() - t
for step, call in (
    ("totals()", lambda: net.totals()),
    ("totals(H)", lambda: net.totals(H=32)),
    ("layers(H)", lambda: net.layers(H=32)),
    ("memory(H)", lambda: net.memory(H=32)),
):
    t = time.process_time()
    call()
    times[step] = time.process_time() - t
print(json.dumps(dict(layers=len(net), **times)))
"""

STEPS = ("build", "totals()", "totals(H)", "layers(H)", "memory(H)")


def run(shape: str, layers: int, timeout: float) -> dict | None:
    """One network in a fresh process; None if it did not finish within `timeout` seconds."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    try:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, shape, str(layers)], capture_output=True, text=True, timeout=timeout, env=env,
            check=True, cwd=ROOT,  # python -c puts the working directory first on sys.path
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout)


def seconds(value) -> str:
    return "-" if value is None else f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="layer counts, comma-separated")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per network")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.time()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| network | layers | " + " | ".join(STEPS) + " | all | growth of all (vs 10x fewer layers) |")
    print("|:--|--:|" + "--:|" * (len(STEPS) + 1) + ":--|")
    for shape in ("chain", "residual"):
        previous = None
        for layers in sizes:
            result = run(shape, layers, args.timeout)
            if result is None:
                print(f"| {shape} | {layers:,} | " + " | ".join("-" for _ in STEPS) + f" | > {args.timeout:.0f} s | |")
                previous = None
                continue
            total = sum(result[s] for s in STEPS)
            growth = f"{total / previous:.1f}x" if previous else ""
            cells = " | ".join(seconds(result[s]) for s in STEPS)
            print(f"| {shape} | {result['layers']:,} | {cells} | {seconds(total)} | {growth} |", flush=True)
            previous = total
    print(f"\n({time.time() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
