"""The Rich progress bar of the training commands (on stderr, hidden when quiet), in one place."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def bar(console: Console, label: str) -> tuple[Progress, Callable[[int, int | None, float], None]]:
    """A transient bar and the ``(done, total, elapsed)`` callback the dataset functions call."""
    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True, disable=console.quiet)
    task = progress.add_task(label, total=None)

    def update(done: int, total: int | None, elapsed: float) -> None:
        progress.update(task, completed=done, total=total)

    return progress, update
