"""Layer kinds: each one small class, all registered in `KINDS`.

Import a kind from here (``from costgraph.kinds import Conv2d``); register
your own with `register_kind`.

Kinds added for n-d models and ATen-level import (branch kinds-nd), with
their constructors (torch's argument order; sizes are ints unless said):

* conv.py: ``Conv1d``/``Conv2d``/``Conv3d(in_channels, out_channels, kernel_size=3,
  stride=1, padding=0 | "same" | "valid", dilation=1, groups=1, bias=True)``;
  ``ConvTranspose1d/2d/3d(in_channels, out_channels, kernel_size=3, stride=1,
  padding=0, output_padding=0, groups=1, bias=True, dilation=1)``.
* pool.py: ``MaxPool1d/2d/3d(kernel_size, stride=None, padding=0, dilation=1,
  ceil_mode=False)``; ``AvgPool1d/2d/3d(kernel_size, stride=None, padding=0,
  ceil_mode=False, count_include_pad=True)``; ``AdaptiveAvgPool1d/2d/3d(output_size)``,
  ``AdaptiveMaxPool1d/2d/3d(output_size)`` (an int, or one int or None per axis).
* resample.py: ``Upsample(size=None, scale_factor=None, mode="nearest", align_corners=None)``,
  modes nearest, nearest-exact, linear, bilinear, bicubic, trilinear; `size` an int/size
  name/formula or one per axis; `scale_factor` a number or one per axis (short binary
  fractions only: 2.0, 0.5, 1.5, ...).
* norm.py: ``BatchNorm1d/3d(num_features, eps=1e-5, momentum=0.1, affine=True)`` (as
  BatchNorm2d; 1d takes (N, C) or (N, C, L)); ``GroupNorm(num_groups, num_channels,
  eps=1e-5, affine=True, bias=True)``; ``InstanceNorm1d/2d/3d(num_features, eps=1e-5,
  momentum=0.1, affine=False, track_running_stats=False, bias=True)``.  LayerNorm already
  takes any trailing dims (ints): ``LayerNorm((7, 7, 96))``.
* matmul.py: ``Einsum(equation)``, one or two operands (``"bhqd,bhkd->bhqk"``, ``"...ij,jk"``);
  MatMul already broadcasts batch dims.
* activation.py: ``LeakyReLU(negative_slope=0.01, inplace=False)``, ``ELU(alpha=1.0,
  inplace=False)``, ``Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)``,
  ``Softplus(beta=1.0, threshold=20.0)``, ``Mish(inplace=False)``, ``LogSoftmax(dim=-1)``,
  ``PReLU(num_parameters=1, init=0.25)`` (has parameters).  GELU's tanh form is
  ``GELU(approximate="tanh")``.
* unary.py: ``Unary(op, inplace=False)`` with op in exp, log, sqrt, rsqrt, reciprocal, neg,
  abs, sin, cos, erf; ``PowScalar(exponent=2, inplace=False)``; ``Clamp(min=None, max=None,
  inplace=False)``.
* indexing.py: ``Pad(pad, mode="constant", value=0.0)`` (torch's pad tuple; constant,
  reflect, replicate, circular; any rank); ``Roll(shifts, dims=None)``;
  ``StridedSlice(dim, start=0, stop=None, step=1)`` (a view; bounds may be size formulas,
  negative ints count from the end, stop >= 2**62 means the end); ``IndexSelect(dim)``
  (inputs x, 1-d index); ``IndexTensor(dim)`` (inputs x, integer index of any shape:
  ``aten.index.Tensor`` with one index); ``Gather(dim)`` (inputs x, index);
  ``MaskedFill(value=0.0, inplace=False)`` (inputs x, bool mask); ``Where()`` (inputs
  condition, a[, b]).
* reduction.py: ``Amax(dims=None, keepdim=False)``, ``Amin(...)``, ``Prod(dims=None,
  keepdim=False)``, ``LogSumExp(dims=None, keepdim=False)``, ``Var(dims=None, correction=1,
  keepdim=False)``, ``Std(...)``, ``VectorNorm(ord=2, dims=None, keepdim=False)`` (dims: an
  int, ints, or None for all, the batch allowed); ``MaxDim(dims, keepdim=False)``,
  ``MinDim(...)`` (one dim; the values output; keeps int64 indices); ``ArgMax(dims=None,
  keepdim=False)``, ``ArgMin(...)`` (one dim or None; int64 output); ``Cumsum(dim)``,
  ``Cumprod(dim)``.
* indexing.py: ``Triangular(diagonal=0, upper=False)`` (tril/triu).  reshape.py: ``Stack(dim=0)`` (any number of inputs), ``Repeat(repeats)``.
* unary.py also: log1p, log2, expm1, exp2, tan, atan, sign, floor, ceil, round, trunc.

Kinds added for the ATen ops real models use beyond those (branch ops):

* activation.py: ``GLU(dim=-1)``, ``LogSigmoid()``, ``SELU(inplace=False)``, ``CELU(alpha=1.0, inplace=False)``.
* arithmetic.py: ``Binary(op)`` (pow of two tensors or a number to a tensor, floor_divide,
  remainder, fmod, atan2); ``Ternary(op, value=1.0)`` (addcmul, addcdiv, lerp).
* creation.py: ``Fill(value=0.0, inplace=True)`` (``fill_``, ``zero_``); ``ExtraOutput(shape, what)``
  (the second output of ``topk``, ``sort``, ``var_mean``, ``max.dim``).
* sorting.py: ``TopK(k, dim=-1, largest=True)``,
  ``Sort(dim=-1, descending=False)``, ``Histogram(bins)``.
* reduction.py: ``LogicalReduction(op, dims=None, keepdim=False)`` (all, any).
* scatter.py: ``Scatter(dim, accumulate=False, inplace=False)``, ``IndexAdd(dim, alpha=1.0,
  inplace=False)``, ``IndexPut(accumulate=False, inplace=False)``.
* loss.py: ``NLLLoss(reduction="mean")``, ``MSELoss(reduction="mean")``.
* moe.py: ``GroupedMatMul()`` (Hugging Face's ``grouped_mm`` experts: x, stacked weight, offsets).
* conv.py: ``Unfold(kernel_size, dilation=1, padding=0, stride=1)`` (``F.unfold``, ``aten.im2col``).
* indexing.py: ``SlidingWindows(dim, size, step=1)`` (``Tensor.unfold``, a view).

MACs (what the "macs" and "flopcountermode" presets count) come only from Conv*,
ConvTranspose*, Einsum with a contracted label, and the existing Linear/MatMul/
BatchMatMul/attention kinds.  Every kind declares its convention terms
(``flop_terms``, see `costgraph.conventions.TERMS`), and each tool preset weighs
them as its tool counts the op, checked against the real tool op by op at two
sizes (tests/test_conventions_aten_kinds.py): Upsample (its output elements
under the mode's name: fvcore 1 for 2-d nearest, 4 for bilinear; thop 1, 5, 11,
259 for nearest, linear, bilinear, bicubic; ptflops its module hook plus its
F.interpolate patch), the activations (``leakyrelu``, ``elu``, ``hardtanh``,
``softplus``, ``mish``, ``logsoftmax``, ``prelu``: ptflops counts ELU and PReLU
twice, LeakyReLU once, thop PReLU once, the rest 0), GroupNorm/InstanceNorm
(fvcore 4 per element, 5 affine; thop no GroupNorm hook; torchinfo batch x
parameters), ConvTranspose (thop and torchinfo count weights x output positions,
``transposed_conv_by_output``), Einsum (fvcore's numpy-rounded count,
``einsum_fvcore``; 0 for the hook-based tools).  Unary/PowScalar (``unary``),
Clamp (``clamp``), MaskedFill/Where/Triangular (``select``), the reductions
(``reduce_in``) and scans (``scan_in``) declare their elements, which every tool
counts 0; views (Expand, Select, ...) and copies (Contiguous) declare nothing.
The only kinds the tool presets still refuse are the fused attention forms
(MultiheadAttention, ScaledDotProductAttention), with the reason.
"""

from .base import (
    KINDS,
    Constraint,
    LayerKind,
    ParameterFree,
    Shape,
    View,
    format_shape,
    kind_named,
    numel,
    register_kind,
)
from .activation import (
    ELU,
    GELU,
    Dropout,
    Elementwise,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    Softplus,
    Hardsigmoid,
    Hardswish,
    Identity,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    StochasticDepth,
    Tanh,
)
from .arithmetic import Add, Div, LayerScale, Mul, ScalarOp, Scale, Sub, broadcast_shapes
from .inputs import Input, Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .matmul import BatchMatMul, Einsum, MatMul
from .norm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LayerNorm2d,
    RMSNorm,
)
from .pool import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from .reduction import Amax, Amin, ArgMax, ArgMin, Cumprod, Cumsum, LogSumExp, MaxDim, Mean, MinDim, Prod, Std, Sum, Var, VectorNorm
from .resample import Upsample
from .unary import Clamp, PowScalar, Unary
from .indexing import Gather, IndexSelect, IndexTensor, MaskedFill, Pad, Roll, StridedSlice, Triangular, Where
from .reshape import (
    ChannelShuffle,
    Concat,
    Contiguous,
    Expand,
    Flatten,
    Permute,
    Repeat,
    Reshape,
    Select,
    Slice,
    Stack,
    Transpose,
)
from .embedding import ClassToken, Embedding, PositionalEmbedding
from .attention import CausalMask, MultiheadAttention, RotaryEmbedding, ScaledDotProductAttention
from .mlp import GatedMLP
from .window import SlidingWindowMask, SlidingWindowMatMul
from .moe import MixtureOfExperts
from .reshape import ViewAs
from .indexing import AdvancedIndex
from .creation import Constant
from .comparison import Compare
from .relative_position import RelativePositionBias
from .activation import CELU, GLU, SELU, LogSigmoid
from .arithmetic import Binary, Ternary
from .creation import ExtraOutput, Fill
from .loss import MSELoss, NLLLoss
from .moe import GroupedMatMul
from .reduction import LogicalReduction
from .scatter import IndexAdd, IndexPut, Scatter
from .sorting import Histogram, Sort, TopK
from .conv import Unfold
from .indexing import SlidingWindows

__all__ = [
    "KINDS",
    "Constraint",
    "LayerKind",
    "ParameterFree",
    "View",
    "Shape",
    "format_shape",
    "kind_named",
    "numel",
    "register_kind",
    "Input",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Linear",
    "ReLU",
    "Softmax",
    "Dropout",
    "Flatten",
    "BatchNorm2d",
    "Elementwise",
    "ReLU6",
    "Sigmoid",
    "Hardsigmoid",
    "Hardswish",
    "SiLU",
    "GELU",
    "Tanh",
    "Identity",
    "StochasticDepth",
    "Add",
    "Mul",
    "Concat",
    "broadcast_shapes",
    "LayerNorm",
    "LayerNorm2d",
    "Permute",
    "Transpose",
    "Reshape",
    "Slice",
    "ChannelShuffle",
    "Mean",
    "LayerScale",
    "Embedding",
    "PositionalEmbedding",
    "ClassToken",
    "Parameter",
    "ScalarOp",
    "Sub",
    "Div",
    "Sum",
    "Contiguous",
    "Expand",
    "Select",
    "MatMul",
    "BatchMatMul",
    "Scale",
    "CausalMask",
    "ScaledDotProductAttention",
    "MultiheadAttention",
    "RotaryEmbedding",
    "RMSNorm",
    "GatedMLP",
    "ViewAs",
    "AdvancedIndex",
    "Constant",
    "Compare",
    "SlidingWindowMask",
    "SlidingWindowMatMul",
    "MixtureOfExperts",
    "RelativePositionBias",
    # kinds-nd
    "Conv1d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "MaxPool1d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "Upsample",
    "BatchNorm1d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "Einsum",
    "LeakyReLU",
    "ELU",
    "Hardtanh",
    "Softplus",
    "Mish",
    "LogSoftmax",
    "PReLU",
    "Unary",
    "PowScalar",
    "Clamp",
    "Pad",
    "Roll",
    "StridedSlice",
    "IndexSelect",
    "IndexTensor",
    "Gather",
    "MaskedFill",
    "Where",
    "Amax",
    "Amin",
    "MaxDim",
    "ArgMax",
    "ArgMin",
    "MinDim",
    "Prod",
    "Var",
    "Std",
    "LogSumExp",
    "VectorNorm",
    "Cumsum",
    "Cumprod",
    "Triangular",
    "Stack",
    "Repeat",
    # ops (ATen converters for any model)
    "GLU",
    "LogSigmoid",
    "SELU",
    "CELU",
    "Binary",
    "Ternary",
    "Fill",
    "ExtraOutput",
    "NLLLoss",
    "MSELoss",
    "GroupedMatMul",
    "LogicalReduction",
    "Scatter",
    "IndexAdd",
    "IndexPut",
    "TopK",
    "Sort",
    "Histogram",
    "Unfold",
    "SlidingWindows",
]
