"""Totals over a grid of sizes: what ``costgraph sweep`` prints and the plots draw.

Every point is evaluated exactly (Python ints), through `evaluate_totals`:
one vectorized call of `Network.totals` when numpy is installed.

>>> from costgraph.models import vgg16
>>> rows = sweep(vgg16(), {"H": [224, 256]})
>>> [(r["H"], r["W"]) for r in rows]
[(224, 224), (256, 256)]
>>> # VGG16's fc1 sees 512 x (H//32) x (W//32) features: params grow with them
>>> [r["params"] - 2097152 * (r["H"] // 32) * (r["W"] // 32) for r in rows]
[35597096, 35597096]
"""

from __future__ import annotations

from ..errors import CostGraphError
from ..totals import Totals
from .totals_rows import size_grid  # noqa: F401 (re-exported: the grid of a sweep)

__all__ = ["size_grid", "evaluate_totals", "sweep", "SWEEP_FIELDS"]

#: the totals columns of a sweep, after the size columns
SWEEP_FIELDS = Totals.FIELDS


def evaluate_totals(net, points: list[dict], dtype: str = "fp32") -> list[Totals]:
    """`net.totals` at each point, exactly.

    With numpy installed, all points go through one call of `Network.totals`
    with integer arrays (its compiled, overflow-guarded vectorized path);
    without numpy, one call per point.  Both give the same Python ints.

    Raises
    ------
    CostGraphError
        As `Network.totals` raises at the first invalid point.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> # at 256, fc1 sees 8x8 instead of 7x7 positions: 138,357,544 + 2,097,152 * (64 - 49)
    >>> [t.params for t in evaluate_totals(vgg16(), [{"H": 224}, {"H": 256}])]
    [138357544, 169814824]
    """
    try:
        import numpy
    except ImportError:
        numpy = None
    keys = set(points[0]) if points else set()
    if numpy is None or len(points) < 2 or any(set(p) != keys for p in points):
        return [net.totals(dtype=dtype, **point) for point in points]
    arrays = {k: numpy.array([p[k] for p in points]) for k in keys}
    together = net.totals(dtype=dtype, **arrays)
    per_point = []
    for i in range(len(points)):
        pick = lambda v: int(v[i]) if hasattr(v, "shape") and getattr(v, "ndim", 0) else int(v)  # noqa: E731
        per_point.append(
            Totals(
                **{field: pick(getattr(together, field)) for field in Totals.FIELDS},
                active_params=pick(together.active_params),
                bytes_moved=pick(together.bytes_moved),  # computed with the rest: keep it, as the scalar path does
                dtype=together.dtype,
                sizes={name: pick(value) for name, value in together.sizes.items()},
            )
        )
    return per_point


def sweep(net, axes: dict, fixed: dict | None = None, *, dtype: str = "fp32") -> list[dict]:
    """One dict per grid point: the resolved sizes (H, W, ..., N) then `SWEEP_FIELDS`.

    Raises
    ------
    CostGraphError
        For an empty axis or an invalid point (as `Network.totals`).
    """
    rows = []
    for totals in evaluate_totals(net, size_grid(axes, fixed), dtype):
        rows.append({**totals.sizes, **totals.as_dict()})
    return rows
