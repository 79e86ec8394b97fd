"""Import an existing model into a symbolic costgraph `Network`.

* `from_torch` captures an ``nn.Module`` with ``torch.export`` and rebuilds
  every ATen call as a registered costgraph kind (``costgraph[torch]``);
* `from_onnx` reads an ``.onnx`` file with the ``onnx`` package and does the
  same for its nodes; named dimensions (``dim_param``) become size symbols
  (``costgraph[onnx]``).

Neither torch nor onnx is imported until one of these functions is called,
so ``import costgraph`` stays light.  Shapes are recomputed with
costgraph's own formulas; the captured sizes only serve to check them.

An operation with no converter is an error (`UnsupportedOperationError`)
that lists every such operation and where it occurs; it is never counted as
zero.  Teach the importer a new operation with `register_converter`.
"""

from __future__ import annotations

from typing import Callable

from ..errors import CostGraphError, UnknownKindError

__all__ = ["from_torch", "from_onnx", "register_converter", "TORCH_CONVERTERS", "ONNX_CONVERTERS", "UnsupportedOperationError"]


class UnsupportedOperationError(UnknownKindError):
    """The imported model uses operations costgraph has no converter for.

    ``.operations`` lists ``(operation, where)`` pairs, one per occurrence.
    """

    def __init__(self, message: str, *, operations=(), layer=None, value=None):
        super().__init__(message, layer=layer, value=value)
        self.operations = list(operations)


#: ATen operator name -> converter (``"aten::conv2d"`` for every overload, or
#: ``"aten::add.Tensor"`` for one); the built-in entries are added when
#: `costgraph.importers.aten` is first imported (it imports torch).
TORCH_CONVERTERS: dict[str, Callable] = {}

#: ONNX op type (``"Conv"``, or ``"domain::Op"`` outside the default domain) -> converter
ONNX_CONVERTERS: dict[str, Callable] = {}


def register_converter(target, *, onnx: bool = False, replace: bool = False):
    """Decorator: convert `target` to costgraph kinds when importing.

    For torch, `target` is an ATen operator: ``torch.ops.aten.roll``,
    ``torch.ops.aten.add.Tensor`` (one overload) or its name
    ``"aten::roll"``.  The converter receives one
    `costgraph.importers.aten.Call` and returns a `LayerKind` (added with the
    call's tensor inputs), or uses ``call.add(kind, *inputs)`` and returns
    the resulting tensor(s).  With ``onnx=True``, `target` is an ONNX op type
    (``costgraph.importers.onnx.Call``).  An operator that already has a
    converter is refused unless ``replace=True``: two converters never
    disagree silently.

    Raises
    ------
    CostGraphError
        If `target` already has a converter and `replace` is False, or is
        not an operator.

    Examples
    --------
    >>> from costgraph.importers import register_converter, TORCH_CONVERTERS
    >>> from costgraph.kinds import Identity
    >>> @register_converter("aten::my_noop")
    ... def convert_noop(call):
    ...     return Identity()
    >>> TORCH_CONVERTERS["aten::my_noop"] is convert_noop
    True
    >>> del TORCH_CONVERTERS["aten::my_noop"]
    """
    if onnx:

        def decorate_onnx(converter):
            existing = ONNX_CONVERTERS.get(target)
            if existing is not None and existing is not converter and not replace:
                raise CostGraphError(
                    f"ONNX op {target!r} already has a converter ({existing.__name__}); pass replace=True to replace it",
                    value=target,
                )
            ONNX_CONVERTERS[target] = converter
            return converter

        return decorate_onnx
    from .aten import aten_converter  # registers the built-in converters first

    return aten_converter(target, replace=replace)


def from_torch(module, example_input, dynamic=None, **options):
    """Capture a torch ``nn.Module`` with ``torch.export`` into a symbolic `Network`; see `costgraph.importers.aten.from_torch`."""
    from .aten import from_torch as convert

    return convert(module, example_input, dynamic, **options)


def from_onnx(model, **options):
    """Read an ONNX model into a symbolic `Network`; see `costgraph.importers.onnx.from_onnx`."""
    from .onnx import from_onnx as convert

    return convert(model, **options)
