"""The records costgraph returns: per-layer costs, per-layer rows, network totals.

Every count is a sympy expression in the size symbols when no sizes are
given, and an exact Python ``int`` when they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import sympy

from .display_hook import render

__all__ = ["LayerCost", "Row", "LayerTable", "Totals", "FLOP_CONVENTION"]

FLOP_CONVENTION = (
    "FLOPs = 2 per multiply-accumulate (bias adds included) + each layer's elementwise work: "
    "1 per ReLU/add/mul element, 2 per BatchNorm, 5 per softmax, 7 per LayerNorm, 8 per GELU element, "
    "k*k-1 per max-pool and k*k per avg-pool output (full list: README, Counting conventions)"
)


@dataclass(frozen=True)
class LayerCost:
    """One layer's formulas: parameters, output elements it materializes, MACs, FLOPs."""

    weights: sympy.Expr
    biases: sympy.Expr
    activations: sympy.Expr
    macs: sympy.Expr
    flops: sympy.Expr

    @property
    def params(self) -> sympy.Expr:
        return self.weights + self.biases


@dataclass(frozen=True)
class Row:
    """One layer of a per-layer table (symbolic, or exact ints at given sizes).

    `shape` is the output shape without the batch dimension; `activations`
    counts the elements of the output if the layer materializes a new tensor
    (0 for in-place layers and views), for the whole batch.  A row whose
    `shares` names another layer shows parameters the totals count only there.
    """

    name: str
    kind: str
    kernel: object
    stride: object
    padding: object
    shape: tuple
    params: object
    weights: object
    biases: object
    activations: object
    macs: object
    flops: object
    inputs: tuple = ()
    shares: str | None = None  #: the layer whose parameters this one uses (tied weights)
    bytes_moved: object = None  #: forward bytes read and written at fp32 (`costgraph.traffic`)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class LayerTable(list):
    """The rows `Network.layers` returns: a plain list of `Row` that renders itself in notebooks.

    ``print(rows)``, the REPL and Jupyter show it as the seed's table (every
    layer, human units), through the renderer `costgraph.display_hook` calls.
    """

    def __str__(self) -> str:
        return render(self, "text") or list.__repr__(self)

    def __repr__(self) -> str:
        return render(self, "text") or list.__repr__(self)

    def _repr_markdown_(self):
        return render(self, "markdown")

    def _repr_latex_(self):
        return render(self, "latex")


@dataclass(frozen=True)
class Totals:
    """Network totals; each field an exact int at given sizes, else a sympy expression.

    Attributes
    ----------
    params, weights, biases
        Parameter counts (``params = weights + biases``; tied parameters once).
    activations
        Elements of the inputs plus every materialized layer output: what a
        forward pass produces, the seed's "memory" column summed.
    activation_bytes
        ``activations`` times the bytes of `dtype`.
    macs
        Multiply-accumulates of conv, linear and matrix-product layers.
    flops
        FLOPs under `FLOP_CONVENTION` (stated beside every printed figure).
    backward_macs, training_macs
        With ``totals(backward=True)`` only (else None): the MACs of the
        backward pass (gradients of inputs and weights, see
        `costgraph.memory.backward_macs`) and of a training step
        (``macs + backward_macs``).
    bytes_moved
        Bytes the forward pass reads from and writes to main memory at
        `dtype`, under `costgraph.traffic.TRAFFIC_CONVENTION` (no fusion).
    backward_bytes_moved
        With ``totals(backward=True)`` only: the same for the backward pass.
    active_params
        Parameters one token uses: ``params`` for a dense model; for a
        mixture of experts, without the experts a token is not routed to
        (`costgraph.kinds.MixtureOfExperts`).  An attribute (not in
        `as_dict`, whose fields every table and the fast path share);
        printed when it differs from ``params``.
    """

    params: object
    weights: object
    biases: object
    activations: object
    activation_bytes: object
    macs: object
    flops: object
    dtype: str = "fp32"
    sizes: dict = field(default_factory=dict)
    backward_macs: object = None
    training_macs: object = None
    bytes_moved: object = None
    backward_bytes_moved: object = None
    active_params: object = None

    FIELDS = ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops")
    BACKWARD_FIELDS = ("backward_macs", "training_macs")

    def __post_init__(self):
        if self.active_params is None:  # a dense model uses every parameter for every token
            object.__setattr__(self, "active_params", self.params)

    def _fields(self) -> tuple:
        return self.FIELDS + (self.BACKWARD_FIELDS if self.backward_macs is not None else ())

    def as_dict(self) -> dict:
        """The count fields by name (the backward ones when computed)."""
        return {name: getattr(self, name) for name in self._fields()}

    def _repr_markdown_(self):
        return render(self, "markdown")

    def _repr_latex_(self):
        return render(self, "latex")

    def __str__(self) -> str:
        return render(self, "text") or self._plain_text()

    def _plain_text(self) -> str:
        at = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "symbolic"
        lines = [f"Totals ({at}; dtype {self.dtype})"]
        differs = self.active_params != self.params
        differs = differs.any() if hasattr(differs, "any") else differs  # numpy arrays from a vectorized call
        sparse = ("active_params",) if differs else ()
        for name in self._fields() + sparse:
            value = getattr(self, name)
            lines.append(f"  {name:<17}{value:,}" if isinstance(value, int) else f"  {name:<17}{value}")
        return "\n".join(lines)
