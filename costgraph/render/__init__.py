"""Renderers: what users read.  Tables, summaries, sweeps and (optionally) plots.

`tables` renders per-layer rows and totals as Markdown, LaTeX (booktabs),
CSV and JSON; `summary_table` a `costgraph.summary`; `units` prints counts
as ``138.4M`` and bytes as ``61.0 MB``; `totals_rows` and `sweep` evaluate
totals over a grid of sizes; `plot` draws with matplotlib, which is
imported only when a plot is asked for (``pip install 'costgraph[plot]'``).

Names are imported on first use (PEP 562), so that the fast path
(`costgraph.render.totals_rows` on cached formulas) never imports sympy.

>>> from costgraph.render import human_count
>>> human_count(138357544)
'138.4M'
"""

_LAZY = {
    "human_bytes": "units", "human_count": "units", "shape_text": "units", "thousands": "units",
    "FORMATS": "tables", "hidden_summary": "tables", "is_hidden": "tables", "memory_line": "tables",
    "rows_csv": "tables", "rows_json": "tables", "rows_latex": "tables", "rows_markdown": "tables",
    "table_document": "tables", "totals_latex": "tables", "totals_markdown": "tables", "totals_text": "tables",
    "visible_rows": "tables",
}  # fmt: skip

__all__ = list(_LAZY)


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'costgraph.render' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
