"""Mixture-of-experts feed-forward layers (Mixtral, DeepSeek-MoE, Qwen-MoE): router, experts, top-k.

A token goes through a linear router (``d_model -> experts`` logits, no
bias), a softmax, the `top_k` highest experts, and each chosen expert's MLP;
the outputs are weighted by the (renormalized) router probabilities and
summed.  `shared_experts` always-on experts (DeepSeek-MoE) add to that.

Counting assumptions, stated once:

* **parameters**: every expert's (``Totals.params``); **active parameters**:
  the router, `top_k` experts and the shared ones (``Totals.active_params``);
* **MACs per token as routed**: the router plus exactly `top_k` expert MLPs
  (and the shared ones).  The total over a batch does not depend on how
  tokens spread over experts; *balanced routing* (every expert receives
  ``tokens * top_k / experts`` tokens) is assumed wherever a per-expert
  figure is needed (saved tensors, per-GPU shares);
* **not counted**: the top-k selection and the gather/scatter of tokens
  (no arithmetic), as for `costgraph.kinds.Embedding`.

Hugging Face's Mixtral computes exactly the routed products: its
``eager`` experts loop runs each hit expert on the tokens routed to it, its
``batched_mm`` path one product per (token, chosen expert); FlopCounterMode
counts both as the routed MACs (``tests/test_llm_zoo.py``: ``batched_mm`` on
meta, ``eager`` with real routing on the CPU).  Its default path,
``grouped_mm`` (transformers 5.24), is invisible to FlopCounterMode, which
has no formula for ``torch._grouped_mm``: it counts 0 for the experts.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .activation import GELU, ReLU, SiLU
from .base import LayerKind, Saved, format_shape, numel, nonnegative_int, positive_int, register_kind, wants_grad

__all__ = ["MixtureOfExperts", "GroupedMatMul"]

#: expert activations and their FLOPs per element (the activation kinds' own convention)
_ACTIVATIONS = {"silu": SiLU.flops_per_element, "gelu": GELU.flops_per_element, "relu": ReLU.flops_per_element}


@register_kind
@dataclass(frozen=True)
class MixtureOfExperts(LayerKind):
    """A routed mixture of `experts` MLPs of width `d_ff` over the last dimension, `top_k` per token.

    Each expert is gated (``down(act(gate(x)) * up(x))``, Mixtral's SwiGLU:
    3 ``d_model x d_ff`` matrices) or not (``down(act(up(x)))``: 2).  The
    router is ``Linear(d_model, experts, bias=False)``.

    Weights: ``d_model * experts`` (router) + ``experts * m`` +
    ``shared_experts * m_shared`` with m the matrices of one expert.
    MACs per token: ``d_model * experts + top_k * m + shared_experts * m_shared``.
    Other FLOPs per token: softmax over the router's logits (5 each), per
    hidden element of each used expert its activation and the gating
    product, the weighting of each routed output (``top_k * d_model``
    products) and the sum of the used experts' outputs.

    Raises
    ------
    CostGraphError
        For sizes that are not positive integers, ``top_k > experts``, or an
        unknown activation.

    Examples
    --------
    Mixtral 8x7B's layer: 8 SwiGLU experts of 14336, 2 per token.

    >>> from costgraph.symbols import N, S
    >>> moe = MixtureOfExperts(4096, 14336, experts=8, top_k=2)
    >>> moe.weights((N, S, 4096)) == 4096 * 8 + 8 * 3 * 4096 * 14336
    True
    >>> moe.macs((N, S, 4096), (N, S, 4096)) == N * S * (4096 * 8 + 2 * 3 * 4096 * 14336)
    True
    >>> moe.inactive_params((N, S, 4096)) == 6 * 3 * 4096 * 14336   # 6 experts idle per token
    True
    """

    d_model: int
    d_ff: int
    experts: int
    top_k: int
    shared_experts: int = 0
    shared_d_ff: int | None = None
    activation: str = "silu"
    gated: bool = True
    bias: bool = False

    def __post_init__(self):
        owner = "MixtureOfExperts"
        for name in ("d_model", "d_ff", "experts", "top_k"):
            positive_int(getattr(self, name), name, owner)
        nonnegative_int(self.shared_experts, "shared_experts", owner)
        if self.top_k > self.experts:
            raise CostGraphError(f"{owner}: top_k={self.top_k} is more than experts={self.experts}", value=self.top_k)
        if self.activation not in _ACTIVATIONS:
            raise CostGraphError(
                f"{owner}: activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}", value=self.activation
            )
        shared = self.d_ff if self.shared_d_ff is None else positive_int(self.shared_d_ff, "shared_d_ff", owner)
        object.__setattr__(self, "shared_d_ff", shared)
        object.__setattr__(self, "gated", bool(self.gated))
        object.__setattr__(self, "bias", bool(self.bias))

    # -- one expert ------------------------------------------------------------------------
    def _matrices(self) -> int:
        return 3 if self.gated else 2

    def _expert_weights(self, d_ff) -> int:
        return self._matrices() * self.d_model * d_ff

    def _expert_biases(self, d_ff) -> int:
        if not self.bias:
            return 0
        return (2 * d_ff if self.gated else d_ff) + self.d_model

    def _hidden_per_token(self) -> int:
        """Hidden elements of the experts one token uses."""
        return self.top_k * self.d_ff + self.shared_experts * self.shared_d_ff

    # -- LayerKind -------------------------------------------------------------------------
    def output_shape(self, x):
        if len(x) < 2 or x[-1] != self.d_model:
            raise ShapeError(f"MixtureOfExperts expects a last dimension of {self.d_model}, got {format_shape(x)}", value=x)
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(
            self.d_model * self.experts
            + self.experts * self._expert_weights(self.d_ff)
            + self.shared_experts * self._expert_weights(self.shared_d_ff)
        )

    def biases(self, x):
        return sympy.Integer(
            self.experts * self._expert_biases(self.d_ff) + self.shared_experts * self._expert_biases(self.shared_d_ff)
        )

    def inactive_params(self, x):
        """Parameters a token does not use: the ``experts - top_k`` experts it is not routed to.

        `costgraph.Totals.active_params` is ``params`` minus this, summed over layers.
        """
        idle = self.experts - self.top_k
        return sympy.Integer(idle * (self._expert_weights(self.d_ff) + self._expert_biases(self.d_ff)))

    def tensor_parallel_parts(self) -> dict:
        """Weights and biases split across tensor-parallel ranks, and those every rank keeps whole.

        Megatron-LM's expert tensor parallelism (megatron/core/transformer/moe/experts.py,
        ``GroupedMLP``/``SequentialMLP``): each expert's MLP is split as a dense one,
        its first matrices (``fc1``: gate and up) by output columns and its last
        (``fc2``) by input rows, ``d_ff / tp`` hidden units a rank; a column
        layer's bias is split, a row layer's is kept whole.  The router
        (``TopKRouter.weight``, ``experts x d_model``) is replicated on every rank.

        >>> MixtureOfExperts(8, 16, experts=4, top_k=2, bias=True).tensor_parallel_parts()
        {'split_weights': 1536, 'replicated_weights': 32, 'split_biases': 128, 'replicated_biases': 32}
        """
        experts = ((self.experts, self.d_ff), (self.shared_experts, self.shared_d_ff))
        column_bias = 2 if self.gated else 1
        return {
            "split_weights": sum(count * self._expert_weights(d_ff) for count, d_ff in experts),
            "replicated_weights": self.d_model * self.experts,
            "split_biases": sum(count * column_bias * d_ff for count, d_ff in experts) if self.bias else 0,
            "replicated_biases": (self.experts + self.shared_experts) * self.d_model if self.bias else 0,
        }

    def tensor_parallel_split_extras(self) -> tuple:
        """For each extra tensor `saved_tensors` declares, in order, whether tensor parallelism splits it.

        The hidden tensors of the experts are split (``d_ff / tp`` columns a rank,
        as `tensor_parallel_parts`); the router's logits and indices, each used
        expert's input and each routed output (``d_model`` wide) are whole on every rank.
        """
        return (False, False, False, False) + (True,) * (4 if self.gated else 2)

    def macs(self, out, x):
        per_token = (
            self.d_model * self.experts
            + self.top_k * self._expert_weights(self.d_ff)
            + self.shared_experts * self._expert_weights(self.shared_d_ff)
        )
        return numel(x[:-1]) * per_token

    def _terms_per_token(self) -> dict:
        hidden = self._hidden_per_token()
        used = self.top_k + self.shared_experts
        terms = {
            "softmax": self.experts,
            "softmax_rows": 1,
            self.activation: hidden,
            # gating products, then each routed output times its router weight
            "mul": (hidden if self.gated else 0) + self.top_k * self.d_model,
            "add": (used - 1) * self.d_model,
        }
        if self.bias:
            terms["bias"] = self.top_k * self._expert_biases(self.d_ff) + self.shared_experts * self._expert_biases(self.shared_d_ff)
        return terms

    def other_flops(self, out, x):
        terms = self._terms_per_token()
        per_token = (
            5 * terms["softmax"]
            + _ACTIVATIONS[self.activation] * terms[self.activation]
            + terms["mul"]
            + terms["add"]
        )
        return numel(x[:-1]) * per_token

    def flop_terms(self, out, x):
        """The router's softmax, activations, gating and weighting products, the sum of
        expert outputs, and bias adds, per token (`costgraph.conventions`)."""
        rows = numel(x[:-1])
        return {name: rows * count for name, count in self._terms_per_token().items()}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input, the router's logits and chosen indices, and per used expert what a
        `GatedMLP` keeps (its input copy and four hidden tensors; two if not gated), and
        each routed output (for the router weight's gradient)."""
        rows = numel(x[:-1])
        used = self.top_k + self.shared_experts
        hidden = rows * self._hidden_per_token()
        per_hidden = 4 if self.gated else 2
        saved = [
            Saved.input(0),
            Saved.extra(rows * self.experts, "activation"),
            Saved.extra(rows * self.top_k, "index"),
            Saved.extra(rows * used * self.d_model, "activation"),
            Saved.extra(rows * self.top_k * self.d_model, "activation"),
        ]
        saved += [Saved.extra(hidden, "activation") for _ in range(per_hidden)]
        return tuple(saved)

    def backward_macs(self, out, x, needs_input_grad=None):
        """Per used expert as `GatedMLP`: weight gradients of every matrix, input gradients of
        the inner ones always and of the first ones if `x` needs one; the router likewise."""
        rows = numel(x[:-1])
        grad_x = int(wants_grad(needs_input_grad, 0))
        first = 2 if self.gated else 1  # matrices reading x
        per_token = 0
        for count, d_ff in ((self.top_k, self.d_ff), (self.shared_experts, self.shared_d_ff)):
            block = self.d_model * d_ff
            per_token += count * block * (self._matrices() + first * grad_x + 1)
        per_token += self.d_model * self.experts * (1 + grad_x)
        return rows * per_token


# ``GroupedMatMul``: what an exported Hugging Face MoE model calls for its experts (the
# ``grouped_mm`` experts implementation, transformers 5.24's default).
@register_kind
@dataclass(frozen=True)
class GroupedMatMul(LayerKind):
    """Rows of ``x`` (T, in), sorted by expert, each multiplied by its expert's matrix of a
    stacked weight (E, in, out): ``transformers::grouped_mm_fallback(x, weight, offsets)``,
    ``torch._grouped_mm``.  Inputs: x, the weight (a parameter layer, counted there) and the
    int offsets (E,) where each expert's rows end.

    Every row meets exactly one expert (rows past the last offset, the expert-parallel
    sentinels, are taken as none), so the MACs are ``T * in * out`` whatever the routing.
    FlopCounterMode has no formula for these ops: it counts 0 for them.  Saved: x (and the
    weight, a parameter).

    Raises
    ------
    ShapeError
        If x is not 2-d, the weight not 3-d, or the sizes or expert counts disagree.

    >>> from costgraph.symbols import N, S
    >>> up = GroupedMatMul()
    >>> tokens = (2 * N * S, 512)                          # 2 experts per token
    >>> up.output_shape(tokens, (8, 512, 2816), (8,))
    (2*N*S, 2816)
    >>> up.macs((2 * N * S, 2816), tokens, (8, 512, 2816), (8,)) == 2 * N * S * 512 * 2816
    True
    """

    arity = 3

    def output_shape(self, x, weight, offsets):
        if len(x) != 2 or len(weight) != 3 or len(offsets) != 1:
            raise ShapeError(
                f"GroupedMatMul expects x (T, in), weight (E, in, out), offsets (E,), got "
                f"{format_shape(x)}, {format_shape(weight)}, {format_shape(offsets)}",
                value=(x, weight, offsets),
            )
        if sympy.expand(x[1] - weight[1]) != 0 or sympy.expand(weight[0] - offsets[0]) != 0:
            raise ShapeError(f"GroupedMatMul cannot multiply {format_shape(x)} by experts {format_shape(weight)}", value=(x, weight))
        return (x[0], weight[2])

    def weights(self, x, weight, offsets):
        return sympy.Integer(0)

    def biases(self, x, weight, offsets):
        return sympy.Integer(0)

    def macs(self, out, x, weight, offsets):
        return numel(out) * x[1]

    def other_flops(self, out, x, weight, offsets):
        return sympy.Integer(0)

    def flop_terms(self, out, x, weight, offsets):
        """Only MACs: no elementwise cost terms."""
        return {}

    def saved_tensors(self, out, x, weight, offsets, needs_input_grad=None):
        """x, for the weight's gradient."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, weight, offsets, needs_input_grad=None):
        """One forward's worth per gradient computed (x's, the weight's)."""
        return self.macs(out, x, weight, offsets) * (wants_grad(needs_input_grad, 0) + wants_grad(needs_input_grad, 1))
