"""The ``costgraph`` command line (also ``python -m costgraph``).

::

    costgraph list
    costgraph table vgg16 --H 224            # the seed's table, with MACs, totals and memory
    costgraph summary resnet50 --depth 1     # modules with their totals, like torchinfo
    costgraph totals resnet50 --H 128:512:32 --batch 1,8   # exact totals per size, from cached formulas
    costgraph formula resnet50 --format latex
    costgraph plot vgg16 --out vgg16.png
    costgraph reconcile vgg16 --H 224 --option adaptive_pool=true
    costgraph docs --out docs/
    costgraph fit resnet50 --memory 80GB --training --optimizer adam --dtype bf16   # largest batch
    costgraph roofline resnet50 --device h100 --batch 64     # ideal lower-bound time per layer
    costgraph hardware list                  # device profiles (fit, roofline: --device NAME)

Every command that takes a model takes a zoo name, a path to an ``.onnx``
file, or ``package.module:callable`` (a function returning a `Network` or a
PyTorch module; the module is imported from the current directory, as
``python -m`` does, because the user named it); the same size flags
(``--H``, ``--W``, ``--batch``/``--N``, ``--size NAME=VALUE``); build options
``--option NAME=VALUE`` checked against the builder's signature; and one
``--format`` vocabulary (`FORMATS`), with the same column names in every
format.  ``sweep`` is another name for ``totals``.

Every failure (a bad argument, an unknown model or option, a size that is
not a positive integer or at which some layer's output is empty, an output
that cannot be written) is one line on stderr, ``costgraph: error: ...``,
and exit status 2; never a traceback.  A closed pipe (``| head -1``) ends
the output silently with status 0.

Subcommands are registered in `COMMANDS` as ``(name, setup, run)``:
``setup(parser)`` adds the arguments (the helpers `add_model_argument`,
`add_size_arguments`, `add_option_argument`, `add_format_argument` give the
shared ones), ``run(args)`` returns the exit status, and its docstring's
first line is the command's help.  `register_command` appends one.

>>> main(["table", "vgg16", "--H", "224", "--format", "csv"])  # doctest: +ELLIPSIS
name,kind,kernel,stride,padding,channels,size,params,weights,biases,activations,activation_bytes,macs,flops,shares
input,Input,,,,3,224x224,0,0,0,150528,602112,0,0,
...
total,,,,,,,138357544,138344128,13416,15237608,60950432,15470264320,30958675456,
0
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys

from .errors import CostGraphError
from .size_ranges import SizeSpecError, parse_values

__all__ = [
    "main",
    "build_parser",
    "parse_values",
    "COMMANDS",
    "FORMATS",
    "register_command",
    "add_model_argument",
    "add_size_arguments",
    "add_option_argument",
    "add_format_argument",
    "load_model",
    "given_sizes",
]

EXIT_USAGE = 2

#: the one --format vocabulary: every command that prints a table takes these
FORMATS = ("md", "csv", "json", "latex")


class _UsageError(Exception):
    """A command-line mistake argparse found; reported as one line, like a CostGraphError."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is raised (and printed as one line by `main`), and no abbreviations."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # `--h 224` is an error, not --help
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise _UsageError(f"{message} (see: {self.prog} --help)")

    def _print_message(self, message, file=None):
        # argparse swallows write errors here; a full disk must be reported like any other failure
        if message:
            (file or sys.stderr).write(message)


# -- shared arguments ---------------------------------------------------------------------------
MODEL_HELP = "a zoo model name (costgraph list), a path to an .onnx file, or package.module:callable"


def add_model_argument(parser) -> None:
    """The positional MODEL: a zoo name, an ``.onnx`` path or ``package.module:callable``."""
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)


def _assignment(text: str) -> tuple:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not NAME=VALUE (e.g. S=1024)")
    return name.strip(), value.strip()


def add_size_arguments(parser, *, ranges: bool = False) -> None:
    """``--H``, ``--W``, ``--batch``/``--N`` and ``--size NAME=VALUE`` (ranges where the command sweeps)."""
    what = "values: 224, 224,256 or start:stop[:step], stop included" if ranges else "a positive integer"
    group = parser.add_argument_group("sizes (defaults: the model's usual input size, batch 1)")
    group.add_argument("--H", metavar="H", help=f"input height ({what})")
    group.add_argument("--W", metavar="W", help=f"input width ({what}); default: H")
    group.add_argument("--batch", "--N", dest="batch", metavar="N", help=f"batch size N ({what}); default: 1")
    group.add_argument("--size", action="append", type=_assignment, metavar="NAME=VALUE",
                       help=f"any size symbol by name, e.g. --size S=1024 ({what}; repeatable)")  # fmt: skip
    parser.set_defaults(ranges=ranges)


def add_option_argument(parser) -> None:
    """``--option NAME=VALUE`` (repeatable): a build option, parsed against the builder's signature."""
    parser.add_argument("--option", action="append", default=[], type=_assignment, metavar="NAME=VALUE",
                        help="a build option of the model, e.g. adaptive_pool=true (booleans: true/false/yes/no/1/0; "
                        "repeatable; an unknown name lists the valid ones)")  # fmt: skip


def add_format_argument(parser, default: str = "md") -> None:
    """``--format`` from `FORMATS`."""
    parser.add_argument("--format", choices=FORMATS, default=default, help=f"output format (default {default})")


def _add_dtype(parser) -> None:
    parser.add_argument("--dtype", default="fp32", help="element type of activation memory (default fp32: 4 bytes)")


# -- sizes and models -----------------------------------------------------------------------------
def given_sizes(args) -> dict:
    """The sizes named on the command line, by size name (``--batch`` is N).

    Each is a list of values for a command that sweeps (``args.ranges``), else one int.

    Raises
    ------
    CostGraphError
        If a value is not an integer (or a range, where ranges are taken), or
        a size is given twice.
    """
    given: dict = {}
    pairs = [(size, getattr(args, flag, None)) for flag, size in (("H", "H"), ("W", "W"), ("batch", "N"))]
    pairs += list(getattr(args, "size", None) or [])
    for name, text in pairs:
        if text is None:
            continue
        if name in given:
            raise CostGraphError(f"size {name} is given twice", value=name)
        flag = {"N": "--batch"}.get(name, f"--{name}") if name in ("H", "W", "N") else f"--size {name}"
        try:
            values = parse_values(text)
        except SizeSpecError as error:
            raise CostGraphError(f"{flag}: {error}", value=text) from None
        if getattr(args, "ranges", False):
            given[name] = values
        elif len(values) != 1:
            raise CostGraphError(f"{flag} takes one value here; `costgraph totals` evaluates ranges", value=text)
        else:
            given[name] = values[0]
    return given


def _text_options(args) -> dict:
    options: dict = {}
    for name, value in getattr(args, "option", None) or []:
        if name in options:
            raise CostGraphError(f"option {name} is given twice", value=name)
        options[name] = value
    return options


def load_model(args, sizes: dict | None = None):
    """The `costgraph.model_source.Source` of ``args.model`` with ``args.option``.

    Raises
    ------
    CostGraphError
        As `costgraph.model_source.resolve` raises.
    """
    from .model_source import resolve

    return resolve(args.model, options=_text_options(args), sizes=sizes or {})


def _at_sizes(source, given: dict) -> dict:
    """The sizes to evaluate at: the model's usual ones, overridden by the given ones (W = H if only H)."""
    sizes = dict(source.sizes)
    if "H" in given and "W" not in given:
        sizes.pop("W", None)
    sizes.update(given)
    names = {s.name for s in source.net.symbols}
    if not sizes and "N" in names:
        sizes["N"] = 1
    return sizes


def _explained(error: CostGraphError, net) -> CostGraphError:
    from .model_source import with_min_size_hint

    return with_min_size_hint(error, net)


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# -- commands ------------------------------------------------------------------------------------
def _setup_list(parser) -> None:
    add_format_argument(parser)
    _add_dtype(parser)


def _cmd_list(args) -> int:
    """The model zoo with params, MACs and activation memory at each model's usual size."""
    from .models import MODELS
    from .render.tables import _markdown_grid, latex_escape, sizes_text
    from .render.units import human_bytes, human_count

    columns = ("model", "sizes", "params", "macs", "activations", "activation_bytes", "flops", "description")
    records = []
    for name in sorted(MODELS):
        info = MODELS[name]
        t = info.builder().totals(dtype=args.dtype, **info.sizes())
        records.append({"model": name, "sizes": dict(t.sizes), "params": t.params, "macs": t.macs, "activations": t.activations,
                        "activation_bytes": t.activation_bytes, "flops": t.flops, "description": info.description})  # fmt: skip
    if args.format == "json":
        _write(json.dumps({"dtype": args.dtype, "rows": records}, indent=2))
    elif args.format == "csv":
        _write(_csv([[r[c] if c != "sizes" else sizes_text(r[c]) for c in columns] for r in records], columns))
    else:
        human = {"params": human_count, "macs": human_count, "activations": human_count, "flops": human_count,
                 "activation_bytes": human_bytes, "sizes": sizes_text}  # fmt: skip
        body = [[human.get(c, str)(r[c]) for c in columns] for r in records]
        align = ("l", "l", "r", "r", "r", "r", "r", "l")
        if args.format == "latex":
            _write(_latex_grid(columns, align, body, latex_escape))
        else:
            _write(_markdown_grid(columns, align, body))
            _write(f"\n{len(records)} models at fp32 unless --dtype; costgraph table MODEL shows one layer by layer.")
    return 0


def _csv(rows, columns) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def _latex_grid(columns, align, body, escape) -> str:
    lines = [r"\begin{tabular}{" + "".join(align) + "}", r"\toprule", " & ".join(escape(c) for c in columns) + r" \\", r"\midrule"]
    lines += [" & ".join(escape(str(c)) for c in row) + r" \\" for row in body]
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"])


def _setup_table(parser) -> None:
    add_model_argument(parser)
    add_size_arguments(parser)
    add_option_argument(parser)
    _add_dtype(parser)
    add_format_argument(parser)
    parser.add_argument("--symbolic", action="store_true", help="formulas in the size symbols instead of numbers")
    parser.add_argument("--all", action="store_true", help="show every layer, in-place and view layers included")
    parser.add_argument("--exact", action="store_true", help="exact counts with thousands separators instead of 138.4M")
    parser.add_argument("--training", action="store_true",
                        help="add the memory of a training step (parameters, gradients, optimizer state, what autograd "
                        "saves for backward), the peak of inference memory, and forward/backward MACs")  # fmt: skip
    parser.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"),
                        help="optimizer state to count: 0, 1, 2, 2 per parameter (implies --training; default sgd)")  # fmt: skip
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="where training runs: dropout masks and norm statistics differ (default cuda)")  # fmt: skip


def _cmd_table(args) -> int:
    """Per-layer table, totals and memory (the seed's VGG16 table).

    Columns: name, kind, kernel, stride, padding, output channels and size,
    params, activations (the elements of the new tensor a layer writes: the
    seed's "memory") and macs.  Layers without parameters, MACs or a new
    tensor (in-place ReLU, Dropout, Flatten) are hidden unless --all; csv
    and json list every layer.
    """
    from .render.tables import memory_model_line, table_document

    given = given_sizes(args)
    source = load_model(args, given)
    net = source.net
    training = args.training or args.optimizer is not None
    if training and (args.symbolic or args.format != "md"):
        raise CostGraphError("--training prints a Markdown breakdown of numbers: use it without --symbolic, with --format md")
    if args.symbolic:
        if given:
            raise CostGraphError("--symbolic shows formulas in every size; give no sizes with it")
        rows, totals, sizes = net.layers(), net.totals(dtype=args.dtype), {}
    else:
        sizes = _at_sizes(source, given)
        try:
            totals = net.totals(dtype=args.dtype, **sizes)  # checks the sizes first, naming any bad layer
        except CostGraphError as error:
            raise _explained(error, net) from None
        rows = net.layers(**sizes)
    text = table_document(source.name, rows, totals, fmt=args.format, all_layers=args.all, exact=args.exact)
    if args.format == "md" and not args.symbolic:
        text = text.rstrip("\n") + "\n" + memory_model_line(net, dtype=args.dtype, **sizes)
    if training:
        from .render.memory_table import breakdown_markdown

        memory = net.memory(dtype=args.dtype, optimizer=args.optimizer or "sgd", device=args.device, **sizes)
        text += "\n\n" + breakdown_markdown(memory, net.totals(dtype=args.dtype, backward=True, **sizes))
    _write(text)
    return 0


def _setup_summary(parser) -> None:
    add_model_argument(parser)
    add_size_arguments(parser)
    add_option_argument(parser)
    _add_dtype(parser)
    add_format_argument(parser)
    parser.add_argument("--depth", type=int, default=2, metavar="D", help="levels of the module hierarchy to show (default 2)")
    parser.add_argument("--all", action="store_true", help="also list layers without parameters, MACs or a new tensor")


def _cmd_summary(args) -> int:
    """Modules to a chosen depth with their totals (like torchinfo's summary and fvcore's by-module table).

    Layers are grouped by their dotted names (layer1.0.conv1 under layer1.0
    under layer1); a tied parameter is counted once, at its owner.
    """
    from .model_summary import summary

    given = given_sizes(args)
    source = load_model(args, given)
    if args.depth < 1:
        raise CostGraphError(f"--depth must be at least 1, got {args.depth}", value=args.depth)
    result = summary(source.net, depth=args.depth, dtype=args.dtype, all_layers=args.all, **_at_sizes(source, given))
    result.name = source.name
    text = {"md": result.to_markdown, "csv": result.to_csv, "json": result.to_json, "latex": result.to_latex}[args.format]()
    _write(text)
    return 0


def _setup_totals(parser) -> None:
    add_model_argument(parser)
    add_size_arguments(parser, ranges=True)
    add_option_argument(parser)
    _add_dtype(parser)
    add_format_argument(parser)
    parser.add_argument("--skip-invalid", action="store_true",
                        help="leave out sizes at which some layer is invalid (default: a row saying why)")  # fmt: skip


def _cmd_totals(args) -> int:
    """Exact totals at one size or a sweep over ranges (zoo models: cached formulas, milliseconds).

    One row per combination of the given sizes (the first varies slowest):
    params, weights, biases, activations, activation_bytes, macs, flops.  A
    size at which some layer is invalid gives a row with the reason in the
    error column (or no row, with --skip-invalid); if no size is valid, the
    first reason is the error.  Zoo models are evaluated from formulas
    compiled to Python and cached (costgraph.fast): after the first run
    sympy is not even imported.
    """
    from .render.totals_rows import sweep_rows

    given = given_sizes(args)
    options = _text_options(args)
    rows = sweep_rows(args.model, given, options=options, dtype=args.dtype)
    valid = [r for r in rows if not r.get("error")]
    if not valid:
        raise CostGraphError(rows[0]["error"])
    if args.skip_invalid:
        rows = valid
    from .render.totals_rows import format_sweep

    _write(format_sweep(rows, args.format, title=args.model))
    return 0


def _setup_formula(parser) -> None:
    add_model_argument(parser)
    add_option_argument(parser)
    _add_dtype(parser)
    add_format_argument(parser)


def _cmd_formula(args) -> int:
    """Closed-form totals in the size symbols (H, W, N, S, ...)."""
    from .render.tables import _symbol_names, rows_json, totals_latex, totals_markdown

    source = load_model(args)
    net, name = source.net, source.name
    totals = net.totals(dtype=args.dtype)
    symbols = ", ".join(_symbol_names(totals)) or "no size"
    if args.format == "latex":
        _write(f"% {name}: closed-form totals in {symbols} (activation bytes at {args.dtype})\n" + totals_latex(totals))
    elif args.format == "json":
        _write(json.dumps({"model": name, **rows_json([], totals)}, indent=2))
    elif args.format == "csv":
        values = totals.as_dict()
        _write(_csv([[str(values[f]) for f in values]], list(values)))
    else:
        lines = [f"{name}: closed-form totals in {symbols}", "", totals_markdown(totals)]
        if "H" in {s.name for s in net.symbols}:
            try:
                lines.append(f"\nvalid for square inputs H = W >= {net.min_size()}")
            except CostGraphError:
                pass  # a model with sizes beyond H, W and N: min_size does not apply
        _write("\n".join(lines))
    return 0


def _setup_plot(parser) -> None:
    add_model_argument(parser)
    parser.add_argument("--out", required=True, metavar="FILE", help="output file: .png, .svg or .pdf")
    parser.add_argument("--kind", choices=("layers", "resolution"), default="layers", help="which plot (default layers)")
    parser.add_argument("--depth", type=int, metavar="D",
                        help="layers plot: group layers into modules to this depth (default: by layer, "
                        "or by module for networks of more than 40 shown layers)")  # fmt: skip
    add_size_arguments(parser)
    add_option_argument(parser)
    _add_dtype(parser)


def _cmd_plot(args) -> int:
    """Plot where the cost lives (needs matplotlib: pip install 'costgraph[plot]').

    --kind layers: each layer's (or module's) share of activation memory and
    of parameters; --kind resolution: the totals against the input size.
    """
    from .render.plot import layers_figure, require_matplotlib, resolution_figure, save_figure

    require_matplotlib()  # before any work: say how to install it
    given = given_sizes(args)
    source = load_model(args, given)
    net = source.net
    sizes = _at_sizes(source, given)
    try:
        if args.kind == "resolution":
            figure = resolution_figure(source.name, net, sizes, dtype=args.dtype)
        else:
            totals = net.totals(dtype=args.dtype, **sizes)
            figure = layers_figure(source.name, net.layers(**sizes), totals, depth=args.depth)
    except CostGraphError as error:
        raise _explained(error, net) from None
    save_figure(figure, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _setup_docs(parser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (e.g. docs/)")
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: usable cores, at most 4)")
    parser.add_argument("--model", action="append", metavar="NAME", help=argparse.SUPPRESS)


def _cmd_docs(args) -> int:
    """Generate the Markdown docs of the zoo (needs matplotlib).

    Writes DIR/index.md, DIR/conventions.md and one page with two plots per
    zoo model under DIR/models/; the same inputs give the same bytes.
    """
    from .docsgen import generate_docs

    written = generate_docs(args.out, models=args.model or None, jobs=args.jobs)
    print(f"wrote {len(written)} files under {args.out}", file=sys.stderr)
    return 0


def _setup_reconcile(parser) -> None:
    add_model_argument(parser)
    add_size_arguments(parser)
    add_option_argument(parser)
    add_format_argument(parser)
    parser.add_argument("--symbolic", action="store_true", help="formulas in the size symbols instead of numbers")


def _cmd_reconcile(args) -> int:
    """What fvcore, thop, torchinfo, ptflops and FlopCounterMode report, and why they differ.

    One row per counting convention (MACs, costgraph's FLOPs and each tool's
    preset): its figure at the sizes and the formula of the terms that
    separate it from plain MACs (bias adds, BatchNorm, ReLU, pooling, ...).
    """
    from .conventions import reconcile_json, reconcile_markdown

    given = given_sizes(args)
    if args.symbolic and given:
        raise CostGraphError("--symbolic shows formulas in every size; give no sizes with it")
    source = load_model(args, given)
    sizes = {} if args.symbolic else _at_sizes(source, given)
    try:
        if args.format == "json":
            _write(json.dumps(reconcile_json(source.net, **sizes), indent=2))
        elif args.format in ("csv", "latex"):
            # one row per convention, the columns of the json rows (terms written as text)
            columns = ("convention", "figure", "extra", "checked", "terms", "description")
            rows = []
            for row in reconcile_json(source.net, **sizes)["rows"]:
                terms = "; ".join(f"{t['weight']:+} x {t['term']} = {t['formula'] if t.get('value') is None else t['value']}"
                                  for t in row["terms"])  # fmt: skip
                rows.append([row["convention"], row["figure"], row["extra"], row["checked"], terms, row["description"]])
            if args.format == "csv":
                _write(_csv(rows, columns))
            else:
                from .render.grid import latex_escape

                _write(_latex_grid(columns, "lrrlll", rows, latex_escape))
        else:
            _write(reconcile_markdown(source.net, source.name, **sizes))
    except CostGraphError as error:
        raise _explained(error, source.net) from None
    return 0


#: the subcommands, in --help order: (name, setup(parser), run(args) -> exit status).  The run
#: function's docstring gives the help (first line) and description.  Append with `register_command`.
COMMANDS: list = [
    ("list", _setup_list, _cmd_list),
    ("table", _setup_table, _cmd_table),
    ("summary", _setup_summary, _cmd_summary),
    ("totals", _setup_totals, _cmd_totals),
    ("formula", _setup_formula, _cmd_formula),
    ("plot", _setup_plot, _cmd_plot),
    ("reconcile", _setup_reconcile, _cmd_reconcile),
    ("docs", _setup_docs, _cmd_docs),
]

#: other names of a command: (alias, command)
ALIASES = {"sweep": "totals"}


def register_command(name: str, setup, run) -> None:
    """Add subcommand `name`: ``setup(parser)`` adds its arguments, ``run(args)`` returns the exit status.

    Raises
    ------
    CostGraphError
        If `name` is taken.
    """
    if any(name == entry[0] for entry in COMMANDS) or name in ALIASES:
        raise CostGraphError(f"command {name!r} is already registered", value=name)
    COMMANDS.append((name, setup, run))


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``costgraph`` command line (from `COMMANDS`)."""
    import inspect

    parser = _Parser(
        prog="costgraph",
        description="Exact, symbolic costs (params, activations, MACs, FLOPs, memory) of neural networks.",
        epilog="Example: costgraph table vgg16 --H 224",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    aliases: dict = {}
    for alias, command in ALIASES.items():
        aliases.setdefault(command, []).append(alias)
    for name, setup, run in COMMANDS:
        doc = inspect.cleandoc(run.__doc__ or "")
        sub = commands.add_parser(name, aliases=aliases.get(name, []), help=doc.split("\n")[0],
                                  description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        setup(sub)
        sub.set_defaults(run=run)
    return parser


# fit, roofline and hardware live in their own module, which registers them with the helpers above
from . import cli_fit as _cli_fit  # noqa: F401


# -- running -------------------------------------------------------------------------------------
def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())  # one line, whatever the message held
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _silence_stdout() -> None:
    """After a closed pipe or a full disk: send what is still buffered to /dev/null, so exit is quiet."""
    try:
        stdout = sys.stdout
        if stdout is sys.__stdout__ and stdout is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _error(message: str) -> int:
    try:
        print(f"costgraph: error: {message}", file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return EXIT_USAGE


def main(argv=None) -> int:
    """Run the command line on `argv` (default ``sys.argv[1:]``); return the exit status.

    Errors are reported as one line, ``costgraph: error: ...``, with status 2;
    a closed output pipe ends silently with status 0.

    Raises
    ------
    Nothing: every failure is an exit status (KeyboardInterrupt gives 130).
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        status = args.run(args)
        sys.stdout.flush()
        return status
    except SystemExit as exit_:  # --help
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
        except OSError as error:
            _silence_stdout()
            return _error(f"cannot write the output: {error.strerror or error}")
        return exit_.code if isinstance(exit_.code, int) else 0
    except (CostGraphError, _UsageError) as error:
        return _error(_one_line(error))
    except BrokenPipeError:  # e.g. `costgraph list | head -1`
        _silence_stdout()
        return 0
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EIO, errno.EBADF) or error.filename is None:
            _silence_stdout()
            return _error(f"cannot write the output: {error.strerror or error}")
        return _error(_one_line(f"{error.filename}: {error.strerror or error}"))
    except KeyboardInterrupt:
        return 130
    except RecursionError:
        return _error("the model is too deeply nested to evaluate (recursion limit)")
    except MemoryError:
        return _error("out of memory (a smaller range of sizes, or a smaller model?)")
    except Exception as error:  # noqa: BLE001 (the last resort: a bug must still not print a traceback)
        return _error(f"internal error, please report: {type(error).__name__}: {_one_line(error)}")
