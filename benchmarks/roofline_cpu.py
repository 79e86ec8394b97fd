"""Roofline prediction against real PyTorch on this machine: ``python benchmarks/roofline_cpu.py``.

1. Measures this CPU (`costgraph.hardware.measure`: numpy GEMM FLOP/s and
   streaming bandwidth) and prints the profile.
2. Times real PyTorch (eager, inference mode, fp32) on a large GEMM, an
   elementwise add, a ReLU, one conv layer and the ResNet-50 twin of
   ``tests/twins/resnet.py`` at a few sizes, best of several runs after a
   warm-up, and prints for each case costgraph's roofline time with that
   profile (``net.roofline(profile, "fp32", **sizes)``), what bounds it,
   the measured time and measured / predicted.

The roofline is an ideal lower bound, so every ratio should be >= 1 up to
measurement noise (the profile is itself measured: a GEMM that beats the
profile's own GEMM would give a ratio just under 1).  How far above 1 says
how much a case loses to everything the roofline leaves out.

Run from the repository root (the twin imports ``tests.support``):
``PYTHONPATH=. python benchmarks/roofline_cpu.py [--quick] [--device cuda --profile h100]``.
On a GPU (``--device cuda``) the same cases run there against the named
datasheet profile (peaks are datasheet peaks, not measured).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from costgraph import H, N, Network, W  # noqa: E402
from costgraph.hardware import device as find_device, measure  # noqa: E402
from costgraph.kinds import Add, Conv2d, Input, Linear, ReLU  # noqa: E402
from costgraph.models import resnet50  # noqa: E402


def best_time(run, repeats: int, sync) -> float:
    run()  # warm-up (allocations, oneDNN primitive caches)
    sync()
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None or elapsed < best else best
    return best


def gemm_case(torch, n, dev):
    net = Network("gemm")
    net.add("x", Input((n,)))
    net.add("fc", Linear(n, n, bias=False))
    layer = torch.nn.Linear(n, n, bias=False).to(dev)
    x = torch.randn(n, n, device=dev)
    return f"GEMM {n}x{n} @ {n}x{n} (nn.Linear, no bias)", net, {"N": n}, lambda: layer(x)


def add_case(torch, count, dev):
    net = Network("add")
    net.add("a", Input((count,)))
    net.add("b", Input((count,)))
    net.add("add", Add(), "a", "b")
    a, b = torch.randn(1, count, device=dev), torch.randn(1, count, device=dev)
    return f"elementwise add, {count:,} fp32 elements", net, {"N": 1}, lambda: torch.add(a, b)


def add_out_case(torch, count, dev):
    net = Network("add")
    net.add("a", Input((count,)))
    net.add("b", Input((count,)))
    net.add("add", Add(), "a", "b")
    a, b, c = (torch.randn(1, count, device=dev) for _ in range(3))
    return f"elementwise add into a preallocated output (out=), {count:,} elements", net, {"N": 1}, lambda: torch.add(a, b, out=c)


def relu_inplace_case(torch, count, dev):
    net = Network("relu")
    net.add("x", Input((count,)))
    net.add("relu", ReLU(inplace=True))
    x = torch.randn(1, count, device=dev)
    return f"ReLU in place, {count:,} fp32 elements", net, {"N": 1}, lambda: torch.relu_(x)


def relu_case(torch, count, dev):
    net = Network("relu")
    net.add("x", Input((count,)))
    net.add("relu", ReLU())
    x = torch.randn(1, count, device=dev)
    return f"ReLU (out of place), {count:,} fp32 elements", net, {"N": 1}, lambda: torch.relu(x)


def conv_case(torch, batch, size, dev):
    net = Network("conv")
    net.add("x", Input((64, H, W)))
    net.add("conv", Conv2d(64, 64, 3, padding=1, bias=False))
    layer = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(dev)
    x = torch.randn(batch, 64, size, size, device=dev)
    return f"Conv2d 64->64 3x3, {batch}x64x{size}x{size}", net, {"H": size, "N": batch}, lambda: layer(x)


def resnet_case(torch, twin, batch, size, dev):
    x = torch.randn(batch, 3, size, size, device=dev)
    return f"ResNet-50 twin, batch {batch}, {size}x{size}", resnet50(), {"H": size, "N": batch}, lambda: twin(x)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller cases, fewer repeats")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case; the best is reported (default 5)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default; measured profile) or cuda")
    parser.add_argument("--profile", default="h100", help="datasheet profile for --device cuda (default h100)")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats

    import torch

    torch.manual_seed(0)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            print("no CUDA device here; run without --device for this CPU", file=sys.stderr)
            return 2
        profile, sync = find_device(args.profile), torch.cuda.synchronize
        print(f"## {torch.cuda.get_device_name()} against the datasheet profile {profile.name}\n")
    else:
        sync = lambda: None  # noqa: E731
        start = time.perf_counter()
        profile = measure("this-cpu", gemm_size=1024 if args.quick else 2048,
                          stream_bytes=(1 << 25) if args.quick else (1 << 27), repeats=2 * repeats)  # fmt: skip
        print("## This machine\n")
        print(f"- load average before measuring: {', '.join(f'{v:.2f}' for v in os.getloadavg())} (the machine is shared)")
        print(f"- {platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} torch threads, {os.cpu_count()} logical CPUs")  # fmt: skip
        print(f"- measured profile ({time.perf_counter() - start:.1f} s): "
              f"GEMM fp32 {profile.peak('fp32') / 1e9:.1f} GFLOP/s, fp64 {profile.peak('fp64') / 1e9:.1f} GFLOP/s; "
              f"bandwidth {profile.bandwidth / 1e9:.2f} GB/s")  # fmt: skip
        for key in ("fp32", "bandwidth"):
            print(f"  - {key}: {profile.sources[key]}")
        print()

    sys.path.insert(0, os.getcwd())
    from tests.twins.resnet import resnet

    twin = resnet("resnet50").to(dev).eval()
    count = (1 << 22) if args.quick else (1 << 25)
    cases = [
        gemm_case(torch, 1024 if args.quick else 2048, dev),
        add_case(torch, count, dev),
        add_out_case(torch, count, dev),
        relu_case(torch, count, dev),
        relu_inplace_case(torch, count, dev),
        conv_case(torch, 2 if args.quick else 8, 56, dev),
        resnet_case(torch, twin, 1, 224, dev),
        resnet_case(torch, twin, 1, 112, dev),
    ]
    if not args.quick:
        cases += [resnet_case(torch, twin, 4, 224, dev), resnet_case(torch, twin, 1, 448, dev)]

    print("| case | FLOPs | bytes moved | roofline (s) | bound | measured (s, best of %d) | measured / roofline |" % repeats)
    print("|:--|--:|--:|--:|:--|--:|--:|")
    with torch.inference_mode():
        for label, net, sizes, run in cases:
            result = net.roofline(profile, "fp32", **sizes)
            flops = sum(r.flops for r in result.rows)
            moved = sum(r.bytes_moved for r in result.rows)
            bounds = {b: sum(1 for r in result.rows if r.bound == b and r.seconds) for b in ("compute", "memory")}
            bound = next(b for b, k in bounds.items() if k) if sum(1 for k in bounds.values() if k) == 1 else (
                f"{bounds['compute']} compute / {bounds['memory']} memory layers")  # fmt: skip
            measured = best_time(run, repeats, sync)
            predicted = float(result.seconds)
            ratio = Fraction(measured) / result.seconds
            print(f"| {label} | {flops:,} | {moved:,} | {predicted:.4g} | {bound} | {measured:.4g} | {float(ratio):.2f} |")
            sys.stdout.flush()
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; roofline: {result.label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
