"""costgraph's modules import downwards only (issue 16).

Layers, bottom to top: arithmetic, kinds, graph, memory and conventions,
models and importers, rendering, command line.  A module may import from
its own layer or below, never above: anywhere in the file, function-level
imports included (they are dependencies all the same).  Records that need
to print themselves ask the renderer through `costgraph.display_hook`,
which the package ``__init__`` (the facade above every layer) connects.

Source of truth: the layering stated in issue 16; the test reads each
file's syntax tree, it runs nothing.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "costgraph"

LAYERS = [
    ("arithmetic", {"errors", "intmath", "symbols", "dtypes", "polynomial", "display_hook", "size_ranges", "counts", "formula_program"}),
    ("kinds", {"kinds"}),
    ("graph", {"network", "totals", "compile"}),
    ("memory and conventions", {"memory", "conventions", "inference", "training", "llm_formulas", "traffic"}),
    ("models, importers and hardware", {"models", "importers", "fast", "model_source", "formula_writer", "hardware", "roofline", "fit", "valid_sizes"}),
    ("rendering", {"render", "model_summary", "docsgen"}),
    ("command line", {"cli", "cli_fit", "__main__"}),
]
RANK = {top: index for index, (_, tops) in enumerate(LAYERS) for top in tops}

#: the only upward imports: `Network.memory`, `Network.flops` and ``totals(backward=True)`` are front
#: doors of the public API that hand over to the memory model and the conventions, and the LLM methods
#: (`kv_cache_bytes`, `decode_step`, `generation`, the training recipes, `non_embedding_params`,
#: `forward_flops_per_token`) to the modules beside them, and bytes moved, `roofline` and `max_size`
#: to the traffic model, the roofline and the inverse search (function-level imports)
FRONT_DOORS = {
    ("network", "memory"),
    ("network", "conventions"),
    ("network", "inference"),
    ("network", "training"),
    ("network", "llm_formulas"),
    ("network", "traffic"),
    ("network", "roofline"),
    ("network", "fit"),
}


def top_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_tops(path: pathlib.Path) -> set:
    """The costgraph top-level modules `path` imports, relative or absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]  # e.g. ("costgraph", "render")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[:1] == ["costgraph"]:
                if len(target) > 1:
                    found.add(target[1])
                else:  # from costgraph import x / from . import x: x is a module or a facade name
                    found.update(alias.name for alias in node.names if alias.name in RANK)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "costgraph" and len(parts) > 1:
                    found.add(parts[1])
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "conftest.py" and p != PACKAGE / "__init__.py")


def test_every_module_has_a_layer():
    assert {top_name(p) for p in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downwards(path):
    own = top_name(path)
    upward = sorted(t for t in imported_tops(path) if t in RANK and RANK[t] > RANK[own] and (own, t) not in FRONT_DOORS)
    assert not upward, f"{path.relative_to(PACKAGE)} ({LAYERS[RANK[own]][0]}) imports {upward} from above"


# -- the suite's own hygiene -------------------------------------------------------------------------
def test_no_test_is_parametrized_with_a_generator():
    """pytest deprecates parametrizing with a non-Collection iterable (pytest 10 removes it): pass lists."""
    offenders = []
    for path in sorted((PACKAGE.parent / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        generators = {
            node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node))
        }  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize" and len(node.args) >= 2:
                values = node.args[1]
                called = values.func.id if isinstance(values, ast.Call) and isinstance(values.func, ast.Name) else None
                if isinstance(values, ast.GeneratorExp) or called in generators or called in ("map", "filter", "zip", "iter"):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders
