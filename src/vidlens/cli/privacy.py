"""The privacy commands of the CLI: ``vidlens vault lock|unlock`` and ``vidlens forget``.

Its own module so the passphrase handling lives in one place. A passphrase is never a
command-line argument (it would land in the shell history and in ``ps``): it comes from
``--passphrase-file``, then ``VIDLENS_PASSPHRASE``, then a hidden prompt on a terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..paths import read_user_file
from .console import err
from .params import JsonOpt, print_json

PASSPHRASE_ENV = "VIDLENS_PASSPHRASE"
PASSPHRASE_HELP = (f"Read the passphrase from this file (its first line). Without it: the {PASSPHRASE_ENV} "
                   "environment variable, else a hidden prompt. There is no option that takes the passphrase "
                   "itself: it would land in the shell history.")
PassphraseFileOpt = Annotated[Path | None, typer.Option("--passphrase-file", help=PASSPHRASE_HELP)]
FolderArg = Annotated[Path, typer.Argument(help="An output folder of `vidlens analyze` (e.g. clip.mp4.vidlens).")]

vault_app = typer.Typer(name="vault", no_args_is_help=True,
                        help="Encrypt an output folder at rest (AES-256-GCM, key from the passphrase by scrypt).")


def read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    """The passphrase from the file, the environment, or a hidden prompt (``confirm``: ask twice)."""
    if passphrase_file is not None:
        text = read_user_file(passphrase_file, "passphrase file", limit=1 << 20)
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    elif sys.stdin.isatty():
        passphrase = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    else:
        raise UsageError(f"no passphrase: use --passphrase-file FILE or set {PASSPHRASE_ENV}")
    if not passphrase:
        raise UsageError("the passphrase is empty")
    return passphrase


@vault_app.command("lock")
def lock(folder: FolderArg, passphrase_file: PassphraseFileOpt = None, as_json: JsonOpt = False) -> None:
    """Encrypt every file of an output folder in place (X -> X.enc); the plaintext is deleted once verified."""
    from .. import api

    written = api.lock_folder(folder, read_passphrase(passphrase_file, confirm=True))
    if as_json:
        print_json({"locked": folder, "files": written})
        return
    err.print(f"locked {folder}: {len(written)} file{'' if len(written) == 1 else 's'} encrypted", highlight=False)


@vault_app.command("unlock")
def unlock(folder: FolderArg, passphrase_file: PassphraseFileOpt = None, as_json: JsonOpt = False) -> None:
    """Decrypt a locked output folder back in place (a wrong passphrase changes nothing)."""
    from .. import api

    restored = api.unlock_folder(folder, read_passphrase(passphrase_file, confirm=False))
    if as_json:
        print_json({"unlocked": folder, "files": restored})
        return
    err.print(f"unlocked {folder}: {len(restored)} file{'' if len(restored) == 1 else 's'} restored",
              highlight=False)


def forget(
    target: Annotated[Path, typer.Argument(help="A video (its VIDEO.vidlens/ folder goes) or an output folder.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete the derived data of a video: its output folder, never the video (refuses any other folder)."""
    from .. import api

    removed = api.forget(target)
    if as_json:
        print_json({"removed": [{"path": e.path, "folder": e.is_dir, "files": e.files} for e in removed]})
        return
    for entry in removed:
        print(f"removed {entry.path}" + (f"/ ({entry.files} file{'' if entry.files == 1 else 's'})"
                                         if entry.is_dir else ""))
