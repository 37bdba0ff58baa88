"""Finished tracks as values, and filling the frames between detector runs once both ends are known.

Online, a tracker only knows the past: between detector runs it can extrapolate (``predict``).
Offline (building the timeline, drawing, anonymising), the next detection is known too, so the
frames in between are *interpolated* between two real measurements, which is never worse than
extrapolating from one and stays on the object when it changes speed. Gaps longer than
``max_gap_frames`` are left empty: there the object was lost, and a straight line through an
occlusion of several seconds would be a guess presented as a measurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .types import Detections


@dataclass(frozen=True)
class TrackRecord:
    """One confirmed track: its id, class and boxes (xyxy pixels) on increasing frame indices.

    ``observed[i]`` is True where a detection was matched at ``frames[i]`` and False where the box
    was filled in (interpolated); ``scores`` are the detections' scores, interpolated likewise.
    """

    track_id: int
    class_id: int
    frames: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    observed: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.boxes.shape != (n, 4) or len(self.scores) != n or len(self.observed) != n:
            raise ValueError(f"track {self.track_id}: frames, boxes, scores, observed differ in length")
        if n and np.any(np.diff(self.frames) <= 0):
            raise ValueError(f"track {self.track_id}: frames must be strictly increasing")

    @staticmethod
    def from_observations(track_id: int, class_id: int, frames: Iterable[int], boxes: Iterable[np.ndarray],
                          scores: Iterable[float]) -> TrackRecord:
        f = np.asarray(list(frames), np.int64)
        return TrackRecord(track_id, class_id, f, np.asarray(list(boxes), np.float32).reshape(-1, 4),
                           np.asarray(list(scores), np.float32), np.ones(len(f), bool))

    @property
    def first_frame(self) -> int:
        return int(self.frames[0])

    @property
    def last_frame(self) -> int:
        return int(self.frames[-1])

    def filled(self, max_gap_frames: int) -> TrackRecord:
        """Boxes on every frame between two observations at most ``max_gap_frames`` apart (linear)."""
        if max_gap_frames < 1:
            raise ValueError(f"max_gap_frames must be at least 1, got {max_gap_frames}")
        obs = self.observed
        frames, boxes, scores = self.frames[obs], self.boxes[obs], self.scores[obs]
        if len(frames) < 2:
            return TrackRecord(self.track_id, self.class_id, frames, boxes, scores, np.ones(len(frames), bool))
        out_f, out_b, out_s, out_o = [frames[:1]], [boxes[:1]], [scores[:1]], [np.ones(1, bool)]
        for i in range(1, len(frames)):
            gap = int(frames[i] - frames[i - 1])
            if 1 < gap <= max_gap_frames:
                t = (np.arange(1, gap) / gap)[:, None]
                out_f.append(frames[i - 1] + np.arange(1, gap))
                out_b.append(((1 - t) * boxes[i - 1] + t * boxes[i]).astype(np.float32))
                out_s.append(((1 - t[:, 0]) * scores[i - 1] + t[:, 0] * scores[i]).astype(np.float32))
                out_o.append(np.zeros(gap - 1, bool))
            out_f.append(frames[i : i + 1])
            out_b.append(boxes[i : i + 1])
            out_s.append(scores[i : i + 1])
            out_o.append(np.ones(1, bool))
        return TrackRecord(self.track_id, self.class_id, np.concatenate(out_f), np.concatenate(out_b),
                           np.concatenate(out_s), np.concatenate(out_o))


def detections_by_frame(records: Iterable[TrackRecord]) -> dict[int, Detections]:
    """Per-frame :class:`Detections` (with ``track_ids``) from whole tracks, frames in order."""
    rows: dict[int, list[tuple[int, int, np.ndarray, float]]] = {}
    for rec in records:
        for f, box, score in zip(rec.frames, rec.boxes, rec.scores):
            rows.setdefault(int(f), []).append((rec.track_id, rec.class_id, box, float(score)))
    out: dict[int, Detections] = {}
    for f in sorted(rows):
        ids, classes, boxes, scores = zip(*rows[f])
        out[f] = Detections(np.array(boxes), np.array(scores), np.array(classes), np.array(ids))
    return out
