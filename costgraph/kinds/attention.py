"""Matrix products between activations, and attention.

Attention is counted as what it computes, whichever way it is written:

* **as its parts** -- `MatMul` (Q K^T), `Scale`, `CausalMask`, ``Softmax``,
  ``Dropout``, `MatMul` (weights V) -- the way eager PyTorch and Hugging
  Face's eager path run it, one node per tensor, so a table shows the
  S x S score and weight tensors;
* **as one node** -- `ScaledDotProductAttention` (``F.scaled_dot_product_attention``)
  or `MultiheadAttention` (``nn.MultiheadAttention``, or a grouped-query
  block with ``kv_heads < num_heads``) -- what a fused kernel does.

Both count the same MACs: every multiply-accumulate of Q K^T and of the
weights times V over the full Sq x Sk score matrix.  A causal mask does not
make PyTorch's kernels do less work (the eager path and the math SDPA
compute all Sq x Sk scores, then mask), so a causal model counts the full
matrix unless asked otherwise: ``skip_masked=True`` (fused kinds) or
``MatMul(triangular=...)`` (parts) count only the products the mask keeps,
as a causal-aware kernel (FlashAttention) does.  For Sq = Sk = S that is
``S*(S + 1)/2`` score entries per head, not ``S**2/2``.

Elementwise work per score element (under `costgraph.FLOP_CONVENTION`): the
scale by 1/sqrt(d) 1, an additive causal mask 1, softmax 5.

Tools that count by running PyTorch miss attention where no formula exists:
``FlopCounterMode`` counts ``F.scaled_dot_product_attention`` as 0 on the CPU
(the fused ``_scaled_dot_product_flash_attention_for_cpu`` has no formula)
and nothing at all for ``nn.MultiheadAttention``'s inference fast path; on
the meta device it counts both in full (``tests/test_torch_transformers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from ..symbols import as_formula
from .base import LayerKind, ParameterFree, Saved, format_shape, numel, positive_int, register_kind, wants_grad
from .arithmetic import broadcast_shapes
from .matmul import _matrix, causal_pairs

__all__ = ['CausalMask', 'ScaledDotProductAttention', 'MultiheadAttention', 'RotaryEmbedding', 'causal_pairs']


class _ScoreMask(ParameterFree):
    """Costs of adding a mask to ``(..., Sq, Sk)`` scores: 1 FLOP per element, nothing saved.

    The rules `CausalMask` and `SlidingWindowMask` share: which entries are
    -inf changes nothing of the work.
    """

    def output_shape(self, x):
        _matrix(x, "scores", self.kind)
        return tuple(x)

    def other_flops(self, out, x):
        return numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing: an add passes the gradient through."""
        return ()

    def flop_terms(self, out, x):
        """One add per element (`costgraph.conventions`)."""
        return {"add": numel(out)}


@register_kind
@dataclass(frozen=True)
class CausalMask(_ScoreMask):
    """Add a causal mask (0 on and below the diagonal, -inf above) to ``(..., Sq, Sk)`` scores.

    As Hugging Face's eager attention adds ``attention_mask``: 1 FLOP per
    element (``masked_fill``/``where`` would be one select per element too).
    The mask itself is built once per forward and shared by every layer.
    """


def _attention_terms(batch_heads, sq, sk, is_causal, skip_masked):
    """Cost terms of scale, mask and softmax over the scores computed."""
    scores = causal_pairs(sq, sk, batch_heads) if skip_masked else batch_heads * sq * sk
    terms = {"mul": scores, "softmax": scores, "softmax_rows": batch_heads * sq}
    if is_causal and not skip_masked:
        terms["add"] = scores
    return terms


def _attention_costs(batch_heads, sq, sk, d_qk, d_v, is_causal, skip_masked):
    """(MACs, other FLOPs) of softmax(scale * Q K^T + mask) V for `batch_heads` heads."""
    full = batch_heads * sq * sk
    if skip_masked:
        macs = causal_pairs(sq, sk, batch_heads * (d_qk + d_v))
        scores = causal_pairs(sq, sk, batch_heads)
        return macs, 6 * scores  # scale 1 + softmax 5 per kept score
    mask = full if is_causal else 0
    return full * (d_qk + d_v), 6 * full + mask


def _check_causal_options(owner, is_causal, skip_masked):
    if skip_masked and not is_causal:
        raise CostGraphError(f"{owner}: skip_masked=True needs is_causal=True (nothing is masked)", value=skip_masked)


@register_kind
@dataclass(frozen=True)
class ScaledDotProductAttention(LayerKind):
    """``F.scaled_dot_product_attention(q, k, v[, attn_mask], is_causal=..., enable_gqa=...)``.

    Inputs q ``(..., Hq, Sq, E)``, k ``(..., Hk, Sk, E)``, v ``(..., Hk, Sk, Ev)``
    and optionally an additive or boolean mask broadcastable to the scores;
    output ``(..., Hq, Sq, Ev)``.  Without `enable_gqa` the leading dimensions
    must agree; with it, Hq must be a multiple of Hk (grouped-query attention).

    MACs: ``Sq * Sk * (E + Ev)`` per query head (Q K^T, then weights times V),
    or only the kept pairs with ``skip_masked=True``.  Other FLOPs per score:
    scale 1, softmax 5, and 1 for a mask (causal or given) applied to all scores.

    >>> from costgraph.symbols import N, S
    >>> q = (N, 12, S, 64)
    >>> ScaledDotProductAttention().macs((N, 12, S, 64), q, q, q)
    1536*N*S**2
    >>> ScaledDotProductAttention(is_causal=True, skip_masked=True).macs((N, 12, S, 64), q, q, q)
    768*N*S**2 + 768*N*S
    """

    is_causal: bool = False
    skip_masked: bool = False
    enable_gqa: bool = False
    arity = None  # q, k, v and an optional mask

    def __post_init__(self):
        _check_causal_options("ScaledDotProductAttention", self.is_causal, self.skip_masked)

    def output_shape(self, *inputs):
        if len(inputs) not in (3, 4):
            raise ShapeError(f"ScaledDotProductAttention takes q, k, v and an optional mask, got {len(inputs)} inputs", value=len(inputs))
        q, k, v = inputs[:3]
        if len(inputs) == 4 and self.is_causal:
            raise ShapeError("ScaledDotProductAttention: a mask and is_causal=True cannot both be given (as torch)", value=inputs[3])
        for shape, what in ((q, "query"), (k, "key"), (v, "value")):
            _matrix(shape, what, "ScaledDotProductAttention")
        if not (len(q) == len(k) == len(v)) or q[-1] != k[-1] or k[-2] != v[-2] or tuple(k[:-2]) != tuple(v[:-2]):
            raise ShapeError(
                "ScaledDotProductAttention: q, k, v do not fit: "
                f"{format_shape(q)}, {format_shape(k)}, {format_shape(v)}",
                value=(q, k, v),
            )
        if tuple(q[:-3]) != tuple(k[:-3]):
            raise ShapeError(f"ScaledDotProductAttention: batch dimensions differ: {format_shape(q)} and {format_shape(k)}", value=(q, k))
        hq, hk = (as_formula(d, owner="ScaledDotProductAttention", what="heads") for d in (q[-3], k[-3]))
        if self.enable_gqa:
            ratio = sympy.cancel(hq / hk)
            if not (ratio.is_Integer and ratio >= 1):
                raise ShapeError(f"ScaledDotProductAttention: {hq} query heads are not a multiple of {hk} key heads", value=(hq, hk))
        elif hq != hk:
            raise ShapeError(
                f"ScaledDotProductAttention: {hq} query heads and {hk} key heads differ (enable_gqa=False)", value=(hq, hk)
            )
        if len(inputs) == 4:
            scores = tuple(q[:-1]) + (k[-2],)
            broadcast_shapes("ScaledDotProductAttention mask", scores, inputs[3])
        return tuple(q[:-1]) + (v[-1],)

    def weights(self, *inputs):
        return sympy.Integer(0)

    def biases(self, *inputs):
        return sympy.Integer(0)

    def _costs(self, q, v, masked):
        return _attention_costs(numel(q[:-2]), q[-2], v[-2], q[-1], v[-1], self.is_causal or masked, self.skip_masked)

    def macs(self, out, q, k, v, *mask):
        return self._costs(q, v, bool(mask))[0]

    def other_flops(self, out, q, k, v, *mask):
        return self._costs(q, v, bool(mask))[1]

    def saved_tensors(self, out, q, k, v, *mask, needs_input_grad=None):
        """q, k, v, the output and the per-row log-sum-exp (fp32), as FlashAttention keeps them.

        CUDA's fused kernels keep no S x S tensor; the CPU and math paths differ.
        """
        rows = numel(q[:-1])
        return (Saved.input(0), Saved.input(1), Saved.input(2), Saved.output(), Saved.extra(rows, "statistic"))

    def backward_macs(self, out, q, k, v, *mask, needs_input_grad=None):
        """dV = P^T dO and dP = dO V^T (one weights-times-V each), dQ = dS K and
        dK = dS^T Q (one Q K^T each); dP is needed whenever q or k needs a gradient."""
        batch_heads, sq, sk = numel(q[:-2]), q[-2], v[-2]
        if self.skip_masked:
            qk, av = causal_pairs(sq, sk, batch_heads * q[-1]), causal_pairs(sq, sk, batch_heads * v[-1])
        else:
            qk, av = batch_heads * sq * sk * q[-1], batch_heads * sq * sk * v[-1]
        needs_q, needs_k, needs_v = (int(wants_grad(needs_input_grad, i)) for i in range(3))
        return qk * (needs_q + needs_k) + av * needs_v + (av if needs_q or needs_k else 0)

    def flop_terms(self, out, q, k, v, *mask):
        """Scores scaled, masked and through softmax (`costgraph.conventions`)."""
        return _attention_terms(numel(q[:-2]), q[-2], v[-2], self.is_causal or bool(mask), self.skip_masked)


@register_kind
@dataclass(frozen=True)
class MultiheadAttention(LayerKind):
    """Self-attention with its projections, as ``nn.MultiheadAttention`` (batch first).

    ``x (N, S, E) -> (N, S, E)``: project to `num_heads` query heads and
    `kv_heads` key/value heads of `head_dim`, attend, project back.
    ``kv_heads < num_heads`` is grouped-query attention (Llama 2 70B, ...);
    ``kv_heads = 1`` multi-query; ``rotary=True`` applies `RotaryEmbedding`
    to queries and keys (its FLOPs only).  With the defaults (``kv_heads = num_heads``,
    ``head_dim = E / num_heads``) the parameters are torch's ``in_proj_weight``
    ``(3E, E)``, ``in_proj_bias`` and ``out_proj``.

    Weights: ``E*Hq*d + 2*E*Hkv*d + Hq*d*E``; biases ``Hq*d + 2*Hkv*d + E``.
    MACs: every weight once per token, plus `ScaledDotProductAttention`'s.

    >>> from costgraph.symbols import N, S
    >>> mha = MultiheadAttention(768, 12)
    >>> mha.weights((N, S, 768)) + mha.biases((N, S, 768))     # 4*768*768 + 4*768
    2362368
    >>> mha.macs((N, S, 768), (N, S, 768))
    1536*N*S**2 + 2359296*N*S
    """

    embed_dim: int
    num_heads: int
    bias: bool = True
    kv_heads: int | None = None
    head_dim: int | None = None
    is_causal: bool = False
    skip_masked: bool = False
    rotary: bool = False

    def __post_init__(self):
        owner = "MultiheadAttention"
        positive_int(self.embed_dim, "embed_dim", owner)
        positive_int(self.num_heads, "num_heads", owner)
        kv = self.num_heads if self.kv_heads is None else positive_int(self.kv_heads, "kv_heads", owner)
        if self.num_heads % kv:
            raise CostGraphError(f"{owner}: kv_heads={kv} must divide num_heads={self.num_heads}", value=kv)
        if self.head_dim is None:
            if self.embed_dim % self.num_heads:
                raise CostGraphError(
                    f"{owner}: num_heads={self.num_heads} must divide embed_dim={self.embed_dim}", value=self.num_heads
                )
            head_dim = self.embed_dim // self.num_heads
        else:
            head_dim = positive_int(self.head_dim, "head_dim", owner)
        object.__setattr__(self, "kv_heads", kv)
        object.__setattr__(self, "head_dim", head_dim)
        object.__setattr__(self, "bias", bool(self.bias))
        _check_causal_options(owner, self.is_causal, self.skip_masked)

    def output_shape(self, x):
        if len(x) != 3 or x[2] != self.embed_dim:
            raise ShapeError(f"MultiheadAttention expects (N, S, {self.embed_dim}), got {format_shape(x)}", value=x)
        return tuple(x)

    def _projection_widths(self):
        q, kv = self.num_heads * self.head_dim, self.kv_heads * self.head_dim
        return q, kv

    def weights(self, x):
        q, kv = self._projection_widths()
        return sympy.Integer(self.embed_dim * (q + 2 * kv) + q * self.embed_dim)

    def biases(self, x):
        q, kv = self._projection_widths()
        return sympy.Integer(q + 2 * kv + self.embed_dim if self.bias else 0)

    def _attention(self, x):
        return _attention_costs(
            x[0] * self.num_heads, x[1], x[1], self.head_dim, self.head_dim, self.is_causal, self.skip_masked
        )

    def macs(self, out, x):
        return x[0] * x[1] * self.weights(x) + self._attention(x)[0]

    def other_flops(self, out, x):
        rope = RotaryEmbedding(self.head_dim).other_flops((x[0], self.num_heads + self.kv_heads, x[1], self.head_dim), None)
        return self._attention(x)[1] + (rope if self.rotary else 0)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input (for the projections' weight gradients), the projected q, k, v, the
        attention output (the output projection's input), and the fused kernel's
        log-sum-exp (fp32 per query row); with `rotary`, the rotated q and k too."""
        tokens = x[0] * x[1]
        q, kv = self._projection_widths()
        saved = [
            Saved.input(0),
            Saved.extra(tokens * (q + 2 * kv), "activation"),
            Saved.extra(tokens * q, "activation"),
            Saved.extra(x[0] * self.num_heads * x[1], "statistic"),
        ]
        if self.rotary:
            saved.append(Saved.extra(tokens * (q + kv), "activation"))
        return tuple(saved)

    def backward_macs(self, out, x, needs_input_grad=None):
        """Weight gradients of every projection; the q/k/v projections' input gradient
        only if `x` needs one, the output projection's always (its input comes from the
        weights); the attention core: q, k and v all need gradients."""
        tokens = x[0] * x[1]
        q, kv = self._projection_widths()
        inward, outward = self.embed_dim * (q + 2 * kv), q * self.embed_dim
        projections = tokens * (inward * (1 + wants_grad(needs_input_grad, 0)) + 2 * outward)
        q_shape = (x[0], self.num_heads, x[1], self.head_dim)
        core = ScaledDotProductAttention(self.is_causal, self.skip_masked)
        return projections + core.backward_macs(None, q_shape, q_shape, q_shape)

    def flop_terms(self, out, x):
        """Bias adds of the projections, and the attention core's terms (`costgraph.conventions`)."""
        tokens = x[0] * x[1]
        terms = _attention_terms(x[0] * self.num_heads, x[1], x[1], self.is_causal, self.skip_masked)
        terms["bias"] = tokens * self.biases(x)
        return terms


@register_kind
@dataclass(frozen=True)
class RotaryEmbedding(ParameterFree):
    """Rotary position embedding on ``(..., S, head_dim)``: ``x*cos + rotate_half(x)*sin``.

    As Hugging Face's ``apply_rotary_pos_emb`` (Llama): per element two
    products and an add, plus the negation of half the elements in
    ``rotate_half``: ``7/2`` FLOPs per element, ``7 * head_dim / 2`` per
    vector (head_dim is even).  No parameters (``inv_freq`` is a buffer).
    The cos/sin tables are built once per forward, shared by every layer,
    and do not depend on the batch; they are not counted.

    >>> from costgraph.symbols import N, S
    >>> RotaryEmbedding(128).other_flops((N, 32, S, 128), (N, 32, S, 128))
    14336*N*S
    """

    head_dim: int

    def __post_init__(self):
        positive_int(self.head_dim, "head_dim", "RotaryEmbedding")
        if self.head_dim % 2:
            raise CostGraphError(f"RotaryEmbedding: head_dim must be even, got {self.head_dim}", value=self.head_dim)

    def output_shape(self, x):
        if len(x) < 3 or x[-1] != self.head_dim:
            raise ShapeError(f"RotaryEmbedding expects (..., S, {self.head_dim}), got {format_shape(x)}", value=x)
        return tuple(x)

    def other_flops(self, out, x):
        return numel(out[:-1]) * (7 * self.head_dim // 2)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """Nothing per layer: the gradient multiplies by the cos and sin tables, which are
        built once per forward and shared by all layers (``S * head_dim`` each, not counted)."""
        return ()

    def flop_terms(self, out, x):
        """Two products and an add per element (`costgraph.conventions`; the half-negation is not a term)."""
        return {"mul": 2 * numel(out), "add": numel(out)}
