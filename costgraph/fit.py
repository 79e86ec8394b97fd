"""Inverse queries: the largest size that fits a memory, MAC or time budget, found exactly and proved.

``max_size(net, "N", memory=80 * 10**9, H=224, dtype="bf16", optimizer="adam")``
is the largest batch whose training step fits in 80 GB.  Each budget is a
figure costgraph evaluates exactly at any size:

* ``memory``: bytes of a training step (``training=True``, the default, as
  `Network.memory`) or of inference (``training=False``), with the same
  keywords as `Network.memory`: ``dtype``, ``optimizer``;
* ``macs``: forward multiply-accumulates;
* ``seconds``: the roofline time (`costgraph.roofline`) on ``device``, of a
  training step or a forward pass as ``training`` says.

The search runs on those exact evaluators: the smallest valid value first,
read off the network's validity formulas (`costgraph.valid_sizes`: a
network may need ``H >= 32``, or pin a size, as Whisper's encoder takes
exactly S = 1500 positions), then doubling until a value does not fit,
then bisection.  It rests on the figures being non-decreasing in the size
(they are sums of products of sizes and floors of sizes with non-negative
coefficients for every zoo model; the tests check it on a grid), and proves
its answer by evaluating at the answer, which fits, and at answer + 1, which
does not (over a budget, or a size at which the network is not valid, e.g.
longer than GPT-2's 1024 learned positions).  If that check fails the
figure was not monotone and the search says so rather than answer.

``None`` means no value fits (even the smallest valid one is over a
budget); `EverySizeFits` is raised when no figure grows with the size (or
values up to `LIMIT` all fit), since there is then no largest value.

>>> from costgraph.models import resnet50
>>> net = resnet50()
>>> n = net.max_size("N", memory=80 * 10**9, H=224, dtype="bf16", optimizer="adam")
>>> net.memory("bf16", optimizer="adam", H=224, N=n).total_training_bytes <= 80 * 10**9
True
>>> net.memory("bf16", optimizer="adam", H=224, N=n + 1).total_training_bytes > 80 * 10**9
True
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from fractions import Fraction

from .errors import CostGraphError, DomainError
from .valid_sizes import LIMIT, NotProvedInterval, valid_interval  # LIMIT: the largest value tried

__all__ = ["Fit", "EverySizeFits", "fit", "max_size", "LIMIT"]



class EverySizeFits(CostGraphError):
    """No largest size: every value of the size fits every budget (no figure grows with it)."""


@dataclass(frozen=True)
class Fit:
    """The answer of `fit` with its proof.

    Attributes
    ----------
    size : str
        The size searched.
    value : int or None
        The largest value that fits; None when none does.
    at_value : dict
        ``{figure: exact value}`` at `value` (each within its budget).
    at_next : dict
        The same at ``value + 1``: some figure over its budget, or empty
        when ``value + 1`` is not a valid size (then `reason` says why).
    budgets : dict
        ``{figure: budget}``.
    reason : str
        What stops the next value: ``"memory"``, ``"macs"``, ``"seconds"``,
        or the domain error of an invalid size.
    fixed : dict
        The other sizes, as given.
    """

    size: str
    value: int | None
    at_value: dict = field(default_factory=dict)
    at_next: dict = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)
    reason: str = ""
    fixed: dict = field(default_factory=dict)


def _exact_budget(value, what: str):
    if value is None:
        return None
    if isinstance(value, bool):
        raise CostGraphError(f"max_size: {what} budget must be a number, got {value!r}", value=value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (Fraction, float, numbers.Rational)) or hasattr(value, "as_integer_ratio"):
        try:
            return Fraction(value)  # a float is taken at its exact binary value
        except (TypeError, ValueError, OverflowError):
            pass
    raise CostGraphError(f"max_size: {what} budget must be a number, got {value!r}", value=value)


def _figures(net, size: str, budgets: dict, profile, options: dict):
    """``evaluate(v) -> {figure: exact value}`` at ``size = v`` (raises DomainError where invalid)."""
    from .roofline import roofline_seconds

    fixed, dtype, training = options["fixed"], options["dtype"], options["training"]
    memory_device = profile.memory_device if profile is not None else options["memory_device"]

    def evaluate(value: int) -> dict:
        sizes = {**fixed, size: value}
        values = net.check_sizes(**sizes)
        result = {}
        if "memory" in budgets:
            m = net.memory(dtype, training=training, optimizer=options["optimizer"], device=memory_device, **sizes)
            result["memory"] = m.total_training_bytes if training else m.total_inference_bytes
        if "macs" in budgets:
            result["macs"] = net.totals(**sizes).macs
        if "seconds" in budgets:
            result["seconds"] = roofline_seconds(
                net, profile, dtype, training=training, fused_attention=options["fused_attention"],
                compute_dtype=options["compute_dtype"], values=values,
            )  # fmt: skip
        return result

    return evaluate


def fit(
    net,
    size: str,
    *,
    memory=None,
    macs=None,
    seconds=None,
    device=None,
    dtype="fp32",
    training: bool = True,
    optimizer: str | None = "sgd",
    fused_attention: bool = False,
    compute_dtype=None,
    **fixed,
) -> Fit:
    """The largest value of `size` within every budget, with the figures that prove it (a `Fit`).

    Parameters
    ----------
    net : Network
    size : str
        The size to maximize (``"N"``, ``"H"`` (W follows unless fixed), ``"S"``, ...).
    memory : int, optional
        Bytes: a training step's total (``training=True``) or inference's.
    macs : int, optional
        Forward multiply-accumulates.
    seconds : int, Fraction or float, optional
        Roofline seconds on `device` (a training step with ``training=True``).
    device : str or costgraph.hardware.Device, optional
        The hardware profile for `seconds` (its memory rules also apply to
        `memory`); or ``"cuda"``/``"cpu"``, the memory model's device only.
    dtype, training, optimizer
        As `Network.memory` (and the roofline's dtype).
    fused_attention, compute_dtype
        As `Network.roofline`.
    **fixed : int
        The other sizes.

    Raises
    ------
    CostGraphError
        Without any budget, for an unknown size, a size also given fixed,
        a `seconds` budget without a device profile, or a figure found not
        to be monotone.
    EverySizeFits
        If every value fits (no largest one).
    """
    from .hardware import device as find_device

    budgets = {k: v for k, v in (("memory", _exact_budget(memory, "memory")), ("macs", _exact_budget(macs, "macs")),
                                 ("seconds", _exact_budget(seconds, "seconds"))) if v is not None}  # fmt: skip
    if not budgets:
        raise CostGraphError("max_size needs at least one budget: memory=, macs= or seconds=")
    names = [s.name for s in net.symbols]
    if size not in names:
        raise CostGraphError(f"{net.name} has no size {size!r}; its sizes: {', '.join(names)}", value=size)
    if size in fixed:
        raise CostGraphError(f"size {size} is the one searched; do not also fix it", value=size)
    profile, memory_device = None, "cuda"
    if device in ("cuda", "cpu"):
        memory_device = device
    elif device is not None:
        profile = find_device(device)
    if "seconds" in budgets and profile is None:
        raise CostGraphError("a seconds budget needs a device profile: device='h100', 'a100-80gb', ...", value=device)
    options = {"fixed": dict(fixed), "dtype": dtype, "training": training, "optimizer": optimizer,
               "memory_device": memory_device, "fused_attention": fused_attention, "compute_dtype": compute_dtype}  # fmt: skip
    evaluate = _figures(net, size, budgets, profile, options)

    def attempt(value: int):
        """(fits, figures or the domain error)."""
        try:
            figures = evaluate(value)
        except DomainError as error:
            return False, error
        return all(figures[k] <= b for k, b in budgets.items()), figures

    smallest = _smallest_valid(net, size, fixed, evaluate)
    if smallest is None:
        return Fit(size, None, budgets=budgets, reason=f"no valid value of {size} up to {LIMIT}", fixed=dict(fixed))
    fits, figures = attempt(smallest)
    if not fits:
        over = ", ".join(k for k, b in budgets.items() if figures[k] > b)
        return Fit(size, None, at_next=figures, budgets=budgets, reason=f"{over} over budget at the smallest valid {size}={smallest}", fixed=dict(fixed))
    good, bad = smallest, None
    step = 1
    while bad is None:
        probe = good + step
        if probe > LIMIT:
            raise EverySizeFits(f"{net.name}: every {size} fits (checked up to {LIMIT}): no figure grows with {size}", value=size)
        if attempt(probe)[0]:
            good, step = probe, step * 2
        else:
            bad = probe
    while bad - good > 1:
        middle = (good + bad) // 2
        if attempt(middle)[0]:
            good = middle
        else:
            bad = middle
    fits_here, at_value = attempt(good)
    fits_next, at_next = attempt(good + 1)
    if not fits_here or fits_next:
        raise CostGraphError(f"{net.name}: a figure is not monotone in {size} near {good}; no largest value can be proved", value=good)
    if isinstance(at_next, DomainError):
        reason, at_next = f"{size}={good + 1} is not valid: {at_next}", {}
    else:
        reason = ", ".join(k for k, b in budgets.items() if at_next[k] > b)
    return Fit(size, good, at_value, at_next, budgets, reason, dict(fixed))


def _smallest_valid(net, size: str, fixed: dict, evaluate):
    """The smallest value at which the network is valid, from its validity formulas (`costgraph.valid_sizes`).

    Exact at any size (Whisper's encoder is valid at S = 1500 only).  Where a
    formula is not provably monotone, values are scanned instead: 1..1024
    one by one, then powers of two (a value valid only elsewhere is missed).
    """
    try:
        interval = valid_interval(net, size, **fixed)
    except NotProvedInterval:
        interval = False
    if interval is None:
        return None
    if interval:
        try:
            evaluate(interval[0])
        except DomainError:
            pass  # a figure refuses a size the layers accept: scan for one both accept
        else:
            return interval[0]
    candidates = list(range(1, 1025))
    value = 2048
    while value <= LIMIT:
        candidates.append(value)
        value *= 2
    for value in candidates:
        try:
            evaluate(value)
        except DomainError:
            continue
        return value
    return None


def max_size(net, size: str, *, memory=None, macs=None, seconds=None, device=None, **fixed):
    """The largest value of `size` within every budget given, the others fixed; None when none fits.

    Keywords as `fit` (``dtype``, ``training``, ``optimizer``, ``fused_attention``,
    ``compute_dtype`` and the fixed sizes); `fit` also returns the proof.

    Raises
    ------
    CostGraphError, EverySizeFits
        As `fit` raises.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> h = net.max_size("H", macs=10**11)                 # largest square image under 100 GMACs
    >>> net.totals(H=h).macs <= 10**11 < net.totals(H=h + 1).macs
    True
    """
    return fit(net, size, memory=memory, macs=macs, seconds=seconds, device=device, **fixed).value
