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
