"""Converters: tensors made from sizes alone (``arange``, ``zeros``, ``full``, ``new_ones``, ``zeros_like``)."""

from __future__ import annotations

from ...kinds.creation import Constant
from .table import aten_converter

_MADE = ("arange", "zeros", "ones", "full", "empty", "scalar_tensor", "new_ones", "new_zeros", "new_full", "new_empty",
         "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "rand_like", "randn_like", "eye", "tril_indices")  # fmt: skip


@aten_converter(*(f"aten::{name}" for name in _MADE))
def made(call):
    """A new tensor of export's output shape; an input only lends its dtype and device."""
    name = call.op.partition("::")[2].split(".")[0]
    return call.add(Constant(tuple(call.out), name))
