"""Tracks as the timeline stores them, and the one way to get a track's box on any frame.

A track item in the timeline's ``objects`` section is a dict with ``id``, ``class``, ``start`` /
``end`` (moments; ``end`` exclusive), ``confidence`` and ``boxes``: rows ``[frame, x0, y0, x1, y1,
score]`` at the frames the detector saw it (``score`` is null for a box the tracker carried through
a miss). Frames in between are linear interpolations of their neighbours, computed here, so the
JSON stays small while drawing, counting and anonymisation get a box on every frame. Gaps longer
than the track's ``max_gap`` (frames) are not bridged: there the object was lost, and a straight
line through a long occlusion would be a guess presented as a measurement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .history import TrackRecord
from .types import COCO80, Detections


def track_box_at(track: dict[str, Any], frame: int) -> np.ndarray | None:
    """The track's (x0, y0, x1, y1) on ``frame``, interpolated between stored rows; None outside its span."""
    rows = np.asarray(track["boxes"], dtype=np.float64)
    if not len(rows) or frame < rows[0, 0] or frame > rows[-1, 0]:
        return None
    frames = rows[:, 0]
    after = int(np.searchsorted(frames, frame))
    if frames[after] == frame:
        return rows[after, 1:5].astype(np.float32)
    if frames[after] - frames[after - 1] > track.get("max_gap", np.inf):
        return None
    t = (frame - frames[after - 1]) / (frames[after] - frames[after - 1])
    return ((1 - t) * rows[after - 1, 1:5] + t * rows[after, 1:5]).astype(np.float32)


def boxes_on_frame(tracks: Sequence[dict[str, Any]], frame: int) -> Detections:
    """Every track's box on ``frame`` (interpolated), with ids: what a drawer or a counter needs."""
    index = {name: i for i, name in enumerate(COCO80)}
    boxes, scores, classes, ids = [], [], [], []
    for track in tracks:
        box = track_box_at(track, frame)
        if box is not None:
            boxes.append(box)
            scores.append(track.get("confidence", 1.0))
            classes.append(index.get(track["class"], -1))
            ids.append(track["id"])
    return Detections(np.array(boxes).reshape(-1, 4), scores, classes, ids)


def frame_span(tracks: Iterable[dict[str, Any]]) -> tuple[int, int] | None:
    """First and last frame any track covers."""
    spans = [(int(t["boxes"][0][0]), int(t["boxes"][-1][0])) for t in tracks if t.get("boxes")]
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def track_dict(record: TrackRecord, label: str, clock: Any, scale: np.ndarray, max_gap: int) -> dict[str, Any]:
    """A tracker's record as the timeline stores it (boxes scaled to display pixels by ``scale``, 4 values)."""
    rows = [[int(f), *np.round(b * scale, 1).tolist(), round(float(s), 3)]
            for f, b, s in zip(record.frames.tolist(), record.boxes, record.scores, strict=True)]
    return {"id": int(record.track_id), "class": label,
            "start": clock.moment(record.first_frame), "end": clock.moment(record.last_frame + 1),
            "confidence": round(float(np.mean(record.scores)), 3), "detections": len(rows),
            "max_gap": max_gap, "boxes": rows}


def overlapping(tracks: Iterable[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    """Tracks whose span meets frames [start, end)."""
    return [t for t in tracks if t["start"]["frame"] < end and t["end"]["frame"] > start]


def class_summary(tracks: list[dict[str, Any]], frame_count: int, fps: float) -> dict[str, Any]:
    """Per class: unique tracks, most at once, total screen time, and the count over time (change points)."""
    out: dict[str, Any] = {}
    for name in sorted({t["class"] for t in tracks}):
        spans = [(t["start"]["frame"], t["end"]["frame"]) for t in tracks if t["class"] == name]
        delta = np.zeros(frame_count + 2, np.int64)
        for a, b in spans:
            delta[a] += 1
            delta[min(b, frame_count + 1)] -= 1
        count = np.cumsum(delta)[: frame_count + 1]
        changes = np.flatnonzero(np.diff(np.r_[-1, count]) != 0)
        out[name] = {"tracks": len(spans), "max_simultaneous": int(count.max()),
                     "screen_time_s": round(sum(b - a for a, b in spans) / fps, 3),
                     "count_series": [[int(f), int(count[f])] for f in changes]}
    return {"classes": out}
