"""Options every command shares: bounds for numeric options (checked while Click parses: exit 2, Click's
message) and the one ``--json`` flag for machine-readable output.

Every number a user types is bounded by what makes sense for it: an absurd value (``--fps 1e9``,
``-n 100000000000``, ``-j 1e20``, ``-n -5``) must be refused before it can hang a loop or exhaust memory,
and ``nan``/``inf`` (which ``float()`` accepts and every range comparison lets through) are refused too.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError


def bounded(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> dict[str, Callable]:
    """``typer.Option`` keyword arguments that accept ``low <= value <= high`` only (``<`` at an open end).

    ``None`` (an option left out) passes; so does any value inside the range, unchanged.
    """
    sign_low, sign_high = "<" if low_open else "<=", "<" if high_open else "<="
    allowed = f"{low:g} {sign_low} x {sign_high} {high:g}"

    def check(value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, float) and not math.isfinite(value):
            raise typer.BadParameter(f"{value} is not a finite number (allowed: {allowed})")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise typer.BadParameter(f"{value} is outside the range {allowed}")
        return value

    return {"callback": check}


#: ``--start``/``--end`` of the commands that analyse a range of a video.
StartOpt = Annotated[str | None, typer.Option(help="Start of the range (12.5s, 300f, 01:02.5).")]
EndOpt = Annotated[str | None, typer.Option(help="End of the range.")]
#: ``-o`` of the commands that print a result: a file instead of stdout.
FileOutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file instead of stdout.")]
#: ``--json`` on every command: machine-readable output on stdout (messages stay on stderr).
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
#: ``--json`` on a command that also has ``--format``: the same as ``--format json``.
JsonFormatOpt = Annotated[bool, typer.Option("--json", help="The same as --format json.")]


def print_json(data: Any) -> None:
    """One JSON document on stdout, indented, non-ASCII kept; paths and other objects as strings."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


#: API parameters whose command-line flag is not ``--`` and the name with dashes.
FLAGS: dict[str, str] = {"passphrase": "--encrypt"}


def flag(name: str) -> str:
    """The command-line flag of an API parameter a :class:`UsageError` names (``keep`` -> ``--keep``)."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def error_text(error: BaseException) -> str:
    """An error's one-line message as a CLI user reads it: the parameters it names spelled as flags."""
    return error.spelled(flag) if isinstance(error, UsageError) else str(error)


def name_list(text: str | None, option: str) -> list[str] | None:
    """A comma-separated option as a list of names; None when the option was not given.

    Given but naming nothing (``--analyzers ,``, ``--classes ""``) is a usage error, not the default.
    """
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(f"{option} names nothing (got {text!r}): give comma-separated names")
    return names


def number_list(text: str | None, option: str, what: str) -> list[float] | None:
    """A comma-separated option as a list of numbers (``0.7,0.15,0.15``); None when the option was not given.
    ``what`` says what the option takes in the error (``"ratios like 0.7,0.15,0.15"``)."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} takes {what}, got {text!r}") from None
