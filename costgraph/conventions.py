"""Counting conventions as switches: why every tool prints a different "FLOPs".

Ask five tools for VGG16's cost at 224x224 and five numbers come back.  Each
difference is a term that can be written down: fvcore adds the adaptive
average pool's input elements, thop adds two per adaptive-pool output element,
torchinfo and ptflops' aten backend add one bias per conv/linear output
element, ptflops' default backend adds the bias, ReLU and pooling elements -
ReLU and pooling twice.

A `Convention` is a frozen set of documented switches (FLOPs per
multiply-accumulate, bias additions, per-element costs of normalization,
ReLU-family activations, pooling, adds, softmax).  A layer kind states its
work as named *terms* (``flop_terms(out, *inputs)``: ``{"bias": ...,
"relu": ..., "max_pool_in": ...}``, every term a count of elements), and a
convention weighs them.  The MACs come from the kind's own `macs`.

Three states per (convention, kind), never a silent zero:

* the kind is in the convention's `checked_on` set: the preset equals the
  real tool on it, proven by ``tests/test_torch_tools.py`` on the model
  families in `CHECKED_MODELS` and, op by op on a tiny module at two sizes,
  by ``tests/test_conventions_aten_kinds.py`` for `ATEN_CHECKED_KINDS` (the
  kinds the ATen importer makes; a tool that counts nothing for an op is
  reproduced by a weight of 0, not by a refusal);
* the convention states weights for the kind's terms but has not been run
  against the tool on it: the figure comes with an `UncheckedConventionWarning`
  (the weights were read from the tool's source);
* the kind declares no terms, declares a term the convention cannot weigh,
  or is one whose figure the tool derives from a device- or kernel-dependent
  path (fused attention: the preset's `refused`): a `ConventionError` naming
  the layer.

One difference no network records: thop, torchinfo and ptflops hook
``nn.Module``s, so a layer that the PyTorch code calls as a function
(``F.relu``) counts differently there.  `reconcile` therefore calls a preset
*checked* only on the families in `CHECKED_MODELS`.

>>> from costgraph.models import vgg16
>>> net = vgg16(adaptive_pool=True)        # torchvision's form
>>> net.flops("macs", H=224), net.flops("fvcore", H=224), net.flops("thop", H=224)
(15470264320, 15470289408, 15470314496)
>>> net.flops("torchinfo", H=224), net.flops("ptflops", H=224), net.flops("flopcountermode", H=224)
(15483821032, 15523225576, 30940528640)
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field, fields
from typing import Mapping

import sympy

from .errors import CostGraphError
from .kinds.pool import ThopAdaptiveOps  # defined beside the kind that uses it; re-exported here
from .symbols import as_formula

__all__ = [
    "Convention",
    "Pooling",
    "PRESETS",
    "TERMS",
    "ConventionError",
    "UncheckedConventionWarning",
    "ThopAdaptiveOps",
    "CHECKED_MODELS",
    "ATEN_CHECKED_KINDS",
    "get_convention",
    "layer_contributions",
    "network_flops",
    "reconcile",
    "ReconcileRow",
]


class ConventionError(CostGraphError):
    """A convention cannot count a layer: undeclared terms, or a term it has no weight for."""


class UncheckedConventionWarning(UserWarning):
    """A preset is applied to a kind it has not been checked on against the real tool."""


def _check_int(value, what, *, nonnegative=True):
    # a switch weighs work: a negative one would subtract work (flops_per_mac=-2 made figures
    # negative); only an override may be negative, to correct a tool's quirk (thop's softmax: -1 per row)
    if isinstance(value, bool) or not isinstance(value, int) or (nonnegative and value < 0):
        kind = "an int >= 0" if nonnegative else "an int"
        raise ConventionError(f"{what} must be {kind}, got {value!r}", value=value)


@dataclass(frozen=True)
class Pooling:
    """Cost of one pooling family: per input element, per output element, per window element.

    ``Pooling(per_input=1)`` is fvcore's adaptive average pool;
    ``Pooling(per_output=1)`` is thop's average pool; ``Pooling(per_window=1)``
    counts every element of every window (k*k per output element, or the
    exact, possibly overlapping, windows of adaptive pooling).
    """

    per_input: int = 0
    per_output: int = 0
    per_window: int = 0

    def __post_init__(self):
        for f in fields(self):
            _check_int(getattr(self, f.name), f"Pooling.{f.name}")


#: every term a kind may declare: term -> (Convention field, Pooling attribute or None, meaning)
TERMS: dict[str, tuple[str | None, str | None, str]] = {
    "bias": ("bias", None, "output elements of a conv/linear layer that receive a bias add"),
    "norm": ("norm", None, "elements a normalization layer normalizes (x - mean) / std"),
    "norm_affine": ("norm_affine", None, "elements a normalization layer scales and shifts (affine)"),
    "relu": ("relu", None, "elements through a ReLU"),
    "relu6": ("relu", None, "elements through a ReLU6"),
    "sigmoid": ("activation", None, "elements through a sigmoid"),
    "hardsigmoid": ("activation", None, "elements through a hard sigmoid"),
    "hardswish": ("activation", None, "elements through a hard swish"),
    "silu": ("activation", None, "elements through a SiLU"),
    "gelu": ("activation", None, "elements through a GELU"),
    "tanh": ("activation", None, "elements through a tanh"),
    "max_pool_in": ("max_pool", "per_input", "input elements of a max pool"),
    "max_pool_out": ("max_pool", "per_output", "output elements of a max pool"),
    "max_pool_window": ("max_pool", "per_window", "window elements of a max pool (k*k per output)"),
    "avg_pool_in": ("avg_pool", "per_input", "input elements of an average pool"),
    "avg_pool_out": ("avg_pool", "per_output", "output elements of an average pool"),
    "avg_pool_window": ("avg_pool", "per_window", "window elements of an average pool (k*k per output)"),
    "adaptive_pool_in": ("adaptive_avg_pool", "per_input", "input elements of an adaptive average pool"),
    "adaptive_pool_out": ("adaptive_avg_pool", "per_output", "output elements of an adaptive average pool"),
    "adaptive_pool_window": (
        "adaptive_avg_pool",
        "per_window",
        "elements of every (possibly overlapping) adaptive-pool window",
    ),
    "adaptive_pool_thop": (
        None,
        None,
        "thop's adaptive-pool count: int((H_in/H_out * W_in/W_out + 1) * output elements) in floating point",
    ),
    "add": ("add", None, "elementwise additions (one per output element per extra input)"),
    "mul": ("mul", None, "elementwise products (one per output element per extra input)"),
    "sub": ("add", None, "elementwise subtractions (one per output element per extra input)"),
    "div": ("mul", None, "elementwise quotients (one per output element per extra input)"),
    "reduce_in": ("reduce", None, "input elements of a reduction (a mean over axes)"),
    "softmax": ("softmax", None, "elements through a softmax"),
    "softmax_rows": (None, None, "rows a softmax normalizes (elements / size along dim)"),
    "leakyrelu": ("relu", None, "elements through a LeakyReLU"),
    "prelu": ("relu", None, "elements through a PReLU"),
    "hardtanh": ("relu", None, "elements through a Hardtanh (a clamp to [min_val, max_val])"),
    "elu": ("activation", None, "elements through an ELU"),
    "softplus": ("activation", None, "elements through a Softplus"),
    "mish": ("activation", None, "elements through a Mish"),
    "logsoftmax": ("softmax", None, "elements through a log-softmax"),
    "unary": ("elementwise", None, "elements through an elementwise math function (exp, log, sqrt, pow, ...)"),
    "clamp": ("elementwise", None, "elements clamped to a bound (torch.clamp with numbers)"),
    "select": ("elementwise", None, "elements chosen between two sources (where, masked_fill, tril/triu)"),
    "scan_in": ("reduce", None, "input elements of a cumulative sum or product"),
    "transposed_conv_by_output": (
        None,
        None,
        "a transposed conv's weights x batch x OUTPUT positions (thop and torchinfo count it as a conv "
        "producing its output; its MACs run over the input positions)",
    ),
    "upsample_out": (None, None, "output elements of an upsampling, any mode (ptflops' module hook)"),
    "upsample_scaled_in": (
        None,
        None,
        "input elements x the scale factors' product (output elements when a size is given): ptflops' "
        "F.interpolate hook",
    ),
    "upsample_nearest_out": (None, None, "output elements of a nearest upsampling (any rank)"),
    "upsample_nearest2d_out": (None, None, "output elements of a 2-d nearest upsampling (aten::upsample_nearest2d)"),
    "upsample_nearest_exact_out": (None, None, "output elements of a nearest-exact upsampling"),
    "upsample_linear_out": (None, None, "output elements of a 1-d linear upsampling"),
    "upsample_bilinear_out": (None, None, "output elements of a bilinear upsampling"),
    "upsample_bicubic_out": (None, None, "output elements of a bicubic upsampling"),
    "upsample_trilinear_out": (None, None, "output elements of a trilinear upsampling"),
    "einsum_fvcore": (
        None,
        None,
        "fvcore's einsum count: numpy's einsum_path 'Optimized FLOP count' printed to 4 significant "
        "digits, halved and floored (exact MACs for the two batched-matmul equations it special-cases)",
    ),
    "param_rows": (None, None, "batch size times the layer's parameters (torchinfo's rule for non-conv layers)"),
}

#: the two terms every kind has without declaring anything: its MACs and costgraph's own elementwise FLOPs
BASE_TERMS = ("mac", "other")


@dataclass(frozen=True)
class Convention:
    """A counting convention: documented switches, one integer weight per kind of work.

    Parameters
    ----------
    name : str
        The preset's name (``"fvcore"``).
    description : str
        One line: what the figure is.
    flops_per_mac : int
        FLOPs per multiply-accumulate of conv/linear/matmul work (1 or 2).
    bias : int
        Per output element of a conv/linear layer with a bias (0 or 1).
    norm, norm_affine : int
        Per element of a normalization layer, and extra per element when it
        is affine (BatchNorm at inference: fvcore 1 + 1, thop 2 + 2).
    relu : int
        Per element of a ReLU-family activation (ReLU, ReLU6, LeakyReLU, PReLU, Hardtanh).
    activation : int
        Per element of other activations (sigmoid, SiLU, GELU, hard swish, tanh, ELU,
        Softplus, Mish).
    max_pool, avg_pool, adaptive_avg_pool : Pooling
        Per input, output or window element of each pooling family.
    add, mul : int
        Per elementwise addition / product.
    reduce : int
        Per input element of a reduction (``x.mean((2, 3))``, sum, amax, var, ...) or of
        a cumulative sum or product.
    softmax : int
        Per softmax (and log-softmax) element.
    elementwise : int
        Per element of other elementwise work: math functions (exp, log,
        sqrt, pow), clamps and selects (where, masked_fill, tril/triu).
    other : int
        Weight of costgraph's own elementwise FLOPs (`LayerKind.other_flops`).
    overrides : tuple of ((kind, term), weight)
        Tool quirks that do not follow the switches (torchinfo counts a
        Linear as batch x parameters); each documented in `quirks`.
    checked_on : frozenset of str or None
        Kinds on which the preset was checked against the real tool to the
        last digit (``tests/test_torch_tools.py``, and op by op
        ``tests/test_conventions_aten_kinds.py``); None for a definition
        that holds by construction ("macs", "costgraph").
    refused : tuple of (kind, reason)
        Kinds the preset cannot reproduce from shapes (the tool's figure
        depends on the device or on which fused kernel runs): counting a
        network with one is a `ConventionError` giving the reason.
    quirks : tuple of str
        What the tool does, with a reference to its source.

    Raises
    ------
    ConventionError
        If a weight is not an int or an override names an unknown term.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> fused = Convention("fused-bn", "MACs, BatchNorm folded away", flops_per_mac=1)
    >>> vgg16().flops(fused, H=224) == vgg16().totals(H=224).macs
    True
    """

    name: str
    description: str = ""
    flops_per_mac: int = 1
    bias: int = 0
    norm: int = 0
    norm_affine: int = 0
    relu: int = 0
    activation: int = 0
    max_pool: Pooling = Pooling()
    avg_pool: Pooling = Pooling()
    adaptive_avg_pool: Pooling = Pooling()
    add: int = 0
    mul: int = 0
    reduce: int = 0
    softmax: int = 0
    elementwise: int = 0
    other: int = 0
    overrides: tuple = ()
    checked_on: frozenset | None = None
    refused: tuple = ()
    quirks: tuple = field(default=(), compare=False)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int",):
                _check_int(value, f"Convention {self.name!r}: {f.name}")
        for (kind, term), weight in self.overrides:
            if term not in TERMS and term not in BASE_TERMS:
                raise ConventionError(
                    f"Convention {self.name!r}: override for unknown term {term!r} of {kind}", value=term
                )
            _check_int(weight, f"Convention {self.name!r}: override ({kind}, {term})", nonnegative=False)
        if self.checked_on is not None:
            object.__setattr__(self, "checked_on", frozenset(self.checked_on))

    def weight(self, kind: str, term: str) -> int:
        """The weight of `term` for a layer of `kind` (an override, else the switch).

        Raises
        ------
        ConventionError
            If `term` is not a known term.

        >>> PRESETS["ptflops"].weight("ReLU", "relu"), PRESETS["ptflops"].weight("ReLU6", "relu6")
        (2, 1)
        """
        for (k, t), w in self.overrides:
            if k == kind and t == term:
                return w
        if term == "mac":
            return self.flops_per_mac
        if term == "other":
            return self.other
        try:
            switch, attribute, _ = TERMS[term]
        except KeyError:
            raise ConventionError(
                f"{kind} declares an unknown cost term {term!r}; known terms: {', '.join(TERMS)}", value=term
            ) from None
        if switch is None:  # a quirk term: counted only where an override says so
            return 0
        value = getattr(self, switch)
        return getattr(value, attribute) if attribute else value

    @property
    def needs_terms(self) -> bool:
        """Whether any weight beyond MACs and costgraph's own FLOPs is nonzero."""
        switches = {s for s, _, _ in TERMS.values() if s}
        for name in switches:
            value = getattr(self, name)
            if isinstance(value, Pooling):
                if any(getattr(value, f.name) for f in fields(value)):
                    return True
            elif value:
                return True
        return any(w for (_, t), w in self.overrides if t not in BASE_TERMS)

    def switches(self) -> dict:
        """The nonzero switches, for tables: ``{"flops_per_mac": 1, "bias": 1, ...}``."""
        shown = {}
        for f in fields(self):
            if f.name in ("name", "description", "overrides", "checked_on", "refused", "quirks"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, Pooling):
                parts = {a.name: getattr(value, a.name) for a in fields(value) if getattr(value, a.name)}
                if parts:
                    shown[f.name] = parts
            elif value:
                shown[f.name] = value
        return shown


# -- the presets -------------------------------------------------------------------

#: kinds of the torchvision models on whose twins tests/test_torch_tools.py runs every tool (VGG, ResNet,
#: AlexNet, SqueezeNet, ConvNeXt, ShuffleNetV2).  Those models call every pooling and activation as an
#: nn.Module; thop, torchinfo and ptflops hook modules, so the same kind called functionally
#: (F.adaptive_avg_pool2d in torchvision's MobileNetV2 and DenseNet, F.relu in GoogLeNet) is counted
#: differently by them - a difference a costgraph network does not record (see CHECKED_MODELS).
_CNN_KINDS = frozenset(
    {"Input", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear", "Dropout", "Add"}
    | {"Concat"}  # SqueezeNet
    | {"GELU", "LayerNorm", "LayerNorm2d", "LayerScale", "Permute", "StochasticDepth"}  # ConvNeXt
    | {"ChannelShuffle", "Mean", "Slice"}  # ShuffleNetV2
)

#: kinds the ATen importer makes, on which tests/test_conventions_aten_kinds.py runs every tool on a
#: tiny module per op (the module form where torch has one), at two sizes: each tool preset equals its tool
ATEN_CHECKED_KINDS = frozenset(
    {"ELU", "LeakyReLU", "Hardtanh", "Softplus", "Mish", "LogSoftmax", "PReLU"}
    | {"GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "BatchNorm1d", "BatchNorm3d"}
    | {"Upsample", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Conv1d", "Conv3d"}
    | {"Unary", "PowScalar", "Clamp", "MaskedFill", "Where", "Compare", "ScalarOp"}
    | {"Amax", "Prod", "LogSumExp", "Var", "Std", "VectorNorm", "MaxDim", "MinDim", "Sum", "Cumsum", "Cumprod"}
    | {"Expand", "Select", "Contiguous", "Transpose", "ViewAs", "Einsum", "Amin"}
    | {"MaxPool1d", "MaxPool3d", "AvgPool1d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool3d"}
    | {"AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Pad", "Roll"}
    | {"IndexSelect", "Gather", "Constant", "Parameter", "Triangular", "Stack", "Repeat"}
    | {"AvgPool2d", "Sigmoid", "Tanh", "SiLU", "ReLU6", "Hardsigmoid", "Hardswish", "Softmax", "RMSNorm"}
    | {"Reshape", "StridedSlice", "Div", "Mul", "Sub", "MatMul", "IndexTensor", "BatchMatMul", "AdvancedIndex"}
    | {"Embedding"}
    # the ops branch's kinds: no tool counts any of them (a declared {}), and the cases check that 0
    | {"GLU", "LogSigmoid", "Binary", "Ternary", "NLLLoss", "MSELoss", "Scatter", "IndexAdd", "IndexPut"}
    | {"TopK", "Sort", "Histogram", "ExtraOutput"}
)

#: zoo families whose torch code the differential test runs the tools on (tests/test_torch_tools.py runs
#: at least one member of each; members differ only in depth and width, not in how torch calls a layer).
#: A network of checked kinds but another name may still call a pool or activation functionally,
#: which the hook-based tools count differently (torchvision's GoogLeNet: F.relu, once in ptflops).
CHECKED_MODELS = frozenset(
    {"alexnet", "squeezenet1_0", "squeezenet1_1", "convnext_tiny", "shufflenet_v2_x1_0"}
    | {f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")}
    | {f"resnet{d}" for d in (18, 34, 50, 101, 152)}
)

PRESETS: dict[str, Convention] = {}

_FUSED_MHA = (
    "MultiheadAttention",
    "nn.MultiheadAttention at inference runs the fused torch._native_multi_head_attention kernel, which "
    "the hook and dispatch tools see as one op (or as its internals) rather than as projections and products",
)
_CPU_SDPA = (
    "ScaledDotProductAttention",
    "scaled_dot_product_attention's count depends on the kernel torch picks for the device (FlopCounterMode "
    "counts the CUDA flash/efficient kernels, not the CPU one: pytorch/pytorch#195460; fvcore, thop, "
    "torchinfo and ptflops have no rule for it)",
)


#: the same for every tool (read in each one's source, and run by tests/test_conventions_aten_kinds.py)
_UNCOUNTED_OPS = (
    "GLU, LogSigmoid, pow/atan2/fmod/floor_divide/remainder of tensors (Binary), lerp/addcmul/addcdiv "
    "(Ternary), NLLLoss, MSELoss, scatter/index_add/index_put, topk, sort and histc count 0: no module "
    "hook (thop, ptflops), no parameters (torchinfo), no patched function (ptflops: only torch.add/mul "
    "and Tensor.add/mul among elementwise ops) and no aten handle (fvcore, FlopCounterMode, ptflops' aten "
    "backend) for any of them."
)
_TRANSPOSED = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
_INSTANCE_NORMS = ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")


def _each(kinds, term, weight) -> tuple:
    """One override per kind: ``((kind, term), weight)``."""
    return tuple(((kind, term), weight) for kind in kinds)


def _preset(convention: Convention) -> Convention:
    PRESETS[convention.name] = convention
    return convention


_preset(
    Convention(
        "macs",
        "multiply-accumulates of conv and linear layers: torchvision's 'GFLOPS' column",
        flops_per_mac=1,
        quirks=(
            "torchvision's weights tables (e.g. VGG16_Weights '_ops': 15.47) report conv + linear MACs "
            "and call them GFLOPS; costgraph's `totals().macs`.",
        ),
    )
)
_preset(
    Convention(
        "costgraph",
        "costgraph's own FLOPs: 2 per MAC plus its per-kind elementwise work (totals().flops)",
        flops_per_mac=2,
        other=1,
        quirks=("costgraph.totals.FLOP_CONVENTION: 2 FLOPs per MAC (bias adds included) + each kind's other_flops.",),
    )
)
_preset(
    Convention(
        "flopcountermode",
        "torch.utils.flop_counter.FlopCounterMode: 2 FLOPs per MAC of conv/mm/addmm, nothing else",
        flops_per_mac=2,
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        # its registry has no formula for torch._grouped_mm or transformers' grouped_mm_fallback
        overrides=((("GroupedMatMul", "mac"), 0),),
        quirks=(
            _UNCOUNTED_OPS,
            "torch/utils/flop_counter.py (2.13.0): conv_flop_count and mm/addmm_flop count 2 per MAC; "
            "addmm's bias is not counted ('Should be 2 * k - 1 technically'); there is no formula for "
            "batch_norm, relu, pooling or add, so they count 0.",
            "Nor for torch._grouped_mm or transformers' grouped_mm_fallback (a mixture of experts' "
            "grouped_mm experts, GroupedMatMul): FlopCounterMode counts 0 for them.",
        ),
    )
)
_preset(
    Convention(
        "fvcore",
        "fvcore FlopCountAnalysis (model in eval mode): one 'flop' per MAC, plus a few elementwise ops",
        flops_per_mac=1,
        norm=1,
        norm_affine=1,
        adaptive_avg_pool=Pooling(per_input=1),
        # fvcore's norm_flop_counter counts layer/group/instance norm at 4 per input element, 5 if affine
        overrides=_each(("LayerNorm", "LayerNorm2d", "GroupNorm") + _INSTANCE_NORMS, "norm", 4)
        + (
            # aten::adaptive_avg_pool2d only: the 1-d and 3-d ops have no handle
            (("AdaptiveAvgPool1d", "adaptive_pool_in"), 0),
            (("AdaptiveAvgPool3d", "adaptive_pool_in"), 0),
            # its einsum handle: exact for two bmm equations, else numpy's rounded report
            (("Einsum", "mac"), 0),
            (("Einsum", "einsum_fvcore"), 1),
            (("Upsample", "upsample_nearest2d_out"), 1),
            (("Upsample", "upsample_bilinear_out"), 4),
            # aten::rms_norm has no handle
            (("RMSNorm", "norm"), 0),
            (("RMSNorm", "norm_affine"), 0),
        ),
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        quirks=(
            _UNCOUNTED_OPS,
            "fvcore/nn/flop_count.py _DEFAULT_SUPPORTED_OPS: aten::_convolution, addmm and linear count "
            "one per MAC, bias ignored ('We count one fused multiply-add as one flop').",
            "aten::adaptive_avg_pool2d uses elementwise_flop_counter(1, 0): one per INPUT element, even "
            "when the output is as large as the input (VGG16 at 224: 512*7*7 = 25,088).",
            "aten::batch_norm in eval mode (batchnorm_flop_jit): 1 per input element, 2 if affine "
            "(training mode would count 4 or 5: the preset describes eval mode).",
            "aten::layer_norm / group_norm / instance_norm (norm_flop_counter): 4 per element, 5 if affine "
            "('5 is just a rough estimate').",
            "aten::upsample_nearest2d 1 and upsample_bilinear2d 4 per output element "
            "(elementwise_flop_counter(0, 1) and (0, 4)); every other mode and rank 0.",
            "aten::einsum (einsum_flop_jit): exact MACs for 'abc,abd->acd' and 'abc,adc->adb' (letters "
            "renamed in order), otherwise numpy.einsum_path's 'Optimized FLOP count' as printed (4 "
            "significant digits) halved and floored: half the products without a summed label "
            "(FvcoreEinsumFlops).",
            "aten::_convolution with transposed=True counts N x input positions x weights: the MACs.",
            "max_pool2d, relu, add, softmax, the other activations, exp/log/pow, clamp, where, masked_fill, "
            "reductions and scans are ignored or unsupported operators: 0 (with a warning for the latter).",
        ),
    )
)
_preset(
    Convention(
        "thop",
        "thop.profile (Lyken17, 0.1.1): MACs without bias, BatchNorm and pooling per its module hooks",
        flops_per_mac=1,
        norm=2,
        norm_affine=2,
        avg_pool=Pooling(per_output=1),
        softmax=3,
        overrides=(
            *_each(("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"), "adaptive_pool_thop", 1),
            (("Softmax", "softmax_rows"), -1),
            # torchvision's LayerNorm2d subclasses nn.LayerNorm; thop looks hooks up by exact type
            (("LayerNorm2d", "norm"), 0),
            (("LayerNorm2d", "norm_affine"), 0),
            # functional products: no module, no hook
            (("MatMul", "mac"), 0),
            (("BatchMatMul", "mac"), 0),
            (("ScaledDotProductAttention", "mac"), 0),
            (("ScaledDotProductAttention", "softmax"), 0),
            (("Einsum", "mac"), 0),
            # count_convNd on a transposed conv: output elements x C_in/groups x kernel
            *_each(_TRANSPOSED, "mac", 0),
            *_each(_TRANSPOSED, "transposed_conv_by_output", 1),
            # nn.GroupNorm has no hook; count_prelu 1 per element (in eval mode, which profile sets)
            (("GroupNorm", "norm"), 0),
            (("GroupNorm", "norm_affine"), 0),
            (("RMSNorm", "norm"), 0),
            (("RMSNorm", "norm_affine"), 0),
            (("PReLU", "prelu"), 1),
            (("LogSoftmax", "logsoftmax"), 0),
            # calculate_upsample: nearest 1, linear 5, bilinear 11, bicubic 259 per output element
            (("Upsample", "upsample_nearest_out"), 1),
            (("Upsample", "upsample_linear_out"), 5),
            (("Upsample", "upsample_bilinear_out"), 11),
            (("Upsample", "upsample_bicubic_out"), 259),
        ),
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        quirks=(
            _UNCOUNTED_OPS,
            "thop/vision/basic_hooks.py count_convNd / calculate_conv2d_flops: output elements x "
            "(C_in/groups) x kernel area, no bias; count_linear: in_features x output elements, no bias.",
            "count_adap_avgpool: int((H_in/H_out * W_in/W_out + 1) x output elements) in float64, i.e. "
            "N*C*(H_in*W_in + H_out*W_out), one less when the float product rounds down (ThopAdaptiveOps); "
            "VGG16 at 224: 2 x 512*7*7 = 50,176.",
            "count_normalization (BatchNorm, LayerNorm, InstanceNorm): 2 per input element, doubled when "
            "affine: 4 per element for torchvision's BatchNorm2d.",
            "ReLU, ReLU6, MaxPool and Dropout are zero_ops; count_avgpool is 1 per output element; "
            "Hooks are looked up by exact type (register_hooks[type(m)]): a subclass such as torchvision's "
            "LayerNorm2d (of nn.LayerNorm) counts 0.",
            "count_softmax is (3 x features - 1) per row; modules it has no rule for (Sigmoid, SiLU, "
            "GELU, Hardswish, functional adds, torch.matmul and scaled_dot_product_attention) count 0 "
            "silently (Lyken17/pytorch-OpCounter#213).",
            "Module hooks only: a functional F.adaptive_avg_pool2d (torchvision's MobileNetV2, DenseNet) "
            "counts 0 where the module would count; the preset assumes modules.",
            "count_convNd on ConvTranspose1d/2d/3d: OUTPUT elements x C_in/groups x kernel (the weights x "
            "output positions), not the transposed conv's MACs over its input positions.",
            "count_upsample (nn.Upsample): nearest 1, linear 5, bilinear 11, bicubic 259 per output "
            "element; trilinear and nearest-exact 0 ('not implemented yet').  count_prelu: 1 per element; "
            "LeakyReLU (count_relu) 0; nn.GroupNorm, ELU, Hardtanh, Softplus, Mish, LogSoftmax have no hook; "
            "InstanceNorm and BatchNorm1d/3d go through count_normalization (2, 4 if affine).",
        ),
    )
)
_preset(
    Convention(
        "torchinfo",
        "torchinfo.summary 'Total mult-adds' (1.8.0): parameters x output positions",
        flops_per_mac=1,
        bias=1,
        overrides=(
            (("Linear", "mac"), 0),
            (("Linear", "bias"), 0),
            (("Linear", "param_rows"), 1),
            (("BatchNorm2d", "param_rows"), 1),
            (("LayerNorm", "param_rows"), 1),
            (("LayerNorm2d", "param_rows"), 1),
            # no parameters, so no mult-adds: torch.matmul / bmm / scaled_dot_product_attention
            (("MatMul", "mac"), 0),
            (("BatchMatMul", "mac"), 0),
            (("ScaledDotProductAttention", "mac"), 0),
            (("Einsum", "mac"), 0),
            # a class name containing 'Conv': (weights + bias) x N x OUTPUT positions
            *_each(_TRANSPOSED, "mac", 0),
            *_each(_TRANSPOSED, "transposed_conv_by_output", 1),
            *_each(("BatchNorm1d", "BatchNorm3d", "GroupNorm", "RMSNorm", "PReLU", "Embedding") + _INSTANCE_NORMS, "param_rows", 1),
        ),
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        quirks=(
            _UNCOUNTED_OPS,
            "torchinfo/layer_info.py calculate_macs: a layer whose class name contains 'Conv' adds "
            "(weight + bias parameters) x N*H_out*W_out, i.e. MACs + one bias per output element.",
            "Any other layer with 'weight'/'bias' parameters adds output_size[0] x parameters: for a "
            "Linear on (N, F) that is MACs + bias, but only the batch dimension counts (a Linear on "
            "(N, S, D) misses the factor S); BatchNorm2d adds N x 2C (gamma and beta), not per element.",
            "Layers without parameters (ReLU, pooling, add, softmax, torch.matmul, attention) count 0, and "
            "so does any functional call (TylerYep/torchinfo#126).",
            "ConvTranspose1d/2d/3d, being 'Conv' layers, count weights x N x OUTPUT positions plus the "
            "bias, not the transposed conv's MACs (which run over its input positions).  GroupNorm, "
            "affine InstanceNorm, BatchNorm1d/3d, RMSNorm, PReLU and Embedding count N x their parameters.",
            "A parameter used by a custom module counts N x its size when named 'weight' or 'bias' and 0 "
            "otherwise; an imported `Parameter` has lost that name, and the preset counts it 0.",
        ),
    )
)
_preset(
    Convention(
        "ptflops",
        "ptflops get_model_complexity_info, default pytorch backend (0.7.5), batch 1",
        flops_per_mac=1,
        bias=1,
        norm=1,
        norm_affine=1,
        relu=2,
        activation=0,
        max_pool=Pooling(per_input=2),
        avg_pool=Pooling(per_input=2),
        adaptive_avg_pool=Pooling(per_input=2),
        softmax=1,
        overrides=(
            (("ReLU6", "relu6"), 1),
            (("GELU", "gelu"), 2),
            (("SiLU", "silu"), 1),
            (("LayerNorm", "norm_affine"), 0),
            # torchvision's LayerNorm2d subclasses nn.LayerNorm; ptflops dispatches on exact type
            (("LayerNorm2d", "norm"), 0),
            (("LayerNorm2d", "norm_affine"), 0),
            # torch.einsum is neither a module nor a patched function
            (("Einsum", "mac"), 0),
            # relu_flops_counter_hook (module) + the patched F.elu / F.prelu: 2; F.leaky_relu and
            # F.hardtanh are not patched, and nn.Hardtanh has no hook
            (("ELU", "elu"), 2),
            (("LeakyReLU", "leakyrelu"), 1),
            (("Hardtanh", "hardtanh"), 0),
            (("LogSoftmax", "logsoftmax"), 0),
            # nn.RMSNorm has no hook
            (("RMSNorm", "norm"), 0),
            (("RMSNorm", "norm_affine"), 0),
            # upsample_flops_counter_hook (output elements) + the patched F.interpolate
            (("Upsample", "upsample_out"), 1),
            (("Upsample", "upsample_scaled_in"), 1),
        ),
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        quirks=(
            _UNCOUNTED_OPS,
            "ptflops/pytorch_ops.py conv_flops_counter_hook and linear_flops_counter_hook: MACs plus one "
            "bias add per output element.",
            "Module hooks count ReLU (relu_flops_counter_hook) 1 per element and every pool "
            "(pool_flops_counter_hook) 1 per INPUT element; BatchNorm (bn_flops_counter_hook) 1 per "
            "element, 2 if affine.",
            "The backend also patches torch.nn.functional (pytorch_engine.patch_functional): nn.ReLU, "
            "nn.MaxPool2d, nn.AvgPool2d and nn.AdaptiveAvgPool2d call F.relu / F.max_pool2d / ... "
            "inside forward, so each is counted a second time - 2 per element.  nn.ReLU6 calls "
            "F.hardtanh, which is not patched: 1.  nn.SiLU has no module hook but F.silu is patched: 1.  "
            "A functional call alone (torchvision's MobileNetV2 pools with F.adaptive_avg_pool2d) counts "
            "once, where the module counts twice; the preset assumes modules.",
            "nn.LayerNorm goes through bn_flops_counter_hook, which tests `module.affine` (LayerNorm has "
            "`elementwise_affine`): 1 per element.  Hooks are looked up by exact type "
            "(is_supported_instance), so torchvision's LayerNorm2d, a subclass, counts 0.  In-place `+=` "
            "(ResNet's residual) is not counted.",
            "Run it on a CPU model: on the meta device torch decomposes addmm into torch.mm and adds, "
            "which the backend's tensor-op patches count again (a different figure).",
            "ConvTranspose1d/2d/3d (transpose=True): MACs over the input positions plus one bias add per "
            "output element.  nn.ELU and nn.PReLU: hook + patched F.elu / F.prelu, 2 per element; "
            "nn.LeakyReLU: hook only, 1; nn.Hardtanh, Softplus, Mish, LogSoftmax, torch.einsum, exp/log/"
            "pow, clamp, where, masked_fill, reductions and scans: 0.  GroupNorm and InstanceNorm go "
            "through bn_flops_counter_hook (1, 2 if affine).",
            "nn.Upsample: upsample_flops_counter_hook (1 per output element) + the patched F.interpolate, "
            "which counts the size given x N x C, or the input elements x scale**dims in floating point "
            "(the preset floors it per layer; ptflops truncates its float total once).",
        ),
    )
)
_preset(
    Convention(
        "ptflops-aten",
        "ptflops get_model_complexity_info(backend='aten') (0.7.5): MACs plus bias adds",
        flops_per_mac=1,
        bias=1,
        checked_on=_CNN_KINDS | ATEN_CHECKED_KINDS,
        refused=(_FUSED_MHA, _CPU_SDPA),
        quirks=(
            _UNCOUNTED_OPS,
            "ptflops/aten_ops.py ATEN_OPS_MAPPING has only mm, matmul, addmm, bmm and convolution: "
            "conv_flop_count adds one per output element when there is a bias, addmm_flop adds "
            "batch x output features; every other op (batch_norm, relu, pooling, add) is a zero-op.",
        ),
    )
)


def get_convention(convention) -> Convention:
    """A `Convention` from itself or a preset name.

    Raises
    ------
    ConventionError
        For an unknown preset name (the message lists the presets).

    >>> get_convention("fvcore").flops_per_mac
    1
    """
    if isinstance(convention, Convention):
        return convention
    try:
        return PRESETS[convention]
    except (KeyError, TypeError):
        raise ConventionError(
            f"unknown convention {convention!r}; presets: {', '.join(PRESETS)}", value=convention
        ) from None


# -- applying a convention to a network ---------------------------------------------


def _layer_terms(name: str, node: Mapping, in_shapes: tuple, convention: Convention) -> dict:
    """``{term: count}`` of one layer: MACs and costgraph FLOPs always, declared terms when needed."""
    layer = node["layer"]
    cost = node["cost"]
    terms = {"mac": cost.macs, "other": cost.flops - 2 * cost.macs}
    if not convention.needs_terms:
        return terms
    declare = getattr(layer, "flop_terms", None)
    if declare is None:
        raise ConventionError(
            f"layer {name!r} ({layer.kind}) does not declare its cost terms (flop_terms), so the "
            f"{convention.name!r} convention cannot count it; only conventions that weigh MACs alone "
            f"(e.g. 'macs', 'flopcountermode', 'costgraph') can",
            layer=name,
        )
    declared = declare(node["shape"], *in_shapes)
    for term, count in declared.items():
        if term not in TERMS:
            raise ConventionError(
                f"layer {name!r} ({layer.kind}) declares an unknown cost term {term!r}", layer=name, value=term
            )
        terms[term] = as_formula(count, owner=f"layer {name!r} ({layer.kind}) flop_terms", what=f"term {term!r}")
    return terms


def _weighted_terms(net, convention):
    """Every (layer, kind, term, weight, count) with a nonzero count, and the kinds outside `checked_on`."""
    rows, unchecked = [], set()
    for name in net:
        node = net.graph.nodes[name]
        layer = node["layer"]
        for kind, reason in convention.refused:
            if layer.kind == kind:
                raise ConventionError(
                    f"layer {name!r} ({kind}): the {convention.name!r} convention cannot reproduce its tool "
                    f"here: {reason}",
                    layer=name,
                )
        if convention.checked_on is not None and layer.kind not in convention.checked_on:
            unchecked.add(layer.kind)
        in_shapes = tuple(net.graph.nodes[s]["shape"] for s in node["inputs"])
        for term, count in _layer_terms(name, node, in_shapes, convention).items():
            if count != 0:
                rows.append((name, layer.kind, term, convention.weight(layer.kind, term), count))
    return rows, unchecked


def _warn_unchecked(convention, unchecked):
    if unchecked:
        warnings.warn(
            f"convention {convention.name!r} has not been checked against the real tool on "
            f"{', '.join(sorted(unchecked))} (checked on: {', '.join(sorted(convention.checked_on))}); "
            f"its weights there come from reading the tool's source",
            UncheckedConventionWarning,
            stacklevel=4,
        )


def layer_contributions(net, convention) -> list[tuple[str, str, str, int, sympy.Expr]]:
    """Every nonzero weighted term of `net` under `convention`, symbolic.

    Returns ``(layer, kind, term, weight, count)`` tuples in topological
    order; the convention's figure is ``sum(weight * count)``.

    Raises
    ------
    ConventionError
        If a layer declares no terms (or an unknown one) and the convention needs them.

    Warns
    -----
    UncheckedConventionWarning
        Once per call, naming the kinds outside the preset's `checked_on`.

    >>> from costgraph.models import vgg16
    >>> rows = layer_contributions(vgg16(adaptive_pool=True), "fvcore")
    >>> [(layer, term, weight) for layer, _, term, weight, _ in rows if term != "mac"]
    [('avgpool', 'adaptive_pool_in', 1)]
    """
    convention = get_convention(convention)
    rows, unchecked = _weighted_terms(net, convention)
    _warn_unchecked(convention, unchecked)
    return [row for row in rows if row[3]]


def network_flops(net, convention, **sizes):
    """`net`'s figure under `convention`: a sympy expression, or an exact int at `sizes`.

    This is `costgraph.Network.flops`.

    Raises
    ------
    ConventionError
        As `layer_contributions` raises.
    UnknownSizeError, SizeError, DomainError
        As `Network.totals` raises for `sizes`.

    >>> from costgraph.models import vgg16
    >>> network_flops(vgg16(adaptive_pool=True), "fvcore") - vgg16(adaptive_pool=True).totals().macs
    512*N*floor(H/32)*floor(W/32)
    """
    convention = get_convention(convention)
    key = ("convention", convention)
    cache = net._cache
    if key not in cache:
        rows = layer_contributions(net, convention)
        cache[key] = sympy.expand(sympy.Add(*[w * c for _, _, _, w, c in rows]))
    total = cache[key]
    if not sizes:
        return total
    return evaluate(net, total, sizes)


def evaluate(net, expr, sizes) -> int:
    """`expr` at `sizes` (checked by `Network.check_sizes`), as an exact int."""
    values = net.check_sizes(**sizes)
    for symbol, size in values.items():
        if not isinstance(size, numbers.Integral):
            raise CostGraphError(
                f"{net.name}: a convention's figure is evaluated at one size at a time; {symbol.name}={size!r}",
                value=size,
            )
    value = sympy.sympify(expr, strict=True).xreplace({s: sympy.Integer(int(v)) for s, v in values.items()})
    if not value.is_Integer:
        raise CostGraphError(f"{net.name}: the figure did not evaluate to an integer at {sizes}: {value}")
    return int(value)


# -- reconcile: one row per preset, and the terms that separate it from MACs ----------


@dataclass(frozen=True)
class ReconcileRow:
    """One preset in a reconcile table.

    `figure` is the preset's number (an int at sizes, else symbolic); `extra`
    is ``figure - macs``; `terms` lists ``(term, weight, formula, value)``
    for every term the preset weighs differently from plain MACs, where
    `weight` is the difference (``-1`` for MACs a tool leaves out, e.g.
    torchinfo's Linear, which it counts as ``param_rows`` instead),
    `formula` the term's count over the whole network (symbolic) and
    `value` that count at the sizes (None without sizes).  So
    ``extra == sum(weight * value)``.  `checked` is True when the preset was
    checked against its tool on this network's family (`CHECKED_MODELS`, by
    the network's name) and on every kind in it; else the figure is what the
    tool's source says it counts, not a figure compared with the tool.
    """

    convention: str
    description: str
    figure: object
    extra: object
    terms: tuple
    checked: bool

    def formula(self) -> str:
        """The terms as one line: ``+1 x adaptive_pool_in [512*N*floor(H/32)*floor(W/32)]``."""
        if not self.terms:
            return "0 (plain MACs)"
        return " ".join(f"{weight:+d} x {term} [{formula}]" for term, weight, formula, _ in self.terms)


def reconcile(net, conventions=None, **sizes) -> list[ReconcileRow]:
    """Each preset's figure for `net` and the terms that separate it from plain MACs.

    Presets that cannot count the network (a layer without declared terms)
    are left out; presets not checked on this network (its family is not in
    `CHECKED_MODELS`, or a kind is outside the preset's `checked_on`) are
    marked ``checked=False`` instead of warning.

    Raises
    ------
    UnknownSizeError, SizeError, DomainError
        As `Network.totals` raises for `sizes`.

    Examples
    --------
    The figures the tools print for torchvision's VGG16 at 224x224:

    >>> from costgraph.models import vgg16
    >>> rows = {r.convention: r for r in reconcile(vgg16(adaptive_pool=True), H=224)}
    >>> rows["fvcore"].figure, rows["fvcore"].extra          # 512 * 7 * 7 pooled inputs
    (15470289408, 25088)
    >>> rows["fvcore"].formula()
    '+1 x adaptive_pool_in [512*N*floor(H/32)*floor(W/32)]'
    >>> [(term, weight, value) for term, weight, _, value in rows["torchinfo"].terms]
    [('bias', 1, 13547520), ('mac', -1, 123633664), ('param_rows', 1, 123642856)]
    """
    names = list(PRESETS) if conventions is None else list(conventions)
    values = net.check_sizes(**sizes) if sizes else None
    substitution = {s: sympy.Integer(v) for s, v in values.items()} if values else {}
    result = []
    for name in names:
        convention = get_convention(name)
        try:
            rows, unchecked = _weighted_terms(net, convention)
        except ConventionError:
            continue
        grouped: dict = {}
        for _, _, term, weight, count in rows:
            delta = weight - (1 if term == "mac" else 0)
            if delta:
                grouped.setdefault((term, delta), []).append(count)
        terms = []
        for (term, delta), counts in grouped.items():
            formula = sympy.expand(sympy.Add(*counts))
            value = int(formula.xreplace(substitution)) if values else None
            terms.append((term, delta, formula, value))
        figure = sympy.expand(sympy.Add(*[w * c for _, _, _, w, c in rows]))
        extra = sympy.expand(sympy.Add(*[d * f for _, d, f, _ in terms]))
        if values:
            figure = int(figure.xreplace(substitution))
            extra = sum(d * v for _, d, _, v in terms)
        checked = not unchecked and (convention.checked_on is None or net.name in CHECKED_MODELS)
        result.append(ReconcileRow(convention.name, convention.description, figure, extra, tuple(terms), checked))
    return result


# -- rendering: the reconcile table, for the command line and the generated docs -------------


def _thousands(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


#: formulas longer than this are summarized in tables (the full one: `layer_contributions`)
MAX_FORMULA_CHARS = 240


def _term_text(term: str, weight: int, formula, value, macs) -> str:
    if term == "mac" and formula == macs:
        what = "the network's MACs"
    elif len(str(formula)) > MAX_FORMULA_CHARS:
        what = f"a sum of {len(sympy.Add.make_args(formula))} terms"
    else:
        what = f"`{formula}`"
    shown = f"{weight:+d} x {term} = {what}"
    return shown if value is None else f"{shown} ({_thousands(value)})"


def reconcile_markdown(net, title: str | None = None, **sizes) -> str:
    """The reconcile table as Markdown: one row per preset, its figure and the terms beyond MACs.

    For ``costgraph reconcile`` and the generated docs (one section per
    model page).  Sizes as for `Network.totals`; without sizes, figures and
    terms are formulas.

    Raises
    ------
    UnknownSizeError, SizeError, DomainError
        As `Network.totals` raises for `sizes`.

    >>> from costgraph.models import alexnet
    >>> text = reconcile_markdown(alexnet(), H=224)
    >>> print(text.splitlines()[4])    # the header
    | convention | figure | minus MACs | terms beyond plain MACs (formula, value) |
    """
    rows = reconcile(net, **sizes)
    macs = net.totals().macs
    at = ", ".join(f"{k}={v}" for k, v in net.check_sizes(**sizes).items()) if sizes else "any size"
    lines = [
        f"**{title or net.name}** at {at}: what each tool reports, and the terms that separate it from plain MACs.",
        "",
        "A term is a count of elements of one kind of work over the whole network; its weight is how many "
        "more (or fewer) times the convention counts it than plain MACs do.",
        "",
        "| convention | figure | minus MACs | terms beyond plain MACs (formula, value) |",
        "|:--|--:|--:|:--|",
    ]
    for row in rows:
        terms = "; ".join(_term_text(t, w, f, v, macs) for t, w, f, v in row.terms) or "none: plain MACs"
        name = f"`{row.convention}`" + ("" if row.checked else " (unchecked)")
        extra = row.extra if not isinstance(row.extra, int) else f"{row.extra:+,}"
        lines.append(f"| {name} | {_thousands(row.figure)} | {extra} | {terms} |".replace("\n", " "))
    if not all(r.checked for r in rows):
        lines += [
            "",
            "(unchecked): the preset has not been run against its tool on this network's family "
            f"(checked: {', '.join(sorted(CHECKED_MODELS))}); its figure is what the tool's source says it "
            "counts. Tools that hook modules (thop, torchinfo, ptflops) also count a layer differently when "
            "the PyTorch code calls it as a function (F.relu, F.adaptive_avg_pool2d) instead of a module.",
        ]
    missing = [p for p in PRESETS if p not in {r.convention for r in rows}]
    if missing:
        lines += ["", f"Not shown: {', '.join(missing)}: a layer of this network declares no cost terms, or is a "
                  "kind the tool's figure cannot be derived for (`net.flops(preset)` says which and why)."]
    return "\n".join(lines) + "\n"


def presets_markdown() -> str:
    """Every preset: its switches and the tool's quirks it reproduces, with references (for the docs).

    >>> print(presets_markdown().splitlines()[0])
    ### `macs`
    """
    from .kinds import KINDS

    own = {name for name, cls in KINDS.items() if cls.__module__.startswith("costgraph.")}
    lines = []
    for convention in PRESETS.values():
        switches = ", ".join(f"{k}={v}" for k, v in convention.switches().items())
        if convention.checked_on is None:
            checked = "a definition: holds for every kind"
        else:
            unchecked = sorted(own - convention.checked_on)
            checked = (
                f"checked against the tool on {len(own & convention.checked_on)} kinds "
                "(tests/test_torch_tools.py, tests/test_conventions_aten_kinds.py)"
            )
            if unchecked:
                checked += f"; not run against it on {', '.join(unchecked)} (weights read from the tool's source)"
        lines += [f"### `{convention.name}`", "", convention.description + ".", "", f"Switches: {switches}."]
        if convention.overrides:
            quirks = ", ".join(f"{k}.{t} x {w}" for (k, t), w in convention.overrides)
            lines.append(f"Quirks beyond the switches: {quirks}.")
        lines.append(f"Scope: {checked}.")
        for kind, reason in convention.refused:
            lines.append(f"Refuses {kind}: {reason}.")
        lines.append("")
        lines += [f"- {q}" for q in convention.quirks]
        lines.append("")
    return "\n".join(lines)


def reconcile_json(net, **sizes) -> dict:
    """The reconcile table as JSON-ready data: exact ints at sizes, formulas as strings.

    >>> from costgraph.models import alexnet
    >>> doc = reconcile_json(alexnet(), H=224)
    >>> doc["rows"][0]["convention"], doc["rows"][0]["extra"]
    ('macs', 0)
    """

    def plain(value):
        return value if isinstance(value, int) else str(value)

    rows = reconcile(net, **sizes)
    return {
        "network": net.name,
        "sizes": {k.name: v for k, v in net.check_sizes(**sizes).items()} if sizes else {},
        "rows": [
            {
                "convention": r.convention,
                "description": r.description,
                "figure": plain(r.figure),
                "extra": plain(r.extra),
                "checked": r.checked,
                "terms": [
                    {"term": t, "weight": w, "formula": str(f), "value": v} for t, w, f, v in r.terms
                ],
            }
            for r in rows
        ],
    }
