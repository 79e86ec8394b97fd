"""How records print: ``print(net)``, ``print(net.totals(...))``, ``net.layers(...)`` and Jupyter.

`render_record` is what `costgraph.display_hook` calls (the package installs
it): the records themselves never import the renderers.

>>> from costgraph.models import vgg16
>>> print(vgg16().totals(H=224))                       # doctest: +NORMALIZE_WHITESPACE
Totals at H=224, W=224, N=1 (fp32)
  params                138,357,544   138.4M
  weights               138,344,128   138.3M
  biases                     13,416    13.4K
  activations            15,237,608    15.2M
  activation_bytes       60,950,432  61.0 MB
  macs               15,470,264,320    15.5B
  flops              30,958,675,456    31.0B
"""

from __future__ import annotations

from .tables import count_value, rows_latex, rows_markdown, sizes_text, totals_latex, totals_markdown
from .units import human_bytes, human_count

__all__ = ["render_record", "totals_plain", "network_text"]


def totals_plain(totals) -> str:
    """`Totals` as aligned text: exact value and human units per field (formulas when symbolic)."""
    at = f"at {sizes_text(totals.sizes)}" if totals.sizes else "symbolic"
    fields = list(totals.as_dict().items())
    numeric = all(isinstance(count_value(v), int) for _, v in fields)
    lines = [f"Totals {at} ({totals.dtype})"]
    if numeric:
        exact = [f"{count_value(v):,}" for _, v in fields]
        human = [human_bytes(v) if k == "activation_bytes" else human_count(v) for k, v in fields]
        width, human_width = max(map(len, exact)), max(map(len, human))
        lines += [f"  {k:<17}{e:>{width}}  {h:>{human_width}}" for (k, _), e, h in zip(fields, exact, human)]
    else:
        lines += [f"  {k:<17}{v}" for k, v in fields]
    return "\n".join(lines)


def network_text(net) -> str:
    """``print(net)``: the network's name and sizes, then its summary to depth 1 in formulas."""
    from ..model_summary import group_rows

    rows = net.layers()
    modules = group_rows(rows, 1)
    header = repr(net)
    body = [f"  {m.name:<24} {m.kind:<28} params {count_value(m.params)}, MACs {count_value(m.macs)}" for m in modules]
    totals = net.totals()
    return "\n".join([header] + body + [f"  total params {count_value(totals.params)}, MACs {count_value(totals.macs)}"])


def render_record(record, form: str):
    """`record` (a `Totals`, a layer table, a `Network`) as ``text``, ``markdown`` or ``latex``; None otherwise.

    Raises
    ------
    Nothing of its own: an unknown record or form gives None (the plain repr).
    """
    kind = type(record).__name__
    if kind == "Totals":
        if form == "text":
            return totals_plain(record)
        if form == "markdown":
            return totals_markdown(record)
        if form == "latex":
            return "$" + totals_latex(record, environment="aligned") + "$"
    elif kind == "LayerTable":
        if not record:
            return None
        if form in ("text", "markdown"):
            return rows_markdown(record, all_layers=True)
        if form == "latex":
            return "$" + rows_latex(record, all_layers=True, environment="array") + "$"
    elif kind == "Network" and form == "text":
        return network_text(record)
    return None
