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
  takes any trailing dims: ``LayerNorm((S, D))``.
* matmul.py: ``Einsum(equation)``, one or two operands (``"bhqd,bhkd->bhqk"``, ``"...ij,jk"``);
  MatMul already broadcasts batch dims.
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
    GELU,
    Dropout,
    Elementwise,
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
from .reduction import Mean, Sum
from .resample import Upsample
from .reshape import ChannelShuffle, Concat, Contiguous, Expand, Flatten, Permute, Reshape, Select, Slice, Transpose
from .embedding import ClassToken, Embedding, PositionalEmbedding
from .attention import CausalMask, MultiheadAttention, RotaryEmbedding, ScaledDotProductAttention
from .mlp import GatedMLP
from .window import SlidingWindowMask, SlidingWindowMatMul
from .moe import MixtureOfExperts
from .relative_position import RelativePositionBias

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
]
