"""The error hierarchy, and the one table that maps it to CLI exit codes.

Every error vidlens raises on purpose derives from :class:`VidlensError` *and* from the matching
built-in, so callers can catch either (``except ValueError`` keeps working for bad input). Errors
carry the path they concern, so a one-line message is enough for a user to act on.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from pathlib import Path


class VidlensError(Exception):
    """Root of every error vidlens raises deliberately."""

    exit_code: int = 1

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message)

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.path}: {message}" if self.path else message


class InvalidMediaError(VidlensError, ValueError):
    """The input is not a video we can decode: empty, random bytes, text, an image, audio only..."""

    exit_code = 2


class MediaNotFoundError(VidlensError, FileNotFoundError):
    """The input path does not exist or is not a readable file."""

    exit_code = 2


class UsageError(VidlensError, ValueError):
    """A caller passed an invalid argument (bad time spec, unknown analyzer, bad ratio...).

    The message may name the caller's parameters as ``{name}`` fields, each listed in ``params``: ``str()``
    names them as the Python API does (the keyword: ``end``), a front end as its users type them
    (:meth:`spelled`; the CLI: ``--end``). Library code thus never spells a command-line flag.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, params: Sequence[str] = ()) -> None:
        self.template, self.params = message, tuple(params)
        super().__init__(self._filled(str), path=path)

    def spelled(self, spell: Callable[[str], str]) -> str:
        """The one-line message (with its path) with each parameter named by ``spell(name)``."""
        text = self._filled(spell)
        return f"{self.path}: {text}" if self.path else text

    def _filled(self, spell: Callable[[str], str]) -> str:
        text = self.template
        for name in self.params:
            text = text.replace("{" + name + "}", spell(name))
        return text


class DiskFullError(VidlensError, OSError):
    """No space left (or over quota) where vidlens writes; what was half-written has been removed."""

    exit_code = 4

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.ENOSPC


#: ``errno`` values that mean "the disk (or the user's quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the disk is full: an ``OSError`` with ENOSPC/EDQUOT,
    SQLite's ``database or disk is full``, or a FAISS write error that names the lack of space."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFullError):
            return True
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF == 13:  # SQLITE_FULL
            return True
        text = str(error)
        if "No space left on device" in text or "Disk quota exceeded" in text or "database or disk is full" in text:
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def disk_full(error: BaseException, what: str, *, path: str | Path | None = None) -> DiskFullError:
    """The one-line error for a full disk met while doing ``what`` ("writing the outputs", ...)."""
    where = getattr(error, "filename", None) or path
    return DiskFullError(f"no space left on the disk while {what}: free some space and run the same command "
                         "again", path=where)


class AnalysisInterrupted(VidlensError, KeyboardInterrupt):
    """Analysis was cancelled (Ctrl-C); the partial timeline has been written."""

    exit_code = 130


#: Exit codes documented in the README and the CLI help.
EXIT_CODES: dict[int, str] = {
    0: "success (the timeline may still carry warnings, e.g. a truncated file)",
    1: "unexpected internal error (please report it with `vidlens version --all`)",
    2: "bad input or usage: missing file, not a video, invalid option",
    3: "the library is damaged (`vidlens library check` says how; `--repair` rebuilds it)",
    4: "no space left on the disk: nothing half-written was kept; free some space and run again",
    130: "interrupted: partial results were written and marked incomplete",
}


def exit_code_for(error: BaseException) -> int:
    """Map any exception to the documented exit code."""
    if isinstance(error, VidlensError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 1
