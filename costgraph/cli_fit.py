"""The ``fit``, ``roofline`` and ``hardware`` commands of the command line, each with its own arguments.

::

    costgraph fit resnet50 --memory 80GB --training --optimizer adam --dtype bf16
    costgraph fit vgg16 --size H --macs 100G                  # largest square image under 100 GMACs
    costgraph fit gpt2 --size S --memory 16GB --dtype fp16     # longest context for inference in 16 GB
    costgraph fit resnet50 --seconds 0.1 --device h100 --dtype bf16 --training
    costgraph roofline resnet50 --device h100 --dtype bf16 --batch 64 --out roofline.png
    costgraph hardware list
    costgraph hardware show h100
    costgraph hardware measure --name my-cpu                   # then: --device my-cpu

`add_commands` registers them on the main parser's subcommands; errors are
`CostGraphError`, which the main program prints as one line with exit status 2.

>>> parse_amount("80GB", "memory"), parse_amount("1.5GiB", "memory"), parse_amount("10G", "macs")
(80000000000, 1610612736, 10000000000)
>>> parse_seconds("250ms"), parse_seconds("1/4")
(Fraction(1, 4), Fraction(1, 4))
"""

from __future__ import annotations

import json
import re
import sys
from fractions import Fraction

from .errors import CostGraphError

__all__ = ["add_commands", "parse_amount", "parse_seconds"]

_DECIMAL = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40, "PI": 2**50}
_AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]I?)?\s*(B)?\s*$", re.IGNORECASE)


def parse_amount(text: str, what: str) -> int:
    """An exact integer from ``80GB``, ``80GiB``, ``1.5G``, ``10000`` (decimal or binary prefixes).

    Raises
    ------
    CostGraphError
        If the text is not such an amount or is not a whole number of units.
    """
    match = _AMOUNT.match(str(text))
    if not match:
        raise CostGraphError(f"--{what}: {text!r} is not an amount such as 80GB, 80GiB, 1.5G or 10000", value=text)
    number, prefix = Fraction(match.group(1)), (match.group(2) or "").upper()
    value = number * (_BINARY[prefix] if prefix in _BINARY else _DECIMAL[prefix])
    if value.denominator != 1 or value <= 0:
        raise CostGraphError(f"--{what}: {text!r} is not a positive whole number", value=text)
    return int(value)


def parse_seconds(text: str) -> Fraction:
    """Exact seconds from ``0.25``, ``1/4``, ``250ms``, ``2.5e-3``, ``300us`` (never evaluated as code).

    Raises
    ------
    CostGraphError
        If the text is not a positive time.
    """
    raw = str(text).strip().lower()
    scale = Fraction(1)
    for suffix, factor in (("ms", Fraction(1, 1000)), ("us", Fraction(1, 10**6)), ("s", Fraction(1))):
        if raw.endswith(suffix):
            raw, scale = raw[: -len(suffix)].strip(), factor
            break
    try:
        value = Fraction(raw) * scale
    except (ValueError, ZeroDivisionError):
        raise CostGraphError(f"--seconds: {text!r} is not a time such as 0.25, 1/4 or 250ms", value=text) from None
    if value <= 0:
        raise CostGraphError(f"--seconds: {text!r} is not positive", value=text)
    return value


def _size_pair(text: str) -> tuple:
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip():
        raise CostGraphError(f"--fix: {text!r} is not NAME=VALUE (e.g. S=1024)", value=text)
    try:
        return name.strip(), int(value)
    except ValueError:
        raise CostGraphError(f"--fix: {value!r} is not an integer", value=text) from None


def _model(name: str):
    """(ModelInfo, Network) of a zoo model, or a one-line error naming close matches."""
    import difflib

    from .models import MODELS

    info = MODELS.get(name)
    if info is None:
        close = difflib.get_close_matches(name, list(MODELS), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise CostGraphError(f"unknown model {name!r}{hint} (costgraph list shows the {len(MODELS)} models)", value=name)
    return info, info.builder()


def _fixed_sizes(args, info, net, searched: str) -> dict:
    names = [s.name for s in net.symbols]
    given = {}
    for flag, size in (("H", "H"), ("W", "W"), ("batch", "N")):
        value = getattr(args, flag)
        if value is not None:
            given[size] = value
    for text in args.fix or []:
        name, value = _size_pair(text)
        if name in given:
            raise CostGraphError(f"size {name} is given twice", value=name)
        given[name] = value
    if searched in given:
        raise CostGraphError(f"size {searched} is the one searched (--size {searched}); do not also fix it", value=searched)
    sizes = {k: v for k, v in info.sizes().items() if k in names}
    if searched == "H":
        sizes.pop("W", None)  # a square image grows: W follows H
    if "H" in given and "W" not in given:
        sizes.pop("W", None)
    sizes.update(given)
    sizes.pop(searched, None)
    return sizes


def _cmd_fit(args) -> int:
    from .fit import fit
    from .hardware import device as find_device

    info, net = _model(args.model)
    budgets = {
        "memory": parse_amount(args.memory, "memory") if args.memory is not None else None,
        "macs": parse_amount(args.macs, "macs") if args.macs is not None else None,
        "seconds": parse_seconds(args.seconds) if args.seconds is not None else None,
    }
    profile = find_device(args.device) if args.device is not None else None
    if not any(v is not None for v in budgets.values()):
        if profile is None:
            raise CostGraphError("fit needs a budget: --memory, --macs, --seconds, or --device (its memory)")
        budgets["memory"] = profile.memory
    training = bool(args.training or args.optimizer)
    fixed = _fixed_sizes(args, info, net, args.size)
    result = fit(
        net,
        args.size,
        **budgets,
        device=profile if profile is not None else "cuda",
        dtype=args.dtype,
        training=training,
        optimizer=(args.optimizer or "sgd") if training else None,
        fused_attention=args.fused_attention,
        **fixed,
    )
    mode = f"training step ({args.optimizer or 'sgd'})" if training else "inference"
    held = ", ".join(f"{k}={v}" for k, v in fixed.items()) or "no other sizes"
    if args.format == "json":
        doc = {
            "model": args.model, "size": args.size, "largest": result.value, "fixed": fixed, "dtype": args.dtype,
            "mode": mode, "device": profile.name if profile else None,
            "budgets": {k: _json_value(v) for k, v in result.budgets.items()},
            "at_largest": {k: _json_value(v) for k, v in result.at_value.items()},
            "at_next": {k: _json_value(v) for k, v in result.at_next.items()},
            "stopped_by": result.reason,
        }  # fmt: skip
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    lines = [f"{args.model}: largest {args.size} = {result.value if result.value is not None else 'none'} ({held}; {args.dtype}, {mode}"
             + (f", {profile.name}" if profile else "") + ")"]  # fmt: skip
    for name, budget in result.budgets.items():
        here, there = result.at_value.get(name), result.at_next.get(name)
        text = f"  {name}: budget {_show(name, budget)}"
        if here is not None:
            text += f"; {_show(name, here)} at {args.size}={result.value}"
        if there is not None:
            where = result.value + 1 if result.value is not None else "the smallest valid value"
            text += f"; {_show(name, there)} at {args.size}={where}"
        lines.append(text)
    lines.append(f"  stopped by: {result.reason}")
    if "seconds" in result.budgets:
        lines.append("  seconds are a roofline time: an ideal lower bound, not a prediction")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _json_value(value):
    if isinstance(value, Fraction):
        return {"exact": f"{value.numerator}/{value.denominator}", "float": float(value)}
    return value


def _show(name: str, value) -> str:
    if name == "seconds":
        return f"{float(value):.6g} s"
    if name == "memory":
        return f"{value:,} B"
    return f"{value:,}"


def _cmd_roofline(args) -> int:
    from .hardware import device as find_device

    info, net = _model(args.model)
    profile = find_device(args.device)
    sizes = _fixed_sizes(args, info, net, "")
    result = net.roofline(profile, args.dtype, training=args.training, fused_attention=args.fused_attention, **sizes)
    if args.out:
        from .render.plot import roofline_figure, save_figure

        save_figure(roofline_figure(args.model, result, profile), args.out)
    total = result.seconds
    if args.format == "json":
        doc = {
            "model": args.model, "device": profile.name, "dtype": args.dtype, "sizes": result.sizes,
            "training": args.training, "fused_attention": args.fused_attention, "label": result.label,
            "seconds": _json_value(total),
            "layers": [{"name": r.name, "kind": r.kind, "flops": r.flops, "bytes_moved": r.bytes_moved,
                        "seconds": _json_value(r.seconds), "bound": r.bound} for r in result.rows],
        }  # fmt: skip
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    mode = "training step" if args.training else "forward"
    at = ", ".join(f"{k}={v}" for k, v in result.sizes.items())
    lines = [
        f"{args.model} on {profile.name} ({args.dtype}, {mode}, {at}): {float(total):.6g} s, {result.label}",
        f"compute-bound layers {float(result.compute_seconds):.6g} s, memory-bound layers {float(result.memory_seconds):.6g} s",
        "",
        "| layer | kind | FLOPs | bytes moved | FLOPs/byte | seconds | share | bound |",
        "|:--|:--|--:|--:|--:|--:|--:|:--|",
    ]
    ranked = sorted((r for r in result.rows if r.seconds), key=lambda r: r.seconds, reverse=True)
    for r in ranked[: args.top]:
        intensity = f"{float(r.intensity):.3g}" if r.intensity is not None else "-"
        share = f"{100 * float(r.seconds / total):.1f}%"
        lines.append(f"| {r.name} | {r.kind} | {r.flops:,} | {r.bytes_moved:,} | {intensity} | {float(r.seconds):.4g} | {share} | {r.bound} |")
    if len(ranked) > args.top:
        lines.append(f"| ({len(ranked) - args.top} more layers) | | | | | | | |")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _cmd_hardware(args) -> int:
    from .hardware import DEVICES, device, measure, save_device

    if args.action == "list":
        lines = ["| device | fp32 | tf32 | bf16 | fp16 | fp8 | int8 | bandwidth | memory |", "|:--|" + "--:|" * 8]
        for d in DEVICES:
            peaks = [f"{d.peak_flops[k] / 10**12:g} T" if k in d.peak_flops else "-" for k in ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")]
            lines.append(f"| {d.name} | " + " | ".join(peaks) + f" | {d.bandwidth / 10**12:g} TB/s | {d.memory // 10**9} GB |")
        lines.append("")
        lines.append("Peak dense FLOP/s (T = 10^12) from each vendor's datasheet; `costgraph hardware show NAME` cites each figure.")
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    if args.action == "show":
        if not args.name:
            raise CostGraphError("hardware show needs a device name, e.g. costgraph hardware show h100")
        d = device(args.name)
        sys.stdout.write(json.dumps(d.as_dict(), indent=2, sort_keys=True) + "\n")
        return 0
    profile = measure(args.name or "local-cpu", gemm_size=args.gemm_size, stream_bytes=args.stream_mb * 2**20, repeats=args.repeats)
    path = save_device(profile, args.out)
    doc = profile.as_dict()
    doc["saved_to"] = path
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return 0


def add_commands(commands) -> None:
    """Register ``fit``, ``roofline`` and ``hardware`` on the main parser's subcommands (`commands`)."""
    sub = commands.add_parser(
        "fit",
        help="the largest batch, image size or context length within a memory, MAC or time budget",
        description=(
            "Find, exactly, the largest value of one size (--size, default the batch N) for which the figures "
            "stay within every budget given, the other sizes fixed (the model's defaults unless given); the "
            "answer is proved by evaluating at it and at it + 1."
        ),
        epilog="Example: costgraph fit resnet50 --memory 80GB --training --optimizer adam --dtype bf16",
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    sub.add_argument("--size", default="N", metavar="NAME", help="the size to maximize: N (batch, default), H (square image), S (context), ...")
    sub.add_argument("--memory", metavar="BYTES", help="memory budget: 80GB, 80GiB, 16000000000 (training step with --training)")
    sub.add_argument("--macs", metavar="COUNT", help="forward MACs budget: 10G, 4.5T, ...")
    sub.add_argument("--seconds", metavar="TIME", help="roofline time budget (needs --device): 0.25, 1/4, 250ms")
    sub.add_argument("--device", metavar="NAME", help="hardware profile (costgraph hardware list); alone: its memory is the budget")
    sub.add_argument("--training", action="store_true", help="a training step (gradients, optimizer state, saved activations)")
    sub.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), help="optimizer state (implies --training)")
    sub.add_argument("--dtype", default="fp32", help="element type (default fp32)")
    sub.add_argument("--fused-attention", action="store_true", help="attention as one fused kernel (roofline bytes)")
    group = sub.add_argument_group("fixed sizes (default: the model's usual ones, batch 1)")
    group.add_argument("--H", type=int, metavar="H", help="input height")
    group.add_argument("--W", type=int, metavar="W", help="input width (default H)")
    group.add_argument("--batch", "--N", dest="batch", type=int, metavar="N", help="batch size")
    group.add_argument("--fix", action="append", metavar="NAME=VALUE", help="any other size, e.g. --fix S=1024 (repeatable)")
    sub.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    sub.set_defaults(run=_cmd_fit)

    sub = commands.add_parser(
        "roofline",
        help="roofline time on a device: an ideal lower bound, per layer and in total",
        description=(
            "Per layer max(FLOPs / peak, bytes / bandwidth) on a hardware profile, compute- or memory-bound, and "
            "the total: an ideal lower bound, not a prediction (no fusion unless --fused-attention; see README)."
        ),
        epilog="Example: costgraph roofline resnet50 --device h100 --dtype bf16 --batch 64 --out roofline.png",
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    sub.add_argument("--device", required=True, metavar="NAME", help="hardware profile (costgraph hardware list)")
    sub.add_argument("--dtype", default="bf16", help="element type and peak (default bf16)")
    sub.add_argument("--training", action="store_true", help="a training step: forward and backward")
    sub.add_argument("--fused-attention", action="store_true", help="attention as one fused kernel")
    sub.add_argument("--top", type=int, default=15, metavar="K", help="layers shown, slowest first (default 15)")
    sub.add_argument("--out", metavar="FILE", help="also draw the roofline plot (.png, .svg, .pdf; needs matplotlib)")
    sub.add_argument("--format", choices=("md", "json"), default="md", help="output format (default md)")
    group = sub.add_argument_group("sizes (default: the model's usual ones, batch 1)")
    group.add_argument("--H", type=int, metavar="H", help="input height")
    group.add_argument("--W", type=int, metavar="W", help="input width (default H)")
    group.add_argument("--batch", "--N", dest="batch", type=int, metavar="N", help="batch size")
    group.add_argument("--fix", action="append", metavar="NAME=VALUE", help="any other size, e.g. --fix S=1024 (repeatable)")
    sub.set_defaults(run=_cmd_roofline)

    sub = commands.add_parser(
        "hardware",
        help="hardware profiles: list, show one (with sources), or measure this CPU",
        description=(
            "list: the built-in profiles (peak dense FLOP/s per dtype, bandwidth, memory); show NAME: one "
            "profile with the datasheet source of every figure; measure: time this machine's CPU (numpy GEMM "
            "and streaming add/copy) and save the profile as JSON, usable as --device NAME."
        ),
        epilog="Example: costgraph hardware measure --name my-cpu",
    )
    sub.add_argument("action", choices=("list", "show", "measure"), help="what to do")
    sub.add_argument("name", nargs="?", help="show: the device; measure: the profile's name (default local-cpu)")
    sub.add_argument("--out", metavar="FILE", help="measure: where to save the JSON (default: costgraph's cache dir)")
    sub.add_argument("--gemm-size", type=int, default=2048, metavar="N", help="measure: GEMM matrix size (default 2048)")
    sub.add_argument("--stream-mb", type=int, default=128, metavar="MB", help="measure: bytes per streamed array, MiB (default 128)")
    sub.add_argument("--repeats", type=int, default=5, metavar="K", help="measure: best of K runs (default 5)")
    sub.set_defaults(run=_cmd_hardware)
