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


def _command_lines(text: str) -> list:
    """The arguments of each ``costgraph ...`` / ``python -m costgraph ...`` line in the sh code blocks."""
    import shlex

    language, found = None, []
    for line in text.splitlines():
        if line.startswith("```"):
            language = None if language is not None else (line[3:].strip() or "text")
            continue
        if language in ("sh", "bash", "shell", "console"):
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word == "costgraph" and (i == 0 or words[i - 1] == "-m"):
                    rest = words[i + 1 :]
                    found.append(rest[: rest.index("|")] if "|" in rest else rest)
                    break
    return found


def test_readme_command_lines_parse():
    """Every command line the README shows is accepted by today's flags (parsed, not run: plots, docs, budgets)."""
    from costgraph.cli import build_parser

    lines = _command_lines(README.read_text(encoding="utf-8"))
    assert any(words[:1] == ["fit"] for words in lines) and any(words[:1] == ["roofline"] for words in lines)
    parser = build_parser()
    for words in lines:
        parser.parse_args(words)  # a flag that no longer exists raises (one line), naming it
