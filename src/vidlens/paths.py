"""Path safety shared by readers and writers: say why a path is not a readable file, read a user's small
files (rules, timelines, passphrases) with one-line errors, refuse an output that cannot be written where it
is asked for (a folder where a file goes, a device, a link loop), and never let an output be (a link to)
one of its inputs. Every check runs before any work, so a bad path costs nothing and leaves nothing."""

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


def check_output_path(path: str | Path, *, folder: bool = False) -> None:
    """Raise :class:`UsageError` when ``path`` cannot become the output file (or, with ``folder``, folder).

    An existing output is replaced only if it is of the same kind: a regular file for a file, a folder
    for a folder. Devices, pipes and sockets are refused (an atomic rename would replace ``/dev/null``
    itself), and so are link loops, dangling links and a parent that is a file.
    """
    p = Path(path)
    wanted = "folder" if folder else "file"
    if p.is_symlink() and not p.exists():
        raise UsageError(f"cannot write the output {wanted} there: {why_not_a_file(p)}", path=p)
    if p.exists():
        if folder and p.is_file():
            raise UsageError("the output folder is a file: give a folder (new or one vidlens wrote)", path=p)
        if not folder and p.is_dir():
            raise UsageError("the output is a folder: give a file name", path=p)
        if not folder and not p.is_file():
            raise UsageError(f"cannot write the output there: {why_not_a_file(p)}", path=p)
        if folder and not p.is_dir():
            raise UsageError(f"cannot use it as the output folder: {why_not_a_file(p)}", path=p)
        return
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"cannot create the output {wanted}: {parent} is not a folder", path=p)


def read_user_file(path: str | Path, what: str, *, limit: int = 64 << 20) -> str:
    """The text of a small file the user gave (``what`` names it: "rules file", "timeline"...), as UTF-8.

    Every failure is a one-line :class:`UsageError`: not a regular file (a FIFO would block for ever),
    larger than ``limit``, unreadable, or not UTF-8 text.
    """
    p = Path(path)
    if (reason := why_not_readable(p)) is not None:
        raise UsageError(f"cannot read the {what}: {reason}", path=p)
    try:
        if p.stat().st_size > limit:
            raise UsageError(f"the {what} is larger than {limit >> 20} MB: not a {what}", path=p)
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"not a {what} (not UTF-8 text)", path=p) from None
    except OSError as error:
        raise UsageError(f"cannot read the {what}: {error.strerror or error}", path=p) from None


def refuse_input_as_output(output: str | Path, *inputs: str | Path, folder: bool = False) -> None:
    """Raise :class:`UsageError` naming both paths when ``output`` is, or links to, one of ``inputs``.

    With ``folder`` the output is a folder: it may not be an input file, and no input may sit directly in it
    under a name vidlens writes (checked by the caller); here only the folder itself is compared."""
    out = Path(output)
    check_output_path(out, folder=folder)
    for source in inputs:
        src = Path(source)
        if not src.exists():
            continue
        if (out.exists() or out.is_symlink()) and _same(out, src):
            kind = "output folder" if folder else "output"
            raise UsageError(f"the {kind} {out} is the input {src}: refusing to overwrite it")


def why_not_readable(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a regular file ("no such file", "a folder", "a named pipe..."),
    or None when it can. Checked before opening: a FIFO or a device would block or never end."""
    if path.is_file():
        return None
    if not path.exists() and not path.is_symlink():
        return "no such file"
    return why_not_a_file(path) or "a folder, not a file"


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
