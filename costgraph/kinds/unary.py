"""Elementwise functions of one tensor: `Unary` (exp, log, sqrt, ...), `PowScalar` and `Clamp`.

FLOPs: each operation 1 per element, a transcendental (exp, log, sin, erf)
1 as well (as `costgraph.kinds.Tanh` counts); ``frac`` 2 (a truncation and a
difference), ``nan_to_num`` 3 (its three tests).  What backward keeps follows
each op's formula in PyTorch's ``derivatives.yaml`` (see `UNARY_OPS`): ``exp``,
``sqrt``, ``rsqrt``, ``reciprocal``, ``tan`` use their result, ``log``, ``abs``,
``sin``, ``cos``, ``erf``, ``pow`` and ``clamp`` their input, ``neg`` and the
roundings (zero gradient) nothing.  An
in-place op whose formula takes its input keeps a copy of it (autograd's
``original_self``).  Their convention terms: ``unary`` (Unary, PowScalar)
and ``clamp`` (Clamp), the elements, which every tool preset weighs 0 (no
tool counts them).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from ..errors import CostGraphError
from .activation import Elementwise
from .base import numel, register_kind

__all__ = ["Unary", "PowScalar", "Clamp", "UNARY_OPS"]

#: op -> (FLOPs per element, the tensor its derivative takes: "input", "output" or "nothing")
UNARY_OPS = {
    "exp": (1, "output"),  # grad * result
    "log": (1, "input"),  # grad / self
    "sqrt": (1, "output"),  # grad / (2 * result)
    "rsqrt": (1, "output"),  # -0.5 * grad * result.pow(3)
    "reciprocal": (1, "output"),  # -grad * result * result
    "neg": (1, "nothing"),  # -grad
    "abs": (1, "input"),  # grad * self.sgn()
    "sin": (1, "input"),  # grad * self.cos()
    "cos": (1, "input"),  # grad * -self.sin()
    "erf": (1, "input"),  # 2/sqrt(pi) * exp(-self**2) * grad
    "log1p": (1, "input"),  # log1p_backward(grad, self)
    "log2": (1, "input"),  # grad / (self * ln 2)
    "expm1": (1, "output"),  # grad * (result + 1)
    "exp2": (1, "output"),  # grad * result * ln 2
    "tan": (1, "output"),  # grad * (1 + result**2)
    "atan": (1, "input"),  # grad / (self * self + 1)
    "sign": (1, "nothing"),  # zeros_like(grad)
    "floor": (1, "nothing"),
    "ceil": (1, "nothing"),
    "round": (1, "nothing"),
    "trunc": (1, "nothing"),
    # added for any model's ATen ops (branch ops); saved tensors measured with saved_tensors_hooks
    "sinh": (1, "input"),  # grad * self.cosh()
    "cosh": (1, "input"),  # grad * self.sinh()
    "asin": (1, "input"),  # grad / (1 - self**2).sqrt()
    "acos": (1, "input"),  # -grad / (1 - self**2).sqrt()
    "asinh": (1, "input"),  # grad / (self**2 + 1).sqrt()
    "acosh": (1, "input"),  # grad / (self**2 - 1).sqrt()
    "atanh": (1, "input"),  # grad / (1 - self**2)
    "log10": (1, "input"),  # grad / (self * ln 10)
    "erfc": (1, "input"),  # -2/sqrt(pi) * exp(-self**2) * grad
    "erfinv": (1, "input"),  # 0.5 * sqrt(pi) * exp(self.erfinv()**2) * grad
    "sinc": (1, "input"),  # sinc_backward(grad, self)
    "digamma": (1, "input"),  # grad * polygamma(1, self)
    "lgamma": (1, "input"),  # grad * digamma(self)
    "frac": (2, "nothing"),  # x - trunc(x); the gradient is grad itself
    "nan_to_num": (3, "input"),  # three tests (nan, +inf, -inf); grad * isfinite(self)
}


@register_kind
@dataclass(frozen=True)
class Unary(Elementwise):
    """An elementwise function named by `op` (one of `UNARY_OPS`), as ``torch.<op>``.

    Raises
    ------
    CostGraphError
        If `op` is not one of `UNARY_OPS`.

    Examples
    --------
    >>> from costgraph.symbols import N, S
    >>> x = (N, S, 64)
    >>> Unary("exp").other_flops(x, x), Unary("exp").saved_tensors(x, x)[0].source
    (64*N*S, 'output')
    >>> Unary("log").saved_tensors(x, x)[0].source, Unary("neg").saved_tensors(x, x)
    ('input', ())
    >>> Unary("sin", inplace=True).saved_tensors(x, x)[0].source       # a copy of the overwritten input
    'extra'
    """

    op: str
    inplace: bool = False

    def flop_terms(self, out, x):
        """Cost term for `costgraph.conventions`: the elements, as ``unary`` (every tool counts 0)."""
        return {"unary": numel(out)}

    def __post_init__(self):
        if self.op not in UNARY_OPS:
            raise CostGraphError(f"Unary: op must be one of {', '.join(UNARY_OPS)}, got {self.op!r}", value=self.op)

    @property
    def flops_per_element(self):
        return UNARY_OPS[self.op][0]

    @property
    def saves(self):
        return UNARY_OPS[self.op][1]


def _number(value, name: str, owner: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CostGraphError(f"{owner}: {name} must be a number, got {value!r}", value=value)
    return value


@register_kind
@dataclass(frozen=True)
class PowScalar(Elementwise):
    """``x ** exponent`` for a number `exponent`, as ``torch.pow(x, c)``: 1 FLOP per element.

    Saved for backward: the input (``pow_backward(grad, self, exponent)``);
    nothing for exponent 0 (the gradient is zero) -- torch still keeps the
    input, so it is kept here too.

    >>> from costgraph.symbols import N
    >>> PowScalar(2).other_flops((N, 8), (N, 8)), PowScalar(2).saved_tensors((N, 8), (N, 8))[0].source
    (8*N, 'input')
    """

    exponent: float = 2
    inplace: bool = False
    flops_per_element = 1
    saves = "input"

    def __post_init__(self):
        _number(self.exponent, "exponent", "PowScalar")

    def flop_terms(self, out, x):
        """Cost term for `costgraph.conventions`: the elements, as ``unary``."""
        return {"unary": numel(out)}


@register_kind
@dataclass(frozen=True)
class Clamp(Elementwise):
    """``x.clamp(min, max)`` with numbers: one comparison per bound given, per element.

    Saved: the input (``clamp_backward(grad, self, min, max)``).

    Raises
    ------
    CostGraphError
        If neither bound is given, or a bound is not a number.

    >>> from costgraph.symbols import N
    >>> Clamp(min=0).other_flops((N, 8), (N, 8)), Clamp(-1, 1).other_flops((N, 8), (N, 8))
    (8*N, 16*N)
    """

    min: float | None = None
    max: float | None = None
    inplace: bool = False
    saves = "input"

    def flop_terms(self, out, x):
        """Cost term for `costgraph.conventions`: the elements clamped (once, whichever bounds are given)."""
        return {"clamp": numel(out)}

    def __post_init__(self):
        _number(self.min, "min", "Clamp")
        _number(self.max, "max", "Clamp")
        if self.min is None and self.max is None:
            raise CostGraphError("Clamp: at least one of min or max must be given")

    @property
    def flops_per_element(self):
        return (self.min is not None) + (self.max is not None)


