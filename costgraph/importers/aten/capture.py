"""Capture a module with ``torch.export``: example inputs, dynamic sizes, and the map of torch's size symbols to the user's.

The user names sizes (``dynamic={"N": 0, "H": 2, "W": 3}``, or ``(input
index, dim)`` with several inputs); each becomes ``Dim.AUTO`` for export,
which then writes every derived size over its own symbols ``s0, s1, ...``.
The placeholders' shapes say which torch symbol each user size became.
A dynamic size the model fixes (an assertion, a reshape to a constant) or
ties to another is reported by name, so the user can leave it out of
`dynamic` or name the two alike.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

import sympy
import torch

from ...errors import CostGraphError
from ...symbols import size_symbol

__all__ = ["DEFAULT_DYNAMIC", "Capture", "capture"]

#: symbolic dimensions by input rank when `dynamic` is not given
DEFAULT_DYNAMIC = {4: {"N": 0, "H": 2, "W": 3}, 3: {"N": 0, "S": 1}, 2: {"N": 0}}


@dataclass
class Capture:
    """What `capture` hands to the converters.

    Attributes
    ----------
    program : torch.export.ExportedProgram
    symbols : dict
        torch size symbol -> costgraph size symbol.
    inputs : list of tuple
        Each user input's shape as costgraph formulas.
    example_sizes : dict
        costgraph symbol -> its value in the example.
    seconds : float
        Time ``torch.export`` took.
    """

    program: object
    symbols: dict
    inputs: list
    example_sizes: dict
    seconds: float


def _example_tensors(example_input, device):
    def one(value):
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (tuple, list, torch.Size)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            if any(v < 0 for v in value):
                raise CostGraphError(f"from_torch: an example shape has a negative size: {tuple(value)}", value=value)
            return torch.empty(tuple(value), device=device)
        raise CostGraphError(f"from_torch: an example input must be a tensor or a shape, got {value!r}", value=value)

    if isinstance(example_input, torch.Tensor) or (
        isinstance(example_input, (tuple, list, torch.Size))
        and example_input
        and all(isinstance(v, int) and not isinstance(v, bool) for v in example_input)
    ):
        return [one(example_input)]
    if isinstance(example_input, (tuple, list)) and example_input:
        return [one(v) for v in example_input]
    raise CostGraphError(
        f"from_torch: example_input must be a tensor, a shape, or a list of them, got {example_input!r}", value=example_input
    )


def _symbol_for(name):
    if isinstance(name, sympy.Symbol):
        return size_symbol(name.name)
    if not isinstance(name, str) or not name.isidentifier():
        raise CostGraphError(f"from_torch: a dynamic size's name must be an identifier, got {name!r}", value=name)
    return size_symbol(name)


def _dynamic_dims(examples, dynamic):
    """``{(input index, dim): symbol}`` and the example value of every symbol."""
    if dynamic is None:
        if len(examples) != 1 or examples[0].dim() not in DEFAULT_DYNAMIC:
            raise CostGraphError(
                "from_torch: say which input dimensions are sizes with dynamic={'H': 2, ...} "
                "(name -> dim, or (input index, dim) with several inputs)"
            )
        dynamic = DEFAULT_DYNAMIC[examples[0].dim()]
        if examples[0].dim() == 2 and not examples[0].is_floating_point():
            dynamic = {"N": 0, "S": 1}  # token ids
    if not isinstance(dynamic, dict):
        raise CostGraphError(f"from_torch: dynamic must be a dict of size name -> dim, got {dynamic!r}", value=dynamic)
    dims, values = {}, {}
    for name, given in dynamic.items():
        # one place, or a list of places that are the same size (the batch of two inputs)
        places = given if isinstance(given, list) and given and not all(isinstance(v, int) for v in given) else [given]
        for where in places:
            _one_place(examples, dims, values, name, where)
    return dims, values


def _one_place(examples, dims, values, name, where):
    if isinstance(where, bool) or not (
        isinstance(where, int)
        or (isinstance(where, (tuple, list)) and len(where) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in where))
    ):
        raise CostGraphError(
            f"from_torch: dynamic size {name!r} must be a dim, (input index, dim), or a list of them, got {where!r}", value=where
        )
    index, dim = (0, where) if isinstance(where, int) else tuple(where)
    if not 0 <= index < len(examples) or not -examples[index].dim() <= dim < examples[index].dim():
        raise CostGraphError(f"from_torch: dynamic size {name!r} at {where!r} does not fit the example inputs", value=where)
    dim %= examples[index].dim()
    symbol = _symbol_for(name)
    example_value = int(examples[index].shape[dim])
    if example_value < 1:
        raise CostGraphError(f"from_torch: dynamic size {name!r} is {example_value} in the example", value=example_value)
    if values.get(symbol, example_value) != example_value:
        raise CostGraphError(f"from_torch: size {name!r} has two different values in the example", value=example_value)
    if (index, dim) in dims and dims[(index, dim)] != symbol:
        raise CostGraphError(f"from_torch: input {index} dim {dim} has two names", value=where)
    values[symbol] = example_value
    dims[(index, dim)] = symbol


def _widen_ones(examples, dims):
    """Examples with every dynamic size of 1 made 2: export fixes a size of 1 (broadcasting)."""
    widened = []
    for index, x in enumerate(examples):
        shape = list(x.shape)
        for (i, dim), _ in dims.items():
            if i == index and shape[dim] == 1:
                shape[dim] = 2
        if shape == list(x.shape):
            widened.append(x)
        elif x.is_floating_point() or x.is_complex():
            widened.append(torch.empty(shape, dtype=x.dtype, device=x.device) if x.device.type == "meta" else torch.randn(shape, dtype=x.dtype, device=x.device))
        else:
            widened.append(torch.zeros(shape, dtype=x.dtype, device=x.device))
    return widened


def capture(module, example_input, dynamic=None, *, training=False) -> Capture:
    """Export `module` at `example_input` with the named dimensions dynamic.

    The module is exported in eval mode unless `training` (then in train
    mode: dropout and batch norm as a training step runs them); its mode is
    restored afterwards.

    Raises
    ------
    CostGraphError
        For a bad `example_input` or `dynamic`, when ``torch.export`` fails
        (its message is kept), or when the model fixes or ties a size named
        dynamic.
    """
    import time

    from torch.export import Dim, export

    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    examples = _example_tensors(example_input, device)
    dims, values = _dynamic_dims(examples, dynamic)
    exported_examples = _widen_ones(examples, dims)
    specs = []
    for index, x in enumerate(exported_examples):
        spec = {dim: Dim.AUTO for (i, dim) in dims if i == index}
        specs.append(spec or None)
    modes = [(m, m.training) for m in module.modules()]  # restored one by one: modes may be mixed
    # eval by default: dropout and stochastic depth are identities.  In train mode the graph
    # holds what a training step runs: Hugging Face passes its attention dropout's p only
    # when training, so its masks (kept for backward) exist only in that graph.
    module.train(bool(training))
    start = time.perf_counter()
    try:
        # torch prints the partial graph of a failed export on stderr; the error says it in one line
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            program = export(module, tuple(exported_examples), dynamic_shapes=tuple(specs), strict=False)
    except CostGraphError:
        raise
    except Exception as error:  # torch raises many types here; the user gets one
        if "data-dependent" in str(error):
            raise _data_dependent(module, error) from error
        message = str(error).strip().splitlines()
        head = " ".join(message[:3])[:600] if message else ""
        raise CostGraphError(
            f"from_torch: torch.export cannot capture {type(module).__name__} at the example input: "
            f"{type(error).__name__}: {head}",
            value=module,
        ) from error
    finally:
        for m, mode in modes:
            m.training = mode
    seconds = time.perf_counter() - start
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    user_inputs = [
        spec.arg.name for spec in program.graph_signature.input_specs if spec.kind.name == "USER_INPUT"
    ]
    by_name = {n.name: n for n in placeholders}
    tensors = [by_name[name] for name in user_inputs if name in by_name and isinstance(by_name[name].meta.get("val"), torch.Tensor)]
    if len(tensors) != len(examples):
        raise CostGraphError(
            f"from_torch: forward takes {len(tensors)} tensor input(s), got {len(examples)} example(s)", value=len(examples)
        )
    symbols, inputs = {}, []
    for index, node in enumerate(tensors):
        shape = []
        for dim, size in enumerate(node.meta["val"].shape):
            expr = size.node.expr if isinstance(size, torch.SymInt) else sympy.Integer(int(size))
            wanted = dims.get((index, dim))
            if wanted is None:
                if not expr.is_number:
                    raise CostGraphError(f"from_torch: input {index} dim {dim} became dynamic ({expr}) unasked", value=expr)
                shape.append(sympy.Integer(int(examples[index].shape[dim])))
                continue
            if expr.is_number:
                raise CostGraphError(
                    f"from_torch: the model asserts Eq({wanted}, {int(expr)}) (it fixes size {wanted} of input {index} "
                    f"dim {dim}); fix such sizes: leave them out of `dynamic`",
                    value=wanted,
                )
            if not isinstance(expr, sympy.Symbol):
                raise CostGraphError(
                    f"from_torch: the model only accepts {wanted} of the form {expr}; leave it out of `dynamic`", value=wanted
                )
            if symbols.get(expr, wanted) != wanted:
                raise CostGraphError(
                    f"from_torch: the model requires sizes {symbols[expr]} and {wanted} to be equal; give them one name",
                    value=wanted,
                )
            symbols[expr] = wanted
            shape.append(wanted)
        inputs.append(tuple(shape))
    return Capture(program, symbols, inputs, values, seconds)



#: a line of the partial graph torch keeps on a failed export: a node with a data-sized shape
_UNBACKED_NODE = re.compile(r"^\s*(\w+): \"\w+\[[^\]]*\bu\d+\b[^\]]*\]\" = torch\.ops\.(\w+)\.(\w+)\.(\w+)")
_SOURCE_LINE = re.compile(r"^\s*# File: (.*?):(\d+) in (\w+), code: (.*)$")
_GUARD = re.compile(r"data-dependent expression (.*?) \(")
_CAUSED_BY = re.compile(r"Caused by: \((.*?)\)")


def _data_dependent(module, error):
    """A `DataDependentError` for an export that stopped at a branch on a data-dependent size.

    torch keeps the graph it traced up to the failure (``partial_fx_graph``):
    its first node whose shape holds an unbacked size ``u0, u1, ...`` is the
    operation whose output size depends on the data, and the comment above it
    the source line that called it.
    """
    from .walk import DataDependentError

    condition = _GUARD.search(str(error))
    op, where = None, None
    source = None
    for line in str(getattr(error, "partial_fx_graph", "") or "").splitlines():
        found = _SOURCE_LINE.match(line)
        if found:
            path, number, function, code = found.groups()
            source = f"{'/'.join(path.split('/')[-3:])}:{number} in {function} ({code.strip()[:80]})"
            continue
        node = _UNBACKED_NODE.match(line)
        if node:
            op, where = f"{node.group(2)}::{node.group(3)}.{node.group(4)}", source
            break
    made = f"{op} at {where} makes a tensor as large as the data decides, and " if op else ""
    branch = _CAUSED_BY.search(str(error))
    at = f" at {'/'.join(branch.group(1).split('/')[-3:])}" if branch else ""
    return DataDependentError(
        f"from_torch: torch.export cannot capture {type(module).__name__}: its cost depends on its data: {made}the forward branches on "
        f"{condition.group(1) if condition else 'a data-dependent size'}{at}; costgraph counts what every input runs: "
        "import the parts before it (a detector's model.backbone)",
        value=op,
    )
