"""The plain IoU tracker (Bochinski et al., 2017): the baseline the ByteTrack-style tracker must beat.

No motion model: a track is its last box, matched greedily by IoU to this frame's boxes of the
same class. It is what one writes first, and it is good when the detector is good and the
objects move less than their own size between detector runs. It shares the id rules (ids for
confirmed tracks only) and the output contract of :class:`.tracker.ByteTracker`, so the two can
be swapped and compared on the same detections.
"""

from __future__ import annotations

import numpy as np

from .assignment import gated_iou, greedy
from .history import TrackRecord
from .track_state import TrackBase, TrackBook, TrackState
from .types import Detections


class IouTracker:
    """Greedy IoU matching of boxes with ``score >= min_score`` to tracks' last boxes.

    Tracks survive ``max_gap_s`` seconds without a match (converted with ``fps``), standing still.
    """

    def __init__(self, fps: float, *, min_score: float = 0.5, min_iou: float = 0.3, min_hits: int = 3,
                 max_gap_s: float = 2.0, class_aware: bool = True) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_gap_s < 0:
            raise ValueError(f"max_gap_s must not be negative, got {max_gap_s}")
        self.min_score, self.min_iou, self.class_aware = min_score, min_iou, class_aware
        self.max_gap_frames = round(max_gap_s * fps)
        self._book = TrackBook(min_hits)

    def reset(self) -> None:
        self._book.reset()

    def update(self, detections: Detections, frame_index: int) -> Detections:
        """Same contract as :meth:`.tracker.ByteTracker.update` (boxes are the detections' own)."""
        book = self._book
        book.advance(frame_index)
        ids = np.full(len(detections), -1, np.int64)
        usable = np.flatnonzero(detections.scores >= self.min_score)
        tracks = book.active
        last = np.array([t.boxes[-1] for t in tracks], np.float32).reshape(-1, 4)
        iou = gated_iou(last, [t.class_id for t in tracks], detections.boxes[usable], detections.classes[usable],
                        self.class_aware)
        m = greedy(iou, self.min_iou)
        for r, c in m.pairs:
            di = int(usable[c])
            book.matched(tracks[r], frame_index, detections.boxes[di], float(detections.scores[di]))
            ids[di] = tracks[r].track_id
        for r in m.unmatched_rows:
            book.missed(tracks[r], frame_index, self.max_gap_frames)
        book.sweep()
        for c in m.unmatched_cols:
            di = int(usable[c])
            track = TrackBase(key=book.new_key(), class_id=int(detections.classes[di]))
            book.active.append(track)
            book.matched(track, frame_index, detections.boxes[di], float(detections.scores[di]))
            ids[di] = track.track_id
        return Detections(detections.boxes, detections.scores, detections.classes, ids)

    def predict(self, frame_index: int, include_lost: bool = False) -> Detections:
        """The confirmed tracks' last boxes (no motion model: the prediction is standing still)."""
        wanted = (TrackState.CONFIRMED, TrackState.LOST) if include_lost else (TrackState.CONFIRMED,)
        tracks = [t for t in self._book.active if t.track_id >= 0 and t.state in wanted]
        return Detections(np.array([t.boxes[-1] for t in tracks], np.float32).reshape(-1, 4),
                          [t.scores[-1] for t in tracks], [t.class_id for t in tracks], [t.track_id for t in tracks])

    def records(self) -> list[TrackRecord]:
        return self._book.records()
