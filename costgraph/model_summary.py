"""`costgraph.summary`: one call from a model to a readable cost table, like torchinfo's and fvcore's.

``costgraph.summary(model, ...)`` takes a zoo name, a `Network`, a PyTorch
module (through `costgraph.from_torch`) or an ONNX file, and returns a
`Summary`: the module hierarchy to a chosen depth, each module with the
totals of the layers under it (layers are grouped by their dotted names,
``layer1.0.conv1`` under ``layer1.0`` under ``layer1``), and the network's
totals.  It prints as a table, renders in Jupyter, and exports to CSV,
JSON, Markdown, LaTeX and (if pandas is installed) a DataFrame, with the
same column names in every format.

>>> import costgraph
>>> s = costgraph.summary("resnet50", depth=1)
>>> [(m.name, m.params) for m in s.modules if m.name.startswith("layer")]   # torchvision's stages
[('layer1', 215808), ('layer2', 1219584), ('layer3', 7098368), ('layer4', 14964736)]
>>> s.totals.params                                   # torchvision's num_params for ResNet50_Weights
25557032
>>> print(s.to_csv().splitlines()[0])
name,depth,kind,layers,shape,params,activations,activation_bytes,macs,flops
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CostGraphError

__all__ = ["summary", "Summary", "ModuleRow", "COLUMNS", "group_rows"]

#: the columns of every export, in order
COLUMNS = ("name", "depth", "kind", "layers", "shape", "params", "activations", "activation_bytes", "macs", "flops")


@dataclass(frozen=True)
class ModuleRow:
    """One module (a group of layers sharing a dotted-name prefix) or one layer, with its totals.

    `depth` is 1 for a top-level module; `params` counts a tied parameter at
    its owner only (as `Network.totals` does); `shape` is the output shape
    (batch excluded) of the module's last layer.
    """

    name: str
    depth: int
    kind: str
    layers: int
    shape: tuple
    params: object
    activations: object
    activation_bytes: object
    macs: object
    flops: object

    def as_dict(self) -> dict:
        """The row by `COLUMNS`."""
        return {c: getattr(self, c) for c in COLUMNS}


def _hidden(row) -> bool:
    return all(_is_zero(getattr(row, f)) for f in ("params", "macs", "activations"))


def _is_zero(value) -> bool:
    try:
        return value == 0
    except TypeError:
        return False


def _sum(values):
    import sympy

    total = sympy.Add(*values)
    if isinstance(total, sympy.Integer):
        return int(total)
    return sympy.expand(total) if isinstance(total, sympy.Basic) else total


def group_rows(rows, depth: int, element_bytes: int = 4, all_layers: bool = False) -> list[ModuleRow]:
    """`Network.layers` rows grouped by dotted-name prefix down to `depth`, in network order.

    A layer deeper than `depth` is counted in its ancestor at `depth`.
    Layers that hold no parameters, do no MACs and write no new tensor
    (in-place activations, views) are shown only with `all_layers`; their
    FLOPs are in their module's total either way.

    Raises
    ------
    CostGraphError
        If `depth` is not a positive integer.

    Examples
    --------
    >>> from costgraph.models import resnet18
    >>> groups = group_rows(resnet18().layers(H=224), depth=2)
    >>> # a basic block: conv1, bn1, relu1, conv2, bn2, add, relu2 = 7 layers; layer1 holds 2 blocks
    >>> [(g.name, g.depth, g.layers) for g in groups][4:7]
    [('layer1', 1, 14), ('layer1.0', 2, 7), ('layer1.1', 2, 7)]
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise CostGraphError(f"depth must be a positive integer, got {depth!r}", value=depth)
    members: dict = {}  # prefix -> rows under it, in first-seen order
    is_layer: dict = {}
    for row in rows:
        parts = row.name.split(".")
        for level in range(1, min(depth, len(parts)) + 1):
            prefix = ".".join(parts[:level])
            members.setdefault(prefix, []).append(row)
            if level == len(parts):
                is_layer[prefix] = row
    out = []
    for prefix, under in members.items():
        level = prefix.count(".") + 1
        single = len(under) == 1 and prefix in is_layer
        if single and not all_layers and _hidden(under[0]):
            continue
        if not all_layers and all(_hidden(r) for r in under) and not single:
            continue
        params = _sum([r.params for r in under if not getattr(r, "shares", None)])
        activations = _sum([r.activations for r in under])
        kind = under[0].kind if single else _kinds_text(under)
        out.append(
            ModuleRow(
                name=prefix,
                depth=level,
                kind=kind,
                layers=len(under),
                shape=tuple(under[-1].shape),
                params=params,
                activations=activations,
                activation_bytes=_sum([activations * element_bytes]),
                macs=_sum([r.macs for r in under]),
                flops=_sum([r.flops for r in under]),
            )
        )
    return out


def _kinds_text(rows) -> str:
    """The kinds of a module's layers, most frequent first: ``Conv2d x3, BatchNorm2d x3, ...``."""
    from collections import Counter

    counts = Counter(r.kind for r in rows if not _hidden(r)) or Counter(r.kind for r in rows)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = [f"{kind} x{n}" if n > 1 else kind for kind, n in ranked[:3]]
    return ", ".join(shown) + (", ..." if len(ranked) > 3 else "")


class Summary:
    """What `summary` returns: module rows, totals, and renderers (see the module docstring).

    Attributes
    ----------
    name : str
        The model's name, for titles.
    net : costgraph.Network
    sizes : dict
        The sizes evaluated at (empty: symbolic).
    dtype : str
    depth : int
    modules : list of ModuleRow
    totals : costgraph.Totals
    memory : costgraph.memory.Memory or None
        The memory model's figures at `sizes` (None when symbolic).
    """

    columns = COLUMNS  #: the columns of every export

    def __init__(self, name, net, sizes, dtype, depth, modules, totals, memory, all_layers=False):
        self.name, self.net, self.sizes, self.dtype, self.depth = name, net, dict(sizes), dtype, depth
        self.modules, self.totals, self.memory, self.all_layers = list(modules), totals, memory, all_layers

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def _renderer(self):
        from .render import summary_table

        return summary_table

    def to_text(self) -> str:
        """The table as aligned plain text (what ``print`` shows), human units."""
        return self._renderer().summary_text(self)

    def to_markdown(self, exact: bool = False) -> str:
        """A Markdown table (human units; exact integers with `exact`), then the totals."""
        return self._renderer().summary_markdown(self, exact=exact)

    def to_latex(self) -> str:
        r"""A booktabs ``tabular`` (needs ``\usepackage{booktabs}``); formulas through `sympy.latex`."""
        return self._renderer().summary_latex(self)

    def to_csv(self) -> str:
        """Every row with exact integers (formulas as text), columns `COLUMNS`, then a ``total`` row."""
        return self._renderer().summary_csv(self)

    def to_json(self) -> str:
        """A JSON document: model, sizes, dtype, depth, the rows by `COLUMNS`, totals and memory."""
        return self._renderer().summary_json(self)

    def to_dict(self) -> dict:
        """What `to_json` writes, as Python data."""
        return self._renderer().summary_dict(self)

    def to_pandas(self):
        """The rows as a `pandas.DataFrame` with `COLUMNS` (exact ints as Python objects).

        Raises
        ------
        CostGraphError
            If pandas is not installed.
        """
        try:
            import pandas
        except ImportError:
            raise CostGraphError("to_pandas needs pandas: pip install pandas") from None
        records = [self._renderer().machine_record(m) for m in self.modules]
        return pandas.DataFrame.from_records(records, columns=list(COLUMNS))

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def summary(
    model,
    input_size=None,
    *,
    depth: int = 2,
    dtype: str = "fp32",
    options: dict | None = None,
    dynamic=None,
    all_layers: bool = False,
    **sizes,
) -> Summary:
    """A cost summary of `model`: its modules to `depth` with their totals, and the network's totals.

    Parameters
    ----------
    model : str, os.PathLike, Network or torch.nn.Module
        A zoo name (``"resnet50"``), a path to an ``.onnx`` file,
        ``"package.module:callable"``, a `costgraph.Network`, or a torch
        module (imported with `costgraph.from_torch`).
    input_size : tuple, optional
        For a torch module: the example input's shape (``(1, 3, 224, 224)``;
        default ``(N, 3, H, W)`` from `sizes`, 224 x 224).  For any other
        model, a 4-d shape ``(N, C, H, W)`` gives the sizes N, H and W.
    depth : int
        How many levels of the dotted-name hierarchy to show (1: top-level
        modules only).
    dtype : str
        Element type of activation memory (``"fp32"``, ``"bf16"``, ...).
    options : dict, optional
        Build options of a zoo model or callable (``{"adaptive_pool": True}``).
    dynamic : dict, optional
        For a torch module: which input dimensions are sizes (see `from_torch`).
    all_layers : bool
        Also list layers without parameters, MACs or a new tensor.
    **sizes
        Sizes to evaluate at (``H=224``, ``N=8``, ``S=1024``); a zoo model
        defaults to its usual sizes.  ``symbolic=True`` is not a size: give
        no sizes to a model without usual ones to get formulas.

    Returns
    -------
    Summary

    Raises
    ------
    CostGraphError
        For an unknown model, a bad option, or sizes at which some layer is
        invalid (the message names the layer and the smallest valid size).

    Examples
    --------
    >>> import torch, costgraph
    >>> with torch.device("meta"):                          # shapes only, no weights
    ...     model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    >>> s = costgraph.summary(model, (1, 3, 32, 32))
    >>> s.totals.params, s.totals.macs                     # 8 x 27 + 8; 8 x 27 x 30 x 30
    (224, 194400)
    """
    from .model_source import resolve, with_min_size_hint

    sizes = dict(sizes)
    torch_module = not isinstance(model, str) and not _is_network(model) and not hasattr(model, "__fspath__")
    if input_size is not None and not torch_module:
        sizes = {**_sizes_from_shape(input_size), **sizes}
    source = resolve(model, options=options, sizes=sizes, dynamic=dynamic, input_size=input_size if torch_module else None)
    net = source.net
    known = {s.name for s in net.symbols}
    at = dict(source.sizes)
    if "H" in sizes and "W" not in sizes:
        at.pop("W", None)
    at.update(sizes)
    at = {k: v for k, v in at.items() if k in known or k in sizes}
    if not at and "N" in known and not (known - {"N"}):
        at = {"N": 1}
    try:
        totals = net.totals(dtype=dtype, **at)
        rows = net.layers(**at)
    except CostGraphError as error:
        raise with_min_size_hint(error, net) from None
    element = _element_bytes(totals, dtype)
    modules = group_rows(rows, depth, element, all_layers)
    memory = net.memory(dtype=dtype, **at) if at and isinstance(totals.params, int) else None
    return Summary(source.name, net, totals.sizes if at else {}, dtype, depth, modules, totals, memory, all_layers)


def _is_network(obj) -> bool:
    from .network import Network

    return isinstance(obj, Network)


def _sizes_from_shape(shape) -> dict:
    shape = tuple(shape)
    if len(shape) == 4 and all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        return {"N": shape[0], "H": shape[2], "W": shape[3]}
    raise CostGraphError(f"input_size {shape!r}: give (N, C, H, W) for an image model, or sizes by name (S=1024)", value=shape)


def _element_bytes(totals, dtype) -> int:
    from .dtypes import dtype_bytes

    return dtype_bytes(dtype)
