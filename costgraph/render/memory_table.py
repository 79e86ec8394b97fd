"""A `Memory` record (`costgraph.memory`) as a Markdown breakdown: what ``costgraph table --training`` prints.

Formatting lives here, not in the memory model: `costgraph.memory` counts
bytes, this module writes them for people.
"""

from __future__ import annotations

from ..dtypes import dtype_bytes
from ..errors import CostGraphError
from ..memory import OPTIMIZER_STATES
from .units import human_bytes, human_count

__all__ = ["breakdown_markdown"]


def breakdown_markdown(memory: Memory, totals=None) -> str:
    """A Markdown table of a numeric `Memory`, and of a training step's MACs if `totals` has them.

    `totals` is ``net.totals(..., backward=True)`` at the same sizes.

    Raises
    ------
    CostGraphError
        If `memory` is symbolic (give sizes).

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> text = breakdown_markdown(net.memory(H=224, optimizer="adam"), net.totals(H=224, backward=True))
    >>> print(text.splitlines()[6])       # the seed's 15.2M values, max-pool argmax, dropout masks
    | saved for backward                     |    73,230,336 |   73.2 MB | 15.2M activations, 1.5M int64 indices, 8.2K masks |
    """
    if not memory.sizes:
        raise CostGraphError("a memory breakdown needs sizes (it shows numbers)")
    element = dtype_bytes(memory.dtype)
    kept = memory.saved_elements
    parts = [f"{human_count(kept['activation'])} activations"]
    for cls in kept:
        if cls != "activation" and kept[cls]:
            label = {"index": "int64 indices", "mask": "masks", "statistic": "statistics", "bool": "bools"}.get(cls, cls + " values")
            parts.append(f"{human_count(kept[cls])} {label}")
    states = OPTIMIZER_STATES[memory.optimizer]
    rows = [
        ("parameters", memory.params_bytes, f"{memory.params_bytes // element:,} x {element} B"),
        ("buffers (running statistics)", memory.buffers_bytes, ""),
    ]
    if memory.training:
        rows += [
            ("gradients", memory.grads_bytes, "one per parameter"),
            (f"optimizer state ({memory.optimizer})", memory.optimizer_bytes, f"{states} per parameter"),
            ("saved for backward", memory.saved_bytes, ", ".join(parts)),
            ("**training step total**", memory.total_training_bytes, "the sum above"),
        ]
    rows += [
        ("peak inference activations", memory.peak_inference_bytes, "largest alive at once, no autograd"),
        ("**inference total**", memory.total_inference_bytes, "parameters + buffers + peak"),
    ]
    at = ", ".join(f"{k}={v}" for k, v in memory.sizes.items())
    head = f"memory ({at}; {memory.dtype}; {memory.device})"
    width = max(len(head), *(len(r[0]) for r in rows))
    lines = [
        f"| {head:<{width}} | {'bytes':>13} | {'':>9} | note |",
        f"|:{'-' * (width + 1)}|{'-' * 14}:|{'-' * 10}:|:-----|",
    ]
    for label, value, note in rows:
        lines.append(f"| {label:<{width}} | {value:>13,} | {human_bytes(value):>9} | {note} |")
    if totals is not None and getattr(totals, "backward_macs", None) is not None:
        hundredths = (200 * totals.training_macs + totals.macs) // (2 * totals.macs)  # rounded, in integers
        lines += [
            "",
            f"MACs: forward {human_count(totals.macs)}, backward {human_count(totals.backward_macs)} "
            f"(gradients of inputs and weights), training step {human_count(totals.training_macs)} "
            f"= {hundredths // 100}.{hundredths % 100:02d} x forward",
        ]
    return "\n".join(lines)
