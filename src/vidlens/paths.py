"""Path safety shared by readers and writers: say why a path is not a readable file, and never let an output
be (a link to) one of its inputs."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import UsageError


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def refuse_input_as_output(output: str | Path, *inputs: str | Path, folder: bool = False) -> None:
    """Raise :class:`UsageError` naming both paths when ``output`` is, or links to, one of ``inputs``.

    With ``folder`` the output is a folder: it may not be an input file, and no input may sit directly in it
    under a name vidlens writes (checked by the caller); here only the folder itself is compared."""
    out = Path(output)
    for source in inputs:
        src = Path(source)
        if not src.exists():
            continue
        if (out.exists() or out.is_symlink()) and _same(out, src):
            kind = "output folder" if folder else "output"
            raise UsageError(f"the {kind} {out} is the input {src}: refusing to overwrite it")


def why_not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a video file (None for a folder, which is walked, not read)."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return f"a dangling symbolic link (to {os.readlink(path)}, which does not exist)"
        return f"cannot be read ({error.strerror})"
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    return "not a regular file"
