"""A full disk is one clear error (:class:`~vidlens.errors.DiskFullError`, exit 4) and leaves nothing half-written.

Writers already write single files through a temporary name and an atomic rename, so a full disk
never leaves a truncated timeline, report or video. An output *folder* fills file by file (keyframes,
thumbnails, the contact sheet): :func:`outputs_or_nothing` notes what the folder held before a run and,
when the disk fills, removes what the run wrote (the whole folder if the run created it), so no folder
of 0-byte JPEGs without a timeline is left behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .errors import DiskFullError, disk_full, is_disk_full

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def outputs_or_nothing(folder: str | Path | None, what: str = "writing the outputs") -> Iterator[None]:
    """Run the body; if the disk fills, remove what it wrote into ``folder`` and raise :class:`DiskFullError`."""
    target = Path(folder) if folder is not None else None
    created = target is not None and not os.path.lexists(target)
    before = _snapshot(target) if target is not None and not created else {}
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        if target is not None:
            remove_written(target, created, before)
        if isinstance(error, DiskFullError):
            raise
        raise disk_full(error, what) from error


def cleans_up_on_disk_full(function: F) -> F:
    """:func:`outputs_or_nothing` around a function whose output folder is its ``output_dir`` keyword."""
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with outputs_or_nothing(kwargs.get("output_dir")):
            return function(*args, **kwargs)

    return run  # type: ignore[return-value]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (mtime_ns, size)`` of the files under ``folder`` (links not followed)."""
    found: dict[str, tuple[int, int]] = {}
    if not folder.is_dir() or folder.is_symlink():
        return found
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            with contextlib.suppress(OSError):
                st = path.lstat()
                found[str(path.relative_to(folder))] = (st.st_mtime_ns, st.st_size)
    return found


def remove_written(folder: Path, created: bool, before: dict[str, tuple[int, int]]) -> None:
    """Remove what a failed run wrote: the folder if it created it, else the files that are new or changed
    since ``before`` (a file half-overwritten is no more use than a half-written one) and new empty folders."""
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    after = _snapshot(folder)
    for rel, stamp in after.items():
        if before.get(rel) != stamp:
            with contextlib.suppress(OSError):
                (folder / rel).unlink()
    old_dirs = {str(Path(rel).parent) for rel in before}
    for root, dirs, _files in os.walk(folder, topdown=False):
        for name in dirs:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            if rel not in old_dirs and not any(o.startswith(rel + os.sep) for o in old_dirs):
                with contextlib.suppress(OSError):
                    path.rmdir()  # only if empty


__all__ = ["DiskFullError", "cleans_up_on_disk_full", "outputs_or_nothing", "remove_written"]
