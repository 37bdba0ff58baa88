"""What every tracker keeps per track: its life-cycle state, its public id, its observations.

Two ids on purpose (the lesson of supervision's #1050 / #2578): every track gets a private
``key`` the moment it is born, which the matching uses; the *public* ``track_id`` is handed out
only when the track is confirmed, from a counter that belongs to the tracker instance (not the
class, so two videos in one process do not share a counter). Public ids are therefore dense,
never reused, and a box outside a confirmed track carries -1, never a shared placeholder that
rules downstream could mistake for one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .history import TrackRecord


class TrackState(Enum):
    TENTATIVE = "tentative"  # seen, not yet ``min_hits`` times in a row: no public id
    CONFIRMED = "confirmed"  # matched at the last detector run
    LOST = "lost"  # confirmed, then unmatched: kept for the re-find window
    REMOVED = "removed"  # finished (expired, or a tentative track that missed)


@dataclass
class TrackBase:
    """State shared by the trackers' track types (they add their own motion state)."""

    key: int
    class_id: int
    state: TrackState = TrackState.TENTATIVE
    track_id: int = -1
    hits: int = 0
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def observe(self, frame: int, box: np.ndarray, score: float) -> None:
        self.frames.append(frame)
        self.boxes.append(np.asarray(box, np.float32))
        self.scores.append(float(score))
        self.hits += 1

    def record(self) -> TrackRecord:
        return TrackRecord.from_observations(self.track_id, self.class_id, self.frames, self.boxes, self.scores)


class TrackBook:
    """The tracks of one tracker instance, the id counters and the frame-order check."""

    def __init__(self, min_hits: int) -> None:
        if min_hits < 1:
            raise ValueError(f"min_hits must be at least 1, got {min_hits}")
        self.min_hits = min_hits
        self.reset()

    def reset(self) -> None:
        self.active: list[TrackBase] = []
        self.finished: list[TrackBase] = []
        self.next_key = 0
        self.next_id = 1
        self.frame: int | None = None

    def advance(self, frame_index: int) -> int:
        """Check that frames arrive in increasing order; returns frames since the previous call."""
        if not isinstance(frame_index, (int, np.integer)) or frame_index < 0:
            raise ValueError(f"frame_index must be a non-negative integer, got {frame_index!r}")
        if self.frame is not None and frame_index <= self.frame:
            raise ValueError(f"frames must be given in increasing order: {frame_index} after {self.frame}")
        step = 0 if self.frame is None else int(frame_index) - self.frame
        self.frame = int(frame_index)
        return step

    def new_key(self) -> int:
        self.next_key += 1
        return self.next_key - 1

    def matched(self, track: TrackBase, frame: int, box: np.ndarray, score: float) -> None:
        """Record a match; promote to confirmed (with a new public id) or back from lost."""
        track.observe(frame, box, score)
        if track.state is TrackState.TENTATIVE and track.hits >= self.min_hits:
            track.track_id = self.next_id
            self.next_id += 1
        if track.state is not TrackState.TENTATIVE or track.track_id >= 0:
            track.state = TrackState.CONFIRMED

    def missed(self, track: TrackBase, frame: int, lost_frames: int) -> None:
        """An unmatched track: tentative ones end at once, confirmed ones are lost, old lost ones end."""
        if track.state is TrackState.TENTATIVE or frame - track.last_frame > lost_frames:
            track.state = TrackState.REMOVED
        else:
            track.state = TrackState.LOST

    def sweep(self) -> None:
        """Move removed tracks out of the active list (confirmed ones are kept for ``records``)."""
        for t in self.active:
            if t.state is TrackState.REMOVED and t.track_id >= 0:
                self.finished.append(t)
        self.active = [t for t in self.active if t.state is not TrackState.REMOVED]

    def records(self) -> list[TrackRecord]:
        """Every track that was ever confirmed (finished and still running), by id."""
        done = [t for t in self.finished + self.active if t.track_id >= 0]
        return [t.record() for t in sorted(done, key=lambda t: t.track_id)]
