"""``costgraph.from_torch``: capture with ``torch.export``, convert the ATen graph op by op.

How it works:

1. `capture` exports the module at the example input with the user's named
   sizes as ``Dim.AUTO`` dimensions (``capture.py``); torch writes every
   derived size over its symbols ``s0, s1, ...``, mapped back onto the
   user's names.
2. Each ATen call goes through the one converter registered for its
   operator in `ATEN_CONVERTERS` (``table.py``; converters by op family:
   ``conv_pool.py``, ``dense.py``, ``norm.py``, ``elementwise.py``,
   ``layout.py``, ``indexing.py``, ``resample.py``, ``creation.py``, ``reduction.py``,
   ``sorting.py``, ``scatter.py``, ``loss.py``, ``data_dependent.py``),
   which returns a costgraph kind.  Shapes come from costgraph's own formulas.
3. Every node's shape must equal export's symbolic shape as an expression
   (``shapes.py``), or the import fails naming the node.  The conditions
   on the sizes that export traced the model's Python under (a branch on
   a size, such as Swin's "shift only when the map exceeds the window")
   become constraints of the input (``guards.py``): a size where the
   traced branch flips is refused, not miscounted.
4. Parameters are counted once per tensor, as torch counts them: a tensor
   tied to two layers (GPT-2's embedding and head) makes the second share
   the first's weights.  Buffers (batch norm's running statistics, rotary
   frequencies) are not parameters.

Only torch and the module's own ``forward`` (under export's tracing) run.
"""

from __future__ import annotations

import time

import torch.nn as nn

from ...errors import CostGraphError
from ...network import Network
from . import conv_pool, creation, data_dependent, dense, elementwise, indexing, layout, norm, reduction, resample  # noqa: F401  (registration)
from . import loss, scatter, sorting  # noqa: F401  (registration: converters for any model's ops)
from .capture import DEFAULT_DYNAMIC, capture
from .table import ATEN_CONVERTERS, Call, TensorValue, aten_converter, op_name
from .walk import DataDependentError, UnusedParametersWarning, convert_program

__all__ = [
    "from_torch",
    "ATEN_CONVERTERS",
    "aten_converter",
    "op_name",
    "Call",
    "TensorValue",
    "DEFAULT_DYNAMIC",
    "UnusedParametersWarning",
    "DataDependentError",
    "last_timings",
]

#: seconds spent by the last `from_torch` call: {"export": ..., "convert": ...}
last_timings: dict = {}


def from_torch(module, example_input, dynamic=None, *, name=None, lazy_linear=False, training=False) -> Network:
    """Capture `module` with ``torch.export`` and rebuild it as a symbolic costgraph `Network`.

    Parameters
    ----------
    module : torch.nn.Module
        The model.  Build it on the meta device (``with torch.device("meta"):``)
        to import a big model without allocating its weights.
    example_input : Tensor, shape tuple, or list of them
        One example per ``forward`` tensor argument, batch first.  A shape
        makes an empty float tensor on the module's device (give token ids
        as an integer tensor).  Distinct sizes (e.g. ``(2, 3, 64, 48)``)
        keep H and W apart; a dynamic size of 1 is exported as 2 (export
        fixes sizes of 1).
    dynamic : dict, optional
        Which input dimensions are sizes: ``{name: dim}``, or
        ``{name: (input index, dim)}`` with several inputs, e.g.
        ``{"N": 0, "H": 2, "W": 3}``; a list of places for one size that
        several inputs share (``{"N": [(0, 0), (1, 0)], "S": (0, 1), "T": (1, 1)}``
        for T5's encoder and decoder ids).  Names become ``size_symbol(name)``
        (N, H, W, S are costgraph's own).  Every other dimension is fixed
        at the example's size.  By default a 4-d input has N, H, W at 0, 2,
        3; a 3-d input N, S; a 2-d input N (N, S for integer token ids).
    name : str, optional
        The network's name (default: the module's class name).
    lazy_linear : bool
        Import every linear layer whose input features depend on the sizes
        as a lazy Linear (its weights follow the input, like the seed's
        VGG16 table, where fc1 is sized for each input).  By default a
        linear layer keeps its weight's ``in_features``, and the network is
        valid only at sizes that produce them.
    training : bool
        Export the module in train mode (restored afterwards): dropout
        layers keep their probability, so the training memory includes the
        masks autograd saves (Hugging Face models pass their attention
        dropout only when training), and batch norm uses batch statistics.
        Counts (parameters, MACs) are the same in both modes.  Default:
        eval mode, where dropout is the identity.

    Returns
    -------
    Network
        Layers are named after the module path (``features.0``) when the
        module makes one layer, else ``path.aten_node``.

    Raises
    ------
    UnsupportedOperationError
        Listing every operation without a converter and where it occurs.
    DataDependentError
        When the unsupported operations all depend on data (``nonzero``, NMS).
    ShapeError
        If a layer's symbolic shape differs from export's (naming the node).
    CostGraphError
        For a bad `module`, `example_input` or `dynamic`, or when
        ``torch.export`` cannot capture the module.

    Examples
    --------
    >>> import torch
    >>> import costgraph
    >>> with torch.device("meta"):
    ...     model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.MaxPool2d(2))
    >>> net = costgraph.from_torch(model, (2, 3, 32, 24))   # N, H, W: dims 0, 2, 3
    >>> net.shape("1")                                      # the module path in the Sequential
    (N, 8, floor(H/2), floor(W/2))
    >>> net.totals().params                                 # 8*3*3*3 weights + 8 biases
    224
    """
    if not isinstance(module, nn.Module):
        raise CostGraphError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}", value=module)
    captured = capture(module, example_input, dynamic, training=training)
    start = time.perf_counter()
    try:
        net = convert_program(captured, module, name or type(module).__name__, lazy_linear=lazy_linear)
    except CostGraphError:
        raise
    except Exception as error:  # a converter's bug must still reach the user as one clear error
        raise CostGraphError(f"from_torch: converting {type(module).__name__} failed: {type(error).__name__}: {error}") from error
    last_timings.clear()
    last_timings.update(export=captured.seconds, convert=time.perf_counter() - start)
    return net
