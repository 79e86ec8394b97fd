"""Renderers: what users read.  Tables, formulas, sweeps and (optionally) plots.

`tables` renders per-layer rows and totals as Markdown, LaTeX (booktabs),
CSV and JSON; `units` prints counts as ``138.4M`` and bytes as ``58.1 MiB``;
`sweep` evaluates totals over a grid of sizes; `plot` draws with matplotlib,
which is imported only when a plot is asked for (``pip install
'costgraph[plot]'``).

>>> from costgraph.render import human_count
>>> human_count(138357544)
'138.4M'
"""

from .units import human_bytes, human_count, shape_text, thousands
from .tables import (
    FORMATS,
    hidden_summary,
    is_hidden,
    memory_line,
    rows_csv,
    rows_json,
    rows_latex,
    rows_markdown,
    table_document,
    totals_latex,
    totals_markdown,
    totals_text,
    visible_rows,
)

__all__ = [
    "human_bytes",
    "human_count",
    "shape_text",
    "thousands",
    "FORMATS",
    "hidden_summary",
    "is_hidden",
    "memory_line",
    "rows_csv",
    "rows_json",
    "rows_latex",
    "rows_markdown",
    "table_document",
    "totals_latex",
    "totals_markdown",
    "totals_text",
    "visible_rows",
]
