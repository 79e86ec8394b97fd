"""costgraph: exact, symbolic costs of neural networks.

A network is a networkx DAG whose nodes carry sympy formulas for their output
shapes in the size symbols (H, W, batch N, sequence length S, ...).  From
them costgraph derives parameters, activations, MACs and FLOPs in closed form,
and evaluates them exactly at any size.

>>> import costgraph
>>> costgraph.models.vgg16().totals(H=224).params   # the seed's ~138M
138357544
"""

from .errors import (  # first, so every submodule can raise them
    CostGraphError,
    CycleError,
    DomainError,
    ShapeError,
    SizeError,
    UnknownKindError,
    UnknownSizeError,
)
from .symbols import H, N, S, W, size_symbol
from .intmath import FloorDiv, ceil_div
from .kinds import KINDS, LayerKind, kind_named, register_kind
from .network import Network
from .totals import FLOP_CONVENTION, Row, Totals
from . import kinds, models


def from_torch(module, example_input, dynamic=None, **options):
    """Import a torch ``nn.Module`` as a symbolic `Network` (needs ``costgraph[torch]``).

    See `costgraph.importers.torch_fx.from_torch`; torch is imported only here.
    """
    from .importers import from_torch as convert

    return convert(module, example_input, dynamic, **options)


def from_onnx(model, **options):
    """Import an ONNX model (a path, bytes or ``onnx.ModelProto``) as a symbolic `Network`.

    Needs ``costgraph[onnx]``; see `costgraph.importers.onnx.from_onnx`.
    """
    from .importers import from_onnx as convert

    return convert(model, **options)

__all__ = [
    "CostGraphError",
    "CycleError",
    "DomainError",
    "ShapeError",
    "SizeError",
    "UnknownKindError",
    "UnknownSizeError",
    "H",
    "W",
    "N",
    "S",
    "size_symbol",
    "FloorDiv",
    "ceil_div",
    "KINDS",
    "LayerKind",
    "kind_named",
    "register_kind",
    "Network",
    "Row",
    "Totals",
    "FLOP_CONVENTION",
    "kinds",
    "models",
    "from_torch",
    "from_onnx",
]
