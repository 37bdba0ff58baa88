"""``vidlens annotate``: the video re-encoded with its tracks, trails, rules and running counts drawn on.

The source is decoded once more (the tracks need the whole video before a frame can be drawn: a box
between two detections is interpolated from the next one), every frame is painted, audio is kept,
and frame count and timing match the source (the writer keeps each frame's duration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..media.reader import DecodedFrame
from ..media.writers import WriteResult, write_clip_segments
from ..timeline import Timeline
from .draw import Annotator, running_counts
from .rules import RuleSet, parse_rules
from .tracks import boxes_on_frame


def annotate_video(src: str | Path, timeline: Timeline, out: str | Path, *, rules: RuleSet | None = None,
                   crf: int = 20) -> WriteResult:
    """Write ``out`` (H.264 + AAC MP4) with the timeline's ``objects`` drawn on every frame of ``src``."""
    tracks: list[dict[str, Any]] = timeline["objects"] or []
    counts = timeline.sections.get("object_counts") or {}
    if rules is None and counts.get("rules"):
        rules = parse_rules(counts["rules"])
    events = [e for e in (timeline["events"] or []) if e.get("type") == "line_cross"]
    zones = {name: z.get("occupancy", []) for name, z in counts.get("zones", {}).items()}
    line_names = list(counts.get("lines", {}))
    width, height = timeline.video["width"], timeline.video["height"]
    frame_count = timeline.video.get("frame_count") or 0
    annotator: Annotator | None = None

    def draw(decoded: DecodedFrame, rgb: np.ndarray) -> None:
        nonlocal annotator
        if annotator is None:
            annotator = Annotator((rgb.shape[1], rgb.shape[0]), rules)
        boxes = boxes_on_frame(tracks, decoded.index).scaled(rgb.shape[1] / width, rgb.shape[0] / height)
        annotator.draw(rgb, boxes, running_counts(events, decoded.index, zones, line_names) if rules else None)

    return write_clip_segments(src, [(0, max(1, frame_count))], out, crf=crf, draw=draw)
