"""Plots with matplotlib (an optional extra): where the cost lives, and how it grows.

matplotlib is imported inside the functions, never at module level, so the
command line stays fast and works without it; a missing install is a
`CostGraphError` that says how to get it.  Output is deterministic: figures
are drawn with the Agg renderer under matplotlib's default style plus fixed
sizes and fonts, and PNGs are encoded here (pixels, zlib level 6, no
metadata), so the same matplotlib gives the same bytes on every run.

Two figures:

- `layers_figure`: each layer's share of the activation memory and of the
  parameters, with cumulative curves.  For VGG16 the memory bars stand at
  the left (early convs) and the parameter bars at the right (late FC
  layers), the seed's lesson at a glance.
- `resolution_figure`: params, activation memory and MACs against the input
  size (H = W for images, else the model's first size), with the default
  size marked.
- `roofline_figure`: a network's layers on a device's roofline (arithmetic
  intensity against attainable FLOP/s, log-log), each point sized by the
  layer's share of the time.
"""

from __future__ import annotations

import os
import struct
import zlib

from ..errors import CostGraphError
from .tables import count_value, sizes_text
from .units import human_bytes, human_count

__all__ = [
    "require_matplotlib",
    "layers_figure",
    "plot_groups",
    "MAX_BARS",
    "resolution_figure",
    "resolution_axis",
    "roofline_figure",
    "save_figure",
    "png_bytes",
    "STYLE",
]

INSTALL_HINT = "plots need matplotlib: pip install 'costgraph[plot]' (or: pip install matplotlib)"

#: rcParams applied over matplotlib's defaults for every figure (the user's matplotlibrc is ignored)
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titley": 1.0,  # a fixed title position: matplotlib's automatic one measures every tick label
    "axes.titlepad": 5.0,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "costgraph",
    "path.simplify": True,
}

MEMORY_COLOR = "#1f77b4"
PARAMS_COLOR = "#d62728"
MACS_COLOR = "#2ca02c"
DPI = 100


def require_matplotlib():
    """Import matplotlib, or raise a `CostGraphError` telling how to install it.

    Raises
    ------
    CostGraphError
        If matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise CostGraphError(INSTALL_HINT) from None
    return matplotlib


def _new_figure(width: float, height: float):
    """A Figure on its own Agg canvas: no pyplot, no global figure registry, no GUI backend."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


class _style:
    """Context: matplotlib's default rcParams plus `STYLE`, whatever the user's matplotlibrc says."""

    def __enter__(self):
        matplotlib = require_matplotlib()
        self._context = matplotlib.rc_context()
        self._context.__enter__()
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


# -- where the cost lives ---------------------------------------------------------------
def _cumulative_percent(values: list, total: int) -> list:
    running, out = 0, []
    for v in values:
        running += v
        out.append(100.0 * running / total if total else 0.0)
    return out


def _half_way(names: list, cumulative: list) -> str:
    for index, (name, value) in enumerate(zip(names, cumulative)):
        if value >= 50.0:
            return f"half of it by {name} (bar {index + 1} of {len(names)})"
    return ""


def _short_label(name: str, limit: int = 26) -> str:
    return name if len(name) <= limit else "\u2026" + name[-(limit - 1):]


def _bars(axes, x: list, heights: list, color: str) -> None:
    """Bars as one PolyCollection: one artist however many layers (hundreds of Rectangles are slow)."""
    from matplotlib.collections import PolyCollection

    half = 0.4
    polygons = [((i - half, 0.0), (i - half, h), (i + half, h), (i + half, 0.0)) for i, h in zip(x, heights)]
    axes.add_collection(PolyCollection(polygons, facecolors=color, edgecolors="none"))


def _margins(figure, *, left: float, right: float, top: float, bottom: float, hspace: float = 0.0, wspace: float = 0.0):
    """`subplots_adjust` in inches: fixed layout, much cheaper than tight_layout and as deterministic."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=hspace,
        wspace=wspace,
    )


#: most bars a layers plot draws; deeper networks are grouped by module (dotted-name prefix)
MAX_BARS = 40


def _group_key(name: str, depth: int | None) -> str:
    return name if depth is None else ".".join(name.split(".")[:depth])


def plot_groups(rows, depth: int | None = None, max_bars: int = MAX_BARS) -> tuple:
    """The bars of a layers plot: (labels, activations, params, depth used), in network order.

    Only rows that hold parameters or write a new tensor are drawn.  With
    `depth`, layers are grouped by the first `depth` parts of their dotted
    names (``layer1.0.conv1`` -> ``layer1.0`` at depth 2); without, by layer
    if at most `max_bars` are shown, else at the deepest depth that gives at
    most `max_bars` groups.  A row that uses another layer's (tied)
    parameters adds none: the params bars sum to ``totals().params``.

    Raises
    ------
    CostGraphError
        If the rows are symbolic, or `depth` is not a positive integer.

    Examples
    --------
    >>> from costgraph.models import resnet50
    >>> labels, _, params, depth = plot_groups(resnet50().layers(H=224), depth=1)
    >>> labels[4:8], sum(params)       # torchvision's num_params for ResNet50_Weights
    (['layer1', 'layer2', 'layer3', 'layer4'], 25557032)
    """
    shown = [r for r in rows if count_value(r.params) or count_value(r.activations)]
    if any(not isinstance(count_value(r.params), int) or not isinstance(count_value(r.activations), int) for r in shown):
        raise CostGraphError("a per-layer plot needs rows at given sizes, not symbolic ones")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise CostGraphError(f"depth must be a positive integer, got {depth!r}", value=depth)
    if depth is None and len(shown) > max_bars:
        deepest = max(r.name.count(".") + 1 for r in shown)
        depth = 1
        for candidate in range(1, deepest + 1):
            if len({_group_key(r.name, candidate) for r in shown}) <= max_bars:
                depth = candidate
    groups: dict = {}
    for row in shown:
        key = _group_key(row.name, depth)
        memory, params = groups.get(key, (0, 0))
        groups[key] = (memory + count_value(row.activations), params + (0 if getattr(row, "shares", None) else count_value(row.params)))
    labels = list(groups)
    return labels, [groups[k][0] for k in labels], [groups[k][1] for k in labels], depth


def layers_figure(model: str, rows, totals, *, depth: int | None = None):
    """Each layer's (or module's) share of activation memory (top) and of parameters (bottom).

    Only layers that hold parameters or write a new tensor are drawn (the
    rows a table shows), in network order, one bar each; a deep network (more
    than `MAX_BARS` such layers) or an explicit `depth` groups them by module
    (`plot_groups`), so every bar is labelled.  Bars give each share (left
    axis); the black line is the cumulative share (right axis, 0-100%), and
    the panel title names the bar by which half of the total is reached (a
    dotted vertical line marks it).  Tied parameters count once: the
    parameters panel's total is ``totals.params``.

    Raises
    ------
    CostGraphError
        If matplotlib is missing, or the rows are symbolic.
    """
    try:
        names, memory, params, depth = plot_groups(rows, depth)
    except CostGraphError as error:
        raise CostGraphError(f"{model}: {error}", value=error.value) from None
    total_memory, total_params = sum(memory), sum(params)
    if isinstance(count_value(totals.params), int) and total_params != count_value(totals.params):
        raise CostGraphError(f"{model}: the plotted parameters {total_params} differ from the totals' {totals.params}")
    element = totals.activation_bytes // totals.activations if totals.activations else 4
    count = len(names)
    with _style():
        width = min(14.0, max(7.0, 0.16 * count + 2.5))
        label_inches = 0.058 * max(len(_short_label(n)) for n in names) + 0.15
        height = 5.6 + label_inches
        figure = _new_figure(width, height)
        top, bottom = figure.subplots(2, 1, sharex=True)
        x = list(range(count))
        panels = (
            (top, memory, total_memory, MEMORY_COLOR,
             f"activation memory: {human_count(total_memory)} elements, "
             f"{human_bytes(total_memory * element)} at {totals.dtype} (forward)"),
            (bottom, params, total_params, PARAMS_COLOR, f"parameters: {human_count(total_params)}"
             + (" (tied parameters once)" if any(getattr(r, "shares", None) for r in rows) else "")),
        )  # fmt: skip
        for axes, values, total, color, title in panels:
            share = [100.0 * v / total if total else 0.0 for v in values]
            _bars(axes, x, share, color)
            axes.set_ylim(0, max(share + [1.0]) * 1.08)
            axes.set_ylabel("% of total, per bar", color=color)
            axes.tick_params(axis="y", colors=color)
            axes.grid(axis="y", color="0.92", linewidth=0.6)
            axes.set_axisbelow(True)
            cumulative_axes = axes.twinx()
            cumulative = _cumulative_percent(values, total)
            cumulative_axes.step(x, cumulative, where="mid", color="black", linewidth=1.0)
            half = next((i for i, c in enumerate(cumulative) if c >= 50.0), None)
            if half is not None:
                cumulative_axes.axvline(half, color="0.5", linewidth=0.8, linestyle=":")
            cumulative_axes.set_ylim(0, 104)
            cumulative_axes.set_ylabel("cumulative % (line)")
            cumulative_axes.spines["right"].set_visible(True)
            halfway = _half_way(names, cumulative)
            axes.set_title(title + (f"\n{halfway}" if halfway else ""), loc="left")
        bottom.set_xticks(x)  # every bar labelled: at most MAX_BARS of them
        bottom.set_xticklabels([_short_label(n) for n in names], rotation=90, fontsize=7)
        bottom.set_xlim(-0.7, count - 0.3)
        unit = "per layer" if depth is None else f"per module (names to depth {depth})"
        figure.suptitle(f"{model} at {sizes_text(totals.sizes)}: memory and parameters {unit}", x=0.01, ha="left", fontsize=10)
        top_inches, gap_inches = 0.95, 0.75  # room for the suptitle and the two-line panel titles
        area = height - top_inches - label_inches - 0.1
        _margins(figure, left=0.75, right=0.7, top=top_inches, bottom=label_inches + 0.1, hspace=2 * gap_inches / (area - gap_inches))
    return figure


# -- how it grows ------------------------------------------------------------------------
def resolution_axis(net, default_sizes: dict) -> str:
    """The size a resolution plot sweeps: H (with W = H) for images, else the first non-batch size.

    A size with one valid value at the defaults (Whisper's S, pinned at 1500
    by its encoder's position table) would plot a single point: the next
    size is swept instead, the batch N if no other is left.
    """
    from ..valid_sizes import pinned_sizes

    names = [s.name for s in net.symbols]
    try:
        pinned = pinned_sizes(net, default_sizes) if default_sizes else {}
    except CostGraphError:
        pinned = {}
    if "H" in names and "H" not in pinned:
        return "H"
    others = [n for n in names if n not in ("N", "H", "W") and n not in pinned]
    return others[0] if others else "N"


def _is_valid(net, sizes: dict) -> bool:
    try:
        net.check_sizes(**sizes)
    except CostGraphError:
        return False
    return True


def _sweep_points(net, axis: str, default_sizes: dict, max_points: int = 120) -> tuple[list, dict]:
    """Valid sizes from the smallest valid one up to twice the default, and the sizes held fixed.

    Sizes at which some layer is invalid (too small for a pooling, longer
    than a learned position table, ...) are left out.
    """
    fixed = {k: v for k, v in default_sizes.items() if k != axis and not (axis == "H" and k == "W")}
    default = default_sizes.get(axis, 1 if axis == "N" else None)
    if default is None:
        raise CostGraphError(f"{net.name}: no default value of size {axis} to plot around", value=axis)
    low = next((v for v in range(1, default + 1) if _is_valid(net, {**fixed, axis: v})), None)
    if low is None:
        raise CostGraphError(f"{net.name}: no valid {axis} up to its default {default}", value=default)
    high = max(2 * default, low + 1)
    step = max(1, -(-(high - low) // max_points))
    candidates = sorted(set(range(low, high + 1, step)) | {default})
    return [v for v in candidates if _is_valid(net, {**fixed, axis: v})], fixed


def resolution_figure(model: str, net, default_sizes: dict, *, dtype: str = "fp32"):
    """Params, activation memory and MACs against the input size, default size marked.

    Sizes run from the smallest valid one to twice the default; the other
    sizes stay at their defaults (batch 1).  Evaluated exactly through
    `costgraph.render.sweep.evaluate_totals`.

    Raises
    ------
    CostGraphError
        If matplotlib is missing or the model has no valid size to plot.
    """
    from .sweep import evaluate_totals

    from ..valid_sizes import pinned_sizes

    axis = resolution_axis(net, default_sizes)
    values, fixed = _sweep_points(net, axis, default_sizes)
    pinned = pinned_sizes(net, {**fixed, axis: default_sizes.get(axis, 1)}) if fixed else {}
    results = evaluate_totals(net, [{**fixed, axis: v} for v in values], dtype)
    default = default_sizes.get(axis, 1)
    at_default = results[values.index(default)]
    label = {"H": "input size H = W (pixels)", "S": "sequence length S", "T": "target sequence length T", "N": "batch size N"}.get(axis, f"size {axis}")
    panels = (
        ("params", 1e6, "parameters (millions)", PARAMS_COLOR, human_count),
        ("activation_bytes", 10**6, f"activation memory, forward (MB, {dtype})", MEMORY_COLOR, human_bytes),
        ("macs", 1e9, "MACs (billions)", MACS_COLOR, human_count),
    )
    with _style():
        figure = _new_figure(11.0, 3.6)
        axes_row = figure.subplots(1, 3)
        for axes, (field, scale, ylabel, color, show) in zip(axes_row, panels):
            ys = [getattr(t, field) / scale for t in results]
            axes.plot(values, ys, color=color, linewidth=1.2)
            axes.axvline(default, color="0.5", linewidth=0.8, linestyle="--")
            exact = getattr(at_default, field)
            axes.plot([default], [exact / scale], marker="o", color=color, markersize=4)
            right_half = default > (values[0] + values[-1]) / 2
            axes.annotate(
                f"{show(exact)} at {axis}={default}",
                (default, exact / scale),
                # totals grow with size: the curve runs below-left and above-right of the point
                xytext=(-6, 6) if right_half else (6, -6),
                textcoords="offset points",
                ha="right" if right_half else "left",
                va="bottom" if right_half else "top",
                fontsize=8,
            )
            axes.set_xlabel(label)
            axes.set_title(ylabel, loc="left")
            axes.set_ylim(0, (max(ys) or 1.0) * 1.15)  # headroom for the label at the default size
            axes.set_xlim(values[0], values[-1])
            axes.grid(color="0.9", linewidth=0.6)
            axes.set_axisbelow(True)
        held = ", ".join(f"{k}={v}" + (" (its only valid value)" if k in pinned else "") for k, v in fixed.items())
        figure.suptitle(
            f"{model}: totals against {label}" + (f" ({held})" if held else ""), x=0.01, ha="left"
        )
        _margins(figure, left=0.45, right=0.2, top=0.6, bottom=0.5, wspace=0.22)
    return figure


# -- on a device -------------------------------------------------------------------------
COMPUTE_COLOR = "#d62728"


def roofline_figure(model: str, result, profile):
    """A roofline plot: arithmetic intensity (FLOPs per byte) against attainable FLOP/s, log-log.

    The roof is ``min(peak, intensity x bandwidth)`` of `profile` at the
    roofline's dtype; one point per layer that computes and moves bytes,
    at ``(flops / bytes, flops / seconds)`` (on the roof, since the
    roofline is ideal), its area proportional to the layer's share of the
    total time, coloured by what bounds it.  The title gives the total, an
    ideal lower bound.

    Parameters
    ----------
    model : str
        The name shown.
    result : costgraph.roofline.Roofline
        ``net.roofline(device, dtype, **sizes)`` at sizes.
    profile : costgraph.hardware.Device
        The device it was computed for.

    Raises
    ------
    CostGraphError
        If matplotlib is missing, the roofline is symbolic, or no layer has both FLOPs and bytes.
    """
    from fractions import Fraction

    if not isinstance(result.seconds, Fraction):
        raise CostGraphError(f"{model}: a roofline plot needs a roofline at given sizes, not a symbolic one")
    shown = [r for r in result.rows if r.flops and r.bytes_moved and r.seconds]
    if not shown:
        raise CostGraphError(f"{model}: no layer both computes and moves bytes: nothing to plot")
    peak, bandwidth = profile.peak(result.dtype), profile.bandwidth
    total = float(result.seconds)
    intensity = [r.flops / r.bytes_moved for r in shown]
    achieved = [r.flops / float(r.seconds) for r in shown]
    share = [float(r.seconds) / total for r in shown]
    ridge = float(Fraction(peak) / Fraction(bandwidth))
    low = min(min(intensity), ridge) / 4
    high = max(max(intensity), ridge) * 4
    with _style():
        figure = _new_figure(8.0, 5.2)
        axes = figure.subplots()
        xs = [low * (high / low) ** (i / 200) for i in range(201)]
        axes.plot(xs, [min(float(peak), x * float(bandwidth)) for x in xs], color="black", linewidth=1.2, label="roof")
        axes.axvline(ridge, color="0.6", linewidth=0.8, linestyle=":")
        axes.annotate(f"ridge {ridge:.3g} FLOP/B", (ridge, float(peak)), xytext=(4, -12), textcoords="offset points", fontsize=8)
        for bound, color in (("memory", MEMORY_COLOR), ("compute", COMPUTE_COLOR)):
            largest = max(share)
            points = [(x, y, 12 + 500 * s / largest) for x, y, s, r in zip(intensity, achieved, share, shown) if r.bound == bound]
            if points:
                axes.scatter([p[0] for p in points], [p[1] for p in points], s=[p[2] for p in points], color=color,
                             alpha=0.55, edgecolors="none", label=f"{bound}-bound layers ({len(points)})")  # fmt: skip
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlim(low, high)
        axes.set_ylim(min(achieved) / 4, float(peak) * 3)
        axes.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
        axes.set_ylabel(f"attainable FLOP/s ({result.dtype})")
        axes.grid(which="major", color="0.9", linewidth=0.6)
        axes.legend(loc="lower right", frameon=False)
        left = len(result.rows) - len(shown)
        axes.set_title(
            f"{profile.name}: peak {float(peak):.3g} FLOP/s, bandwidth {float(bandwidth):.3g} B/s\n"
            "one point per layer, area = its share of the time"
            + (f" ({left} views and no-ops not shown)" if left else ""),
            loc="left",
        )
        mode = "training step" if result.training else "forward"
        figure.suptitle(
            f"{model} at {sizes_text(result.sizes)}, {mode}: {total:.4g} s, an ideal lower bound (roofline, no fusion)",
            x=0.01, ha="left",
        )  # fmt: skip
        _margins(figure, left=0.8, right=0.25, top=0.95, bottom=0.55)
    return figure


# -- output -------------------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(pixels) -> bytes:
    """Encode an (height, width, 3 or 4) uint8 array as PNG: no metadata, same pixels -> same bytes.

    Rows use PNG's "Up" filter (plots are mostly flat colour) and zlib level 6.
    An opaque RGBA image is written as RGB.
    """
    import numpy as np

    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = pixels.shape
    if channels == 4 and bool((pixels[:, :, 3] == 255).all()):
        pixels, channels = np.ascontiguousarray(pixels[:, :, :3]), 3
    color_type = {3: 2, 4: 6}[channels]
    flat = pixels.reshape(height, width * channels)
    filtered = np.empty((height, width * channels + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # Up
    filtered[0, 0] = 0  # the first row has nothing above it
    filtered[0, 1:] = flat[0]
    filtered[1:, 1:] = flat[1:] - flat[:-1]  # uint8 arithmetic wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def save_figure(figure, path) -> None:
    """Write `figure` to `path`: PNG (deterministic bytes), SVG or PDF by the file's extension.

    Raises
    ------
    CostGraphError
        For another extension, or if the file cannot be written.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".png":
            import numpy as np

            figure.canvas.draw()
            data = png_bytes(np.asarray(figure.canvas.buffer_rgba()))
            with open(path, "wb") as handle:
                handle.write(data)
        elif extension in (".svg", ".pdf"):
            metadata = {"Date": None} if extension == ".svg" else {"CreationDate": None, "ModDate": None}
            with _style():
                figure.savefig(path, metadata={**metadata, "Creator": None} if extension == ".svg" else metadata)
        else:
            raise CostGraphError(f"cannot write a plot as {extension or 'a file without extension'}: use .png, .svg or .pdf", value=path)
    except OSError as error:
        raise CostGraphError(f"cannot write {path}: {error.strerror or error}", value=path) from None
