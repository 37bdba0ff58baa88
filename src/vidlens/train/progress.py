"""Progress output of the training commands, in one place: the console they write to and their Rich bar.

Library functions take ``progress``: a Rich console to write to (the CLI passes its one stderr console,
:data:`vidlens.cli.console.err`), ``True`` for a console on stderr (Python callers who want to watch), or
``False`` for silence. :func:`console_for` turns that into the console; no other module of ``train/``
makes one.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: What a ``progress`` argument may be (see the module docstring).
ProgressArg = bool | Console


def console_for(progress: ProgressArg) -> Console:
    """The console for ``progress``: the one given, a stderr console for ``True``, a quiet one for ``False``."""
    if isinstance(progress, Console):
        return progress
    return Console(stderr=True, quiet=not progress, soft_wrap=True)


def bar(console: Console, label: str) -> tuple[Progress, Callable[[int, int | None, float], None]]:
    """A transient bar and the ``(done, total, elapsed)`` callback the dataset functions call."""
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True, disable=console.quiet)
    task = progress.add_task(label, total=None)

    def update(done: int, total: int | None, elapsed: float) -> None:
        progress.update(task, completed=done, total=total)

    return progress, update
