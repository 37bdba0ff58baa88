"""Retention: delete the data vidlens derived from a video, on request (``vidlens forget``).

The derived data of a video is its output folder (``VIDEO.vidlens/`` by default). ``forget`` deletes
that folder only when it can tell the folder holds nothing but vidlens outputs: a vidlens timeline
(plain or locked) and only names vidlens writes (or their ``.enc`` form), at its top level and in the
analyzers' own subfolders (``keyframes/``, ``segments/``, ``faces/``, ``objects/``; see
:mod:`vidlens.outputs`). A folder with anything else in it — the video itself after ``-o .``,
a user's own files — is refused with the names that stopped it, because deleting a user's file is
worse than leaving derived data behind. The source video is never deleted.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..outputs import OUTPUT_NAMES, foreign_entries
from .vault import folder_state

__all__ = ["OUTPUT_NAMES", "Removed", "default_output_dir", "forget"]


@dataclass(frozen=True)
class Removed:
    """One entry ``forget`` deleted (a top-level file or folder, and last the output folder itself)."""

    path: Path
    files: int
    is_dir: bool


def default_output_dir(video: Path) -> Path:
    """Where ``vidlens analyze VIDEO`` writes when no ``-o`` is given."""
    return video.with_name(video.name + ".vidlens")


def forget(target: str | Path) -> list[Removed]:
    """Delete the derived data of a video (``target`` is the video or its output folder); return what went.

    The last entry is the output folder itself. Raises UsageError, deleting nothing, when there is
    no output folder, when it is not a vidlens output folder, or when it holds anything vidlens did
    not write.
    """
    target = Path(target)
    if target.is_dir():
        folder = target
    elif target.exists():
        folder = default_output_dir(target)
    else:
        raise UsageError("does not exist", path=target)
    if folder.is_symlink():
        raise UsageError("is a symbolic link: pass the output folder itself (forget never follows links); "
                         "nothing was deleted", path=folder)
    if not folder.is_dir():
        raise UsageError(f"no derived data: {folder} does not exist (pass the output folder if you used -o)",
                         path=target)
    if folder_state(folder) is None:
        raise UsageError("is not a vidlens output folder (no vidlens timeline.json, plain or encrypted); "
                         "nothing was deleted", path=folder)
    foreign = foreign_entries(folder)
    if foreign:
        raise UsageError(f"holds files vidlens did not write ({', '.join(foreign)}); nothing was deleted",
                         path=folder)
    entries = sorted(folder.iterdir())
    removed = []
    for path in entries:
        if path.is_dir():
            removed.append(Removed(path, sum(1 for p in path.rglob("*") if p.is_file()), True))
            shutil.rmtree(path)
        else:
            removed.append(Removed(path, 1, False))
            path.unlink()
    folder.rmdir()
    removed.append(Removed(folder, sum(r.files for r in removed), True))
    return removed
