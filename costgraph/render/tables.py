"""Per-layer tables and totals as Markdown, LaTeX (booktabs), CSV and JSON.

The human formats (Markdown, LaTeX) follow the seed's VGG16 table: name,
kind, kernel, stride, padding, output channels and size, params,
activations (the elements of the new tensor the layer writes: the seed's
"memory") and MACs, with human units (``138.4M``, `costgraph.render.units`)
in the rows and exact thousands-separated totals.  The machine formats (CSV,
JSON) carry every layer and exact integers only, so they parse back to
exactly what `Network.totals` returns; their columns are the human ones
(same names) plus weights, biases, activation_bytes, flops and shares.  A symbolic row or total
(no sizes given) is shown as its formula: ``str`` in text, `sympy.latex` in
LaTeX.

Layers that hold no parameters, do no multiply-accumulates and write no new
tensor (in-place ReLU, eval-mode Dropout, views such as Flatten) are hidden
from the human tables by default, as the seed does; their FLOPs stay in the
totals and ``all_layers=True`` shows them.

>>> from costgraph.models import vgg16
>>> net = vgg16()
>>> print(rows_markdown(net.layers(H=224)).splitlines()[0])
| name      | kind      | kernel | stride | padding | channels | size    | params | activations |  macs |
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import sympy

from ..totals import FLOP_CONVENTION
from .grid import latex_escape
from .grid import markdown_grid as _markdown_grid
from .units import human_bytes, human_count, shape_text, thousands

__all__ = [
    "count_value",
    "is_hidden",
    "visible_rows",
    "hidden_summary",
    "rows_markdown",
    "rows_latex",
    "rows_csv",
    "rows_json",
    "totals_markdown",
    "totals_latex",
    "totals_text",
    "memory_line",
    "memory_model_line",
    "sizes_text",
    "latex_escape",
    "table_document",
    "FORMATS",
]

#: formats `table_document` produces
FORMATS = ("md", "latex", "csv", "json")

#: the per-layer columns of the machine formats, in order
MACHINE_COLUMNS = (
    "name", "kind", "kernel", "stride", "padding", "channels", "size",
    "params", "weights", "biases", "activations", "activation_bytes", "macs", "flops", "shares",
)  # fmt: skip

_TOTAL_LABELS = tuple(
    (field, field)  # the field names, as the columns of every other output
    for field in ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops", "backward_macs", "training_macs")
)


# -- values -------------------------------------------------------------------------
def count_value(value):
    """`value` as a Python int if it is a number, else the sympy formula itself.

    Symbolic rows hold ``sympy.Integer`` for constants (a conv's params);
    they are shown, summed and serialized as plain ints.

    Examples
    --------
    >>> from costgraph import H
    >>> count_value(sympy.Integer(1792)), count_value(3 * H)
    (1792, 3*H)
    """
    if isinstance(value, bool):
        raise TypeError(f"a count cannot be a bool: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, sympy.Integer):
        return int(value)
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:  # numpy integer scalar
        return int(value)
    return value


def _is_formula(value) -> bool:
    return isinstance(count_value(value), sympy.Basic)


def is_hidden(row) -> bool:
    """Whether a human table hides `row` by default: no params, no MACs, no new tensor.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> [r.name for r in vgg16().layers(H=224) if is_hidden(r)][:3]
    ['relu1_1', 'relu1_2', 'relu2_1']
    """
    return all(count_value(getattr(row, f)) == 0 for f in ("params", "macs", "activations"))


def visible_rows(rows, all_layers: bool = False) -> list:
    """The rows a human table shows (every row with `all_layers`)."""
    return list(rows) if all_layers else [r for r in rows if not is_hidden(r)]


def hidden_summary(rows) -> str:
    """One sentence on what the human table hides, or "" if nothing is hidden.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> hidden_summary(vgg16().layers(H=224))  # doctest: +NORMALIZE_WHITESPACE
    '18 layers without parameters, MACs or a new tensor are hidden (15 ReLU, 2 Dropout, 1 Flatten); their FLOPs are in the totals, and --all shows them.'
    """
    kinds = Counter(r.kind for r in rows if is_hidden(r))
    if not kinds:
        return ""
    count = sum(kinds.values())
    listed = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda item: (-item[1], item[0])))
    noun = "layer" if count == 1 else "layers"
    return (
        f"{count} {noun} without parameters, MACs or a new tensor are hidden ({listed}); "
        "their FLOPs are in the totals, and --all shows them."
    )


def sizes_text(sizes: dict) -> str:
    """``H=224, W=224, N=1``; "symbolic" when there are no sizes."""
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) if sizes else "symbolic"


# -- cells --------------------------------------------------------------------------
# Targets: "md" (Markdown text), "latex" (a text-mode tabular: formulas in $...$)
# and "array" (a math-mode array, for notebooks: text in \text{...}).
def _math(tex: str, target: str) -> str:
    return f"${tex}$" if target == "latex" else tex


def _text(text: str, target: str) -> str:
    if target == "array":
        return rf"\text{{{latex_escape(text)}}}" if text else ""
    return latex_escape(text) if target == "latex" else text


def _count_cell(value, target: str, exact: bool, blank_zero: bool = True) -> str:
    value = count_value(value)
    if isinstance(value, int):
        if value == 0 and blank_zero:
            return ""
        text = thousands(value) if exact else human_count(value)
        if target == "md":
            return text
        return _text(text, target).replace(",", "{,}") if target == "latex" else rf"\text{{{text}}}"
    return _formula_cell(value, target)


def _formula_cell(expr, target: str) -> str:
    if target == "md":
        return f"`{expr}`"
    return _math(sympy.latex(expr), target)


def _hyper_cell(value, target: str) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        if target == "md":
            return "x".join(str(v) for v in value)
        return _math(r" \times ".join(str(v) for v in value), target)
    return str(value)


def _dims_cell(dims, target: str) -> str:
    if not dims:
        return ""
    if target != "md":
        if len(dims) == 1 and not _is_formula(dims[0]):
            return str(count_value(dims[0]))
        parts = [str(count_value(d)) if not _is_formula(d) else sympy.latex(d) for d in dims]
        return _math(r" \times ".join(parts), target)
    if any(_is_formula(d) for d in dims):
        return "`" + " x ".join(str(d) for d in dims) + "`"
    return shape_text(count_value(d) for d in dims)


def _channels_and_size(shape: tuple) -> tuple:
    """Split an output shape as the seed does: channels, then the spatial size.

    ``(C, H, W)`` gives C and HxW; ``(features,)`` gives the features and no
    size; any other rank (sequences, ...) shows every dimension as the size.
    """
    if len(shape) == 3:
        return shape[0], tuple(shape[1:])
    if len(shape) == 1:
        return shape[0], ()
    return None, tuple(shape)


_HUMAN_HEADER = ("name", "kind", "kernel", "stride", "padding", "channels", "size", "params", "activations", "macs")
_HUMAN_ALIGN = ("l", "l", "r", "r", "r", "r", "l", "r", "r", "r")


def _shared(row) -> str | None:
    return getattr(row, "shares", None)


def _params_cell(row, target: str, exact: bool) -> str:
    text = _count_cell(row.params, target, exact)
    # tied parameters (an output head sharing the embedding) are counted at their owner only
    return f"({text})" if text and _shared(row) else text


def _human_cells(row, target: str, exact: bool) -> list:
    channels, size = _channels_and_size(tuple(row.shape))
    return [
        _text(row.name, target),
        _text(row.kind, target),
        _hyper_cell(row.kernel, target),
        _hyper_cell(row.stride, target),
        _hyper_cell(row.padding, target),
        "" if channels is None else _dims_cell((channels,), target),
        _dims_cell(size, target),
        _params_cell(row, target, exact),
        _count_cell(row.activations, target, exact),
        _count_cell(row.macs, target, exact),
    ]


def _total_cells(rows, target: str, exact: bool) -> list:
    sums = [
        sympy.Add(*[count_value(getattr(r, f)) for r in rows if not (f == "params" and _shared(r))])
        for f in ("params", "activations", "macs")
    ]
    sums = [sympy.expand(s) if isinstance(s, sympy.Basic) else s for s in sums]
    name = {"md": "**total**", "latex": r"\textbf{total}", "array": r"\textbf{total}"}[target]
    return [name, "", "", "", "", "", ""] + [_count_cell(s, target, exact, blank_zero=False) for s in sums]


def _rows_symbolic(rows) -> bool:
    return any(_is_formula(r.activations) or _is_formula(r.macs) for r in rows)


# -- per-layer tables ------------------------------------------------------------------
def rows_markdown(rows, *, all_layers: bool = False, exact: bool = False, total: bool = True) -> str:
    """The seed's table as Markdown: one line per shown layer, and a total line.

    Parameters
    ----------
    rows : list of Row
        From `Network.layers` (symbolic or at sizes).
    all_layers : bool
        Show in-place and view layers too (hidden by default, see `is_hidden`).
    exact : bool
        Exact thousands-separated counts instead of human units.
    total : bool
        Append the column sums (over every layer, hidden ones included) when
        the rows are numbers; symbolic sums are left to the totals.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> table = rows_markdown(vgg16().layers(H=224))
    >>> print(table.splitlines()[3])
    | conv1_1 | Conv2d    |     3 |      1 |       1 |       64 | 224x224 |   1.8K |   3.2M | 86.7M |
    """
    body = [_human_cells(r, "md", exact) for r in visible_rows(rows, all_layers)]
    symbolic = _rows_symbolic(rows)
    if total and not symbolic:
        body.append(_total_cells(rows, "md", exact))
    # long formulas read better left-aligned
    align = tuple("l" if symbolic and a == "r" and i >= 5 else a for i, a in enumerate(_HUMAN_ALIGN))
    return _markdown_grid(_HUMAN_HEADER, align, body)


def rows_latex(
    rows, *, all_layers: bool = False, exact: bool = False, total: bool = True, environment: str = "tabular"
) -> str:
    r"""The seed's table as a booktabs ``tabular`` (needs ``\usepackage{booktabs}``).

    Formulas are typeset with `sympy.latex`.  ``environment="array"`` gives a
    math-mode ``array`` with ``\hline`` rules instead, which notebooks
    (MathJax) display.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(rows_latex(vgg16().layers(H=224)).splitlines()[5])
    conv1\_1 & Conv2d & 3 & 1 & 1 & 64 & $224 \times 224$ & 1.8K & 3.2M & 86.7M \\
    """
    target = "array" if environment == "array" else "latex"
    rule = (lambda kind: r"\hline") if target == "array" else (lambda kind: "\\" + kind)
    header = [_text(h, target) for h in _HUMAN_HEADER]
    lines = [
        rf"\begin{{{environment}}}{{" + "".join(_HUMAN_ALIGN) + "}",
        rule("toprule"),
        " & ".join(header) + r" \\",
        rule("midrule"),
    ]
    lines += [" & ".join(_human_cells(r, target, exact)) + r" \\" for r in visible_rows(rows, all_layers)]
    if total and not _rows_symbolic(rows):
        lines += [rule("midrule"), " & ".join(_total_cells(rows, target, exact)) + r" \\"]
    lines += [rule("bottomrule"), rf"\end{{{environment}}}"]
    return "\n".join(lines)


def _machine_row(row, element_bytes: int) -> dict:
    activations = count_value(row.activations)
    channels, size = _channels_and_size(tuple(row.shape))
    record = {
        "name": row.name,
        "kind": row.kind,
        "kernel": row.kernel,
        "stride": row.stride,
        "padding": row.padding,
        "channels": None if channels is None else count_value(channels),
        "size": [count_value(d) for d in size],
        "params": count_value(row.params),
        "weights": count_value(row.weights),
        "biases": count_value(row.biases),
        "activations": activations,
        "activation_bytes": activations * element_bytes,
        "macs": count_value(row.macs),
        "flops": count_value(row.flops),
        "shares": _shared(row),
    }
    if isinstance(record["activation_bytes"], sympy.Basic):
        record["activation_bytes"] = sympy.expand(record["activation_bytes"])
    return record


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, sympy.Basic):
        value = count_value(value)
        return value if isinstance(value, int) else str(value)
    return value


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return "x".join(str(_jsonable(v)) for v in value)
    return str(_jsonable(value))


def rows_csv(rows, totals=None, *, element_bytes: int = 4) -> str:
    """Every layer as CSV with exact integers (formulas as text when symbolic).

    With `totals`, a last line named ``total`` holds them.  Columns are
    `MACHINE_COLUMNS`; ``size`` is written ``224x224``; ``shares`` names
    the layer whose (tied) parameters a row uses, which the totals count
    there only.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> print(rows_csv(net.layers(H=224), net.totals(H=224)).splitlines()[-1])
    total,,,,,,,138357544,138344128,13416,15237608,60950432,15470264320,30958675456,
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MACHINE_COLUMNS)
    for row in rows:
        record = _machine_row(row, element_bytes)
        writer.writerow([_csv_cell(record[c]) for c in MACHINE_COLUMNS])
    if totals is not None:
        sums = totals.as_dict()
        first = MACHINE_COLUMNS.index("params")
        writer.writerow(["total"] + [""] * (first - 1) + [_csv_cell(sums.get(c)) for c in MACHINE_COLUMNS[first:]])
    return out.getvalue()


def rows_json(rows, totals=None, *, element_bytes: int = 4, model: str | None = None) -> dict:
    """Every layer and the totals as a JSON-ready dict of exact ints (formulas as strings).

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> doc = rows_json(net.layers(H=224), net.totals(H=224), model="vgg16")
    >>> doc["totals"]["params"], doc["layers"][1]["channels"], doc["layers"][1]["size"]
    (138357544, 64, [224, 224])
    """
    doc: dict = {}
    if model is not None:
        doc["model"] = model
    if totals is not None:
        doc["sizes"] = dict(totals.sizes)
        doc["dtype"] = totals.dtype
        doc["flop_convention"] = FLOP_CONVENTION
    doc["layers"] = [_jsonable(_machine_row(r, element_bytes)) for r in rows]
    if totals is not None:
        doc["totals"] = _jsonable(totals.as_dict())
        forward = totals.activation_bytes
        doc["memory"] = {
            "forward_activation_bytes": _jsonable(forward),
            # the seed's rule of thumb, labelled as such; the memory model's figures are Network.memory's
            "rule_of_thumb_with_backward_2x_bytes": _jsonable(sympy.expand(2 * forward) if isinstance(forward, sympy.Basic) else 2 * forward),
        }
    return doc


# -- totals ---------------------------------------------------------------------------
def _element_bytes(totals) -> int | None:
    if isinstance(totals.activations, int) and totals.activations:
        return totals.activation_bytes // totals.activations
    from ..dtypes import dtype_bytes

    return dtype_bytes(totals.dtype)


def memory_line(totals) -> str:
    """The seed's memory line: forward activation bytes, and its "about 2x with backward", labelled a rule of thumb.

    What training and inference really hold is the memory model's
    (`Network.memory`, `memory_model_line`); the 2x is the seed's guess.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(memory_line(vgg16().totals(H=224)))
    memory: forward 61.0 MB (15,237,608 activations x 4 bytes, fp32) for N=1; rule of thumb (the seed's, not the memory model): with backward about 2x (121.9 MB)
    """
    forward = totals.activation_bytes
    element = _element_bytes(totals)
    rule = "rule of thumb (the seed's, not the memory model): with backward about 2x"
    if not isinstance(forward, int):
        return f"memory: forward = activation memory above (activations x {element} bytes, {totals.dtype}); {rule}"
    batch = totals.sizes.get("N")
    per = f" for N={batch}" if batch is not None else ""
    return (
        f"memory: forward {human_bytes(forward)} ({thousands(totals.activations)} activations x {element} bytes, "
        f"{totals.dtype}){per}; {rule} ({human_bytes(2 * forward)})"
    )


def _total_fields(totals) -> list:
    """The fields of `totals` to show: the backward ones only when they were computed."""
    return [f for f, _ in _TOTAL_LABELS if getattr(totals, f, None) is not None]


def _total_label(field: str, totals) -> str:
    label = dict(_TOTAL_LABELS)[field]
    return f"{label} ({totals.dtype})" if field == "activation_bytes" else label


def totals_markdown(totals) -> str:
    """The totals as a Markdown table, with the FLOP convention and the memory line.

    Numbers are exact with thousands separators and, beside them, in human
    units; symbolic totals are shown as formulas.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(totals_markdown(vgg16().totals(H=224)).splitlines()[2])
    | params                   |    138,357,544 |   138.4M |
    """
    numeric = isinstance(totals.params, int)
    if numeric:
        header, align = ("total", "exact", "approx"), ("l", "r", "r")
        body = []
        for field in _total_fields(totals):
            value = getattr(totals, field)
            approx = human_bytes(value) if field == "activation_bytes" else human_count(value)
            body.append([_total_label(field, totals), thousands(value), approx])
    else:
        symbols = _symbol_names(totals)
        header, align = ("total", "formula" + (f" in {', '.join(symbols)}" if symbols else "")), ("l", "l")
        body = [[_total_label(f, totals), _formula_cell(getattr(totals, f), "md")] for f in _total_fields(totals)]
    return "\n".join([_markdown_grid(header, align, body), "", f"{FLOP_CONVENTION}.", "", memory_line(totals)])


def _symbol_names(totals) -> list:
    from ..symbols import sort_symbols

    found = set()
    for field in _total_fields(totals):
        value = getattr(totals, field)
        found |= getattr(value, "free_symbols", set())
    return [s.name for s in sort_symbols(found)]


def totals_text(totals) -> str:
    """The totals as aligned plain text: ``name = formula`` lines (for `formula`).

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(totals_text(vgg16().totals()).splitlines()[0])
    params           = 2097152*floor(H/32)*floor(W/32) + 35597096
    """
    lines = []
    for field in _total_fields(totals):
        value = getattr(totals, field)
        shown = thousands(value) if isinstance(value, int) else str(value)
        lines.append(f"{field:<16} = {shown}" + (f"    ({FLOP_CONVENTION})" if field == "flops" else ""))
    return "\n".join(lines)


def totals_latex(totals, *, environment: str = "align*") -> str:
    r"""The totals as a LaTeX ``align*`` block: `sympy.latex` of each formula or number.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(totals_latex(vgg16().totals()).splitlines()[1])
    \mathrm{params} &= 2097152 \left\lfloor \frac{H}{32} \right\rfloor \left\lfloor \frac{W}{32} \right\rfloor + 35597096 \\
    """
    names = {
        "activation_bytes": r"\mathrm{activation\ bytes}",
        "macs": r"\mathrm{MACs}",
        "flops": r"\mathrm{FLOPs}",
        "backward_macs": r"\mathrm{backward\ MACs}",
        "training_macs": r"\mathrm{training\ MACs}",
    }
    shown = _total_fields(totals)
    lines = [rf"\begin{{{environment}}}"]
    for index, field in enumerate(shown):
        value = getattr(totals, field)
        name = names.get(field, rf"\mathrm{{{field}}}")
        body = sympy.latex(value) if not isinstance(value, int) else thousands(value).replace(",", "{,}")
        end = r" \\" if index + 1 < len(shown) else ""
        lines.append(f"{name} &= {body}{end}")
    lines.append(rf"\end{{{environment}}}")
    return "\n".join(lines)


def _totals_latex_table(totals) -> str:
    lines = [r"\begin{tabular}{lrr}", r"\toprule", r"total & exact & approx \\", r"\midrule"]
    for field in _total_fields(totals):
        value = getattr(totals, field)
        approx = human_bytes(value) if field == "activation_bytes" else human_count(value)
        lines.append(f"{latex_escape(_total_label(field, totals))} & {thousands(value).replace(',', '{,}')} & {approx} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


# -- whole documents (what `costgraph table` prints) ------------------------------------
def table_document(
    name: str, rows, totals, *, fmt: str = "md", all_layers: bool = False, exact: bool = False
) -> str:
    """The whole output of ``costgraph table``: title, per-layer table, totals, memory line.

    Raises
    ------
    ValueError
        If `fmt` is not one of `FORMATS`.
    """
    element = _element_bytes(totals)
    at = f"at {sizes_text(totals.sizes)}" if totals.sizes else "symbolic in " + ", ".join(_symbol_names(totals))
    if fmt == "json":
        return json.dumps(rows_json(rows, totals, element_bytes=element, model=name), indent=2) + "\n"
    if fmt == "csv":
        return rows_csv(rows, totals, element_bytes=element)
    hidden = "" if all_layers else hidden_summary(rows)
    legend = (
        "params = weights + biases; activations = elements of the new tensor a layer writes, the seed's "
        f"\"memory\" (x {element} bytes at {totals.dtype}); macs = multiply-accumulates; "
        "K, M, B, T = thousand, million, billion, trillion."
    )
    if any(_shared(r) for r in rows):
        legend += " Params in parentheses are tied to another layer's and counted there only."
    if fmt == "md":
        parts = [f"{name} {at}", "", rows_markdown(rows, all_layers=all_layers, exact=exact), ""]
        parts += [legend] + ([hidden] if hidden else []) + ["", totals_markdown(totals)]
        return "\n".join(parts) + "\n"
    if fmt == "latex":
        parts = [
            f"% {name} {at}; needs \\usepackage{{booktabs}} (and amsmath for the formulas)",
            f"% {legend}",
        ]
        if hidden:
            parts.append(f"% {hidden}")
        parts.append(rows_latex(rows, all_layers=all_layers, exact=exact))
        parts.append("")
        if isinstance(totals.params, int):
            parts.append(_totals_latex_table(totals))
        else:
            parts.append(totals_latex(totals))
        parts.append(f"% {FLOP_CONVENTION}.")
        parts.append(f"% {memory_line(totals)}")
        return "\n".join(parts) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def memory_model_line(net, dtype: str = "fp32", **sizes) -> str:
    """What the memory model says beside the seed's "about 2x": saved for backward, inference peak.

    The seed's "x2 for bwd" is a guess; `Network.memory` counts what autograd
    keeps (each storage once, plus max-pool indices and dropout masks) and the
    most activation memory alive at once when inference frees each tensor
    after its last reader.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> print(memory_model_line(vgg16(), H=224))
    memory model (CUDA): training keeps 73.2 MB for backward (15.2M activations + 1.5M int64 indices + 8.2K masks; --training for the whole step); inference peaks at 25.7 MB alive at once, at conv1_2
    """
    from ..memory import peak_inference_layer

    memory = net.memory(dtype=dtype, **sizes)
    labels = {"activation": "activations", "index": "int64 indices", "mask": "masks", "statistic": "statistics", "bool": "bools"}
    kept = " + ".join(f"{human_count(n)} {labels.get(k, k + ' values')}" for k, n in memory.saved_elements.items() if n)
    peak_layer, _ = peak_inference_layer(net, **sizes)
    return (
        f"memory model ({memory.device.upper()}): training keeps {human_bytes(memory.saved_bytes)} "
        f"for backward ({kept}; --training for the whole step); inference peaks at "
        f"{human_bytes(memory.peak_inference_bytes)} alive at once, at {peak_layer}"
    )
