"""Plain-text tables as the commands print them: columns aligned, a rule under the header."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """``rows`` (the header first) as lines: each column as wide as its widest cell,
    aligned by its character in ``align`` (``<`` left, ``>`` right, ``^`` centred, ``.``
    as it is: a last column of notes), two spaces between columns, a rule of dashes under
    the header."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(align))]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            cell if a == "." else f"{cell:{a}{w}}"
            for cell, a, w in zip(row, align, widths, strict=False)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return lines
