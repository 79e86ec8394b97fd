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
]
