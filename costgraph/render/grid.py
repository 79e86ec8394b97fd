"""Table grids without sympy: Markdown pipes and LaTeX escapes (the fast path prints with these).

>>> print(markdown_grid(("H", "params"), ("r", "r"), [["224", "138,357,544"]]))
|   H |      params |
|----:|------------:|
| 224 | 138,357,544 |
>>> latex_escape("conv1_1")
'conv1\\\\_1'
"""

from __future__ import annotations

__all__ = ["markdown_grid", "latex_escape"]


def markdown_grid(header, align, body) -> str:
    """A GitHub-flavoured Markdown table, columns padded; `align` is "l" or "r" per column."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body)]
    widths = [max(w, 3) for w in widths]

    def line(cells):
        padded = [str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(":" + "-" * (w + 1) if a == "l" else "-" * (w + 1) + ":" for w, a in zip(widths, align)) + "|"
    return "\n".join([line(header), rule] + [line(cells) for cells in body])


def latex_escape(text: str) -> str:
    r"""Text safe inside LaTeX: ``conv1_1`` -> ``conv1\_1``."""
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                          ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):  # fmt: skip
        text = text.replace(char, escaped)
    return text
