"""README.md's examples run: its ``>>>`` sessions as doctests, its other Python blocks as code."""

import doctest
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_doctests():
    result = doctest.testfile(
        str(README), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


def test_readme_code_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    plain = [b for b in blocks if ">>>" not in b]
    assert plain
    for block in plain:
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
