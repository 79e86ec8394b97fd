"""costgraph.from_torch: modules captured with torch.export, rebuilt symbolically op by op.

Sources of truth: the native zoo networks (each checked against torchvision by
its own tests) for the twins; real PyTorch (torch.export's shapes at other
sizes, on the meta device) for the functional calls; hand derivations written
next to each formula.
"""

import importlib
import subprocess
import sys

import pytest
import sympy

from costgraph import CostGraphError, H, N, S, ShapeError, W, models, size_symbol
from costgraph.importers import TORCH_CONVERTERS, UnsupportedOperationError, register_converter

from .support import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

from costgraph import from_torch  # noqa: E402

from .differential import meta  # noqa: E402

TOTALS = ("params", "macs", "activations", "flops")


def assert_same_totals(imported, native):
    a, b = imported.totals(), native.totals()
    for name in TOTALS:
        difference = sympy.expand(getattr(a, name) - getattr(b, name))
        assert difference == 0, f"{name}: imported {getattr(a, name)} vs native {getattr(b, name)}"


def _twin(module_name, factory):
    twins = importlib.import_module(f"tests.twins.{module_name}")
    return lambda: factory(twins)


#: zoo model name -> (twin module, twin factory, example input); the example's
#: H and W differ so an H/W mix-up cannot pass the traced-shape check
ZOO = {
    "alexnet": ("alexnet", lambda t: t.AlexNet(), (2, 3, 224, 200)),
    "resnet18": ("resnet", lambda t: t.resnet("resnet18"), (2, 3, 224, 200)),
    "resnet50": ("resnet", lambda t: t.resnet("resnet50"), (2, 3, 224, 200)),
    "squeezenet1_0": ("squeezenet", lambda t: t.SqueezeNet("1_0"), (2, 3, 224, 200)),
    "squeezenet1_1": ("squeezenet", lambda t: t.SqueezeNet("1_1"), (2, 3, 224, 200)),
    "densenet121": ("densenet", lambda t: t.DenseNet(), (2, 3, 224, 200)),
    "googlenet": ("googlenet", lambda t: t.GoogLeNet(), (2, 3, 224, 200)),
    "inception_v3": ("inception", lambda t: t.Inception3(), (2, 3, 299, 331)),
    "mobilenet_v2": ("mobilenet", lambda t: t.mobilenet_v2(), (2, 3, 224, 200)),
    "mobilenet_v3_large": ("mobilenet", lambda t: t.mobilenet_v3_large(), (2, 3, 224, 200)),
    "shufflenet_v2_x1_0": ("shufflenet", lambda t: t.shufflenet_v2_x1_0(), (2, 3, 224, 200)),
    "efficientnet_b0": ("efficientnet", lambda t: t.efficientnet_b0(), (2, 3, 224, 200)),
    "regnet_y_400mf": ("regnet", lambda t: t.regnet_y_400mf(), (2, 3, 224, 200)),
    "convnext_tiny": ("convnext", lambda t: t.convnext_tiny(), (2, 3, 224, 200)),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_twin_imports_to_the_native_network(name):
    """Every totals expression of the imported twin equals the zoo's, after expand."""
    module_name, factory, example = ZOO[name]
    with meta():
        twin = _twin(module_name, factory)()
    assert_same_totals(from_torch(twin, example), models.build(name))


@pytest.mark.parametrize("cfg,name", [("A", "vgg11"), ("D", "vgg16"), ("E", "vgg19")])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_both_forms(cfg, name, batch_norm):
    """Adaptive form: as torchvision.  Seed form: fc1 sized for the input, imported lazily."""
    from .twins.vgg import VGG

    suffix = "_bn" if batch_norm else ""
    with meta():
        adaptive = VGG(cfg, batch_norm)
        seed = VGG(cfg, batch_norm, avgpool=False, fc1_in=512 * (64 // 32) * (96 // 32))
    assert_same_totals(from_torch(adaptive, (2, 3, 64, 96)), models.build(name + suffix, adaptive_pool=True))
    assert_same_totals(from_torch(seed, (2, 3, 64, 96), lazy_linear=True), models.build(name + suffix))


def test_seed_vgg_without_lazy_linear_keeps_fc1_fixed():
    """By default fc1 keeps its 512*2*3 inputs: 3072*4096 weights, valid only where H//32 * W//32 = 6."""
    from .twins.vgg import VGG

    with meta():
        seed = VGG("D", avgpool=False, fc1_in=512 * 2 * 3)
    net = from_torch(seed, (1, 3, 64, 96))
    assert net.layer("classifier.0").weights((N, 3072)) == 3072 * 4096
    assert net.totals(H=64, W=96).params == models.vgg16().totals(H=64, W=96).params
    with pytest.raises(CostGraphError, match="Linear expects 3072 input features"):
        net.totals(H=64, W=64)


class Functional(nn.Module):
    """Functional calls, tensor methods and sizes read from the input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = F.relu(self.conv(x))
        y = torch.cat([y, y + y], dim=1)                         # (N, 16, H, W)
        pooled = F.adaptive_avg_pool2d(y, (2, 2)).flatten(1)     # (N, 64)
        mean = y.mean((2, 3))                                    # (N, 16)
        n, c = x.size(0), x.shape[1]
        tokens = y.view(n, 16, -1).permute(0, 2, 1)              # (N, H*W, 16)
        tokens = tokens.reshape(x.size(0), -1, 8)                # (N, 2*H*W, 8)
        q = self.proj(tokens)
        scores = torch.softmax(q @ q.transpose(1, 2), dim=-1)    # (N, 2HW, 2HW)
        attended = F.scaled_dot_product_attention(q, q, q)       # (N, 2HW, 8)
        return torch.flatten(scores, 1), attended, pooled, mean, c


def test_functional_calls_shapes_and_costs():
    with meta():
        module = Functional()
    net = from_torch(module, (2, 3, 5, 7))
    kinds = {net.layer(name).kind for name in net}
    assert {"ReLU", "Concat", "Add", "AdaptiveAvgPool2d", "Flatten", "Mean", "Reshape", "Permute", "MatMul", "Transpose", "Softmax", "ScaledDotProductAttention", "Linear"} <= kinds
    hw = H * W
    by_kind = {net.layer(name).kind: name for name in net}
    assert net.shape(by_kind["MatMul"]) == (N, 2 * hw, 2 * hw)
    assert net.shape(by_kind["ScaledDotProductAttention"]) == (N, 2 * hw, 8)
    assert net.shape(by_kind["Mean"]) == (N, 16)
    # hand derivation of the MACs: conv 8*27*HW, proj 8*8 per token (2HW tokens),
    # q @ q^T (2HW)^2 * 8, attention 2 * (2HW)^2 * 8; per sample
    expected = 8 * 27 * hw + 64 * 2 * hw + 8 * (2 * hw) ** 2 + 16 * (2 * hw) ** 2
    assert sympy.expand(net.totals().macs - N * expected) == 0
    # the formulas from the import at 5x7 agree with what torch.export makes at other sizes (static)
    for h, w, n in [(4, 9, 1), (11, 3, 3)]:
        program = torch.export.export(module, (torch.empty(n, 3, h, w, device="meta"),))
        torch_shapes = {node.name: tuple(node.meta["val"].shape) for node in program.graph.nodes if isinstance(node.meta.get("val"), torch.Tensor)}
        compared = [name for name in net if net.graph.nodes[name].get("aten_node") in torch_shapes]
        assert len(compared) >= 15
        for name in compared:
            ours = tuple(int(sympy.sympify(d).subs({H: h, W: w, N: n})) for d in net.shape(name))
            assert ours == torch_shapes[net.graph.nodes[name]["aten_node"]], name


def test_sizes_stay_symbolic_and_in_place_adds_are_kept():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            out = self.conv(x)
            out += x                       # in place, as torchvision's ResNet
            half = out.size(2) // 2
            return out[:, :2], half

    with meta():
        block = Block()
    net = from_torch(block, (2, 4, 9, 6))
    adds = [name for name in net if net.layer(name).kind == "Add"]
    assert len(adds) == 1 and net.layer(adds[0]).inplace
    # activations: input 4HW + conv 4HW + slice view 0 + in-place add 0 (hand count)
    assert net.totals().activations == 8 * H * W * N
    slices = [name for name in net if net.layer(name).kind == "Slice"]
    assert net.shape(slices[0]) == (N, 2, H, W)


def test_unsupported_operations_are_listed_with_their_place():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softshrink())

        def forward(self, x):
            x = self.body(x)
            x = torch.special.bessel_j0(x)
            return torch.logcumsumexp(x, 2) + 1

    with meta():
        odd = Odd()
    with pytest.raises(UnsupportedOperationError) as caught:
        from_torch(odd, (1, 3, 16, 12))
    message = str(caught.value)
    assert "aten::softshrink" in message and "module 'body.1' (Softshrink)" in message
    assert "aten::special_bessel_j0" in message and "aten::logcumsumexp" in message
    assert "register_converter" in message
    assert len(caught.value.operations) == 3     # the + 1 after logcumsumexp depends on it: not listed


def test_a_registered_converter_makes_the_operation_known():
    from costgraph.kinds import Identity

    class Bessel(nn.Module):
        def forward(self, x):
            return torch.special.bessel_j0(x)

    register_converter(torch.ops.aten.special_bessel_j0)(lambda call: Identity())
    try:
        net = from_torch(Bessel(), (1, 3, 8, 6))
        with pytest.raises(CostGraphError, match="already has a converter"):
            register_converter("aten::special_bessel_j0")(lambda call: Identity())
    finally:
        del TORCH_CONVERTERS["aten::special_bessel_j0"]
    assert [net.layer(name).kind for name in net] == ["Input", "Identity"]


def test_a_wrong_converter_is_caught_by_the_exported_shapes():
    """A converter that drops AvgPool2d's stride gives (H-1, W-1), export made (H//2, W//2): as expressions."""
    from costgraph.kinds import AvgPool2d

    saved = TORCH_CONVERTERS["aten::avg_pool2d"]
    register_converter("aten::avg_pool2d", replace=True)(lambda call: AvgPool2d(tuple(call.args[1]), 1))
    try:
        with meta():
            module = nn.Sequential(nn.Conv2d(3, 3, 1), nn.AvgPool2d(2))
        with pytest.raises(ShapeError, match=r"module '1' \(AvgPool2d\).*\(N, 3, H - 1, W - 1\).*\(N, 3, floor\(H/2\), floor\(W/2\)\)"):
            from_torch(module, (1, 3, 8, 6))
    finally:
        TORCH_CONVERTERS["aten::avg_pool2d"] = saved


def test_dynamic_names_and_fixed_dimensions():
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x):
            return self.fc(x)

    module = Seq()
    net = from_torch(module, (3, 5, 16), dynamic={"N": 0, "tokens": 1})
    tokens = size_symbol("tokens")
    assert net.totals().macs == 64 * N * tokens
    fixed = from_torch(module, (3, 5, 16), dynamic={"S": 1})       # batch fixed at 3
    assert fixed.totals().macs == 3 * 64 * S
    with pytest.raises(CostGraphError, match="does not fit"):
        from_torch(module, (3, 5, 16), dynamic={"H": 3})
    with pytest.raises(CostGraphError, match="two different values"):
        from_torch(module, (3, 5, 16), dynamic={"S": 1, S: 0})      # the name and the symbol: one size


def test_uncapturable_module_is_a_clear_error():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x

    with pytest.raises(CostGraphError, match="torch.export cannot capture Branchy"):
        from_torch(Branchy(), (1, 3, 4, 4))


def test_parameters_used_directly_count_once():
    """A learned scale read twice is one Parameter of 8 weights (ConvNeXt's layer scale)."""

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(8, 1, 1))
            self.conv = nn.Conv2d(3, 8, 1, bias=False)

        def forward(self, x):
            y = self.conv(x)
            return self.scale * y + self.scale * y

    with meta():
        module = Scaled()
    net = from_torch(module, (1, 3, 5, 4))
    assert net.totals().params == sum(p.numel() for p in module.parameters()) == 8 + 24


def test_costgraph_import_does_not_import_torch():
    code = "import sys, costgraph; assert 'torch' not in sys.modules and 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


class TinyViT(nn.Module):
    """A ViT in miniature, written as torchvision's: patches, class token, encoder layer, head."""

    def __init__(self, dim=32, heads=4, patch=4):
        super().__init__()
        self.patch = patch
        self.conv_proj = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.ln = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        n, _, h, w = x.shape
        x = self.conv_proj(x).reshape(n, -1, (h // self.patch) * (w // self.patch)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        y = self.ln(x)
        y, _ = self.attention(y, y, y, need_weights=False)
        x = x + y
        return self.head(x[:, 0])


def test_tiny_vit_multihead_attention_class_token_and_select():
    with meta():
        vit = TinyViT()
    net = from_torch(vit, (2, 3, 32, 24))
    tokens = sympy.floor(H / 4) * sympy.floor(W / 4) + 1      # patches plus the class token
    attention = net.shape([name for name in net if name.startswith("attention.")][-1])   # the module's output
    assert attention[0] == N and attention[2] == 32
    assert all((attention[1] - tokens).subs({H: h, W: w}) == 0 for h, w in [(32, 24), (35, 18), (4, 7)])
    assert net.shape("head") == (N, 10)
    # parameters by hand: conv 32*3*16 + 32, token 32, layer norm 64,
    # attention 4*32*32 + 4*32, head 32*10 + 10
    assert net.totals().params == sum(p.numel() for p in vit.parameters()) == 1568 + 32 + 64 + 4224 + 330
    # MACs per sample by hand, at 32x24 (48 patches, 49 tokens): conv 32*48*48, attention
    # projections 4*32*32 per token, scores and weighted sum 2*49*49*32, head 320
    assert net.totals(H=32, W=24, N=1).macs == 32 * 48 * 48 + 49 * 4096 + 2 * 49 * 49 * 32 + 320


def test_an_assertion_on_a_size_asks_to_fix_that_size():
    class Fixed(nn.Module):
        def forward(self, x):
            torch._assert(x.shape[2] == 32, "height must be 32")
            return F.relu(x)

    with pytest.raises(CostGraphError, match=r"asserts Eq\(H, 32\).*leave them out of `dynamic`"):
        from_torch(Fixed(), (1, 3, 32, 24))
    net = from_torch(Fixed(), (1, 3, 32, 24), dynamic={"N": 0, "W": 3})
    assert net.shape("relu") == (N, 3, 32, W)


def test_a_module_called_twice_shares_its_parameters():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(F.relu(self.conv(x)))

    with meta():
        module = Twice()
    net = from_torch(module, (1, 4, 9, 7))
    assert net.totals().params == sum(p.numel() for p in module.parameters()) == 4 * 4 * 9 + 4
    assert net.totals().macs == 2 * 4 * 36 * H * W * N                 # two applications, 4*4*9 MACs per position each


def test_parameters_forward_never_uses_are_reported():
    from costgraph.importers.aten import UnusedParametersWarning

    from .twins.googlenet import GoogLeNet

    with meta():
        twin = GoogLeNet(aux_logits=True)                 # the auxiliary heads run only in training
    with pytest.warns(UnusedParametersWarning, match=r"aux1\.conv"):
        net = from_torch(twin, (1, 3, 224, 200))
    assert net.totals().params == models.googlenet().totals().params


def test_token_ids_embedding_rms_norm_and_causal_attention():
    class TinyDecoder(nn.Module):
        def __init__(self, vocab=50, dim=16, heads=2):
            super().__init__()
            self.heads = heads
            self.wte = nn.Embedding(vocab, dim)
            self.norm = nn.RMSNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.lm_head = nn.Linear(dim, vocab, bias=False)

        def forward(self, ids):
            x = self.norm(self.wte(ids))
            n, s, d = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q, k, v = (t.view(n, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.lm_head(y.transpose(1, 2).reshape(n, s, d))

    with meta():
        decoder = TinyDecoder()
    ids = torch.zeros(2, 7, dtype=torch.long, device="meta")
    net = from_torch(decoder, ids)                       # integer (N, S): both are sizes
    assert net.shape("lm_head") == (N, S, 50)
    # parameters by hand: table 50*16, RMSNorm scale 16, qkv 16*48, head 16*50
    assert net.totals().params == sum(p.numel() for p in decoder.parameters()) == 800 + 16 + 768 + 800
    # MACs per sample by hand: qkv 768 per token, head 800 per token, attention 2 heads x S*S x (8 + 8)
    assert sympy.expand(net.totals().macs - N * (1568 * S + 32 * S**2)) == 0


def test_a_cpu_module_in_training_mode_with_a_real_example():
    """Real weights and a real tensor work too; the module's training mode is given back."""
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.1), nn.AdaptiveAvgPool2d(1))
    module.train()
    net = from_torch(module, torch.randn(2, 3, 10, 9))
    assert module.training and all(m.training for m in module.modules())
    assert net.shape("3") == (N, 4, 1, 1)
    # 4*3*9 MACs per output position on (H-2)x(W-2)
    assert sympy.expand(net.totals().macs - 108 * N * (H - 2) * (W - 2)) == 0
