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

# Everything below is imported on first use (PEP 562), so that `import
# costgraph` costs milliseconds, not the second sympy takes: the fast numeric
# path (`costgraph.fast`, ``costgraph totals``) never needs sympy at all.
_LAZY = {
    "H": "symbols", "W": "symbols", "N": "symbols", "S": "symbols", "size_symbol": "symbols",
    "FloorDiv": "intmath", "ceil_div": "intmath",
    "KINDS": "kinds", "LayerKind": "kinds", "kind_named": "kinds", "register_kind": "kinds",
    "Network": "network",
    "FLOP_CONVENTION": "totals", "Row": "totals", "Totals": "totals",
    "Convention": "conventions", "summary": "model_summary", "Summary": "model_summary",
}  # fmt: skip
_SUBMODULES = ("kinds", "models", "fast")


def __getattr__(name):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'costgraph' has no attribute {name!r}")
    globals()[name] = value
    return value


def _render(record, form):
    # Records (Totals, layer tables, Network) sit below the renderers and ask for
    # their text through costgraph.display_hook; the package, above both, connects them.
    from .render.display import render_record

    return render_record(record, form)


from .display_hook import install as _install_renderer  # noqa: E402 (standard library only: import stays cheap)

_install_renderer(_render)


def __dir__():
    return sorted(set(globals()) | set(__all__))


def from_torch(module, example_input, dynamic=None, **options):
    """Import a torch ``nn.Module`` as a symbolic `Network` (needs ``costgraph[torch]``).

    Captured with ``torch.export`` and converted op by op: see
    `costgraph.importers.aten.from_torch`; torch is imported only here.
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
    "Convention",
    "summary",
    "Summary",
]
