"""from_torch on the ATen ops real models use beyond the issue's list (Bloom's baddbmm and symbolic
repeat, GPT-J's repeat_interleave and stack, MoE routers' topk/sort/scatter, losses, ...).

Sources of truth: PyTorch on the meta device at sizes never used in the
import (``FlopCounterMode`` total // 2 for MACs, the module's own output
shape, ``sum(p.numel() for p in parameters())``); for the contractions
FlopCounterMode has no formula for (``dot``, ``mv``), a hand count written
beside the number; for memory, the bytes autograd really keeps on the CPU
(``saved_tensors_hooks``, as tests/test_torch_memory.py measures).
"""

import pytest
import sympy

from costgraph import size_symbol

from .support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from costgraph import from_torch  # noqa: E402

from .test_torch_memory import autograd_saved_bytes, on_cpu  # noqa: E402

D = 8


def meta(*shape):
    return torch.empty(shape, device="meta")


class Bloomish(nn.Module):
    """Bloom's attention scores: ALiBi ``pow`` of two tensors, ``repeat`` by the batch size, ``baddbmm``."""

    def __init__(self):
        super().__init__()
        self.qk = nn.Linear(D, 2 * D)

    def forward(self, x):
        n, s, _ = x.shape
        q, k = self.qk(x).chunk(2, -1)
        slopes = torch.pow(torch.full((2,), 0.5, device=x.device), torch.arange(1, 3, device=x.device, dtype=x.dtype))
        alibi = (slopes[:, None] * torch.arange(s, device=x.device, dtype=x.dtype)[None, :])[:, None, :]   # (2, 1, S)
        alibi = alibi.repeat(n, 1, 1)                                        # (2N, 1, S): repeats N
        q = q.reshape(n, s, 2, D // 2).transpose(1, 2).reshape(2 * n, s, D // 2)
        k = k.reshape(n, s, 2, D // 2).permute(0, 2, 3, 1).reshape(2 * n, D // 2, s)
        return torch.baddbmm(alibi, q, k, beta=1.0, alpha=0.5).softmax(-1)


class GPTJish(nn.Module):
    """GPT-J's rotary helpers: ``repeat_interleave``, ``stack``, then flip, tile and a triangle."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        h = self.proj(x)
        sin = torch.sin(h[..., ::2]).repeat_interleave(2, dim=-1)            # (N, S, D)
        rotated = torch.stack((-h[..., 1::2], h[..., ::2]), dim=-1).flatten(-2)
        mixed = h * sin + rotated.flip(-1)
        scores = torch.tril(mixed @ mixed.transpose(1, 2), diagonal=0)       # (N, S, S)
        return scores.tile((1, 2)) + torch.triu(scores, 1).repeat_interleave(2, dim=-1)


class Router(nn.Module):
    """A mixture-of-experts router: top-k, sort, argmax, one_hot, scatter and index_add."""

    def __init__(self, experts=4):
        super().__init__()
        self.gate = nn.Linear(D, experts, bias=False)
        self.experts = experts

    def forward(self, x):
        tokens = x.reshape(-1, D)
        logits = self.gate(tokens)
        weights, chosen = logits.softmax(-1).topk(2, dim=-1)                  # (T, 2)
        order, perm = chosen.reshape(-1).sort()
        picked = tokens[perm // 2]                                            # floor_divide, index
        mask = F.one_hot(logits.argmax(-1), self.experts)                     # (T, E)
        dense = torch.zeros_like(logits).scatter(-1, chosen, weights)         # (T, E)
        back = torch.zeros_like(tokens).index_add(0, perm // 2, picked)       # (T, D)
        return back * dense.sum(-1, keepdim=True) + mask.sum(-1, keepdim=True) * 0.5 + order.reshape(-1, 2)[:, :1]


class Activations(nn.Module):
    """glu, log_sigmoid, selu, celu, relu6, square, remainder, fmod, floor_divide, pow of a number,
    atan2, addcmul, addcdiv, lerp."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, 2 * D)

    def forward(self, x):
        h = self.proj(x)
        a = F.glu(h, -1)                                                      # (N, S, D)
        b = F.logsigmoid(a) + F.selu(a) + F.celu(a, 0.5) + F.relu6(a) + torch.square(a)
        c = torch.remainder(a, 3.0) + torch.fmod(a, 2.0) + torch.floor_divide(a, 2.0) + 2.0 ** a + torch.atan2(a, b)
        d = torch.addcmul(a, b, c, value=0.5) + torch.addcdiv(a, b, c) + torch.lerp(a, b, 0.25) + torch.lerp(a, b, c)
        return d


class Reductions(nn.Module):
    """max() and min() of everything, all/any, var_mean, std_mean, argmin, histc."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        h = self.proj(x)
        var, mean = torch.var_mean(h, -1, keepdim=True)
        std, mean2 = torch.std_mean(h, dim=-1, correction=0, keepdim=True)
        flags = (h > 0).all(-1, keepdim=True).float() + (h < 0).any(-1, keepdim=True).float() + (h > 0).any().float()
        counts = torch.histc(h.detach(), bins=4, min=-1, max=1)
        return (h - mean) / (var + std + 1) + h.max() - h.min() + flags + mean2 + h.argmin(-1, keepdim=True) + counts.sum()


class Fills(nn.Module):
    """fill_, zero_, index_put_ (x[idx] = v, accumulating and not), scatter_add, masked writes."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        h = self.proj(x)
        blank = torch.empty_like(h).fill_(0.5) + torch.ones_like(h).zero_()
        idx = torch.arange(2, device=x.device)
        written = h.clone()
        written[:, idx] = h[:, :2] * 2                                         # index_put_
        summed = torch.zeros_like(h).transpose(0, 1).index_put_((idx,), h.transpose(0, 1)[:2], accumulate=True).transpose(0, 1)
        spread = torch.zeros_like(h).scatter_add(-1, torch.zeros_like(h, dtype=torch.long), h)
        return blank + written + summed + spread


class Losses(nn.Module):
    """cross_entropy (log_softmax + nll_loss), nll_loss and mse_loss of a classifier's logits."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(D, 5)

    def forward(self, x):
        logits = self.head(x)                                                 # (N, S, 5)
        flat = logits.reshape(-1, 5)
        target = torch.zeros(flat.shape[0], dtype=torch.long, device=x.device)
        ce = F.cross_entropy(flat, target)
        nll = F.nll_loss(flat.log_softmax(-1), target, reduction="sum")
        mse = F.mse_loss(logits, torch.zeros_like(logits))
        return logits * (ce + nll + mse)


class ConvSpans(nn.Module):
    """wav2vec2's weight-normed positional convolution (``_weight_norm``) and ConvBERT's ``F.unfold``
    (``im2col``) of token spans."""

    def __init__(self):
        super().__init__()
        self.pos = nn.utils.parametrizations.weight_norm(nn.Conv1d(D, D, 3, padding=1, groups=2), name="weight", dim=2)
        self.span = nn.Linear(3 * D, D)

    def forward(self, x):
        h = self.pos(x.transpose(1, 2))                                       # (N, D, S)
        spans = F.unfold(h.unsqueeze(-1), kernel_size=(3, 1), padding=(1, 0))  # (N, 3D, S)
        return self.span(spans.transpose(1, 2))


class MoreUnary(nn.Module):
    """The unary functions added to UNARY_OPS: hyperbolic and inverse trigonometric, log10, erfc,
    erfinv, sinc, lgamma, digamma, frac, nan_to_num."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        h = self.proj(x).tanh() * 0.5                                         # in (-0.5, 0.5)
        a = torch.sinh(h) + torch.cosh(h) + torch.asin(h) + torch.acos(h) + torch.asinh(h) + torch.atanh(h)
        b = torch.log10(h + 1) + torch.erfc(h) + torch.erfinv(h) + torch.sinc(h) + torch.lgamma(h + 2)
        return a + b + torch.digamma(h + 2) + torch.frac(h) + torch.nan_to_num(h) + torch.acosh(h + 2)


class Framing(nn.Module):
    """``Tensor.unfold`` (frames of a sequence, a view), ``hstack``/``vstack``, ``isnan``/``isinf``."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, D)

    def forward(self, x):
        frames = x.transpose(1, 2).unfold(-1, 3, 2)                           # (N, D, (S - 3)//2 + 1, 3)
        h = self.proj(frames)
        stacked = torch.hstack([h, h]) * torch.vstack([h, h]).sum(0).mean(0)  # (N, 2D, ...) and (2N, ...)
        return stacked.masked_fill(torch.isnan(stacked) | torch.isinf(stacked), 0.0)


CASES = {
    "bloom": (Bloomish, {"BatchMatMul", "Binary", "Expand", "Add"}),
    "gptj": (GPTJish, {"Stack", "Repeat", "Triangular", "Contiguous"}),
    "router": (Router, {"TopK", "Sort", "ExtraOutput", "ArgMax", "Scatter", "IndexAdd", "Binary"}),
    "activations": (Activations, {"GLU", "LogSigmoid", "SELU", "CELU", "ReLU6", "PowScalar", "Binary", "Ternary"}),
    "reductions": (Reductions, {"Var", "Std", "ExtraOutput", "Amax", "Amin", "LogicalReduction", "ArgMin", "Histogram"}),
    "fills": (Fills, {"Fill", "IndexPut", "Scatter"}),
    "losses": (Losses, {"LogSoftmax", "NLLLoss", "MSELoss"}),
    "conv_spans": (ConvSpans, {"Conv1d", "Unfold"}),
    "more_unary": (MoreUnary, {"Unary"}),
    "framing": (Framing, {"SlidingWindows", "Concat", "Compare"}),
}


def torch_macs_and_shape(module, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(x)
    return counter.get_total_flops() // 2, tuple(out.shape)


@pytest.fixture(scope="module")
def imported():
    """Each case built on meta and imported once at (N, S) = (2, 7)."""
    found = {}
    for name, (build, _) in CASES.items():
        with torch.device("meta"):
            module = build().eval()
        found[name] = (module, from_torch(module, (2, 7, D), {"N": 0, "S": 1}))
    return found


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_op_converters_are_exact_at_held_out_sizes(imported, name):
    module, net = imported[name]
    assert CASES[name][1] <= {net.layer(layer).kind for layer in net}, "the op's own kind is used"
    assert net.totals().params == sum(p.numel() for p in module.parameters())
    for n, s in [(1, 5), (3, 11)]:                              # never the example's (2, 7)
        macs, shape = torch_macs_and_shape(module, meta(n, s, D))
        assert net.totals(N=n, S=s).macs == macs, (n, s)
        at = {size_symbol("N"): n, size_symbol("S"): s}
        assert tuple(int(sympy.sympify(d).subs(at)) for d in net.shape(net.outputs[-1])) == shape


#: bytes autograd keeps beyond costgraph's count at (n, s), by hand.  int64 tensors the graph makes
#: (index_put_'s arange(2), scatter_add's (n, s, 8) index, the losses' (n * s,) target) are charged
#: at their own 8 bytes since the importer states each layer's dtype: no shortfall there.
INT64_SHORTFALL = {
    "bloom": lambda n, s: 0,
    "gptj": lambda n, s: 0,
    "activations": lambda n, s: 0,
    "reductions": lambda n, s: 0,
    "more_unary": lambda n, s: 0,
    # a known gap, by hand: the import counts the weight-normed conv's weight as the parameter v,
    # while in training autograd keeps the computed weight (8 x 4 x 3) and its 3 norms (dim=2)
    "conv_spans": lambda n, s: 4 * (D * (D // 2) * 3 + 3),
    "fills": lambda n, s: 0,
    "losses": lambda n, s: 0,
}


@pytest.mark.parametrize("name", sorted(INT64_SHORTFALL))
def test_new_op_converters_save_what_autograd_keeps(imported, name):
    _, net = imported[name]
    real = on_cpu(CASES[name][0]).train()
    for n, s in [(1, 5), (3, 11)]:
        theirs = autograd_saved_bytes(real, torch.zeros(n, s, D))
        assert net.memory(N=n, S=s, device="cpu").saved_bytes + INT64_SHORTFALL[name](n, s) == theirs, (n, s)


def test_vector_products_count_their_macs():
    """``dot``, ``mv``, ``matmul`` with a vector: FlopCounterMode has no formula for ``dot`` and
    ``mv`` (it counts 0), so the MACs are counted by hand: Linear 8*8 per token; ``h @ v`` (mv after
    torch folds the batch) 8 per token; ``dot`` of two (8,) vectors 8; ``v @ W^T`` of (8,) by (8, 4),
    an ``mm`` FlopCounterMode does count, 32; ``outer`` is products, not MACs."""

    class Vectors(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(D, D, bias=False)
            self.v = nn.Parameter(torch.ones(D))
            self.w = nn.Parameter(torch.ones(D, 4))
            self.m = nn.Parameter(torch.ones(4, D))

        def forward(self, x):
            h = self.proj(x)                                      # (N, S, 8)
            scores = h @ self.v                                   # (N, S): mv
            both = torch.dot(self.v, self.v) + (self.v @ self.w).sum() + torch.outer(self.v, self.v).sum()
            return scores * both + torch.mv(self.m, self.v).sum()

    with torch.device("meta"):
        module = Vectors().eval()
    net = from_torch(module, (2, 7, D), {"N": 0, "S": 1})
    N, S = size_symbol("N"), size_symbol("S")
    assert sympy.expand(net.totals().macs - (64 * N * S + 8 * N * S + 8 + 32 + 4 * 8)) == 0
    assert net.totals().params == sum(p.numel() for p in module.parameters())
    macs, shape = torch_macs_and_shape(module, meta(3, 5, D))
    assert macs == 64 * 15 + 32                                  # FlopCounterMode: the Linear and the mm only


def test_hugging_face_mixture_of_experts_imports_its_grouped_experts():
    """A tiny Hugging Face Mixtral with transformers' default ``grouped_mm`` experts (sort, histc,
    topk, index_put_, grouped_mm_fallback).  MACs: the same model with ``batched_mm`` experts,
    whose per-(token, expert) ``bmm`` FlopCounterMode counts, on meta; the "flopcountermode"
    preset: FlopCounterMode itself on the CPU, which counts 0 for the grouped experts."""
    from .support import require

    transformers = require("transformers")
    import warnings

    def build(experts):
        config = transformers.MixtralConfig(
            num_hidden_layers=1, hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
            num_local_experts=4, num_experts_per_tok=2, vocab_size=100, bos_token_id=0, eos_token_id=0,
        )
        kwargs = {"experts_implementation": experts} if experts else {}
        return transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager", **kwargs).eval()

    class Logits(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model(input_ids=ids, use_cache=False).logits

    with torch.device("meta"):
        grouped, batched = build(None), build("batched_mm")
    net = from_torch(Logits(grouped), torch.zeros(2, 7, dtype=torch.long, device="meta"))
    assert "GroupedMatMul" in {net.layer(layer).kind for layer in net}
    assert net.totals().params == sum(p.numel() for p in grouped.parameters())
    for n, s in [(1, 5), (3, 11)]:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            batched(input_ids=torch.zeros(n, s, dtype=torch.long, device="meta"))
        assert net.totals(N=n, S=s).macs == counter.get_total_flops() // 2, (n, s)
    torch.manual_seed(0)
    real = build(None)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        real(input_ids=torch.randint(0, 100, (3, 11)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                      # the preset is unchecked on these kinds
        assert net.flops("flopcountermode", N=3, S=11) == counter.get_total_flops()


def test_indices_of_max_are_a_tensor_and_data_sized_repeats_are_refused():
    """``x.max(-1)`` gives its indices as a tensor of their own (an argmax); ``repeat_interleave``
    by a tensor makes as many elements as its values say: a DataDependentError naming the op."""
    from costgraph.importers.aten import DataDependentError

    class MaxIndices(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(D, 4)

        def forward(self, x):
            values, indices = self.proj(x).max(-1)
            return values + indices

    with torch.device("meta"):
        module = MaxIndices().eval()
    net = from_torch(module, (2, 7, D), {"N": 0, "S": 1})
    assert {"MaxDim", "ExtraOutput"} <= {net.layer(layer).kind for layer in net}
    at = {size_symbol("N"): 3, size_symbol("S"): 5}
    assert tuple(int(sympy.sympify(d).subs(at)) for d in net.shape(net.outputs[-1])) == tuple(module(meta(3, 5, D)).shape)

    class DataRepeats(nn.Module):
        def forward(self, x):
            return x.repeat_interleave((x[0, :, 0] > 0).long(), dim=1)

    with pytest.raises(DataDependentError, match=r"aten::repeat_interleave\.self_Tensor .*depends on the data"):
        from_torch(DataRepeats(), (2, 7, D), {"N": 0, "S": 1})


def test_a_parameter_read_as_stored_and_transposed():
    """One matrix read as stored and as ``w.t()`` by products that are not linear layers: the
    transposed read is a view of the one parameter layer (it reused the stored shape, and the
    product failed); params: 8*4 once, MACs = FlopCounterMode//2."""

    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(D, 4))

        def forward(self, x):
            return torch.einsum("jk,nsj->nsk", self.w, x) + torch.einsum("kj,nsj->nsk", self.w.t(), x)

    with torch.device("meta"):
        module = Both()
    net = from_torch(module, (2, 7, D), {"N": 0, "S": 1})
    assert net.totals().params == 32
    macs, shape = torch_macs_and_shape(module, meta(3, 5, D))
    assert net.totals(N=3, S=5).macs == macs


def test_a_parameter_viewed_before_its_layer_reads_it():
    """Mamba's depthwise convolution: ``F.conv1d(x, w.view(C, k).unsqueeze(1), b, groups=C)``.  The
    viewed weight is still the parameter, so the convolution owns its C*k elements (it counted
    them again beside a view of a parameter layer); params: torch's count, MACs = FlopCounterMode//2."""

    class Depthwise(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(D, D, 4, groups=D, padding=3)

        def forward(self, x):
            weight = self.conv.weight.view(D, 4).unsqueeze(1)
            return F.conv1d(x.transpose(1, 2), weight, self.conv.bias, padding=3, groups=D)[..., : x.shape[1]]

    with torch.device("meta"):
        module = Depthwise()
    net = from_torch(module, (2, 7, D), {"N": 0, "S": 1})
    assert net.totals().params == sum(p.numel() for p in module.parameters())
    for n, s in [(1, 5), (3, 11)]:
        macs, shape = torch_macs_and_shape(module, meta(n, s, D))
        assert net.totals(N=n, S=s).macs == macs
