"""Totals over ranges of sizes as the command line prints them (``costgraph totals``, ``sweep``).

Zoo models are evaluated from their cached formulas (`costgraph.fast`),
so this module imports neither sympy nor the rest of `costgraph.render` at
load time: a cached sweep stays a few milliseconds.  A size at which some
layer is invalid becomes a row with the reason, instead of ending the sweep.

>>> rows = sweep_rows("vgg16", {"H": [224], "N": [1, 2]})
>>> print(format_sweep(rows[:1], "csv"), end="")    # issue 2's exact VGG16 totals at 224
H,W,N,params,weights,biases,activations,activation_bytes,macs,flops
224,224,1,138357544,138344128,13416,15237608,60950432,15470264320,30958675456
>>> rows[1]["macs"] == 2 * rows[0]["macs"]            # linear in the batch
True
"""

from __future__ import annotations

import itertools

from ..errors import CostGraphError
from ..fast import FIELDS as SWEEP_FIELDS

__all__ = ["size_grid", "sweep_rows", "format_sweep", "SWEEP_FIELDS"]


def size_grid(axes: dict, fixed: dict | None = None) -> list[dict]:
    """Every combination of the values in `axes` (first axis slowest), merged into `fixed`.

    Raises
    ------
    CostGraphError
        If an axis has no values.

    Examples
    --------
    >>> size_grid({"H": [1, 2], "N": [8]}, {"S": 3})
    [{'S': 3, 'H': 1, 'N': 8}, {'S': 3, 'H': 2, 'N': 8}]
    """
    for name, values in axes.items():
        if not values:
            raise CostGraphError(f"sweep: size {name} has no values", value=name)
    names = list(axes)
    return [{**(fixed or {}), **dict(zip(names, combo))} for combo in itertools.product(*axes.values())]



def _looks_like_zoo_name(spec: str) -> bool:
    import os

    return ":" not in spec and not spec.lower().endswith(".onnx") and not os.path.exists(spec)


def _full_point(point: dict, names: list) -> dict:
    """`point` with W = H and N = 1 filled in as `Network.totals` does, in the network's size order."""
    filled = dict(point)
    if "W" in names and "W" not in filled and "H" in filled:
        filled["W"] = filled["H"]
    if "N" in names and "N" not in filled:
        filled["N"] = 1
    ordered = {name: filled[name] for name in names if name in filled}
    ordered.update({k: v for k, v in filled.items() if k not in ordered})
    return ordered


def _rows_with_reasons(net, points: list, dtype: str, evaluate) -> list[dict]:
    """One row per point: `evaluate(point)` where every layer is valid, else the sizes and the reason."""
    from ..errors import DomainError, SizeError
    from ..model_source import with_min_size_hint

    names = [s.name for s in net.symbols]
    rows, hint = [], None
    for point in points:
        try:
            net.check_sizes(**point)
        except (DomainError, SizeError) as error:
            if hint is None:
                hint = str(with_min_size_hint(error, net))[len(str(error)) :]
            rows.append({**_full_point(point, names), **{f: None for f in SWEEP_FIELDS}, "error": " ".join(str(error).split()) + hint})
            continue
        rows.append(evaluate(point))
    return rows


def sweep_rows(model, axes: dict, *, options: dict | None = None, dtype: str = "fp32") -> list[dict]:
    """Totals of `model` at every combination of `axes`; a point where some layer is invalid is a row with an ``error``.

    `model` is anything `costgraph.model_source.resolve` takes.  A zoo model
    is evaluated from its cached formulas (`costgraph.fast`: no sympy once
    cached) when every point is valid; otherwise each point is checked
    against the network and the invalid ones carry the reason (with the
    smallest valid square size when one is too small).  Sizes the model
    does not take, unknown models and bad options are errors.

    Raises
    ------
    CostGraphError
        For an unknown model or option, an empty axis, or a size the model does not have.

    Examples
    --------
    >>> rows = sweep_rows("vgg16", {"H": [16, 32]})
    >>> rows[0]["error"].startswith("layer 'pool5'"), rows[1]["params"]    # the seed's 138M at H = 32 ... less fc1
    (True, 37694248)
    """
    from ..model_source import resolve

    for name, values in axes.items():
        if not values:
            raise CostGraphError(f"sweep: size {name} has no values", value=name)
    options = dict(options or {})
    if isinstance(model, str) and _looks_like_zoo_name(model) and not options:
        from .. import fast

        try:
            return fast.grid(model, axes, dtype=dtype)
        except CostGraphError:
            pass  # an invalid point or an unknown model: the path below says which, point by point
    source = resolve(model, options=options)
    net = source.net
    defaults = dict(source.sizes)
    if "H" in axes and "W" not in axes:
        defaults.pop("W", None)
    points = size_grid(axes, {k: v for k, v in defaults.items() if k not in axes})
    if source.zoo is not None:
        from .. import fast

        def evaluate(point):
            return fast.totals(source.zoo, dtype=dtype, options=source.options, **point)
    else:

        def evaluate(point):
            totals = net.totals(dtype=dtype, **point)
            return {**totals.sizes, **totals.as_dict()}

    return _rows_with_reasons(net, points, dtype, evaluate)


def format_sweep(rows: list[dict], fmt: str = "md", *, title: str = "") -> str:
    """Sweep rows as ``md`` (exact, thousands separators), ``csv``, ``json`` (a list of rows) or ``latex``.

    Columns: the sizes, then `SWEEP_FIELDS`, then ``error`` if some row has one.

    Raises
    ------
    ValueError
        For another format.

    Examples
    --------
    >>> print(format_sweep([{"H": 1, "params": 1234567}], "csv"), end="")
    H,params
    1,1234567
    """
    import csv
    import io
    import json

    columns = list(rows[0]) if rows else []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if any(row.get("error") for row in rows):
        columns = [c for c in columns if c != "error"] + ["error"]
    else:
        columns = [c for c in columns if c != "error"]
    if fmt == "json":
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if row.get(c) is None else row.get(c) for c in columns] for row in rows])
        return out.getvalue()

    def cell(value):
        if value is None:
            return ""
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    if fmt == "md":
        from .grid import markdown_grid as _markdown_grid

        align = tuple("l" if c == "error" else "r" for c in columns)
        return _markdown_grid(columns, align, body) + "\n"
    if fmt == "latex":
        from .grid import latex_escape

        lines = [r"\begin{tabular}{" + "".join("l" if c == "error" else "r" for c in columns) + "}", r"\toprule",
                 " & ".join(latex_escape(c) for c in columns) + r" \\", r"\midrule"]  # fmt: skip
        lines += [" & ".join(latex_escape(c).replace(",", "{,}") for c in line) + r" \\" for line in body]
        return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose from md, csv, json, latex")
