"""Import an existing model into a symbolic costgraph `Network`.

* `from_torch` traces an ``nn.Module`` with ``torch.fx`` and rebuilds every
  call as a registered costgraph kind (``costgraph[torch]``);
* `from_onnx` reads an ``.onnx`` file with the ``onnx`` package and does the
  same for its nodes; named dimensions (``dim_param``) become size symbols
  (``costgraph[onnx]``).

Neither torch nor onnx is imported until one of these functions is called,
so ``import costgraph`` stays light.  Shapes are never copied from the
traced model: they are recomputed with costgraph's own formulas, and the
traced sizes only serve to check them.

An operation with no converter is an error (`UnsupportedOperationError`)
that lists every such operation and where it occurs; it is never counted as
zero.  Teach the importer a new operation with `register_converter`.
"""

from __future__ import annotations

from typing import Callable

from ..errors import UnknownKindError

__all__ = ["from_torch", "from_onnx", "register_converter", "TORCH_CONVERTERS", "ONNX_CONVERTERS", "UnsupportedOperationError"]


class UnsupportedOperationError(UnknownKindError):
    """The imported model uses operations costgraph has no converter for.

    ``.operations`` lists ``(operation, where)`` pairs, one per occurrence.
    """

    def __init__(self, message: str, *, operations=(), layer=None, value=None):
        super().__init__(message, layer=layer, value=value)
        self.operations = list(operations)


#: torch target -> converter: an ``nn.Module`` class, a function (``torch.cat``,
#: ``operator.add``) or a tensor method name (``"view"``).  Built-in entries are
#: added when `costgraph.importers.torch_fx` is first imported.
TORCH_CONVERTERS: dict[object, Callable] = {}

#: ONNX op type (``"Conv"``, or ``"domain::Op"`` outside the default domain) -> converter
ONNX_CONVERTERS: dict[str, Callable] = {}


def register_converter(target, *, onnx: bool = False):
    """Decorator: convert `target` to costgraph kinds when importing.

    For torch, `target` is an ``nn.Module`` subclass (a leaf module), a
    function such as ``torch.roll``, or a tensor method name such as
    ``"roll"``.  With ``onnx=True``, `target` is an ONNX op type.  The
    converter receives one `Call` (``costgraph.importers.torch_fx.Call`` or
    ``costgraph.importers.onnx.Call``) and returns a `LayerKind` (added with
    the call's tensor inputs), or uses ``call.add(kind, *inputs)`` and
    returns the resulting tensor(s).  A later registration replaces an
    earlier one, so a user can also override a built-in converter.

    Examples
    --------
    >>> from costgraph.importers import register_converter, TORCH_CONVERTERS
    >>> from costgraph.kinds import Identity
    >>> @register_converter("my_noop_method")
    ... def convert_noop(call):
    ...     return Identity()
    >>> TORCH_CONVERTERS["my_noop_method"] is convert_noop
    True
    >>> del TORCH_CONVERTERS["my_noop_method"]
    """

    def decorate(converter):
        (ONNX_CONVERTERS if onnx else TORCH_CONVERTERS)[target] = converter
        return converter

    return decorate


def from_torch(module, example_input, dynamic=None, **options):
    """Trace a torch ``nn.Module`` into a symbolic `Network`; see `costgraph.importers.torch_fx.from_torch`."""
    from .torch_fx import from_torch as convert

    return convert(module, example_input, dynamic, **options)


def from_onnx(model, **options):
    """Read an ONNX model into a symbolic `Network`; see `costgraph.importers.onnx.from_onnx`."""
    from .onnx import from_onnx as convert

    return convert(model, **options)
