"""Deriving a zoo model's formulas as a program and writing it to the cache: the rare half of `costgraph.fast`.

Kept apart from `costgraph.fast` so that a process answering from the
cache does not even compile this code.  `build_program` turns sympy formulas into a
program of `costgraph.formula_program`; `generate_program` does it for a zoo
model's totals and validity checks; `file_bytes` lays out a cache file (a
header line, then the body); `write_atomically` writes through a private
temporary file.
"""

from __future__ import annotations

import hashlib
import json
import os

from .fast import _COMPUTED, FORMAT, cache_problem

__all__ = ["build_program", "generate_program", "file_bytes", "write_atomically"]


def build_program(names, exprs):
    """The program computing `exprs` (sympy formulas in the sizes `names`) and each one's node.

    Parameters
    ----------
    names : sequence of str
        The sizes, in the order the program takes them.
    exprs : sequence of sympy.Expr
        Formulas made of integers, those sizes, sums, products, non-negative
        integer powers, `costgraph.intmath.FloorDiv`, ``Min`` and ``Max``.

    Returns
    -------
    (list, list of int)
        The nodes, and the node of each formula.

    Raises
    ------
    TypeError
        For anything else in a formula (a rational or float, a size not in
        `names`, another function): it has no exact form here.

    Examples
    --------
    >>> from costgraph.symbols import H
    >>> from costgraph.intmath import FloorDiv
    >>> build_program(["H"], [3 * FloorDiv(H, 2), H])
    ([['int', 3], ['size', 0], ['floordiv', 1, 2], ['mul', 0, 2]], [3, 1])
    """
    import sympy

    from .intmath import FloorDiv

    positions = {name: index for index, name in enumerate(names)}
    nodes: list = []
    seen: dict = {}

    def ref(expr) -> int:
        found = seen.get(expr)
        if found is not None:
            return found
        if expr.is_Integer:
            node = ["int", int(expr)]
        elif expr.is_Symbol:
            if expr.name not in positions:
                raise TypeError(f"refusing {expr.name!r}: not one of the sizes {list(names)}")
            node = ["size", positions[expr.name]]
        elif isinstance(expr, FloorDiv):
            base, divisor = expr.args
            node = ["floordiv", ref(base), int(divisor)]
        elif isinstance(expr, (sympy.Min, sympy.Max)):
            node = ["min" if isinstance(expr, sympy.Min) else "max", *[ref(a) for a in expr.args]]
        elif expr.is_Add:
            node = ["add", *[ref(a) for a in expr.args]]
        elif expr.is_Mul:
            node = ["mul", *[ref(a) for a in expr.args]]
        elif expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
            node = ["pow", ref(expr.base), int(expr.exp)]
        else:
            raise TypeError(f"refusing {type(expr).__name__} (no exact integer form): {expr}")
        nodes.append(node)
        seen[expr] = len(nodes) - 1
        return len(nodes) - 1

    roots = [ref(sympy.sympify(e)) for e in exprs]
    return nodes, roots


def generate_program(model: str, options: dict | None = None) -> dict:
    """`model`'s totals and validity checks as a program (imports sympy to derive them).

    Returns the body of a cache file: ``sizes`` (names, in the order the
    program takes them), ``defaults`` (the model's usual sizes), ``fields``,
    ``nodes`` (see `costgraph.formula_program`), ``totals`` (the node of each
    field), ``at_least_one`` (the nodes that must be >= 1: every layer's
    output sizes) and ``non_negative`` (the nodes that must be >= 0: every
    layer's constraints).

    Raises
    ------
    CostGraphError
        If there is no such model, or as building it raises.
    """
    from .models import MODELS, build

    net = build(model, **(options or {}))
    defaults = MODELS[model].sizes()
    names = [s.name for s in net.symbols]
    sums = net._symbolic()
    # valid: every output size >= 1 and every constraint >= 0, each distinct formula once
    exprs, spans = net._checks()
    least: dict = {}
    for _, start, rank, n_constraints in spans:
        for offset in range(rank + n_constraints):
            expr = exprs[start + offset]
            bound = 1 if offset < rank else 0
            least[expr] = max(least.get(expr, bound), bound)
    checked = list(least)
    nodes, roots = build_program(names, [sums[f] for f in _COMPUTED] + checked)
    field_roots, check_roots = roots[: len(_COMPUTED)], roots[len(_COMPUTED) :]
    return {
        "sizes": names,
        "defaults": dict(defaults),
        "fields": list(_COMPUTED),
        "nodes": nodes,
        "totals": field_roots,
        "at_least_one": sorted({r for r, e in zip(check_roots, checked) if least[e] == 1}),
        "non_negative": sorted({r for r, e in zip(check_roots, checked) if least[e] == 0}),
    }


def dumps(value) -> bytes:
    """`value` as compact JSON bytes (how a cache body is stored).

    >>> dumps({"nodes": [["int", 3]]})
    b'{"nodes":[["int",3]]}'
    """
    return json.dumps(value, separators=(",", ":")).encode()


def file_bytes(key: str, model: str, options: dict, body: bytes) -> bytes:
    """A cache file: one header line (format, key, model, options, the body's sha256), then `body`.

    The sha256 detects accidental damage only: anyone who can write the
    file can recompute it (see `costgraph.fast`).

    >>> data = file_bytes("k" * 64, "vgg16", {}, b"{}")
    >>> json.loads(data.split(b"\\n")[0])["model"], data.endswith(b"\\n{}")
    ('vgg16', True)
    """
    header = {
        "costgraph formula cache": FORMAT,
        "note": "generated data, never code; checked on every load and rewritten if it does not pass",
        "key": key,
        "model": model,
        "options": options,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    return dumps(header) + b"\n" + body


def write_atomically(path: str, data) -> bool:
    """Write `data` (bytes or text) to `path` through a private temporary file; False if it cannot.

    The folder is created private (0o700) if missing, and nothing is written
    into one that `costgraph.fast.cache_problem` refuses.

    >>> import os, tempfile
    >>> folder = os.path.join(tempfile.mkdtemp(), "cache")
    >>> write_atomically(os.path.join(folder, "f"), "text"), oct(os.stat(os.path.join(folder, "f")).st_mode & 0o777)
    (True, '0o600')
    """
    import tempfile

    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if cache_problem(directory) is not None:
            return False
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")  # mode 0o600
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        return True
    except OSError:
        return False


