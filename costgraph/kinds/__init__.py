"""Layer kinds: each one small class, all registered in `KINDS`.

Import a kind from here (``from costgraph.kinds import Conv2d``); register
your own with `register_kind`.
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
from .conv import Conv2d
from .linear import Linear
from .matmul import BatchMatMul, MatMul
from .norm import BatchNorm2d, LayerNorm, LayerNorm2d, RMSNorm
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .reduction import Mean, Sum
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
]
