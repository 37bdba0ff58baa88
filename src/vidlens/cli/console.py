"""The two Rich consoles every CLI module writes to: results on stdout, messages and progress on stderr.

One pair for the whole command line, so progress bars and messages from different modules share one
stderr console (Rich coordinates live displays per console). When stdout is not a terminal (a pipe, a
file) it has no width: results are then never wrapped or cut at 80 columns (Rich's guess), and tables
are plain tab-separated lines, so every cell reaches ``grep``/``cut`` whole.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

#: The width results get when stdout is a pipe or a file: wide enough that no row is cut or folded.
PIPE_WIDTH = 10_000

err = Console(stderr=True, soft_wrap=True)
out = Console() if sys.stdout.isatty() else Console(width=PIPE_WIDTH, soft_wrap=True)


def show(table: Table) -> None:
    """A result table: drawn on a terminal; plain tab-separated lines (header first) in a pipe or a file."""
    if out.is_terminal:
        out.print(table)
        return
    if table.title:
        sys.stdout.write(f"# {Text.from_markup(str(table.title)).plain}\n")
    columns = table.columns
    if table.show_header:
        sys.stdout.write("\t".join(Text.from_markup(str(c.header)).plain for c in columns) + "\n")
    for row in zip(*(c.cells for c in columns), strict=True):
        sys.stdout.write("\t".join(_plain(cell) for cell in row) + "\n")


def _plain(cell: object) -> str:
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return text.replace("\t", " ").replace("\n", " ")
