"""The ``vidlens`` command line: a thin Typer layer that parses, calls the Python API, and writes.

This module holds the app, its global options and :func:`main` (the console script; ``python -m vidlens.cli``
runs it too). The commands live in one module per group: ``analyze`` (info, analyze, shots, text, objects,
annotate, anonymize, summarize), ``about`` (models, version), ``library`` (index, search, dupes, library),
``train`` (train, evaluate, predict), ``explain``, ``compress`` (export) and ``privacy`` (vault, forget);
``console`` is the one pair of consoles they all print to and ``params`` the options they share.

Exit codes (also in ``vidlens --help``): 0 success (warnings may still be present), 1 internal
error, 2 bad input or usage, 130 interrupted (partial results were written).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from ..errors import EXIT_CODES, VidlensError, exit_code_for
from ..offline import redirect_caches
from . import about, analyze, train
from .compress import export as export_command
from .console import err
from .explain import explain as explain_command
from .library import dupes, library_app
from .library import index as index_command
from .library import search as search_command
from .params import error_text
from .privacy import forget, vault_app

_EXIT_HELP = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."

app = typer.Typer(
    name="vidlens",
    help="Frame-exact video analysis on your own machine: shots, keyframes, summaries, one timeline.\n\n"
    + _EXIT_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(vault_app)
app.command()(forget)
analyze.register(app)  # info, analyze, shots, text, objects, annotate, anonymize, summarize
about.register(app)  # models, version
app.add_typer(library_app)
app.command("index")(index_command)
app.command("search")(search_command)
app.command()(dupes)
train.register(app)  # train, evaluate, predict
app.command("explain")(explain_command)
app.command("export")(export_command)


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Click's usage-error and abort classes, from every Click that may be parsing.

    Typer 0.29 parses with its own bundled copy (``typer._click``), older ones with ``click``: a usage
    error from either must be exit 2 with Click's message, never an "internal error".
    """
    import importlib

    usage: list[type] = []
    aborts: list[type] = [typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(module.ClickException)
        aborts += [module.Abort] if hasattr(module, "Abort") else []
    return tuple(usage), tuple(aborts)


@app.callback()
def _options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the traceback of a failed "
                                                   "analyzer or an internal error (debug log on stderr).")]
             = False) -> None:
    """Options every command takes, written before the command: ``vidlens --verbose analyze ...``."""
    if verbose:
        logging.getLogger("vidlens").setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn vidlens errors into one line and a documented exit code."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("vidlens").setLevel(logging.ERROR)
    redirect_caches()  # a vidlens process: dependencies' caches go into vidlens' cache folder
    usage_errors, aborts = _click_errors()
    try:
        code = app(args=argv, prog_name="vidlens", standalone_mode=False)
        if isinstance(code, int):
            return code
    except VidlensError as error:
        err.print(f"[red]error:[/] {error_text(error)}", highlight=False)
        return exit_code_for(error)
    except (KeyboardInterrupt, *aborts):
        err.print("interrupted")
        return 130
    except typer.Exit as done:
        return done.exit_code
    except usage_errors as error:
        error.show()  # Click's own message (usage line, hint and "Error: ..."), as with any Click program
        return 2
    except Exception as error:
        return _unexpected_error(error)
    return 0


def _unexpected_error(error: Exception) -> int:
    """An exception no vidlens code turned into a :class:`VidlensError`: a full disk is exit 4, a path the
    file system refused (permissions, a read-only folder) exit 2 naming it, anything else a bug (exit 1)."""
    from ..errors import disk_full, is_disk_full

    if is_disk_full(error):  # checked first: an ENOSPC OSError names a path too
        err.print(f"[red]error:[/] {disk_full(error, 'writing')}", highlight=False)
        return 4
    if isinstance(error, OSError) and error.filename is not None:
        err.print(f"[red]error:[/] {error.filename}: {error.strerror or error}", highlight=False)
        return 2
    return _internal_error(error)


def _internal_error(error: BaseException) -> int:
    """A bug: one line (the traceback with ``--verbose``) and exit 1."""
    log = logging.getLogger("vidlens")
    if log.isEnabledFor(logging.DEBUG):
        log.error("internal error", exc_info=error)
    err.print(f"[red]internal error:[/] {type(error).__name__}: {error} "
              "(please report it with `vidlens version --all`)", highlight=False)
    return 1
