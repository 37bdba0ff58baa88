"""``vidlens explain MODEL VIDEO``: why a trained model predicted what it did (see :mod:`vidlens.train.explain`).

One module per command group (see ``vidlens.cli``); torch is imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..timebase import TimeSpec
from .console import err
from .params import JsonOpt, bounded, print_json


def explain(
    model: Annotated[Path, typer.Argument(help="A trained model folder (vidlens_model.json + weights.pt).")],
    video: Annotated[Path, typer.Argument(help="The video (or, with --start/--end, the clip of it) to explain.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for explain.json, importance.png, "
                                         "steps/*.png (and explain.mp4).")],
    class_name: Annotated[str | None, typer.Option("--class", help="Explain this class instead of the "
                                                   "predicted one.")] = None,
    mp4: Annotated[bool, typer.Option("--mp4", help="Also write explain.mp4: every step with its heat map.")]
    = False,
    start: Annotated[str | None, typer.Option(help="Clip start: 12.5s, 300f or 00:01:02.5.")] = None,
    end: Annotated[str | None, typer.Option(help="Clip end (same units as --start).")] = None,
    top_frames: Annotated[int, typer.Option(help="Feature heads: heat maps for this many most important "
                                                 "frames (each costs ~50 backbone runs).",
                                                 **bounded(1, 100))] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Explain a prediction: importance of each input step (checked by occlusion) and heat maps of where.

    Example: vidlens explain runs/gru clip.mp4 -o clip_explained --mp4
    """
    explanation = api.explain_prediction(model, video, output_dir=output, class_name=class_name, mp4=mp4,
                                         start=TimeSpec.parse(start) if start else None,
                                         end=TimeSpec.parse(end) if end else None, top_frames=top_frames)
    from ..train.explain import summary_lines

    if as_json:
        print_json(explanation.to_dict() | {"files": explanation.files})
        return
    for line in summary_lines(explanation):
        err.print(line, highlight=False)
    err.print(f"wrote {output}/: " + ", ".join(v for k, v in explanation.files.items() if not k.startswith("step_"))
              + f" and {sum(k.startswith('step_') for k in explanation.files)} overlay(s) in steps/", highlight=False)
