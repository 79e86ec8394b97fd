"""A `costgraph.model_summary.Summary` as text, Markdown, LaTeX, CSV and JSON.

Every format has the same columns, named as in `costgraph.model_summary.COLUMNS`
(name, depth, kind, layers, shape, params, activations, activation_bytes,
macs, flops).  The human formats (text, Markdown, LaTeX) show counts in the
units of `costgraph.render.units` (K, M, B, T; kB, MB, GB) and indent a
module's name by its depth; the machine formats (CSV, JSON) carry exact
integers, and formulas as text when the summary is symbolic.

>>> import costgraph
>>> print(summary_text(costgraph.summary("vgg16", depth=1)).splitlines()[2])
name      kind       shape          params  activations  activation_bytes    macs    flops
"""

from __future__ import annotations

import csv
import io
import json

import sympy

from ..totals import FLOP_CONVENTION
from .tables import count_value, latex_escape, sizes_text
from .units import human_bytes, human_count, thousands

__all__ = ["summary_text", "summary_markdown", "summary_latex", "summary_csv", "summary_json", "summary_dict", "machine_record"]

_HUMAN = ("name", "kind", "shape", "params", "activations", "activation_bytes", "macs", "flops")
_COUNTS = ("params", "activations", "activation_bytes", "macs", "flops")


def _value_text(field: str, value, exact: bool = False) -> str:
    value = count_value(value)
    if isinstance(value, int):
        if exact:
            return thousands(value)
        return human_bytes(value) if field == "activation_bytes" else human_count(value)
    return str(value)


def _shape_text(shape) -> str:
    return "x".join(str(count_value(d)) for d in shape)


def _title(summary) -> str:
    at = f"at {sizes_text(summary.sizes)}" if summary.sizes else "symbolic"
    return f"{summary.name} {at} ({summary.dtype}), modules to depth {summary.depth}"


def _human_rows(summary, exact: bool, indent: bool) -> list:
    body = []
    for m in summary.modules:
        name = ("  " * (m.depth - 1) + m.name) if indent else m.name
        body.append([name, m.kind, _shape_text(m.shape)] + [_value_text(f, getattr(m, f), exact) for f in _COUNTS])
    t = summary.totals
    body.append(["total", "", ""] + [_value_text(f, getattr(t, f), exact) for f in _COUNTS])
    return body


def _footer(summary) -> list:
    """The exact totals, the FLOP convention and the memory model's figures, one line each."""
    t = summary.totals
    lines = []
    if isinstance(count_value(t.params), int):
        lines.append(
            f"params {thousands(t.params)} · activations {thousands(t.activations)} "
            f"({human_bytes(t.activation_bytes)} at {t.dtype}) · MACs {thousands(t.macs)} · FLOPs {thousands(t.flops)}"
        )
    lines.append(f"{FLOP_CONVENTION}.")
    memory = summary.memory
    if memory is not None:
        lines.append(
            f"memory model ({memory.device}): a training step keeps {human_bytes(memory.saved_bytes)} for backward "
            f"and holds {human_bytes(memory.total_training_bytes)} in all with SGD; inference peaks at "
            f"{human_bytes(memory.peak_inference_bytes)} of activations alive at once."
        )
    return lines


def _aligned(header, body, right) -> str:
    widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
    lines = []
    for row in [header] + body:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    rule = "-" * len(lines[0])
    return "\n".join([lines[0], rule] + lines[1:-1] + [rule, lines[-1]])


def summary_text(summary) -> str:
    """Aligned plain text: title, one line per module (indented by depth), total, footer."""
    right = set(range(3, len(_HUMAN)))
    table = _aligned(list(_HUMAN), _human_rows(summary, False, True), right)
    return "\n".join([_title(summary), "", table, ""] + _footer(summary))


def summary_markdown(summary, *, exact: bool = False) -> str:
    """A Markdown table (GitHub-flavoured), the total in bold, and the footer lines."""
    from .tables import _markdown_grid

    body = _human_rows(summary, exact, False)
    body[-1][0] = "**total**"
    align = ("l", "l", "l") + ("r",) * len(_COUNTS)
    return "\n".join([_title(summary), "", _markdown_grid(_HUMAN, align, body), ""] + _footer(summary))


def summary_latex(summary) -> str:
    r"""A booktabs ``tabular``: names escaped, formulas through `sympy.latex`."""

    def cell(field, value):
        value = count_value(value)
        if isinstance(value, int):
            return _value_text(field, value).replace(",", "{,}")
        return f"${sympy.latex(value)}$"

    lines = [f"% {latex_escape(_title(summary))}; needs \\usepackage{{booktabs}}", r"\begin{tabular}{lll" + "r" * len(_COUNTS) + "}",
             r"\toprule", " & ".join(latex_escape(h) for h in _HUMAN) + r" \\", r"\midrule"]  # fmt: skip
    for m in summary.modules:
        name = r"\quad " * (m.depth - 1) + latex_escape(m.name)
        cells = [name, latex_escape(m.kind), _shape_text(m.shape).replace("x", r"$\times$")]
        lines.append(" & ".join(cells + [cell(f, getattr(m, f)) for f in _COUNTS]) + r" \\")
    t = summary.totals
    lines += [r"\midrule", " & ".join([r"\textbf{total}", "", ""] + [cell(f, getattr(t, f)) for f in _COUNTS]) + r" \\"]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _machine(value):
    value = count_value(value)
    if isinstance(value, sympy.Basic):
        return str(value)
    return value


def machine_record(module) -> dict:
    """One module row by `costgraph.model_summary.COLUMNS`: exact ints, formulas as text, shape as a list."""
    record = module.as_dict()
    record["shape"] = [_machine(d) for d in module.shape]
    for field in _COUNTS:
        record[field] = _machine(record[field])
    return record


def summary_dict(summary) -> dict:
    """The JSON document as Python data: model, sizes, dtype, depth, rows, totals, memory."""
    t = summary.totals
    doc = {
        "model": summary.name,
        "sizes": dict(summary.sizes),
        "dtype": summary.dtype,
        "depth": summary.depth,
        "flop_convention": FLOP_CONVENTION,
        "rows": [machine_record(m) for m in summary.modules],
        "totals": {f: _machine(getattr(t, f)) for f in ("params", "weights", "biases") + _COUNTS[1:]},
    }
    memory = summary.memory
    if memory is not None:
        doc["memory"] = {
            "device": memory.device,
            "saved_bytes": memory.saved_bytes,
            "total_training_bytes": memory.total_training_bytes,
            "peak_inference_bytes": memory.peak_inference_bytes,
            "total_inference_bytes": memory.total_inference_bytes,
        }
    return doc


def summary_json(summary) -> str:
    """`summary_dict` as indented JSON."""
    return json.dumps(summary_dict(summary), indent=2) + "\n"


def summary_csv(summary) -> str:
    """The rows by `costgraph.model_summary.COLUMNS` with exact integers, then a ``total`` row."""
    columns = summary.columns
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for m in summary.modules:
        record = machine_record(m)
        record["shape"] = "x".join(str(d) for d in record["shape"])
        writer.writerow([record[c] for c in columns])
    t = summary.totals
    totals = {"name": "total", "depth": 0, "kind": "", "layers": len(summary.net), "shape": ""}
    totals.update({f: _machine(getattr(t, f)) for f in _COUNTS})
    writer.writerow([totals[c] for c in columns])
    return out.getvalue()
