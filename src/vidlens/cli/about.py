"""What is installed: ``vidlens models`` (the shipped models, ``--check`` runs them) and ``vidlens version``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .console import out, show
from .params import JsonOpt, print_json


def models(
    check: Annotated[bool, typer.Option(help="Verify each file's sha256 and run it once.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the shipped models: sizes, licences, sources; --check runs a quick self-test."""
    from .. import api

    rows = api.list_models(check=check)
    if as_json:
        print_json(rows)
        return
    table = Table(*(rows[0].keys() if rows else ["name"]))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    show(table)
    if check and any(str(r.get("check", "ok")) != "ok" for r in rows):
        raise typer.Exit(1)


def version(all_: Annotated[bool, typer.Option("--all", help="Also FFmpeg/PyAV, NumPy, OpenCV versions.")] = False,
            as_json: JsonOpt = False) -> None:
    """Print the vidlens version (with --all: the libraries a bug report needs)."""
    from .. import api

    facts = api.versions(all=all_)
    if as_json:
        print_json(facts)
        return
    out.print(f"vidlens {facts['vidlens']}", highlight=False)
    if all_:
        out.print(f"python {facts['python']}", highlight=False)
        out.print(facts["media"], highlight=False)
        out.print(f"numpy {facts['numpy']}, opencv {facts['opencv']}", highlight=False)
        out.print(f"onnxruntime {facts['onnxruntime']}, telemetry {facts['telemetry']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    app.command()(models)
    app.command()(version)
