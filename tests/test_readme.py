"""README.md's examples run: its ``>>>`` sessions as doctests, its other Python blocks as code.

A session that imports an optional dependency (torch, onnx, ...) is skipped
when it is not installed, as the differential tests are, and fails under
``CI=true``, where every extra is installed.
"""

import doctest
import importlib.util
import os
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
OPTIONAL = ("torch", "onnx", "matplotlib", "transformers")


def _python_blocks():
    """(first line, last line, text) of every fenced Python block of the README (0-based lines)."""
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start(1)), text.count("\n", 0, m.end(1)), m.group(1))
        for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


def _missing(block):
    """The optional modules `block` imports that are not installed."""
    wanted = [m for m in OPTIONAL if re.search(rf"^\s*(>>> )?(import|from) {m}\b", block, re.M)]
    return [m for m in wanted if importlib.util.find_spec(m) is None]


def test_readme_doctests():
    text = README.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", str(README), 0)
    unavailable = []  # line ranges of sessions that need a module this machine lacks
    for first, last, block in _python_blocks():
        missing = _missing(block)
        if missing and os.environ.get("CI") == "true":
            pytest.fail(f"README.md line {first + 1}: {missing[0]} is required under CI=true")
        if missing:
            unavailable.append((first, last))
    test.examples = [e for e in test.examples if not any(a <= e.lineno <= b for a, b in unavailable)]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_readme_code_blocks_run():
    plain = [block for _, _, block in _python_blocks() if ">>>" not in block]
    assert plain
    for block in plain:
        if _missing(block) and os.environ.get("CI") != "true":
            continue
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 (the README's own examples)
