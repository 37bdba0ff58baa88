"""``vidlens anonymize``: the video re-encoded with every face hidden on every frame, audio kept.

Faces come from the timeline's ``faces`` tracks (the same track format as ``objects``), not from
per-frame detections, so the frames a detector missed are covered by the track (see
:mod:`vidlens.privacy.regions`). Like ``vidlens annotate``, the source is decoded once more and
every frame goes through :func:`write_clip_segments`' ``draw`` hook: same frame count, same frame
durations, audio cut on the same clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..media import probe
from ..media.reader import DecodedFrame
from ..media.writers import WriteResult, write_clip_segments
from ..timeline import Timeline
from .effects import Mode, hide
from .regions import Propagation, check_tracks, plan_cover

#: Every frame, however many the container claims: the segment simply runs past the end.
WHOLE_VIDEO = (0, 2**31)


@dataclass(frozen=True)
class AnonymizeResult:
    """What was written and how much was hidden: ``frames_hidden`` frames had at least one region;
    ``frames_propagated`` had a face region held beyond its track's measured span."""

    written: WriteResult
    mode: Mode
    face_tracks: int
    kept: tuple[int, ...]
    frames_hidden: int
    frames_propagated: int
    regions: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.written.to_dict(), "mode": self.mode.value, "face_tracks": self.face_tracks,
                "kept": list(self.kept), "frames_hidden": self.frames_hidden,
                "frames_propagated": self.frames_propagated, "regions": self.regions}


def has_section(timeline: Timeline, name: str) -> bool:
    """Whether the analyzer that writes ``name`` ran (a saved timeline lists every section, run or not)."""
    return name in (timeline.analysis.get("analyzers") or {}) or bool(timeline.sections.get(name))


def anonymize_video(src: str | Path, timeline: Timeline, out: str | Path, *, mode: Mode | str = Mode.BLUR,
                    keep_ids: Sequence[int] = (), margin: float = 0.1, paranoid: bool = False,
                    text: bool = False, propagation: Propagation | None = None, crf: int = 18) -> AnonymizeResult:
    """Write ``out`` (H.264 + AAC MP4): ``src`` with every face track of ``timeline`` hidden.

    ``keep_ids`` are face track ids left visible. ``paranoid`` also hides person tracks (from
    ``objects``) on frames where no confident face is measured inside them; ``text`` also hides the
    boxes of the ``text`` section (licence plates, name tags). ``margin`` is the fraction of a box's
    size added on each side at a detected frame (it grows away from detections, see
    :class:`Propagation`, whose other settings ``propagation`` overrides).
    """
    mode, rules = _mode_and_rules(mode, margin, propagation)
    faces, persons, boxes = _tracks_to_hide(timeline, paranoid, text)
    info = probe(src)
    width, height = _timeline_size(timeline)
    if (width, height) != tuple(info.display_size):
        raise UsageError(f"the timeline is for a {width}x{height} video but this one is "
                         f"{info.display_size[0]}x{info.display_size[1]}: wrong timeline for this video?", path=src)
    fps = _timeline_rate(timeline, info)
    counts = {"face": 0, "person": 0, "text": 0}
    stats = {"hidden": 0, "propagated": 0}
    plan = None

    def draw(decoded: DecodedFrame, rgb: np.ndarray) -> None:
        nonlocal plan
        if plan is None:  # the output is scaled to even dimensions: map timeline pixels onto it
            plan = plan_cover(faces, fps=fps, scale=(rgb.shape[1] / width, rgb.shape[0] / height),
                              keep_ids=keep_ids, persons=persons, text=boxes, rules=rules)
        regions = plan.regions(decoded.index)
        for region in regions:
            counts[region.kind] += 1
        stats["hidden"] += bool(regions)
        stats["propagated"] += any(r.kind == "face" and not r.detected for r in regions)
        if regions or mode is Mode.MASK:
            hide(rgb, regions, mode)

    # validate keep ids before the (long) encode starts
    plan_cover(faces, fps=fps, keep_ids=keep_ids)
    written = write_clip_segments(src, [WHOLE_VIDEO], out, crf=crf, draw=draw)
    return AnonymizeResult(written, mode, len(faces), tuple(sorted(int(k) for k in keep_ids)), stats["hidden"],
                           stats["propagated"], counts)


def _mode_and_rules(mode: Mode | str, margin: float, propagation: Propagation | None) -> tuple[Mode, Propagation]:
    try:
        mode = Mode(mode)
    except ValueError:
        raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(m.value for m in Mode)}") from None
    rules = propagation or Propagation()
    if margin != rules.margin:
        rules = Propagation(**{**rules.__dict__, "margin": margin, "max_margin": max(rules.max_margin, margin)})
    return mode, rules


def _tracks_to_hide(timeline: Timeline, paranoid: bool, text: bool
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The face tracks, the person tracks (``paranoid``) and the text boxes (``text``) the timeline holds."""
    if not has_section(timeline, "faces"):
        raise UsageError("the timeline has no faces section: run the faces analyzer first "
                         "({analyzers} faces)", params=("analyzers",))
    faces = check_tracks(timeline.sections.get("faces"), "faces")
    persons: list[dict[str, Any]] = []
    if paranoid:
        if not has_section(timeline, "objects"):
            raise UsageError("{paranoid} needs person tracks: the timeline has no objects section "
                             "(run the objects analyzer too)", params=("paranoid",))
        persons = [t for t in check_tracks(timeline.sections.get("objects"), "objects") if t.get("class") == "person"]
    boxes: list[dict[str, Any]] = []
    if text:
        if not has_section(timeline, "text"):
            raise UsageError("{text} needs the text section: the timeline has none (run the text analyzer too)",
                             params=("text",))
        boxes = _check_text(timeline.sections.get("text"))
    return faces, persons, boxes


def _timeline_rate(timeline: Timeline, info: Any) -> float:
    """The frame rate the cover plan's hold and bridge (seconds) are counted in: the timeline's declared rate,
    else the file's estimate, else the measured average of the analysed frames (frame count over duration)."""
    rate = timeline.video.get("fps") or info.estimated_rate
    if not rate:
        frames, duration = timeline.video.get("frame_count"), timeline.video.get("duration")
        if not frames or not duration:
            raise UsageError("the video declares no frame rate and the timeline measured none", path=info.path)
        rate = frames / duration
    return float(rate)


def _timeline_size(timeline: Timeline) -> tuple[int, int]:
    try:
        width, height = int(timeline.video["width"]), int(timeline.video["height"])
    except (KeyError, TypeError, ValueError):
        raise UsageError("the timeline's video section has no width/height") from None
    if width <= 0 or height <= 0:
        raise UsageError(f"the timeline's video size {width}x{height} is not a frame size")
    return width, height


def _check_text(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise UsageError("timeline section 'text' must be a list")
    for i, item in enumerate(items):
        box = item.get("box") if isinstance(item, dict) else None
        if (not isinstance(box, (list, tuple)) or len(box) != 4 or not all(isinstance(v, (int, float)) for v in box)
                or not isinstance(item.get("start"), dict) or not isinstance(item.get("end"), dict)):
            raise UsageError(f"text[{i}] needs 'box' [x0, y0, x1, y1] and 'start'/'end' moments")
    return items
