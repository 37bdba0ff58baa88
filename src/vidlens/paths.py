"""Path safety shared by every writer: an output must never be (a link to) one of its inputs."""

from __future__ import annotations

import os
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
