"""ByteTrack-style multi-object tracking: Kalman motion, two-stage IoU association, stable ids.

The idea of ByteTrack (Zhang et al., 2022) is to use *every* detection box, not only the
confident ones: confident boxes are matched to tracks first; low-score boxes, which are mostly
real objects that are partly occluded or blurred, are then matched only to tracks still left,
so they extend tracks through occlusions but never start a track (that is where false positives
live). What this implementation adds for vidlens:

* time in frames, not in calls: the detector runs on sampled frames, so ``update`` takes the
  frame index and the Kalman filter predicts over the real gap; the re-find window for lost
  tracks is given in seconds and converted with the video's frame rate;
* ids only for confirmed tracks (``min_hits`` matches in a row), from a per-instance counter;
  everything else carries -1 (see :mod:`.track_state`);
* gating: a "person" track never takes a "car" box, nor one of half or twice its last size;
* a lost track is re-found where its motion model puts it *or* where it was last seen: objects
  that stop behind an occluder or turn back at the frame edge break constant velocity, and
  a Kalman prediction left running for a second or two is far from them;
* ``predict`` for the frames between detector runs (online), ``records`` for whole tracks that
  :meth:`.history.TrackRecord.filled` interpolates between runs (offline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import kalman
from .assignment import Matches, gated_iou, hungarian, similar_size
from .history import TrackRecord
from .track_state import TrackBase, TrackBook, TrackState
from .types import Detections


@dataclass
class _KalmanTrack(TrackBase):
    mean: np.ndarray = field(default_factory=lambda: np.zeros(8))
    cov: np.ndarray = field(default_factory=lambda: np.eye(8))

    def predicted(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        return kalman.predict(self.mean, self.cov, frame - self.last_frame)


class ByteTracker:
    """Tracks :class:`Detections` given frame by frame (any subset of frames, in increasing order).

    ``fps`` is the rate of the frame indices passed to :meth:`update` (the video's frame rate when
    indices are the video's frame numbers). Scores: boxes with ``score >= high_score`` are matched
    first, ``low_score <= score < high_score`` second (never starting a track), lower ones are
    ignored; a new track needs ``score >= new_track_score``. IoU thresholds are per stage: lost
    tracks' predictions drift, so the first stage accepts a looser overlap than the second.
    ``max_size_ratio`` bounds how much a box's width or height may change between two matches.
    """

    def __init__(self, fps: float, *, high_score: float = 0.5, low_score: float = 0.1,
                 new_track_score: float = 0.6, match_iou: float = 0.2, low_match_iou: float = 0.5,
                 tentative_match_iou: float = 0.3, min_hits: int = 3, lost_s: float = 2.0,
                 max_size_ratio: float = 2.0, class_aware: bool = True, smooth: bool = True) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 <= low_score <= high_score <= 1:
            raise ValueError(f"need 0 <= low_score <= high_score <= 1, got {low_score}, {high_score}")
        if not high_score <= new_track_score <= 1:
            raise ValueError(f"new_track_score must be in [high_score, 1], got {new_track_score}")
        for name, value in (("match_iou", match_iou), ("low_match_iou", low_match_iou),
                            ("tentative_match_iou", tentative_match_iou)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if lost_s < 0:
            raise ValueError(f"lost_s must not be negative, got {lost_s}")
        if not max_size_ratio > 1:
            raise ValueError(f"max_size_ratio must be above 1, got {max_size_ratio}")
        self.fps = float(fps)
        self.high_score, self.low_score, self.new_track_score = high_score, low_score, new_track_score
        self.match_iou, self.low_match_iou, self.tentative_match_iou = match_iou, low_match_iou, tentative_match_iou
        self.lost_frames = round(lost_s * self.fps)
        self.max_size_ratio, self.class_aware, self.smooth = max_size_ratio, class_aware, smooth
        self._book = TrackBook(min_hits)

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (a new video)."""
        self._book.reset()

    def update(self, detections: Detections, frame_index: int) -> Detections:
        """Match this frame's detections to the tracks; returns the same rows with ``track_ids``.

        Row ``i`` of the result is input row ``i``; its box is the track's smoothed (Kalman
        posterior) box when ``smooth`` and the row joined a track, and its id is -1 unless that
        track is confirmed.
        """
        book = self._book
        book.advance(frame_index)
        n = len(detections)
        out_boxes = detections.boxes.copy()
        out_ids = np.full(n, -1, np.int64)
        tracks: list[_KalmanTrack] = book.active  # type: ignore[assignment]
        predicted = [t.predicted(frame_index) for t in tracks]
        pred_boxes = np.array([kalman.cxcywh_to_xyxy(m) for m, _ in predicted], np.float32).reshape(-1, 4)
        track_classes = np.array([t.class_id for t in tracks], np.int32)
        scores = detections.scores
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero((scores >= self.low_score) & (scores < self.high_score))
        matched_tracks: set[int] = set()

        last_boxes = np.array([t.boxes[-1] for t in tracks], np.float32).reshape(-1, 4)
        lost = np.array([t.state is TrackState.LOST for t in tracks], bool)

        def associate(track_idx: np.ndarray, det_idx: np.ndarray, min_iou: float) -> np.ndarray:
            """Hungarian match of tracks ``track_idx`` to detections ``det_idx``; returns the unmatched dets."""
            classes, boxes = track_classes[track_idx], detections.boxes[det_idx]
            iou = gated_iou(pred_boxes[track_idx], classes, boxes, detections.classes[det_idx], self.class_aware)
            if lost[track_idx].any():  # a lost track may also be re-found where it was last seen
                at_last = gated_iou(last_boxes[track_idx], classes, boxes, detections.classes[det_idx],
                                    self.class_aware)
                iou = np.where(lost[track_idx][:, None], np.maximum(iou, at_last), iou)
            if iou.size:
                iou = np.where(similar_size(last_boxes[track_idx], boxes, self.max_size_ratio), iou, 0.0)
            m: Matches = hungarian(iou, min_iou)
            for r, c in m.pairs:
                ti, di = int(track_idx[r]), int(det_idx[c])
                self._apply(tracks[ti], predicted[ti], detections, di, frame_index, out_boxes)
                out_ids[di] = tracks[ti].track_id
                matched_tracks.add(ti)
            return det_idx[m.unmatched_cols]

        states = [t.state for t in tracks]
        pool = np.array([i for i, s in enumerate(states) if s in (TrackState.CONFIRMED, TrackState.LOST)], np.int64)
        high_left = associate(pool, high, self.match_iou)
        tracked_left = np.array([i for i in pool if i not in matched_tracks and states[i] is TrackState.CONFIRMED],
                                np.int64)
        associate(tracked_left, low, self.low_match_iou)
        tentative = np.array([i for i, s in enumerate(states) if s is TrackState.TENTATIVE], np.int64)
        high_left = associate(tentative, high_left, self.tentative_match_iou)

        for i, t in enumerate(tracks):
            if i not in matched_tracks:
                book.missed(t, frame_index, self.lost_frames)
        book.sweep()
        for di in high_left:
            if scores[di] >= self.new_track_score:
                out_ids[di] = self._start(detections, int(di), frame_index)
        return Detections(out_boxes, detections.scores, detections.classes, out_ids)

    def _apply(self, track: _KalmanTrack, prediction: tuple[np.ndarray, np.ndarray], detections: Detections,
               di: int, frame: int, out_boxes: np.ndarray) -> None:
        box = detections.boxes[di]
        track.mean, track.cov = kalman.update(*prediction, box)
        kept = kalman.cxcywh_to_xyxy(track.mean) if self.smooth else box
        out_boxes[di] = kept
        self._book.matched(track, frame, kept, float(detections.scores[di]))

    def _start(self, detections: Detections, di: int, frame: int) -> int:
        """A new tentative track (confirmed at once when ``min_hits`` is 1); returns its public id."""
        track = _KalmanTrack(key=self._book.new_key(), class_id=int(detections.classes[di]))
        track.mean, track.cov = kalman.initiate(detections.boxes[di])
        self._book.active.append(track)
        self._book.matched(track, frame, detections.boxes[di], float(detections.scores[di]))
        return track.track_id

    def predict(self, frame_index: int, include_lost: bool = False) -> Detections:
        """Boxes of the confirmed tracks extrapolated to ``frame_index`` (≥ the last update), read-only.

        For the frames between detector runs when the next run is not known yet. Lost tracks are
        left out unless ``include_lost``: their prediction is unconfirmed by any recent detection.
        """
        book = self._book
        if book.frame is not None and frame_index < book.frame:
            raise ValueError(f"cannot predict frame {frame_index} before the last update ({book.frame})")
        wanted = (TrackState.CONFIRMED, TrackState.LOST) if include_lost else (TrackState.CONFIRMED,)
        tracks = [t for t in book.active if t.track_id >= 0 and t.state in wanted]
        boxes = [kalman.cxcywh_to_xyxy(t.predicted(frame_index)[0]) for t in tracks]  # type: ignore[attr-defined]
        return Detections(np.array(boxes, np.float32).reshape(-1, 4), [t.scores[-1] for t in tracks],
                          [t.class_id for t in tracks], [t.track_id for t in tracks])

    def records(self) -> list[TrackRecord]:
        """Every confirmed track so far with its boxes at the frames where it was matched."""
        return self._book.records()


#: The objects analyzer's detector threshold (NanoDet, chosen on hand-counted vtest frames).
DETECTOR_SCORE = 0.45


def tracker_for_detector(fps: float, score_threshold: float = DETECTOR_SCORE) -> ByteTracker:
    """A tracker matched to a real detector's score scale: its working threshold is the high stage,
    weak boxes down to 0.15 feed the low stage, and a new track needs a little more than the threshold."""
    return ByteTracker(fps, high_score=score_threshold, low_score=min(0.15, score_threshold),
                       new_track_score=min(1.0, score_threshold + 0.05))
