"""``vidlens export MODEL``: the ONNX file of a trained model plus INT8 and pruned variants, compared in one
table (see :mod:`vidlens.train.compress`). Torch is imported only when pruning or exporting needs it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import api
from .console import err, out
from .params import bounded, name_list, number_list, print_json


def export(
    model: Annotated[Path, typer.Argument(help="A trained model folder (vidlens_model.json).")],
    int8: Annotated[str | None, typer.Option("--int8", help="INT8 variants: dynamic, static or dynamic,static "
                                             "(static calibrates on --dataset).")] = None,
    prune: Annotated[str | None, typer.Option(help="Pruned variants: fractions of weights to zero, e.g. 0.3,0.5.")]
    = None,
    finetune_epochs: Annotated[int | None, typer.Option(help="Fine-tuning epochs after pruning (default: 3 with "
                                                        "--dataset, else 0).", **bounded(0, 1000))] = None,
    dataset: Annotated[Path | None, typer.Option(help="The model's dataset (folder or manifest): calibration, "
                                                 "fine-tuning and the test split every variant is scored on.")]
    = None,
    runs: Annotated[int, typer.Option(help="Timed runs per variant and thread count (median).",
                                      **bounded(1, 10_000))] = 50,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder (default: the one training used).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print compress.json instead of the table.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress output.")] = False,
) -> None:
    """Export a model to ONNX and make smaller variants: size, latency and accuracy side by side.

    Example: vidlens export runs/gru --int8 dynamic,static --prune 0.3,0.5 --dataset clips/
    """
    amounts = number_list(prune, "--prune", "fractions like 0.3,0.5")
    report = api.compress_model(model, int8=name_list(int8, "--int8"), prune=amounts, finetune_epochs=finetune_epochs,
                                dataset=dataset, cache=cache, runs=runs, progress=False if quiet else err)
    if as_json:
        print_json(report)
    else:
        from ..train.compress import comparison_table

        out.print(comparison_table(report))
    for warning in report["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if not quiet:
        err.print(f"wrote {model}/compress.json; variants are listed in {model}/vidlens_model.json "
                  "(run one with `vidlens evaluate MODEL DATASET --onnx MODEL/model.<variant>.onnx`)",
                  highlight=False)
