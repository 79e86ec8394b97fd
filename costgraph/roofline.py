"""Roofline time: an ideal lower bound on how long a network takes on a device.

Per layer, ``seconds = max(flops / peak, bytes / bandwidth)``: the layer can
go no faster than its arithmetic at the device's peak, nor than its memory
traffic (`costgraph.traffic`) at the device's bandwidth.  The layer is
*compute-bound* when the first term is the larger, *memory-bound*
otherwise (ties, and layers that do nothing, count as memory-bound).  The network's time is the sum over layers: a
closed form, a sum of ``Max`` terms in the sizes, evaluated exactly as
`fractions.Fraction` and turned into a float only when shown.

**What the figure is**: a lower bound under stated assumptions: every
layer at the dtype's peak dense FLOP/s (tensor cores for matrix products
and, optimistically, for elementwise work too), at full memory bandwidth,
each layer reading its inputs from and writing its output to main memory
(no fusion; ``fused_attention=True`` for a FlashAttention-style kernel), no
overlap between layers, and nothing else.

**What it is not**: a prediction.  Kernel launch latency, partial waves,
caches (which can make a small layer faster than its DRAM traffic says),
workspace, framework overhead and communication are not in it.  Measured
times are longer, often several times longer for small layers
(``benchmarks/README.md`` measures this machine's CPU against it).

>>> from costgraph.models import resnet50
>>> r = resnet50().roofline("a100-80gb", "bf16", H=224, N=256)
>>> r.label
'ideal lower bound (roofline: max(FLOPs / peak, bytes / bandwidth) per layer, no fusion)'
>>> 0.01 < float(r.seconds) < 0.05, r.rows[1].name, r.rows[1].bound
(True, 'conv1', 'memory')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from .compile import compile_exprs
from .dtypes import dtype_bytes
from .errors import CostGraphError
from .hardware import Device, device as find_device
from .symbols import N
from .traffic import LayerTraffic, backward_elements, forward_elements

__all__ = ["Roofline", "RooflineRow", "LABEL", "roofline", "roofline_seconds", "pass_seconds", "llm_figures"]

LABEL = "ideal lower bound (roofline: max(FLOPs / peak, bytes / bandwidth) per layer, no fusion)"


@dataclass(frozen=True)
class RooflineRow:
    """One layer: FLOPs, bytes moved, time (exact Fraction seconds, or a formula) and what bounds it."""

    name: str
    kind: str
    flops: object
    bytes_moved: object
    seconds: object
    bound: str | None  #: "compute" or "memory" at sizes; None for a symbolic row

    @property
    def intensity(self):
        """Arithmetic intensity, FLOPs per byte (None when the layer moves nothing)."""
        if not isinstance(self.bytes_moved, int) or self.bytes_moved == 0:
            return None
        return Fraction(self.flops, self.bytes_moved)


@dataclass(frozen=True)
class Roofline:
    """A network's roofline time on one device: total `seconds` and one `RooflineRow` per layer.

    `seconds` is an exact `Fraction` at sizes (``float(r.seconds)`` to show
    it) and a sympy sum of ``Max`` terms without.  It is an ideal lower
    bound: see `LABEL` and the module docstring.
    """

    device: str
    dtype: str
    seconds: object
    rows: list
    sizes: dict = field(default_factory=dict)
    training: bool = False
    fused_attention: bool = False
    label: str = LABEL

    @property
    def compute_seconds(self):
        """Time of the compute-bound layers (exact, at sizes)."""
        return sum((r.seconds for r in self.rows if r.bound == "compute"), Fraction(0))

    @property
    def memory_seconds(self):
        """Time of the memory-bound layers (exact, at sizes)."""
        return sum((r.seconds for r in self.rows if r.bound == "memory"), Fraction(0))

    def __str__(self) -> str:
        at = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "symbolic"
        mode = "training step" if self.training else "forward"
        shown = f"{float(self.seconds):.6g} s" if isinstance(self.seconds, Fraction) else str(self.seconds)
        return f"Roofline ({self.device}, {self.dtype}, {mode}, {at}): {shown}, an {self.label}"


def _layer_formulas(net, training: bool, fused_attention: bool):
    """Per layer: (flops formula, {element class: elements}) for the pass asked for (cached)."""
    key = ("roofline_formulas", training, fused_attention)
    if key in net._cache:
        return net._cache[key]
    forward = forward_elements(net, fused_attention)
    backward = backward_elements(net, fused_attention) if training else {}
    if training:
        from .memory import backward_macs

        extra_macs = backward_macs(net)
    result = []
    for name in net:
        flops = net.graph.nodes[name]["cost"].flops
        elements = dict(forward[name].elements())
        if training:
            flops = sympy.expand(flops + 2 * extra_macs.get(name, 0))
            for element, count in backward.get(name, LayerTraffic()).elements().items():
                elements[element] = sympy.expand(elements.get(element, 0) + count)
        result.append((name, flops, elements))
    net._cache[key] = result
    return result


def _element_sizes(classes, dtype, memory_device) -> list:
    from .memory import element_bytes

    size = dtype_bytes(dtype)
    return [element_bytes(e, size, memory_device) for e in classes]


def _numbers(net, training, fused_attention, values):
    """(names, flops ints, {class: ints}) of every layer at resolved `values`."""
    formulas = _layer_formulas(net, training, fused_attention)
    classes = sorted({e for _, _, elements in formulas for e in elements})
    key = ("roofline_fn", training, fused_attention)
    if key not in net._cache:
        exprs = []
        for _, flops, elements in formulas:
            exprs.append(flops)
            exprs.extend(elements.get(e, sympy.Integer(0)) for e in classes)
        net._cache[key] = (compile_exprs(net.symbols, exprs), classes)
    function, classes = net._cache[key]
    flat = function(*[values[s] for s in net.symbols])
    width = 1 + len(classes)
    return formulas, classes, [flat[i * width : (i + 1) * width] for i in range(len(formulas))]


def _layer_time(flops, moved, peak, bandwidth):
    compute, memory = Fraction(flops) / Fraction(peak), Fraction(moved) / Fraction(bandwidth)
    return (compute, "compute") if compute > memory else (memory, "memory")


def roofline(net, device, dtype="bf16", *, training: bool = False, fused_attention: bool = False, compute_dtype=None, **sizes) -> Roofline:
    """The roofline time of `net` on `device`: see `costgraph.Network.roofline`, which calls it.

    Raises
    ------
    CostGraphError
        For an unknown device, or a dtype the device has no peak for.
    UnknownSizeError, SizeError, DomainError
        As `costgraph.Network.totals` raises.

    Examples
    --------
    >>> from costgraph.models import resnet18
    >>> r = roofline(resnet18(), "l4", "fp16", H=224, N=32)
    >>> r.device, r.seconds == r.compute_seconds + r.memory_seconds
    ('l4', True)
    """
    profile = find_device(device)
    math_dtype = dtype if compute_dtype is None else compute_dtype
    peak, bandwidth = profile.peak(math_dtype), profile.bandwidth
    dtype_bytes(dtype)  # an unknown dtype fails before any work
    if not sizes:
        return _symbolic(net, profile, dtype, peak, training, fused_attention)
    values = net.check_sizes(**sizes)
    formulas, classes, numbers = _numbers(net, training, fused_attention, values)
    scales = _element_sizes(classes, dtype, profile.memory_device)
    rows, total = [], Fraction(0)
    for (name, _, _), row in zip(formulas, numbers):
        flops = int(row[0])
        moved = sum(int(c) * s for c, s in zip(row[1:], scales))
        seconds, bound = _layer_time(flops, moved, peak, bandwidth)
        total += seconds
        node = net.graph.nodes[name]
        rows.append(RooflineRow(name, node["layer"].kind, flops, moved, seconds, bound))
    shown = {s.name: v for s, v in values.items()}
    return Roofline(profile.name, str(dtype), total, rows, shown, training, fused_attention)


def _rational(rate) -> sympy.Rational:
    """``1 / rate`` as an exact sympy Rational (rate: an int or a Fraction)."""
    rate = Fraction(rate)
    return sympy.Rational(rate.denominator, rate.numerator)


def _symbolic(net, profile: Device, dtype, peak, training, fused_attention) -> Roofline:
    from .traffic import bytes_formula

    rows, terms = [], []
    for name, flops, elements in _layer_formulas(net, training, fused_attention):
        moved = bytes_formula(elements, dtype, profile.memory_device) if elements else sympy.Integer(0)
        parts = [amount * _rational(rate) for amount, rate in ((flops, peak), (moved, profile.bandwidth)) if amount != 0]
        seconds = sympy.Integer(0) if not parts else parts[0] if len(parts) == 1 else sympy.Max(*parts, evaluate=False)
        terms.append(seconds)
        rows.append(RooflineRow(name, net.graph.nodes[name]["layer"].kind, flops, moved, seconds, None))
    return Roofline(profile.name, str(dtype), sympy.Add(*terms), rows, {}, training, fused_attention)


def roofline_seconds(net, device, dtype="bf16", *, training: bool = False, fused_attention: bool = False, compute_dtype=None, values=None):
    """The exact total (a Fraction) at resolved sizes `values` (``{symbol: int}``), without building rows.

    What `costgraph.fit` evaluates many times.

    Raises
    ------
    CostGraphError
        For an unknown device, or a dtype the device has no peak for.

    Examples
    --------
    >>> from costgraph.models import resnet18
    >>> net = resnet18()
    >>> values = net.check_sizes(H=224, N=4)
    >>> roofline_seconds(net, "h100", "bf16", values=values) == net.roofline("h100", "bf16", H=224, N=4).seconds
    True
    """
    profile = find_device(device)
    peak = profile.peak(dtype if compute_dtype is None else compute_dtype)
    formulas, classes, numbers = _numbers(net, training, fused_attention, values)
    scales = _element_sizes(classes, dtype, profile.memory_device)
    total = Fraction(0)
    for row in numbers:
        moved = sum(int(c) * s for c, s in zip(row[1:], scales))
        total += _layer_time(int(row[0]), moved, peak, profile.bandwidth)[0]
    return total


def pass_seconds(totals, device, dtype="bf16", *, compute_dtype=None) -> Fraction:
    """``max(flops / peak, bytes_moved / bandwidth)`` of a whole pass given by its `Totals`, exact.

    For a pass known only by its totals (one LLM decode step,
    ``net.decode_step(S=..., N=...)``): the layers are not separated, so
    this bound is no larger than the per-layer sum `roofline` gives, and
    still a lower bound.  `totals` needs ``flops`` and ``bytes_moved``
    computed at `dtype`: ints at sizes (an exact Fraction comes back), or
    formulas (a sympy ``Max`` comes back).

    Raises
    ------
    CostGraphError
        If the totals have no flops or bytes moved.

    Examples
    --------
    >>> from costgraph.models import gpt2
    >>> t = gpt2("small").totals("bf16", S=1, N=1)        # one token, no cache: weights dominate
    >>> seconds = pass_seconds(t, "h100", "bf16")
    >>> seconds == Fraction(t.bytes_moved, 3350 * 10**9)  # memory-bound: bytes / bandwidth
    True
    """
    flops, moved = getattr(totals, "flops", None), getattr(totals, "bytes_moved", None)
    profile = find_device(device)
    peak = profile.peak(dtype if compute_dtype is None else compute_dtype)
    if isinstance(flops, sympy.Basic) and isinstance(moved, sympy.Basic):
        return sympy.Max(flops * _rational(peak), moved * _rational(profile.bandwidth), evaluate=False)
    if not isinstance(flops, int) or not isinstance(moved, int):
        raise CostGraphError("pass_seconds needs totals with flops and bytes_moved (ints at sizes, or formulas)", value=totals)
    return _layer_time(flops, moved, peak, profile.bandwidth)[0]


def llm_figures(net, device, dtype="bf16", *, batch=None, context=None, fused_attention: bool = True) -> dict:
    """Prefill time, time per decoded token and tokens per second, as roofline lower bounds.

    Exact Fractions at a `batch` and `context`; without both, formulas in
    the batch N and the sequence length S (for the decode step S counts the
    positions attended, the new token included: a cache of S - 1).

    * ``prefill_seconds``: the network's per-layer roofline over the prompt,
      ``N = batch``, ``S = context``;
    * ``token_seconds``: one decode step, ``pass_seconds(net.decode_step(...))``
      (a cache of ``context`` tokens, one new token per sequence), when the
      network has ``decode_step``; else None;
    * ``tokens_per_second``: ``batch / token_seconds`` (None without it).

    `fused_attention` defaults to True here: LLM serving runs fused attention
    kernels (FlashAttention); pass False for eager attention.

    Raises
    ------
    CostGraphError
        If the network has no sequence size S, or as `roofline` raises.

    Examples
    --------
    >>> from costgraph.models import gpt2
    >>> figures = llm_figures(gpt2("small"), "h100", "bf16", batch=8, context=512)
    >>> figures["prefill_seconds"] > 0
    True
    """
    if "S" not in [s.name for s in net.symbols]:
        raise CostGraphError(f"{net.name}: LLM figures need a sequence length S", value=net.name)
    symbolic = batch is None and context is None
    if not symbolic and (batch is None or context is None):
        raise CostGraphError("llm_figures takes both batch and context, or neither (formulas)", value=(batch, context))
    sizes = {} if symbolic else {"N": batch, "S": context}
    prefill = roofline(net, device, dtype, fused_attention=fused_attention, **sizes).seconds
    figures = {"prefill_seconds": prefill, "token_seconds": None, "tokens_per_second": None}
    decode_step = getattr(net, "decode_step", None)
    if decode_step is not None:
        step = decode_step(dtype) if symbolic else decode_step(dtype, S=context + 1, N=batch)
        token = pass_seconds(step, device, dtype)
        figures["token_seconds"] = token
        figures["tokens_per_second"] = N / token if symbolic else Fraction(batch) / token
    return figures
