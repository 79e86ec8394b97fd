"""The ``costgraph`` command line (also ``python -m costgraph``).

::

    costgraph list
    costgraph table vgg16 --H 224            # the seed's table, with MACs, totals and memory
    costgraph table vgg16 --symbolic --format latex
    costgraph formula resnet50 --format latex
    costgraph sweep vgg16 --H 128:512:32 --format csv
    costgraph plot vgg16 --out vgg16.png
    costgraph docs --out docs/

Every error (a bad argument, an unknown model, a size that is not a positive
integer or at which some layer's output is empty) is one line on stderr,
``costgraph: error: ...``, and exit status 2; never a traceback.

Only the standard library, sympy and networkx are imported to start; the
zoo's models are built only when asked for, matplotlib only by ``plot`` and
``docs``.

>>> main(["table", "vgg16", "--H", "224", "--format", "csv"])  # doctest: +ELLIPSIS
name,kind,kernel,stride,padding,shape,params,weights,biases,activations,activation_bytes,macs,flops,shares
input,Input,,,,3x224x224,0,0,0,150528,602112,0,0,
...
total,,,,,,138357544,138344128,13416,15237608,60950432,15470264320,30958675456,
0
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys

from .errors import CostGraphError

__all__ = ["main", "build_parser", "parse_values"]

EXIT_USAGE = 2


class _UsageError(Exception):
    """A command-line mistake argparse found; reported as one line, like a CostGraphError."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is raised (and printed as one line by `main`), not printed with usage."""

    def error(self, message):
        raise _UsageError(f"{message} (see: {self.prog} --help)")


# -- argument values -----------------------------------------------------------------------
def _positive_or_any_int(text: str) -> int:
    # Sizes are parsed as any int here, so that zero and negative values reach
    # costgraph's own check and get its message (which names the size).
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def parse_values(text: str) -> list[int]:
    """The values of a size spec: ``224``, ``224,256,320`` or ``start:stop[:step]`` (stop included).

    Raises
    ------
    argparse.ArgumentTypeError
        If a part is not an integer, the step is not positive or stop < start.

    Examples
    --------
    >>> parse_values("128:256:32")
    [128, 160, 192, 224, 256]
    >>> parse_values("224,300"), parse_values("7")
    ([224, 300], [7])
    """
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if ":" in part:
            pieces = part.split(":")
            if len(pieces) not in (2, 3):
                raise argparse.ArgumentTypeError(f"{part!r} is not start:stop or start:stop:step")
            try:
                start, stop = int(pieces[0]), int(pieces[1])
                step = int(pieces[2]) if len(pieces) == 3 else 1
            except ValueError:
                raise argparse.ArgumentTypeError(f"{part!r}: start, stop and step must be integers") from None
            if step < 1:
                raise argparse.ArgumentTypeError(f"{part!r}: the step must be a positive integer, got {step}")
            if stop < start:
                raise argparse.ArgumentTypeError(f"{part!r}: stop {stop} is below start {start}")
            values.extend(range(start, stop + 1, step))
        else:
            values.append(_positive_or_any_int(part))
    return values


def _size_assignment(text: str) -> tuple:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. S=1024)")
    return name.strip(), value.strip()


# -- models and sizes --------------------------------------------------------------------------
def _model_info(name: str):
    from .models import MODELS

    info = MODELS.get(name)
    if info is None:
        close = difflib.get_close_matches(name, list(MODELS), n=3)
        hint = f"; did you mean {', '.join(close[:-1]) + ' or ' if len(close) > 1 else ''}{close[-1]}?" if close else ""
        raise CostGraphError(f"unknown model {name!r}{hint} (costgraph list shows the {len(MODELS)} models)", value=name)
    return info


def _build(name: str):
    info = _model_info(name)
    return info, info.builder()


def _given_sizes(args, *, ranges: bool = False) -> dict:
    """Sizes named on the command line, by size name (``--batch`` is N)."""
    given: dict = {}
    for flag, size in (("H", "H"), ("W", "W"), ("batch", "N")):
        value = getattr(args, flag, None)
        if value is not None:
            given[size] = value
    for name, value in getattr(args, "size", None) or []:
        if name in given:
            raise CostGraphError(f"size {name} is given twice", value=name)
        try:
            given[name] = parse_values(value) if ranges else int(value)
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise CostGraphError(f"size {name}: {error if ranges else repr(value) + ' is not an integer'}", value=value) from None
    return given


def _with_defaults(given: dict, info, net) -> dict:
    """The sizes to evaluate at: the model's defaults, overridden by what was given.

    A given H without W makes a square input (W = H), as in `Network.totals`.
    """
    sizes = dict(info.sizes())
    if "H" in given and "W" not in given:
        sizes.pop("W", None)
    sizes.update(given)
    names = {s.name for s in net.symbols}
    if not sizes and "N" in names:
        sizes["N"] = 1
    return sizes


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# -- commands ------------------------------------------------------------------------------------
def _cmd_list(args) -> int:
    from .models import MODELS
    from .render.tables import _markdown_grid, sizes_text
    from .render.units import human_bytes, human_count

    records = []
    for name in sorted(MODELS):
        info = MODELS[name]
        net = info.builder()
        totals = net.totals(dtype=args.dtype, **info.sizes())
        records.append((name, info, totals))
    if args.format == "json":
        doc = [
            {"model": name, "sizes": dict(t.sizes), "dtype": t.dtype, **t.as_dict(), "description": info.description}
            for name, info, t in records
        ]
        _write(json.dumps(doc, indent=2))
    elif args.format == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["model", "sizes", "params", "activations", "activation_bytes", "macs", "flops", "description"])
        for name, info, t in records:
            writer.writerow([name, sizes_text(t.sizes), t.params, t.activations, t.activation_bytes, t.macs, t.flops, info.description])
        _write(out.getvalue())
    else:
        header = ("model", "default size", "params", "MACs", f"activation memory ({args.dtype})", "description")
        body = [
            [name, sizes_text(t.sizes), human_count(t.params), human_count(t.macs), human_bytes(t.activation_bytes), info.description]
            for name, info, t in records
        ]
        _write(_markdown_grid(header, ("l", "l", "r", "r", "r", "l"), body))
        _write(f"\n{len(records)} models; costgraph table MODEL shows one layer by layer.")
    return 0


def _cmd_table(args) -> int:
    from .render.tables import table_document

    info, net = _build(args.model)
    given = _given_sizes(args)
    if args.symbolic:
        if given:
            raise CostGraphError("--symbolic shows formulas in every size; give no sizes with it")
        rows, totals = net.layers(), net.totals(dtype=args.dtype)
    else:
        sizes = _with_defaults(given, info, net)
        totals = net.totals(dtype=args.dtype, **sizes)  # checks the sizes first, naming any bad layer
        rows = net.layers(**sizes)
    training = args.training or args.optimizer is not None
    if training and (args.symbolic or args.format != "md"):
        raise CostGraphError("--training prints a Markdown breakdown of numbers: use it without --symbolic, with --format md")
    _write(table_document(args.model, rows, totals, fmt=args.format, all_layers=args.all, exact=args.exact))
    if args.format == "md" and not args.symbolic and not training:
        from .render.tables import memory_model_line

        _write(memory_model_line(net, dtype=args.dtype, **sizes))
    if training:
        from .memory import breakdown_markdown

        memory = net.memory(dtype=args.dtype, optimizer=args.optimizer or "sgd", device=args.device, **sizes)
        _write("\n" + breakdown_markdown(memory, net.totals(dtype=args.dtype, backward=True, **sizes)))
    return 0


def _cmd_formula(args) -> int:
    from .render.tables import _symbol_names, rows_json, totals_latex, totals_markdown, totals_text

    info, net = _build(args.model)
    totals = net.totals(dtype=args.dtype)
    symbols = ", ".join(_symbol_names(totals)) or "no size"
    if args.format == "latex":
        _write(f"% {args.model}: closed-form totals in {symbols} (activation bytes at {args.dtype})\n" + totals_latex(totals))
    elif args.format == "json":
        _write(json.dumps({"model": args.model, **rows_json([], totals)}, indent=2))
    elif args.format == "md":
        _write(f"{args.model}: closed-form totals in {symbols}\n\n" + totals_markdown(totals))
    else:
        lines = [f"{args.model}: closed-form totals in {symbols} (activation bytes at {args.dtype})", totals_text(totals)]
        if "H" in {s.name for s in net.symbols}:
            try:
                lines.append(f"valid for square inputs H = W >= {net.min_size()}")
            except CostGraphError:
                pass  # a model with sizes beyond H, W and N: min_size does not apply
        _write("\n".join(lines))
    return 0


def _cmd_sweep(args) -> int:
    from .render.sweep import SWEEP_FIELDS, sweep

    info, net = _build(args.model)
    axes = {}
    for flag, size in (("H", "H"), ("W", "W"), ("batch", "N")):
        value = getattr(args, flag)
        if value is not None:
            axes[size] = value
    for name, spec in args.size or []:
        if name in axes:
            raise CostGraphError(f"size {name} is given twice", value=name)
        try:
            axes[name] = parse_values(spec)
        except argparse.ArgumentTypeError as error:
            raise CostGraphError(f"size {name}: {error}", value=spec) from None
    if not axes:
        raise CostGraphError("sweep needs at least one size range, e.g. --H 128:512:32")
    fixed = {k: v for k, v in _with_defaults({k: None for k in axes}, info, net).items() if k not in axes}
    rows = sweep(net, axes, fixed, dtype=args.dtype)
    if args.format == "json":
        from .totals import FLOP_CONVENTION

        _write(json.dumps({"model": args.model, "dtype": args.dtype, "flop_convention": FLOP_CONVENTION, "rows": rows}, indent=2))
    else:
        import csv
        import io

        out = io.StringIO()
        columns = [k for k in rows[0] if k not in SWEEP_FIELDS] + list(SWEEP_FIELDS)
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write(out.getvalue())
    return 0


def _cmd_totals(args) -> int:
    from . import fast

    options = dict(fast._option(item) for item in args.option)
    rows = fast.grid(args.model, _given_sizes(args, ranges=True), options=options, dtype=args.dtype)
    sys.stdout.write(fast.format_rows(rows, args.format))
    return 0


def _cmd_plot(args) -> int:
    from .render.plot import layers_figure, require_matplotlib, resolution_figure, save_figure

    require_matplotlib()  # before any work: say how to install it
    info, net = _build(args.model)
    if args.kind == "resolution":
        defaults = _with_defaults(_given_sizes(args), info, net)
        figure = resolution_figure(args.model, net, defaults, dtype=args.dtype)
    else:
        sizes = _with_defaults(_given_sizes(args), info, net)
        totals = net.totals(dtype=args.dtype, **sizes)
        figure = layers_figure(args.model, net.layers(**sizes), totals)
    save_figure(figure, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _cmd_docs(args) -> int:
    from .docsgen import generate_docs

    written = generate_docs(args.out, models=args.model or None, jobs=args.jobs)
    print(f"wrote {len(written)} files under {args.out}", file=sys.stderr)
    return 0


def _cmd_reconcile(args) -> int:
    from .conventions import reconcile_json, reconcile_markdown

    from .fast import _option

    info = _model_info(args.model)
    options = dict(_option(item) for item in args.option)
    try:
        net = info.builder(**options)
    except TypeError as error:  # an option the builder does not take
        raise CostGraphError(f"{args.model}: {error}", value=options) from None
    given = _given_sizes(args)
    if args.symbolic and given:
        raise CostGraphError("--symbolic shows formulas in every size; give no sizes with it")
    sizes = {} if args.symbolic else _with_defaults(given, info, net)
    title = args.model + "".join(f" {k}={v}" for k, v in options.items())
    if args.format == "json":
        _write(json.dumps(reconcile_json(net, **sizes), indent=2))
    else:
        _write(reconcile_markdown(net, title, **sizes))
    return 0


# -- parser ----------------------------------------------------------------------------------------
def _add_sizes(parser, *, ranges: bool = False) -> None:
    kind = parse_values if ranges else _positive_or_any_int
    what = "values: 224, 224,256 or start:stop[:step], stop included" if ranges else "a positive integer"
    group = parser.add_argument_group("sizes (defaults: the model's usual input size, batch 1)")
    group.add_argument("--H", type=kind, metavar="H", help=f"input height ({what})")
    group.add_argument("--W", type=kind, metavar="W", help=f"input width ({what}); default: H")
    group.add_argument("--batch", "--N", dest="batch", type=kind, metavar="N", help=f"batch size N ({what}); default: 1")
    group.add_argument(
        "--size",
        action="append",
        type=_size_assignment,
        metavar="NAME=VALUE",
        help="any other size symbol, e.g. --size S=1024 for a sequence length (repeatable)",
    )


def _add_dtype(parser) -> None:
    parser.add_argument("--dtype", default="fp32", help="element type for activation bytes (default fp32: 4 bytes)")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``costgraph`` command line."""
    parser = _Parser(
        prog="costgraph",
        description="Exact, symbolic costs (params, activations, MACs, FLOPs, memory) of neural networks.",
        epilog="Example: costgraph table vgg16 --H 224",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    sub = commands.add_parser("list", help="the model zoo with params and MACs at each default size",
                              description="List the model zoo: params, MACs and activation memory at each model's default size.")  # fmt: skip
    sub.add_argument("--format", choices=("md", "csv", "json"), default="md", help="output format (default md)")
    _add_dtype(sub)
    sub.set_defaults(run=_cmd_list)

    sub = commands.add_parser(
        "table",
        help="per-layer table, totals and memory (the seed's VGG16 table)",
        description=(
            "Print a model's per-layer table (name, kind, ksize, stride, padding, output channels and size, "
            "params, memory = activation elements, MACs), its totals and its forward memory. "
            "Layers without parameters, MACs or a new tensor (in-place ReLU, Dropout, Flatten) are hidden "
            "unless --all; csv and json always list every layer."
        ),
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    _add_sizes(sub)
    _add_dtype(sub)
    sub.add_argument("--format", choices=("md", "latex", "csv", "json"), default="md", help="output format (default md)")
    sub.add_argument("--symbolic", action="store_true", help="formulas in the size symbols instead of numbers")
    sub.add_argument("--all", action="store_true", help="show every layer, in-place and view layers included")
    sub.add_argument("--exact", action="store_true", help="exact counts with thousands separators instead of 138.4M")
    sub.add_argument("--training", action="store_true",
                     help="add the memory of a training step (parameters, gradients, optimizer state, what autograd "
                     "saves for backward), the peak of inference memory, and forward/backward MACs")
    sub.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"),
                     help="optimizer state to count: 0, 1, 2, 2 per parameter (implies --training; default sgd)")
    sub.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                     help="where training runs: dropout masks and norm statistics differ (default cuda)")
    sub.set_defaults(run=_cmd_table)

    sub = commands.add_parser("formula", help="closed-form totals in the size symbols",
                              description="Print a model's totals as formulas in its size symbols (H, W, N, S, ...).")  # fmt: skip
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    sub.add_argument("--format", choices=("text", "latex", "md", "json"), default="text", help="output format (default text)")
    _add_dtype(sub)
    sub.set_defaults(run=_cmd_formula)

    sub = commands.add_parser(
        "totals",
        help="exact totals at one or more sizes, in milliseconds (cached formulas, no sympy)",
        description=(
            "A zoo model's totals (params, activations, MACs, FLOPs) at every combination of the given sizes, "
            "exact, from the model's formulas compiled to Python and cached (see costgraph.fast): after the "
            "first run sympy is not even imported."
        ),
        epilog="Example: costgraph totals resnet50 --H 128:512:32 --batch 1,8",
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    _add_sizes(sub, ranges=True)
    _add_dtype(sub)
    sub.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                     help="a build option of the model, e.g. adaptive_pool=true (repeatable)")  # fmt: skip
    sub.add_argument("--format", choices=("text", "csv", "json"), default="text", help="output format (default text)")
    sub.set_defaults(run=_cmd_totals)

    sub = commands.add_parser(
        "sweep",
        help="exact totals over a range of sizes",
        description="Evaluate a model's totals exactly at every combination of the given sizes, one row per point.",
        epilog="Example: costgraph sweep vgg16 --H 128:512:32 --batch 1,8",
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    _add_sizes(sub, ranges=True)
    _add_dtype(sub)
    sub.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    sub.set_defaults(run=_cmd_sweep)

    sub = commands.add_parser(
        "plot",
        help="plot where the cost lives (needs matplotlib)",
        description=(
            "Draw a model's per-layer share of activation memory and parameters (--kind layers), or its totals "
            "against the input size (--kind resolution). Needs matplotlib: pip install 'costgraph[plot]'."
        ),
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    sub.add_argument("--out", required=True, metavar="FILE", help="output file: .png, .svg or .pdf")
    sub.add_argument("--kind", choices=("layers", "resolution"), default="layers", help="which plot (default layers)")
    _add_sizes(sub)
    _add_dtype(sub)
    sub.set_defaults(run=_cmd_plot)

    sub = commands.add_parser(
        "docs",
        help="generate the Markdown docs of the zoo (needs matplotlib)",
        description=(
            "Write DIR/index.md, DIR/conventions.md and one page with two plots per zoo model under DIR/models/. "
            "Deterministic: the same inputs give the same bytes. Needs matplotlib: pip install 'costgraph[plot]'."
        ),
    )
    sub.add_argument("--out", required=True, metavar="DIR", help="output directory (e.g. docs/)")
    sub.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: usable cores, at most 4)")
    sub.add_argument("--model", action="append", metavar="NAME", help=argparse.SUPPRESS)
    sub.set_defaults(run=_cmd_docs)

    sub = commands.add_parser(
        "reconcile",
        help="what fvcore, thop, torchinfo, ptflops and FlopCounterMode report, and why they differ",
        description=(
            "One row per counting convention (MACs, costgraph's FLOPs and each tool's preset): its figure at "
            "the sizes and the formula of the terms that separate it from plain MACs (bias adds, "
            "BatchNorm, ReLU, pooling, ...). See costgraph.conventions."
        ),
        epilog="Example: costgraph reconcile vgg16 --H 224 --option adaptive_pool=true",
    )
    sub.add_argument("model", help="a zoo model name (see: costgraph list)")
    _add_sizes(sub)
    sub.add_argument("--format", choices=("md", "json"), default="md", help="output format (default md)")
    sub.add_argument("--symbolic", action="store_true", help="formulas in the size symbols instead of numbers")
    sub.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                     help="a build option of the model, e.g. adaptive_pool=true for torchvision's VGG (repeatable)")  # fmt: skip
    sub.set_defaults(run=_cmd_reconcile)

    from .cli_fit import add_commands  # fit and hardware: their own module, their own arguments

    add_commands(commands)
    return parser


def main(argv=None) -> int:
    """Run the command line on `argv` (default ``sys.argv[1:]``); return the exit status.

    Errors are reported as one line, ``costgraph: error: ...``, with status 2.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except (CostGraphError, _UsageError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message held
        print(f"costgraph: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `costgraph list | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
