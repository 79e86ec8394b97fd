"""Converters: matrix products and lookups (``linear``, ``addmm``, ``mm``, ``matmul``, ``bmm``, SDPA, ``embedding``)."""

from __future__ import annotations

from ...kinds import Linear, Transpose
from ...kinds.arithmetic import Add
from ...kinds.attention import ScaledDotProductAttention
from ...kinds.embedding import Embedding
from ...kinds.matmul import BatchMatMul, Einsum, MatMul
from .table import TensorValue, aten_converter


def _is_param(value):
    return value is not None and value.layer is None and value.param is not None


@aten_converter("aten::linear")
def linear(call):
    """``linear(input, weight, bias=None)``: weight ``(out, in)``."""
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    if not _is_param(weight):
        call.unsupported("a linear layer whose weight is computed in forward")
    out_features, in_features = (int(d) for d in weight.shape)
    if bias is not None and not _is_param(bias):
        # a bias computed in forward (Swin v2 zeroes the key part of a clone): the product, then its sum
        product = call.add(Linear(in_features, out_features, False), x, owns=(weight,))
        return call.add(Add(), product, bias)
    if call._importer.options.get("lazy_linear") and not x.shape[-1].is_number:
        # the seed's VGG16: fc1 sized for each input, so its weights are a formula, not this tensor
        call._importer.used.update(v.param for v in (weight, bias) if v is not None)
        return call.add(Linear(None, out_features, bias is not None), x)
    return call.add(Linear(in_features, out_features, bias is not None), x, owns=(weight, bias))


@aten_converter("aten::addmm")
def addmm(call):
    """``addmm(bias, x, weight)``: ``x @ weight + bias`` (Hugging Face's Conv1D keeps weight as ``(in, out)``)."""
    bias, x, weight = call.arg(0, "self"), call.arg(1, "mat1"), call.arg(2, "mat2")
    if call.arg(3, "beta", 1) != 1 or call.arg(4, "alpha", 1) != 1:
        call.unsupported("addmm with beta or alpha other than 1")
    if not (_is_param(weight) and _is_param(bias) and len(bias.shape) == 1):
        call.unsupported("addmm of computed tensors (only x @ weight + bias with parameters)")
    in_features, out_features = (int(d) for d in weight.shape)
    return call.add(Linear(in_features, out_features, True), x, owns=(weight, bias))


@aten_converter("aten::mm", "aten::matmul")
def matmul(call):
    """``mm(a, b)`` / ``matmul(a, b)``: a product with a parameter matrix is a bias-free Linear."""
    a, b = call.args[0], call.args[1]
    if _is_param(b) and len(b.shape) == 2 and not _is_param(a) and len(a.shape) >= 2:
        in_features, out_features = (int(d) for d in b.shape)
        return call.add(Linear(in_features, out_features, False), a, owns=(b,))
    if len(a.shape) < 2 or len(b.shape) < 2:
        return call.add(Einsum(_VECTOR_PRODUCTS[(len(a.shape) == 1, len(b.shape) == 1)]), a, b)
    return call.add(MatMul(), a, b)


#: ``torch.matmul`` with a vector operand, as an `Einsum` (a vector on the left: ``v @ M``;
#: on the right: ``M @ v``, which torch computes with ``mv``; both: ``dot``)
_VECTOR_PRODUCTS = {(True, True): "i,i->", (False, True): "...ij,j->...i", (True, False): "j,...jk->...k"}


@aten_converter("aten::bmm")
def bmm(call):
    """``bmm(a, b)``: ``(B, n, k) @ (B, k, m)``."""
    return call.add(BatchMatMul(), call.args[0], call.args[1])


@aten_converter("aten::scaled_dot_product_attention")
def scaled_dot_product_attention(call):
    """``scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0, is_causal=False, scale=None, enable_gqa=False)``."""
    q, k, v = call.args[:3]
    mask = call.arg(3, "attn_mask")
    kind = ScaledDotProductAttention(bool(call.arg(5, "is_causal", False)), enable_gqa=bool(call.arg(7, "enable_gqa", False)))
    inputs = (q, k, v) + ((mask,) if mask is not None else ())
    return call.add(kind, *inputs)


@aten_converter("aten::embedding")
def embedding(call):
    """``embedding(weight, indices, padding_idx=-1, ...)``: one table row per index."""
    weight, ids = call.arg(0, "weight"), call.arg(1, "indices")
    if not _is_param(weight):
        call.unsupported("a table computed in forward (only parameters are supported)")
    return call.add(Embedding(int(weight.shape[0]), int(weight.shape[1])), ids, owns=(weight,))


@aten_converter("aten::t")
def t(call):
    """``t(x)``: a 2-d transpose (a view)."""
    x = call.args[0]
    if x.layer is None and x.param is not None and len(x.shape) == 2:
        # the parameter read transposed: a product with it is then a Linear that owns it
        return TensorValue(None, tuple(reversed(x.shape)), param=x.param, trainable=x.trainable, dtype=x.dtype)
    return call.add(Transpose(0, 1), x) if len(x.shape) == 2 else x


# -- converters added for any model's ATen ops (branch ops) --------------------------------------
from ...kinds.arithmetic import Mul, ScalarOp  # noqa: E402
from ...kinds.moe import GroupedMatMul  # noqa: E402
from ...kinds.reshape import ViewAs  # noqa: E402


def _plus_scaled(call, product, bias, alpha, beta):
    """``beta * bias + alpha * product``: the product scaled in place, the bias added in place
    (ATen writes one result tensor; its backward keeps only the product's operands)."""
    if alpha != 1:
        product = call.add(ScalarOp("mul", inplace=True), product)
    if beta == 0:
        return product
    if beta != 1:
        bias = call.add(ScalarOp("mul"), bias)
    return call.add(Add(inplace=True), product, bias)


@aten_converter("aten::baddbmm")
def baddbmm(call):
    """``baddbmm(bias, b1, b2, beta=1, alpha=1)``: ``beta * bias + alpha * (b1 @ b2)`` (Bloom's ALiBi
    attention scores).  MACs: the ``bmm``'s, as FlopCounterMode counts ``baddbmm``."""
    bias, b1, b2 = call.args[:3]
    beta, alpha = call.kwargs.get("beta", 1), call.kwargs.get("alpha", 1)
    return _plus_scaled(call, call.add(BatchMatMul(), b1, b2), bias, alpha, beta)


@aten_converter("aten::addbmm")
def addbmm(call):
    """``addbmm(bias, b1, b2, beta=1, alpha=1)``: ``beta * bias + alpha * sum_b(b1[b] @ b2[b])``.
    MACs: ``B * n * k * m`` (FlopCounterMode has no formula for ``addbmm``: it counts 0)."""
    bias, b1, b2 = call.args[:3]
    beta, alpha = call.kwargs.get("beta", 1), call.kwargs.get("alpha", 1)
    return _plus_scaled(call, call.add(Einsum("bij,bjk->ik"), b1, b2), bias, alpha, beta)


@aten_converter("aten::dot", "aten::vdot", "aten::mv", "aten::addmv")
def vector_product(call):
    """``torch.dot(a, b)``, ``torch.mv(M, v)``, ``addmv(bias, M, v, beta=1, alpha=1)``: contractions
    with their MACs (FlopCounterMode has no formula for ``dot``, ``mv`` or ``addmv``: it counts 0)."""
    name = call.op.partition("::")[2].split(".")[0]
    if name == "addmv":
        bias, m, v = call.args[:3]
        product = call.add(Einsum("ij,j->i"), m, v)
        return _plus_scaled(call, product, bias, call.kwargs.get("alpha", 1), call.kwargs.get("beta", 1))
    return call.add(Einsum("i,i->" if name in ("dot", "vdot") else "ij,j->i"), call.args[0], call.args[1])


@aten_converter("aten::outer", "aten::ger")
def outer(call):
    """``torch.outer(a, b)``: ``a[:, None] * b`` (a view and a product, no MACs), as ATen computes it."""
    a, b = call.args[0], call.args[1]
    column = call.add(ViewAs((a.shape[0], 1)), a)
    return call.add(Mul(), column, b)


@aten_converter("transformers::grouped_mm_fallback", "aten::_grouped_mm")
def grouped_mm(call):
    """Hugging Face's experts (``grouped_mm`` implementation): ``grouped_mm(x, weight, offsets)``,
    each row of x by its expert's matrix.  MACs: every row once (FlopCounterMode counts 0 here)."""
    x, weight, offsets = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "offs")
    if len(x.shape) != 2 or len(weight.shape) != 3 or not isinstance(offsets, TensorValue):
        call.unsupported("a grouped product other than (tokens, in) by (experts, in, out) with offsets")
    return call.add(GroupedMatMul(), x, weight, offsets)
