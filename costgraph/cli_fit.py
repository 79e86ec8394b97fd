"""The ``fit``, ``roofline`` and ``hardware`` commands of the command line.

::

    costgraph fit resnet50 --memory 80GB --training --optimizer adam --dtype bf16
    costgraph fit vgg16 --maximize H --macs 100G               # largest square image under 100 GMACs
    costgraph fit gpt2 --maximize S --memory 16GB --dtype fp16 # longest context for inference in 16 GB
    costgraph fit resnet50 --seconds 0.1 --device h100 --dtype bf16 --training
    costgraph roofline resnet50 --device h100 --dtype bf16 --batch 64 --out roofline.png
    costgraph roofline gpt2 --device a100 --size S=128 --format csv
    costgraph hardware list --format csv
    costgraph hardware show h100
    costgraph hardware measure my-cpu                          # then: --device my-cpu

They are commands like the others (registered with
`costgraph.cli.register_command` when this module is imported, which
`costgraph.cli` does): the model is a zoo name, an ``.onnx`` path or
``package.module:callable``; sizes are the shared ``--H``, ``--W``,
``--batch``/``--N`` and ``--size NAME=VALUE``; build options ``--option
NAME=VALUE``; output ``--format`` md, csv, json or latex.  ``fit`` searches
the size named by ``--maximize`` (default N, the batch), the others held at
the given or usual values.  Errors are `CostGraphError`, which the main
program prints as one line with exit status 2.

>>> parse_amount("80GB", "memory"), parse_amount("1.5GiB", "memory"), parse_amount("10G", "macs")
(80000000000, 1610612736, 10000000000)
>>> parse_seconds("250ms"), parse_seconds("1/4")
(Fraction(1, 4), Fraction(1, 4))
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

from .cli import (
    _csv,
    _latex_grid,
    _write,
    add_format_argument,
    add_model_argument,
    add_option_argument,
    add_size_arguments,
    given_sizes,
    load_model,
    register_command,
)
from .errors import CostGraphError

__all__ = ["DEVICE_COLUMNS", "FIT_COLUMNS", "ROOFLINE_COLUMNS", "parse_amount", "parse_seconds"]

_DECIMAL = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40, "PI": 2**50}
_AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]I?)?\s*(B)?\s*$", re.IGNORECASE)

#: fit: one row per budget (csv adds model, maximize (the size searched), largest and stopped_by)
FIT_COLUMNS = ("budget", "limit", "at_largest", "at_next")
#: roofline: one row per layer, the names of `costgraph.roofline.RooflineRow` (and of ``table``'s name/kind/flops)
ROOFLINE_COLUMNS = ("name", "kind", "flops", "bytes_moved", "intensity", "seconds", "share", "bound")
#: hardware list: peak dense FLOP/s per dtype, bandwidth in bytes/s, memory in bytes
DEVICE_COLUMNS = ("device", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "bandwidth", "memory")


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


# -- shared pieces -------------------------------------------------------------------------------
def _held_sizes(args, source, searched: str) -> dict:
    """The sizes held fixed: the model's usual ones (those it has), overridden by the given ones.

    `searched` (fit's ``--maximize``; "" for none) is left out, and W follows H
    when H is searched or given alone.
    """
    given = given_sizes(args)
    if searched in given:
        raise CostGraphError(f"size {searched} is the one searched (--maximize {searched}); do not also give it", value=searched)
    names = {s.name for s in source.net.symbols}
    sizes = {k: v for k, v in source.sizes.items() if k in names}
    if searched == "H" or ("H" in given and "W" not in given):
        sizes.pop("W", None)  # a square image: W follows H
    sizes.update(given)
    sizes.pop(searched, None)
    return sizes


def _json_value(value):
    if isinstance(value, Fraction):
        return {"exact": f"{value.numerator}/{value.denominator}", "float": float(value)}
    return value


def _csv_value(value):
    """A csv cell: integers exact, a Fraction (seconds, FLOPs/byte) as its nearest float, None empty."""
    if value is None:
        return ""
    return float(value) if isinstance(value, Fraction) else value


def _table(fmt: str, columns, align, body) -> str:
    from .render.grid import latex_escape, markdown_grid

    if fmt == "latex":
        return _latex_grid(columns, align, body, latex_escape)
    return markdown_grid(columns, align, body)


# -- fit -----------------------------------------------------------------------------------------
def _setup_fit(parser) -> None:
    add_model_argument(parser)
    parser.add_argument("--maximize", default="N", metavar="NAME",
                        help="the size to maximize: N (batch, default), H (square image), S (context), ...")  # fmt: skip
    parser.add_argument("--memory", metavar="BYTES", help="memory budget: 80GB, 80GiB, 16000000000 (training step with --training)")
    parser.add_argument("--macs", metavar="COUNT", help="forward MACs budget: 10G, 4.5T, ...")
    parser.add_argument("--seconds", metavar="TIME", help="roofline time budget (needs --device): 0.25, 1/4, 250ms")
    parser.add_argument("--device", metavar="NAME", help="hardware profile (costgraph hardware list); alone: its memory is the budget")
    parser.add_argument("--training", action="store_true", help="a training step (gradients, optimizer state, saved activations)")
    parser.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), help="optimizer state (implies --training)")
    parser.add_argument("--dtype", default="fp32", help="element type (default fp32)")
    parser.add_argument("--fused-attention", action="store_true", help="attention as one fused kernel (roofline bytes)")
    add_size_arguments(parser)
    for action in parser._actions:  # --size NAME (without =VALUE) was fit's flag for --maximize NAME: say so
        if "--size" in action.option_strings:
            action.type = _held_size
    add_option_argument(parser)
    add_format_argument(parser)


def _held_size(text: str) -> tuple:
    import argparse

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not NAME=VALUE (a size held fixed, e.g. S=1024); "
                                         f"the size to search is --maximize NAME")  # fmt: skip
    return name.strip(), value.strip()


def _cmd_fit(args) -> int:
    """The largest batch, image size or context length within a memory, MAC or time budget.

    Finds, exactly, the largest value of one size (--maximize NAME, default
    N, the batch) for which the figures stay within every budget given
    (--memory, --macs, --seconds; --device alone: its memory), the other
    sizes held at the given values (--H, --W, --batch, --size NAME=VALUE)
    or the model's usual ones; the answer is proved by evaluating at it and
    at it + 1.  One row per budget: its limit, the figure at the largest
    value (at_largest) and at the next one (at_next).

    Example: costgraph fit resnet50 --memory 80GB --training --optimizer adam --dtype bf16
    """
    from .fit import fit
    from .hardware import device as find_device

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
    searched = args.maximize
    source = load_model(args, given_sizes(args))
    fixed = _held_sizes(args, source, searched)
    training = bool(args.training or args.optimizer)
    result = fit(
        source.net,
        searched,
        **budgets,
        device=profile if profile is not None else "cuda",
        dtype=args.dtype,
        training=training,
        optimizer=(args.optimizer or "sgd") if training else None,
        fused_attention=args.fused_attention,
        **fixed,
    )
    mode = f"training step ({args.optimizer or 'sgd'})" if training else "inference"
    rows = [(name, limit, result.at_value.get(name), result.at_next.get(name)) for name, limit in result.budgets.items()]
    if args.format == "json":
        doc = {
            "model": source.name, "maximize": searched, "largest": result.value, "fixed": fixed, "dtype": args.dtype,
            "mode": mode, "device": profile.name if profile else None,
            "budgets": {k: _json_value(v) for k, v in result.budgets.items()},
            "at_largest": {k: _json_value(v) for k, v in result.at_value.items()},
            "at_next": {k: _json_value(v) for k, v in result.at_next.items()},
            "stopped_by": result.reason,
            "rows": [dict(zip(FIT_COLUMNS, map(_json_value, row))) for row in rows],
        }  # fmt: skip
        _write(json.dumps(doc, indent=2))
        return 0
    if args.format == "csv":
        columns = ("model", "maximize", "largest", *FIT_COLUMNS, "stopped_by")
        _write(_csv([[source.name, searched, _csv_value(result.value), *map(_csv_value, row), result.reason] for row in rows], columns))
        return 0
    held = ", ".join(f"{k}={v}" for k, v in fixed.items()) or "no other sizes"
    largest = result.value if result.value is not None else "none"
    nxt = f"{searched}={result.value + 1}" if result.value is not None else "the smallest valid value"
    body = [[name, _show(name, limit), *("-" if v is None else _show(name, v) for v in (here, there))] for name, limit, here, there in rows]
    title = (f"{source.name}: largest {searched} = {largest} ({held}; {args.dtype}, {mode}"
             + (f", {profile.name}" if profile else "") + ")")  # fmt: skip
    notes = [f"at_largest: at {searched}={largest}; at_next: at {nxt}", f"stopped by: {result.reason}"]
    if "seconds" in result.budgets:
        notes.append("seconds are a roofline time: an ideal lower bound, not a prediction")
    if args.format == "latex":
        _write("\n".join(f"% {line}" for line in [title, *notes]) + "\n" + _table("latex", FIT_COLUMNS, "lrrr", body))
    else:
        _write("\n".join([title, "", _table("md", FIT_COLUMNS, "lrrr", body), "", *notes]))
    return 0


def _show(name: str, value) -> str:
    if name == "seconds":
        return f"{float(value):.6g} s"
    if name == "memory":
        return f"{value:,} B"
    return f"{value:,}"


# -- roofline ------------------------------------------------------------------------------------
def _setup_roofline(parser) -> None:
    add_model_argument(parser)
    parser.add_argument("--device", required=True, metavar="NAME", help="hardware profile (costgraph hardware list)")
    parser.add_argument("--dtype", default="bf16", help="element type and peak (default bf16)")
    parser.add_argument("--training", action="store_true", help="a training step: forward and backward")
    parser.add_argument("--fused-attention", action="store_true", help="attention as one fused kernel")
    parser.add_argument("--top", type=int, default=15, metavar="K", help="md and latex: layers shown, slowest first (default 15)")
    parser.add_argument("--out", metavar="FILE", help="also draw the roofline plot (.png, .svg, .pdf; needs matplotlib)")
    add_size_arguments(parser)
    add_option_argument(parser)
    add_format_argument(parser)


def _cmd_roofline(args) -> int:
    """Roofline time on a device: an ideal lower bound, per layer and in total.

    Per layer max(FLOPs / peak, bytes / bandwidth) on a hardware profile,
    compute- or memory-bound, and the total: an ideal lower bound, not a
    prediction (no fusion unless --fused-attention; see README).  Columns:
    name, kind, flops, bytes_moved, intensity (FLOPs per byte), seconds,
    share (of the total) and bound.  md and latex show the --top slowest
    layers; csv and json every layer, in the network's order.

    Example: costgraph roofline resnet50 --device h100 --dtype bf16 --batch 64 --out roofline.png
    """
    from .hardware import device as find_device

    if args.top < 0:
        raise CostGraphError(f"--top must be at least 0, got {args.top}", value=args.top)
    profile = find_device(args.device)
    source = load_model(args, given_sizes(args))
    sizes = _held_sizes(args, source, "")
    result = source.net.roofline(profile, args.dtype, training=args.training, fused_attention=args.fused_attention, **sizes)
    if args.out:
        from .render.plot import roofline_figure, save_figure

        save_figure(roofline_figure(source.name, result, profile), args.out)
    total = result.seconds
    if args.format in ("json", "csv"):
        records = [(r.name, r.kind, r.flops, r.bytes_moved, r.intensity, r.seconds, r.seconds / total if total else None, r.bound)
                   for r in result.rows]  # fmt: skip
        if args.format == "csv":
            _write(_csv([list(map(_csv_value, record)) for record in records], ROOFLINE_COLUMNS))
            return 0
        doc = {
            "model": source.name, "device": profile.name, "dtype": args.dtype, "sizes": result.sizes,
            "training": args.training, "fused_attention": args.fused_attention, "label": result.label,
            "seconds": _json_value(total),
            "layers": [dict(zip(ROOFLINE_COLUMNS, map(_json_value, record))) for record in records],
        }  # fmt: skip
        _write(json.dumps(doc, indent=2))
        return 0
    mode = "training step" if args.training else "forward"
    at = ", ".join(f"{k}={v}" for k, v in result.sizes.items())
    head = [
        f"{source.name} on {profile.name} ({args.dtype}, {mode}, {at}): {float(total):.6g} s, {result.label}",
        f"compute-bound layers {float(result.compute_seconds):.6g} s, memory-bound layers {float(result.memory_seconds):.6g} s",
    ]
    ranked = sorted((r for r in result.rows if r.seconds), key=lambda r: r.seconds, reverse=True)
    body = []
    for r in ranked[: args.top]:
        intensity = f"{float(r.intensity):.3g}" if r.intensity is not None else "-"
        body.append([r.name, r.kind, f"{r.flops:,}", f"{r.bytes_moved:,}", intensity, f"{float(r.seconds):.4g}",
                     f"{100 * float(r.seconds / total):.1f}%", r.bound])  # fmt: skip
    if len(ranked) > args.top:
        body.append([f"({len(ranked) - args.top} more layers)", "", "", "", "", "", "", ""])
    align = "llrrrrrl"
    if args.format == "latex":
        _write("\n".join(f"% {line}" for line in head) + "\n" + _table("latex", ROOFLINE_COLUMNS, align, body))
    else:
        _write("\n".join([*head, "", _table("md", ROOFLINE_COLUMNS, align, body)]))
    return 0


# -- hardware ------------------------------------------------------------------------------------
def _setup_hardware(parser) -> None:
    parser.add_argument("action", choices=("list", "show", "measure"), help="what to do")
    parser.add_argument("name", nargs="?", help="show: the device; measure: the profile's name (default local-cpu)")
    parser.add_argument("--out", metavar="FILE", help="measure: where to save the JSON (default: costgraph's cache dir)")
    parser.add_argument("--gemm-size", type=int, default=2048, metavar="N", help="measure: GEMM matrix size (default 2048)")
    parser.add_argument("--stream-mb", type=int, default=128, metavar="MB", help="measure: bytes per streamed array, MiB (default 128)")
    parser.add_argument("--repeats", type=int, default=5, metavar="K", help="measure: best of K runs (default 5)")
    add_format_argument(parser)


def _cmd_hardware(args) -> int:
    """Hardware profiles: list, show one (with sources), or measure this CPU.

    list: the built-in profiles (peak dense FLOP/s per dtype, bandwidth,
    memory; md and latex in T = 10^12 and GB, csv and json in exact
    FLOP/s, bytes/s and bytes); show NAME: one profile with the datasheet
    source of every figure (columns field, value); measure [NAME]: time this
    machine's CPU (numpy GEMM and streaming add/copy) and save the profile
    as JSON, usable as --device NAME.

    Example: costgraph hardware measure my-cpu
    """
    from .hardware import DEVICES, device, measure, save_device

    if args.action == "list":
        if args.name:
            raise CostGraphError(f"hardware list takes no name (got {args.name!r}); costgraph hardware show NAME shows one", value=args.name)
        return _list_devices(DEVICES, args.format)
    if args.action == "show":
        if not args.name:
            raise CostGraphError("hardware show needs a device name, e.g. costgraph hardware show h100")
        _write(_profile_text(device(args.name).as_dict(), args.format))
        return 0
    profile = measure(args.name or "local-cpu", gemm_size=args.gemm_size, stream_bytes=args.stream_mb * 2**20, repeats=args.repeats)
    doc = profile.as_dict()
    doc["saved_to"] = save_device(profile, args.out)
    _write(_profile_text(doc, args.format))
    return 0


def _list_devices(devices, fmt: str) -> int:
    peaks = DEVICE_COLUMNS[1:7]
    records = [[d.name, *(d.peak_flops.get(k) for k in peaks), d.bandwidth, d.memory] for d in devices]
    if fmt == "json":
        rows = [dict(zip(DEVICE_COLUMNS, (v if not isinstance(v, Fraction) else f"{v.numerator}/{v.denominator}" for v in r)))
                for r in records]  # fmt: skip
        _write(json.dumps({"units": {"peaks": "FLOP/s", "bandwidth": "bytes/s", "memory": "bytes"}, "rows": rows}, indent=2))
        return 0
    if fmt == "csv":
        _write(_csv([list(map(_csv_value, r)) for r in records], DEVICE_COLUMNS))
        return 0
    body = []
    for d in devices:
        cells = [f"{d.peak_flops[k] / 10**12:g} T" if k in d.peak_flops else "-" for k in peaks]
        body.append([d.name, *cells, f"{d.bandwidth / 10**12:g} TB/s", f"{d.memory // 10**9} GB"])
    note = "Peak dense FLOP/s (T = 10^12) from each vendor's datasheet; `costgraph hardware show NAME` cites each figure."
    if fmt == "latex":
        _write(f"% {note}\n" + _table("latex", DEVICE_COLUMNS, "l" + "r" * 8, body))
    else:
        _write(_table("md", DEVICE_COLUMNS, "l" + "r" * 8, body) + "\n\n" + note)
    return 0


def _profile_text(doc: dict, fmt: str) -> str:
    """One profile: json as `Device.as_dict` gives it; md, csv and latex as (field, value) rows, nested keys dotted."""
    if fmt == "json":
        return json.dumps(doc, indent=2, sort_keys=True)
    rows = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, dict):
            rows += [[f"{key}.{inner}", value[inner]] for inner in sorted(value)]
        else:
            rows.append([key, value])
    if fmt == "csv":
        return _csv(rows, ("field", "value"))
    return _table(fmt, ("field", "value"), "ll", [[k, str(v)] for k, v in rows])


for _entry in (("fit", _setup_fit, _cmd_fit), ("roofline", _setup_roofline, _cmd_roofline), ("hardware", _setup_hardware, _cmd_hardware)):
    register_command(*_entry)
