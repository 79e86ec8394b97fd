"""The one table of ATen converters, and the `Call` each converter receives.

A converter turns one ATen operator call of an exported graph into costgraph
kinds, as ``torch/utils/flop_counter.py`` keeps one registry of formulas by
operator.  It is keyed by the operator's name: ``"aten::conv2d"`` (the whole
overload packet) or ``"aten::add.Tensor"`` (one overload, which wins over
its packet).  Registering a name twice is refused unless ``replace=True``,
so two converters can never disagree silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...errors import CostGraphError
from .. import TORCH_CONVERTERS

__all__ = ["ATEN_CONVERTERS", "aten_converter", "op_name", "converter_for", "Call", "TensorValue", "Unsupported"]

#: ATen operator name (``"aten::conv2d"`` or ``"aten::add.Tensor"``) -> converter; the same
#: dict as `costgraph.importers.TORCH_CONVERTERS`
ATEN_CONVERTERS: dict[str, Callable] = TORCH_CONVERTERS


def op_name(op) -> str:
    """The table key of an ATen operator: an OpOverload, OpOverloadPacket or a name.

    ``torch.ops.aten.add.Tensor`` -> ``"aten::add.Tensor"``,
    ``torch.ops.aten.add`` -> ``"aten::add"``, ``"aten.add"`` -> ``"aten::add"``.

    Raises
    ------
    CostGraphError
        If `op` is neither an operator nor a name.

    >>> op_name("aten.roll"), op_name("aten::add.Tensor")
    ('aten::roll', 'aten::add.Tensor')
    """
    if isinstance(op, str):
        namespace, sep, rest = op.replace("::", ".").partition(".")
        if not sep or not rest:
            raise CostGraphError(f"an ATen operator name looks like 'aten::roll', got {op!r}", value=op)
        return f"{namespace}::{rest}"
    schema = getattr(op, "_schema", None)
    if schema is not None:  # an OpOverload
        overload = schema.overload_name or "default"
        return f"{schema.name}.{overload}"
    name = getattr(op, "_qualified_op_name", None)  # an OpOverloadPacket
    if name is not None:
        return name
    raise CostGraphError(f"not an ATen operator: {op!r} (use e.g. torch.ops.aten.roll or 'aten::roll')", value=op)


def aten_converter(*ops, replace: bool = False):
    """Decorator: convert the ATen operators `ops` with the decorated function.

    Raises
    ------
    CostGraphError
        If one of `ops` already has a converter and `replace` is False.

    Examples
    --------
    >>> from costgraph.importers.aten.table import aten_converter, ATEN_CONVERTERS
    >>> from costgraph.kinds import Identity
    >>> @aten_converter("aten::my_noop")
    ... def convert_noop(call):
    ...     return Identity()
    >>> ATEN_CONVERTERS["aten::my_noop"] is convert_noop
    True
    >>> del ATEN_CONVERTERS["aten::my_noop"]
    """
    names = [op_name(op) for op in ops]

    def decorate(converter):
        for name in names:
            existing = ATEN_CONVERTERS.get(name)
            if existing is not None and existing is not converter and not replace:
                raise CostGraphError(
                    f"{name} already has a converter ({existing.__module__}.{existing.__qualname__}); "
                    "pass replace=True to override it",
                    value=name,
                )
            ATEN_CONVERTERS[name] = converter
        return converter

    return decorate


def converter_for(name: str):
    """The converter of operator `name` (``"aten::add.Tensor"``): the overload's, else its packet's, else None."""
    found = ATEN_CONVERTERS.get(name)
    if found is None and "." in name.partition("::")[2]:
        found = ATEN_CONVERTERS.get(name.rsplit(".", 1)[0])
    return found


@dataclass(frozen=True)
class TensorValue:
    """A tensor of the network being built: the layer that makes it and its symbolic shape.

    `param` is the parameter's path (``"conv.weight"``) when the tensor is a
    parameter, buffer or constant of the module, not yet a layer.
    """

    layer: str | None
    shape: tuple
    param: str | None = None
    trainable: bool = False
    dtype: object = None


class Unsupported(Exception):
    """Raised by a converter (through `Call.unsupported`): listed with the other unsupported ops."""

    def __init__(self, reason: str, data_dependent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.data_dependent = data_dependent


@dataclass
class Call:
    """One ATen operator call, as a converter sees it.

    Attributes
    ----------
    op : str
        The operator's name (``"aten::conv2d.default"``).
    args, kwargs
        The call's arguments: tensors as `TensorValue`, sizes as costgraph
        formulas, everything else as torch gave it (ints, floats, lists).
    out : tuple or list of tuples
        Export's output shape(s), already as costgraph formulas.
    where : str
        The module path the call sits in (``"layer1.0.conv1"``, "" at the top).
    """

    op: str
    args: tuple
    kwargs: dict
    out: object
    where: str
    node: object = field(repr=False, default=None)
    _importer: object = field(repr=False, default=None)

    def arg(self, index: int, name: str, default=None):
        """Argument `name`, given by position `index` or keyword, else `default`."""
        if name in self.kwargs:
            return self.kwargs[name]
        if index is not None and index < len(self.args):
            return self.args[index]
        return default

    def add(self, kind, *inputs, owns=()) -> TensorValue:
        """Add `kind` fed by `inputs` (tensors) to the network; return its output.

        `owns` lists the parameter tensors whose elements `kind` counts as its
        own weights (a convolution's weight and bias): a parameter counted by
        another layer already makes this one share it, as torch counts a
        tied tensor once.
        """
        return self._importer.add_layer(self, kind, inputs, owns)

    def unsupported(self, reason: str, data_dependent: bool = False):
        """Reject this call: it is listed with every other unsupported operation."""
        raise Unsupported(reason, data_dependent)
