"""Generate the Markdown docs of the model zoo: ``python -m costgraph docs --out docs/``.

Writes, under the output directory:

- ``index.md``: every registered model (`costgraph.models.MODELS`) with its
  params, MACs and activation memory at its default size, linked to its page;
- ``conventions.md``: what each number counts;
- ``models/<name>.md``: the totals at the default size with the memory
  model's figures, the closed-form totals as GitHub-rendered math, the
  modules, the per-layer table of values, the per-layer formulas and two plots,
  ``models/<name>-layers.png`` (where memory and parameters live) and
  ``models/<name>-resolution.png`` (totals against the input size).

The output is deterministic: the same costgraph and matplotlib give the same
bytes, so a test can regenerate the docs and compare them with the committed
ones.  Stale pages of models no longer registered are removed from
``models/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CostGraphError
from .render.tables import (
    _markdown_grid,
    count_value,
    hidden_summary,
    is_hidden,
    sizes_text,
    totals_latex,
    totals_markdown,
)
from .render.units import human_bytes, human_count, shape_text, thousands
from .totals import FLOP_CONVENTION

__all__ = ["generate_docs", "model_page", "index_page", "conventions_page", "REGENERATE"]

REGENERATE = "python -m costgraph docs --out docs/"

#: the one unit convention of every output (README says the same)
UNITS = (
    "Units: counts in K, M, B, T (10^3, 10^6, 10^9, 10^12: thousand, million, billion, trillion); "
    "bytes in kB, MB, GB (10^3, 10^6, 10^9 bytes); one decimal, rounded half up. Exact integers are "
    "written with thousands separators."
)
#: what "the seed" means wherever the docs say it
SEED = (
    "\"The seed\" is the VGG16 cost table of Stanford's CS231n notes (Convolutional Neural Networks, "
    "case studies: per layer, its output size, \"memory\" and weights), which costgraph reproduces exactly "
    "and extends."
)


def _version(module_name: str) -> str:
    import importlib

    return getattr(importlib.import_module(module_name), "__version__", "unknown")


def _inline_math(expr) -> str:
    """A formula as GitHub-rendered inline math (``$...$``), a number as itself, zero as nothing."""
    import sympy

    value = count_value(expr)
    if isinstance(value, int):
        return thousands(value) if value else ""
    return "$" + sympy.latex(value) + "$"


def _shape_math(shape: tuple) -> str:
    import sympy

    dims = [count_value(d) for d in shape]
    if all(isinstance(d, int) for d in dims):
        return shape_text(dims)
    return "$" + r" \times ".join(str(d) if isinstance(d, int) else sympy.latex(d) for d in dims) + "$"


def _formula_table(symbolic_rows, numeric_rows) -> str:
    """Per layer, the formulas only (values are in the table above): shape, params, activations, MACs."""
    header = ("name", "shape", "params", "activations", "macs")
    body = [
        [sym.name, _shape_math(sym.shape), _inline_math(sym.params), _inline_math(sym.activations), _inline_math(sym.macs)]
        for sym, num in zip(symbolic_rows, numeric_rows)
        if not is_hidden(num)
    ]
    return _markdown_grid(header, ("l",) * len(header), body)


def _smallest_square(net) -> str:
    if "H" not in {s.name for s in net.symbols}:
        return ""
    try:
        return f"Smallest valid square input: H = W = {net.min_size()}."
    except CostGraphError:
        return ""


def _pinned_text(net, sizes: dict) -> str:
    """"S is fixed at 1500: its only valid value." for sizes the network pins (Whisper's encoder positions)."""
    from .valid_sizes import pinned_sizes

    pinned = pinned_sizes(net, sizes) if sizes else {}
    return " ".join(f"{name} is fixed at {value}: its only valid value." for name, value in pinned.items())


def _reconcile_section(name: str, net, sizes) -> str:
    """The conventions' reconcile table for one model (`costgraph.conventions`)."""
    from .conventions import reconcile_markdown

    return reconcile_markdown(net, name, **sizes)


def _presets_section() -> str:
    """Every convention preset with its switches and the tool quirks it reproduces."""
    from .conventions import presets_markdown

    return presets_markdown()


def _modules_section(name: str, net, sizes: dict) -> list:
    """The summary by top-level module, for networks whose layers have dotted (module) names."""
    from .model_summary import summary

    if not any("." in layer for layer in net):
        return []
    table = summary(net, depth=1, **sizes)
    table.name = name
    lines = table.to_markdown().split("\n")
    body = [line for line in lines if line.startswith("|")]
    return [
        "## By module",
        "",
        f"Layers grouped by their dotted names (`costgraph summary {name} --depth 1`; deeper with `--depth 2`); "
        "tied parameters count once.",
        "",
        *body,
        "",
    ]


def model_page(name: str, info, net) -> str:
    """The Markdown page of one zoo model (plots referenced as ``<name>-layers.png`` and ``<name>-resolution.png``)."""
    from .render.tables import memory_model_line, rows_markdown

    sizes = info.sizes()
    totals = net.totals(**sizes)
    symbolic = net.totals()
    rows = net.layers(**sizes)
    symbolic_rows = net.layers()
    symbols = ", ".join(s.name for s in net.symbols) or "none"
    at = sizes_text(totals.sizes)
    hidden = hidden_summary(rows)
    lines = [
        f"# {name}",
        "",
        info.description,
        "",
        f"[All models](../index.md) · [Conventions](../conventions.md) · "
        f"`costgraph table {name}` prints the per-layer table in a terminal, `costgraph summary {name}` the modules.",
        "",
        (f"Size symbols: {symbols}. Default input: {at}. " + " ".join(filter(None, (_smallest_square(net), _pinned_text(net, sizes))))).rstrip(),
        "",
        f"## Totals at {at}",
        "",
        totals_markdown(totals),
        "",
        memory_model_line(net, **sizes),
        "",
        f"## Closed-form totals in {symbols}",
        "",
        f"`costgraph formula {name}` prints them (`--format latex` as LaTeX, `--format json` as text).",
        "",
        "```math",
        totals_latex(symbolic, environment="aligned"),
        "```",
        "",
        "## Which number is right?",
        "",
        f"What fvcore, thop, torchinfo, ptflops and FlopCounterMode report for {name} "
        f"(`costgraph reconcile {name}`):",
        "",
        _reconcile_section(name, net, sizes),
        "## Where the cost lives",
        "",
        f"![{name}: share of activation memory and of parameters per layer or module]({name}-layers.png)",
        "",
        f"![{name}: params, activation memory and MACs against the input size]({name}-resolution.png)",
        "",
        *_modules_section(name, net, sizes),
        f"## Per layer at {at}",
        "",
        "activations = the elements of the new tensor a layer writes, batch included (the seed's \"memory\"); "
        "params = weights + biases.",
    ]
    if hidden:
        lines.append(hidden.replace("--all shows them", "`costgraph table --all` shows them"))
    lines += ["", rows_markdown(rows, exact=True), "", f"## Per layer, as formulas in {symbols}", ""]
    lines += [_formula_table(symbolic_rows, rows), ""]
    return "\n".join(lines)


def index_page(records, matplotlib_version: str) -> str:
    """The index: one line per model with its totals at the default size, linked to its page."""
    header = ("model", "sizes", "params", "macs", "activation_bytes", "description")
    body = []
    for name, info, totals in records:
        body.append(
            [
                f"[{name}](models/{name}.md)",
                sizes_text(totals.sizes),
                human_count(totals.params),
                human_count(totals.macs),
                human_bytes(totals.activation_bytes),
                info.description.replace("|", "\\|"),
            ]
        )
    return "\n".join(
        [
            "# costgraph model zoo",
            "",
            "Exact costs of every registered model at its default input size, batch 1: "
            "parameters (weights + biases), multiply-accumulates (macs), and the activation memory "
            "a forward pass writes at fp32 (activation_bytes). "
            "Each page gives the totals, the memory model's training and inference figures, the closed-form "
            "totals, the modules, the per-layer table and two plots. "
            "What each number counts: [conventions](conventions.md).",
            "",
            UNITS + " " + SEED,
            "",
            _markdown_grid(header, ("l", "l", "r", "r", "r", "l"), body),
            "",
            f"{len(records)} models. Generated by `{REGENERATE}` (plots with matplotlib "
            f"{matplotlib_version}); do not edit by hand: regenerate after adding a model.",
            "",
        ]
    )


def conventions_page() -> str:
    """What every number in the tables, plots and docs counts."""
    from .dtypes import DTYPE_BYTES

    dtypes = {}
    for dtype_name, size in DTYPE_BYTES.items():
        dtypes.setdefault(size, []).append(dtype_name)
    dtype_lines = [f"| {size} | {', '.join(names)} |" for size, names in sorted(dtypes.items())]
    return "\n".join(
        [
            "# Counting conventions",
            "",
            "Every count is an exact integer at given sizes, or a sympy formula in the size symbols "
            "(`H`, `W`, batch `N`, sequence length `S`, ...). Nothing is estimated or rounded: "
            "human units such as 138.4M are for reading only, and CSV and JSON outputs carry the exact integers.",
            "",
            "| quantity | what is counted |",
            "|:--|:--|",
            "| params | weights + biases: every learnable parameter, shared parameters once "
            "(BatchNorm's running statistics are buffers, not parameters) |",
            "| memory, activations | elements of the input plus every layer output that is a new tensor, for the "
            "whole batch: the seed's \"memory\" column. In-place ReLU, eval-mode Dropout and views "
            "(Flatten, Reshape, Permute) write no new tensor and add nothing |",
            "| activation memory | activations x bytes per element of the dtype (fp32: 4 bytes); "
            "\"with backward about 2x\" is the seed's rule of thumb for training, labelled so wherever it "
            "appears; what training and inference hold is the memory model's (`net.memory`, "
            "`costgraph table --training`) |",
            "| MACs | multiply-accumulates of convolutions, linear layers and matrix products "
            "(what torchvision's \"GFLOPS\" column reports) |",
            f"| FLOPs | {FLOP_CONVENTION} |",
            "",
            "## What each tool counts",
            "",
            "`net.flops(convention)` and `costgraph reconcile MODEL` reproduce each tool's figure; "
            "every preset is a `costgraph.conventions.Convention` of these switches and quirks.",
            "",
            _presets_section(),
            "## Tables",
            "",
            "`costgraph table MODEL` follows the seed's VGG16 table: name, kind, kernel, stride, padding, "
            "output channels and spatial size, params, activations (the seed's \"memory\") and macs, one row per "
            "layer, then the totals and the memory. Layers without parameters, MACs or a new tensor are hidden "
            "(their FLOPs stay in the totals); `--all` shows them, and CSV and JSON always list every layer, "
            "with the same column names. " + SEED,
            "",
            UNITS,
            "",
            "## Sizes",
            "",
            "Output sizes follow PyTorch's integer formulas exactly, "
            "`floor((n + 2p - d(k-1) - 1)/s) + 1` for convolution and pooling (with PyTorch's ceil-mode rule). "
            "`W` defaults to `H` and the batch `N` to 1. A size at which some layer's output would be empty "
            "is an error naming that layer.",
            "",
            "## Bytes per element (`--dtype`)",
            "",
            "| bytes | dtype names |",
            "|--:|:--|",
            *dtype_lines,
            "",
        ]
    )


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.write_bytes(data)


def _model_files(out: str, name: str):
    """Write one model's page and plots under ``out/models``; return (paths, totals at its default size).

    A top-level function, so that worker processes can run it.
    """
    from .models import MODELS
    from .render.plot import layers_figure, resolution_figure, save_figure

    pages = Path(out) / "models"
    info = MODELS[name]
    net = info.builder()
    try:
        page = model_page(name, info, net)
        totals = net.totals(**info.sizes())
        layers_plot = layers_figure(name, net.layers(**info.sizes()), totals)
        resolution_plot = resolution_figure(name, net, info.sizes())
    except CostGraphError as error:
        raise type(error)(f"docs for {name}: {error}", layer=error.layer, value=error.value) from None
    written = [pages / f"{name}.md"]
    _write_if_changed(written[0], page.encode("utf-8"))
    for figure, suffix in ((layers_plot, "layers"), (resolution_plot, "resolution")):
        written.append(pages / f"{name}-{suffix}.png")
        save_figure(figure, written[-1])
    return written, totals


def _default_jobs() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def generate_docs(out, models=None, *, jobs: int | None = None) -> list[Path]:
    """Write the docs for `models` (default: every registered model) under `out`; return the paths.

    Models are rendered in `jobs` worker processes (default: the usable
    cores, at most 4); the output does not depend on it.

    Raises
    ------
    CostGraphError
        If matplotlib is missing (the message says how to install it), a
        model is unknown, or a model fails at its default size.
    """
    from .models import MODELS
    from .render.plot import require_matplotlib

    matplotlib = require_matplotlib()
    out = Path(out)
    pages = out / "models"
    try:
        pages.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CostGraphError(f"cannot create {pages}: {error.strerror or error}", value=str(pages)) from None
    names = sorted(MODELS) if models is None else list(models)
    for name in names:
        if name not in MODELS:
            raise CostGraphError(f"unknown model {name!r}", value=name)
    jobs = _default_jobs() if jobs is None else max(1, int(jobs))
    if jobs > 1 and len(names) > 1:
        import concurrent.futures
        import multiprocessing

        # fork: workers inherit the registry, including models registered at run time
        context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=context) as pool:
            results = list(pool.map(_model_files, [str(out)] * len(names), names))
    else:
        results = [_model_files(str(out), name) for name in names]
    written: list[Path] = [path for paths, _ in results for path in paths]
    records = [(name, MODELS[name], totals) for name, (_, totals) in zip(names, results)]
    if models is None:
        for stale in sorted(pages.iterdir()):
            if stale.suffix in (".md", ".png") and stale not in written:
                stale.unlink()
        for target, text in (
            (out / "index.md", index_page(records, matplotlib.__version__)),
            (out / "conventions.md", conventions_page()),
        ):
            _write_if_changed(target, text.encode("utf-8"))
            written.append(target)
    return written
