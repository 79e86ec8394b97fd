"""The conditions ``torch.export`` assumed about the sizes, as constraints on the imported network.

Export traces ``forward`` once, at the example's sizes.  Where the code
branches on a size (torchvision's Swin: "if the window is at least the
padded map, do not shift", i.e. no ``roll`` and no attention mask), the
branch taken at the example is baked into the graph, and torch records a
*guard* over its size symbols (``pad_W > 7``) in the shape environment.
``ExportedProgram.range_constraints`` keeps only the guards that are plain
ranges of one symbol (``W >= 4``); the others are not checked when the
program runs at other sizes.  A cost counted at such a size would silently
be the cost of the other branch's graph.

`export_guards` turns every guard into a costgraph `Constraint` over the
user's size names (``Constraint.expr >= 0`` for integers):

* ``a >= b``: ``a - b``;  ``a > b``: ``a - b - 1`` (and ``<=``, ``<`` alike);
* ``Eq(a, b)``: ``-(a - b)**2``;  ``Ne(a, b)``: ``(a - b)**2 - 1``.

The network then refuses a size outside the graph's domain with a
`DomainError` naming the condition, like any layer's constraint.  Guards
that hold identically (``a - b`` expands to 0 for ``Eq``, to a constant of
the right sign otherwise) are left out.  A guard costgraph cannot write
exactly (a remainder by a size that is not a multiple) is left out too and
counted in `GuardSet.unwritten`; every written one is checked to hold at the
example's sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sympy

from ...errors import CostGraphError
from ...intmath import FloorDiv
from ...kinds.base import Constraint
from .shapes import to_formula

__all__ = ["GuardSet", "export_guards", "shape_env_of"]


@dataclass(frozen=True)
class GuardSet:
    """The conditions written as constraints, and how many guards could not be written."""

    constraints: tuple
    unwritten: tuple
    pinned: tuple = ()


def shape_env_of(program):
    """The ``ShapeEnv`` export traced with (from a placeholder's symbolic size), or None when every size is fixed."""
    import torch

    for node in program.graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        for d in getattr(val, "shape", ()):
            if isinstance(d, torch.SymInt):
                return d.node.shape_env
    return None


#: costgraph's package directory: a guard recorded by code under it is costgraph's, not the model's
#: (matched as a path prefix: a user's project may itself sit in a folder named costgraph)
_PACKAGE = str(Path(__file__).resolve().parents[2]).replace("\\", "/") + "/"

#: torch's own shape rules: guards made while computing an op's output metadata (meta
#: functions' validity checks, strides, contiguity, the view algorithm, broadcasting, slice
#: clamping, decompositions) choose how a fake tensor is laid out, not which ATen ops the
#: exported graph holds; the converters check every op's shape as an expression, and the kinds
#: state their own validity (a Linear's input features) with clearer messages.
_OP_METADATA = (
    "_meta_registrations", "_prims_common", "_refs", "_prims", "_subclasses", "_decomp", "_ops.py",
    "non_strict_utils", "fx/experimental",
)  # fmt: skip


def _from_op_metadata(guard) -> bool:
    """Whether torch recorded `guard` inside its shape rules rather than in the model's Python (``if size > 7``).

    Guards recorded by costgraph's own converters (asking a fake tensor
    ``is_contiguous()`` after export, on an earlier import of the same
    program) are left out too: they are not export's.
    """
    loc = getattr(getattr(guard, "sloc", None), "framework_loc", None)
    filename = str(getattr(loc, "filename", loc or "")).replace("\\", "/")
    if filename and str(Path(filename).resolve()).replace("\\", "/").startswith(_PACKAGE):
        return True  # costgraph's own code (a converter asking a fake tensor), not the model's
    inside = filename.rpartition("/torch/")[2] if "/torch/" in filename else ""
    return any(part in inside for part in _OP_METADATA)


def _difference(relation, symbols):
    """``a - b`` of a relation ``a ? b``, both sides as costgraph formulas, expanded."""
    lhs, rhs = (to_formula(side, symbols) for side in relation.args)
    return sympy.expand(lhs - rhs)


_AT_LEAST = {sympy.GreaterThan: 0, sympy.StrictGreaterThan: 1}
_AT_MOST = {sympy.LessThan: 0, sympy.StrictLessThan: 1}


def _as_constraint(relation, symbols):
    """The Constraint of one guard, or None when it holds at every size."""
    d = _difference(relation, symbols)
    if type(relation) in _AT_LEAST:
        expr = d - _AT_LEAST[type(relation)]
    elif type(relation) in _AT_MOST:
        expr = -d - _AT_MOST[type(relation)]
    elif isinstance(relation, sympy.Eq):
        if d == 0:
            return None
        expr = -(d**2)
    elif isinstance(relation, sympy.Ne):
        if d.is_number and d != 0:
            return None
        expr = d**2 - 1
    else:
        raise CostGraphError(f"a guard of form {type(relation).__name__}", value=relation)
    if expr.is_number:
        if expr >= 0:
            return None
        raise CostGraphError(f"the guard {relation} is false at every size", value=relation)
    return expr


def export_guards(program, symbols: dict) -> GuardSet:
    """Every size guard of `program`'s trace as a `Constraint` over the user's sizes.

    Parameters
    ----------
    program : torch.export.ExportedProgram
    symbols : dict
        torch size symbol -> costgraph size symbol (`capture.Capture.symbols`).

    Returns
    -------
    GuardSet
        Constraints (deduplicated, each true at the example's sizes), and
        the guards left out because costgraph cannot write them exactly.

    Raises
    ------
    CostGraphError
        If a written guard is false at the example's sizes (a mapping error:
        the import must not go on with a wrong domain).

    Examples
    --------
    >>> import torch
    >>> class Halves(torch.nn.Module):
    ...     def forward(self, x):                      # a branch on a size: baked in at the example
    ...         return x[:, :, ::2] if x.shape[2] > 8 else x
    >>> from costgraph.importers.aten.capture import capture
    >>> captured = capture(Halves(), (2, 3, 16, 5))
    >>> [str(c.expr) for c in export_guards(captured.program, captured.symbols).constraints]
    ['H - 9']
    """
    env = shape_env_of(program)
    if env is None:
        return GuardSet((), ())
    lowest = _lower_bounds(program, symbols)
    values = getattr(env, "backed_var_to_val", None) or env.var_to_val  # renamed in torch 2.13
    hints = {s: int(v) for s, v in values.items() if s in symbols}
    at_example = {symbols[s]: v for s, v in hints.items()}
    written, seen, unwritten = [], set(), []
    for guard in env.guards:
        relation = guard.expr
        if _from_op_metadata(guard):
            continue
        if not relation.free_symbols or not relation.free_symbols <= set(symbols):
            continue  # a constant check, or one over sizes that are not the inputs' (none in practice)
        if isinstance(relation, sympy.Symbol) or relation in (sympy.true, sympy.false):
            continue
        try:
            expr = _as_constraint(relation, symbols)
        except CostGraphError:
            unwritten.append(str(relation))
            continue
        if expr is None or expr in seen:
            continue
        seen.add(expr)
        if int(expr.subs(at_example)) < 0:
            raise CostGraphError(
                f"from_torch: export's size guard {relation} maps to {expr} >= 0, false at the example's sizes {at_example}",
                value=relation,
            )
        shown = relation.xreplace({s: symbols[s] for s in relation.free_symbols})
        written.append(
            Constraint(expr, f"torch.export traced the model assuming {shown}; the imported graph is valid only there")
        )
    pinned, used = _pinned_floors(written, lowest)
    for symbol in sorted(used, key=str):  # the ranges the pins rest on are conditions too
        written.append(Constraint(symbol - lowest[symbol], f"torch.export's range for {symbol}: {symbol} >= {lowest[symbol]}"))
    return GuardSet(tuple(written), tuple(unwritten), tuple(pinned.items()))


def _lower_bounds(program, symbols) -> dict:
    """costgraph symbol -> the least value export's range constraints allow (1 when none is given)."""
    bounds = {}
    for torch_symbol, ranges in getattr(program, "range_constraints", {}).items():
        if torch_symbol in symbols:
            try:
                bounds[symbols[torch_symbol]] = max(1, int(ranges.lower))
            except (TypeError, ValueError):
                pass
    return bounds


def _nondecreasing(expr) -> bool:
    """Structurally non-decreasing in every size: sizes and floors of such, with positive coefficients."""
    if expr.is_number or isinstance(expr, sympy.Symbol):
        return True
    if isinstance(expr, FloorDiv):
        return _nondecreasing(expr.args[0])
    if isinstance(expr, sympy.Add):
        return all(_nondecreasing(t) for t in expr.args)
    if isinstance(expr, sympy.Mul):
        coefficient, rest = expr.as_coeff_Mul()
        return coefficient > 0 and all(_nondecreasing(f) and not f.is_number for f in sympy.Mul.make_args(rest))
    return False


def _pinned_floors(constraints, lowest):
    """Floors that the conditions fix to one value: ``c - k*f >= 0`` and ``f >= f(lowest sizes)`` meeting.

    Swin's last stage at 224x192 is one window: export's guard "7 >= padded"
    is ``7 - 7*floor((H + 220)/224) >= 0``, and the floor is at least 1 at
    export's least H (4): so it is 1 wherever the graph is valid.
    """
    pinned, used = {}, set()
    for constraint in constraints:
        expr = sympy.expand(constraint.expr)
        floors = [t for t in sympy.Add.make_args(expr) if not t.is_number]
        if len(floors) != 1:
            continue
        k, f = floors[0].as_coeff_Mul()
        if not (isinstance(f, FloorDiv) and k < 0 and _nondecreasing(f)):
            continue
        if not all(s in lowest for s in f.free_symbols):
            continue
        highest = int(expr - floors[0]) // int(-k)
        least = int(f.subs({s: lowest[s] for s in f.free_symbols}))
        if least == highest:
            pinned[f] = sympy.Integer(least)
            used |= f.free_symbols
    return pinned, used
