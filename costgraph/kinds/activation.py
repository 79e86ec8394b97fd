"""Elementwise activations, softmax and dropout."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import CostGraphError, ShapeError
from .base import LayerKind, ParameterFree, Saved, numel, positive_int, register_kind

__all__ = ["ReLU", "ReLU6", "Sigmoid", "Hardsigmoid", "Hardswish", "SiLU", "GELU", "Tanh", "Identity", "Softmax", "Dropout", "StochasticDepth", "Elementwise", "LeakyReLU", "ELU", "Hardtanh", "Softplus", "Mish", "LogSoftmax", "PReLU", "GLU", "LogSigmoid", "SELU", "CELU"]


class Elementwise(ParameterFree):
    """Base of one-input elementwise kinds: same shape out, no parameters, no MACs.

    Subclasses set `flops_per_element` (the convention's cost of one output
    element) and may be in place.  For training they set `saves`, the tensor
    their derivative formula (PyTorch's ``derivatives.yaml``) takes:
    ``"output"`` (relu, sigmoid, tanh, softmax: the result), ``"input"``
    (gelu, silu, hardswish, ...), or ``"nothing"``.  An in-place op whose
    formula takes its input has to keep a copy of the input it overwrites
    (autograd's ``original_self``): a new tensor, as large as the input.
    """

    flops_per_element = 1
    #: which tensor the derivative needs: "output", "input" or "nothing"; None: undeclared
    saves = None

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The tensor named by `saves`; for an in-place op that saves its input, a copy of it.

        Raises
        ------
        CostGraphError
            If the kind does not declare `saves`.
        """
        if self.saves is None:
            return super().saved_tensors(out, x, needs_input_grad=needs_input_grad)
        if self.saves == "nothing":
            return ()
        if self.saves == "output":
            return (Saved.output(),)
        if getattr(self, "inplace", False):
            return (Saved.extra(numel(x), "activation"),)
        return (Saved.input(0),)

    def output_shape(self, x):
        return tuple(x)

    @property
    def materializes(self):
        return not getattr(self, "inplace", False)

    def other_flops(self, out, x):
        return numel(out) * self.flops_per_element

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: the elements, under the kind's own name
        (``{"relu": ...}``); nothing for the identities (dropout at inference, Identity)."""
        return {self.kind.lower(): numel(out)} if self.flops_per_element else {}


@register_kind
@dataclass(frozen=True)
class ReLU(Elementwise):
    """``max(x, 0)``: one FLOP per element; ``inplace=True`` makes no new tensor.

    >>> ReLU(inplace=True).materializes
    False
    >>> ReLU(inplace=True).saved_tensors(None, None)     # its output: the input's storage
    (Saved(source='output', index=0, numel=None, element='activation'),)
    """

    inplace: bool = False
    saves = "output"


@register_kind
@dataclass(frozen=True)
class ReLU6(Elementwise):
    """``min(max(x, 0), 6)``: two FLOPs per element (two comparisons)."""

    inplace: bool = False
    flops_per_element = 2
    saves = "input"  # hardtanh_backward(grad, self, 0, 6)


@register_kind
@dataclass(frozen=True)
class Sigmoid(Elementwise):
    """``1 / (1 + exp(-x))``: 4 FLOPs per element (negate, exp, add, divide)."""

    inplace: bool = False
    flops_per_element = 4
    saves = "output"


@register_kind
@dataclass(frozen=True)
class Hardsigmoid(Elementwise):
    """``relu6(x + 3) / 6``: 4 FLOPs per element (add, two comparisons, divide)."""

    inplace: bool = False
    flops_per_element = 4
    saves = "input"


@register_kind
@dataclass(frozen=True)
class Hardswish(Elementwise):
    """``x * relu6(x + 3) / 6``: 5 FLOPs per element (hardsigmoid, then a product)."""

    inplace: bool = False
    flops_per_element = 5
    saves = "input"


@register_kind
@dataclass(frozen=True)
class SiLU(Elementwise):
    """``x * sigmoid(x)`` (swish): 5 FLOPs per element (sigmoid, then a product)."""

    inplace: bool = False
    flops_per_element = 5
    saves = "input"


@register_kind
@dataclass(frozen=True)
class GELU(Elementwise):
    """Gaussian error linear unit, as ``torch.nn.GELU``.

    8 FLOPs per element for both forms: ``0.5*x*(1 + erf(x/sqrt 2))`` is a
    divide, erf, add and two products, counted as 8 with erf as 4 (its
    polynomial approximation); the tanh form is 8 as well.
    """

    approximate: str = "none"
    flops_per_element = 8
    saves = "input"

    def __post_init__(self):
        if self.approximate not in ("none", "tanh"):
            raise CostGraphError(f"GELU: approximate must be 'none' or 'tanh', got {self.approximate!r}", value=self.approximate)


@register_kind
@dataclass(frozen=True)
class Tanh(Elementwise):
    """Hyperbolic tangent: 1 FLOP per element (a transcendental counts 1)."""

    inplace: bool = False
    saves = "output"


@register_kind
@dataclass(frozen=True)
class Identity(Elementwise):
    """The identity: no new tensor, no FLOPs."""

    flops_per_element = 0
    saves = "nothing"

    @property
    def materializes(self):
        return False


@register_kind
@dataclass(frozen=True)
class Softmax(Elementwise):
    """Softmax along `dim`, as ``torch.nn.Softmax``.

    FLOPs: 5 per element, what a numerically stable softmax does per element:
    a max-reduction compare, a subtraction, an exponential, a sum and a division.
    """

    dim: int = -1
    flops_per_element = 5
    saves = "output"

    def output_shape(self, x):
        if not -len(x) <= self.dim < len(x):
            raise CostGraphError(f"Softmax: dim={self.dim} out of range for a {len(x)}-d input", value=self.dim)
        return tuple(x)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: elements, and rows (elements / size along `dim`)."""
        return {"softmax": numel(out), "softmax_rows": numel(out) / x[self.dim]}


@register_kind
@dataclass(frozen=True)
class Dropout(Elementwise):
    """Dropout at inference: the identity, no new tensor and no FLOPs.

    costgraph's forward totals describe inference; the memory model (training)
    accounts for dropout's mask separately.
    """

    p: float = 0.5
    inplace: bool = False
    flops_per_element = 0

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise CostGraphError(f"Dropout: p must be in [0, 1], got {self.p}", value=self.p)

    @property
    def materializes(self):
        return False

    def output_alias(self, training):
        """In training, ``x * mask`` is a new tensor (unless in place, or p = 0: torch returns x)."""
        if training and not self.inplace and self.p != 0:
            return None
        return 0

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The mask, one element per output element (nothing for p = 0; a 0-d zero for p = 1).

        CUDA's fused ``native_dropout`` keeps a bool mask; the CPU path
        (``_dropout_impl``) multiplies by a noise tensor of the input's
        dtype and keeps that: element class ``"mask"``.  For p = 1 both
        multiply by a 0-d zero.

        >>> from costgraph.symbols import N
        >>> Dropout(0.5).saved_tensors((N, 4096), (N, 4096))
        (Saved(source='extra', index=0, numel=4096*N, element='mask'),)
        """
        if self.p == 0:
            return ()
        if self.p == 1:
            return (Saved.extra(1, "activation"),)
        return (Saved.extra(numel(out), "mask"),)


@register_kind
@dataclass(frozen=True)
class StochasticDepth(Elementwise):
    """Stochastic depth (torchvision.ops.StochasticDepth): the identity at inference."""

    p: float = 0.0
    mode: str = "row"
    flops_per_element = 0

    @property
    def materializes(self):
        return False

    def output_alias(self, training):
        """In training (p > 0), ``input * noise`` is a new tensor."""
        return None if training and self.p != 0 else 0

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The noise ``input`` is multiplied by: one value per sample ("row") or one in all ("batch")."""
        if self.p == 0:
            return ()
        return (Saved.extra(out[0] if self.mode == "row" else 1, "activation"),)


# -- activations added for n-d models and ATen import ---------------------------------------------
# Their cost term for the conventions is `Elementwise.flop_terms`': the elements, under the kind's
# own name ("leakyrelu", "elu", "hardtanh", "softplus", "mish", "logsoftmax"; conventions.TERMS
# says which switch weighs each).  Their FLOPs per element follow costgraph's rule: each operation
# counts 1, a transcendental (exp, log, tanh) counts 1.


class _SavesInputOrResultInPlace(Elementwise):
    """Activations whose derivative takes the input, or the result when computed in place
    (``leaky_relu_``/``elu_`` in derivatives.yaml: ``leaky_relu_backward(grad, result, ..., true)``)."""

    saves = "input"

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input; in place, the result (the input's storage), not a copy."""
        if getattr(self, "inplace", False):
            return (Saved.output(),)
        return (Saved.input(0),)


@register_kind
@dataclass(frozen=True)
class LeakyReLU(_SavesInputOrResultInPlace):
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.LeakyReLU``: 2 FLOPs per element
    (a comparison and a product).

    >>> from costgraph.symbols import N, H, W
    >>> x = (N, 64, H, W)
    >>> LeakyReLU(0.2).other_flops(x, x), LeakyReLU(0.2).saved_tensors(x, x)[0].source
    (128*H*N*W, 'input')
    >>> LeakyReLU(0.2, inplace=True).saved_tensors(x, x)[0].source     # in place: the result
    'output'
    """

    negative_slope: float = 0.01
    inplace: bool = False
    flops_per_element = 2


@register_kind
@dataclass(frozen=True)
class ELU(_SavesInputOrResultInPlace):
    """``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.ELU``: 4 FLOPs per element
    (comparison, exponential, subtraction, product)."""

    alpha: float = 1.0
    inplace: bool = False
    flops_per_element = 4


@register_kind
@dataclass(frozen=True)
class Hardtanh(Elementwise):
    """``min(max(x, min_val), max_val)``, as ``torch.nn.Hardtanh``: 2 FLOPs per element (two comparisons)."""

    min_val: float = -1.0
    max_val: float = 1.0
    inplace: bool = False
    flops_per_element = 2
    saves = "input"


@register_kind
@dataclass(frozen=True)
class Softplus(Elementwise):
    """``log(1 + exp(beta * x)) / beta`` (``x`` past `threshold`), as ``torch.nn.Softplus``:
    6 FLOPs per element (product, exponential, sum, logarithm, quotient, the threshold comparison)."""

    beta: float = 1.0
    threshold: float = 20.0
    flops_per_element = 6
    saves = "input"


@register_kind
@dataclass(frozen=True)
class Mish(Elementwise):
    """``x * tanh(softplus(x))``, as ``torch.nn.Mish``: 5 FLOPs per element
    (exponential, sum, logarithm, tanh, product)."""

    inplace: bool = False
    flops_per_element = 5
    saves = "input"


@register_kind
@dataclass(frozen=True)
class LogSoftmax(Elementwise):
    """``log(softmax(x))`` along `dim`, as ``torch.nn.LogSoftmax``: 5 FLOPs per element (max
    compare, subtraction, exponential, sum; the log and subtraction of each row's sum are per row).
    Saves its result (``_log_softmax_backward_data(grad, result, ...)``)."""

    dim: int = -1
    flops_per_element = 5
    saves = "output"

    def output_shape(self, x):
        if not -len(x) <= self.dim < len(x):
            raise CostGraphError(f"LogSoftmax: dim={self.dim} out of range for a {len(x)}-d input", value=self.dim)
        return tuple(x)


@register_kind
@dataclass(frozen=True)
class PReLU(LayerKind):
    """``x if x > 0 else a * x`` with learned slopes, as ``torch.nn.PReLU``.

    `num_parameters` slopes (1, or one per channel: dimension 1 of the
    input).  2 FLOPs per element.  Saved for backward: the input (and the
    slopes, a parameter).

    Raises
    ------
    CostGraphError
        If `num_parameters` is not a positive integer.
    ShapeError
        If there are per-channel slopes and dimension 1 of the input differs.

    Examples
    --------
    >>> from costgraph.symbols import N, H, W
    >>> x = (N, 32, H, W)
    >>> PReLU(32).weights(x), PReLU().weights(x), PReLU(32).other_flops(x, x)
    (32, 1, 64*H*N*W)
    """

    num_parameters: int = 1
    init: float = 0.25

    def __post_init__(self):
        positive_int(self.num_parameters, "num_parameters", "PReLU")

    def output_shape(self, x):
        if self.num_parameters != 1 and (len(x) < 2 or x[1] != self.num_parameters):
            raise ShapeError(f"PReLU expects {self.num_parameters} channels in dimension 1, got {x}", value=x)
        return tuple(x)

    def weights(self, x):
        return sympy.Integer(self.num_parameters)

    def biases(self, x):
        return sympy.Integer(0)

    def macs(self, out, x):
        return sympy.Integer(0)

    def other_flops(self, out, x):
        return 2 * numel(out)

    def flop_terms(self, out, x):
        """Cost terms for `costgraph.conventions`: the elements, and the batch x slopes (torchinfo's rule)."""
        return {"prelu": numel(out), "param_rows": x[0] * self.weights(x)}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input (``_prelu_kernel_backward(grad, self, weight)``); the weight is a parameter."""
        return (Saved.input(0),)

    def backward_macs(self, out, x, needs_input_grad=None):
        """None: elementwise products and per-channel sums."""
        return sympy.Integer(0)


# -- activations added for ATen import of any model (branch ops) ---------------------------------


@register_kind
@dataclass(frozen=True)
class GLU(ParameterFree):
    """The gated linear unit ``a * sigmoid(b)``, ``a, b = x.chunk(2, dim)``, as ``torch.nn.GLU``.

    The output is half the input along `dim`.  2 FLOPs per output element
    (the sigmoid and the product).  Saved: the input (``glu_backward(grad,
    self, dim)``).

    Raises
    ------
    ShapeError
        If `dim` is out of range or the size along it is odd.

    >>> from costgraph.symbols import N, S
    >>> GLU(-1).output_shape((N, S, 1024)), GLU(-1).other_flops((N, S, 512), (N, S, 1024))
    ((N, S, 512), 1024*N*S)
    """

    dim: int = -1

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (nn.GLU: no module hook in thop,
        torchinfo (no parameters) or ptflops, no F.glu patch in ptflops, no aten::glu handle in fvcore,
        FlopCounterMode or ptflops' aten backend): every tool preset counts 0, costgraph's own preset its
        `other_flops`."""
        return {}

    def output_shape(self, x):
        if not -len(x) <= self.dim < len(x):
            raise ShapeError(f"GLU: dim {self.dim} out of range for a {len(x)}-d input", value=self.dim)
        axis = self.dim % len(x)
        size = sympy.sympify(x[axis])
        half = sympy.expand(size / 2)
        if any(not (c.is_Integer) for c in half.as_coefficients_dict().values()):
            raise ShapeError(f"GLU: the size {size} along dim {self.dim} must be even", value=size)
        return tuple(half if a == axis else d for a, d in enumerate(x))

    def other_flops(self, out, x):
        return 2 * numel(out)

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input."""
        return (Saved.input(0),)


@register_kind
@dataclass(frozen=True)
class LogSigmoid(Elementwise):
    """``log(sigmoid(x))``, as ``torch.nn.LogSigmoid``: 4 FLOPs per element (negation,
    exponential, sum, logarithm: ``-softplus(-x)``).

    Saved: the input and the ``buffer`` ``log_sigmoid_forward`` returns for its
    backward, as large as the input on the CPU (the CUDA kernel returns an
    empty one); costgraph counts the CPU's.

    >>> from costgraph.symbols import N
    >>> [s.source for s in LogSigmoid().saved_tensors((N, 8), (N, 8))]
    ['input', 'extra']
    """

    flops_per_element = 4

    def flop_terms(self, out, *inputs):
        """Cost terms for `costgraph.conventions`: none, as no tool counts it (nn.LogSigmoid: no module hook in
        thop, torchinfo (no parameters) or ptflops, no aten::log_sigmoid handle in fvcore, FlopCounterMode or
        ptflops' aten backend): every tool preset counts 0, costgraph's own preset its `other_flops`."""
        return {}

    def saved_tensors(self, out, x, needs_input_grad=None):
        """The input and a buffer of its size (``log_sigmoid_backward(grad, self, buffer)``)."""
        return (Saved.input(0), Saved.extra(numel(x), "activation"))


@register_kind
@dataclass(frozen=True)
class SELU(_SavesInputOrResultInPlace):
    """``scale * elu(x, alpha)`` with SELU's fixed constants, as ``torch.nn.SELU``: 5 FLOPs per
    element (ELU's four and the scale).  Saved: the input; in place, the result."""

    inplace: bool = False
    flops_per_element = 5


@register_kind
@dataclass(frozen=True)
class CELU(_SavesInputOrResultInPlace):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``, as ``torch.nn.CELU``: 5 FLOPs per
    element (quotient, exponential, subtraction, product, comparison).  Saved: the input; in
    place, the result."""

    alpha: float = 1.0
    inplace: bool = False
    flops_per_element = 5
