"""When to run the detector: a cheap motion score per frame and a schedule that follows it.

Frigate's "motion first" idea: a detector pass costs tens of milliseconds, a frame difference on a
thumbnail costs microseconds. On a static scene nothing new can appear without pixels changing,
so the detector can run rarely (every ``max_interval_frames``) and the tracker carries the boxes;
when pixels move, it runs as often as ``min_interval_frames`` allows.

The score is the fraction of thumbnail pixels that differ from a slowly updated background by
more than ``pixel_delta`` grey levels, after a blur that removes compression and sensor noise.
A running-average background (not the previous frame) is used so that slow motion, which moves
few pixels per frame, still adds up, and so that the score does not depend on how often it is
called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


class MotionGate:
    """Feed it frames (RGB, BGR or grey uint8, any size) in order; :meth:`step` returns a score in [0, 1]."""

    def __init__(self, *, thumb_width: int = 96, pixel_delta: int = 12, background_alpha: float = 0.2) -> None:
        if thumb_width < 8:
            raise ValueError(f"thumb_width must be at least 8, got {thumb_width}")
        if not 0 < pixel_delta < 255:
            raise ValueError(f"pixel_delta must be in (0, 255), got {pixel_delta}")
        if not 0 < background_alpha <= 1:
            raise ValueError(f"background_alpha must be in (0, 1], got {background_alpha}")
        self.thumb_width, self.pixel_delta, self.background_alpha = thumb_width, pixel_delta, background_alpha
        self._background: np.ndarray | None = None

    def reset(self) -> None:
        self._background = None

    def thumbnail(self, frame: np.ndarray) -> np.ndarray:
        """The blurred grey thumbnail the score is computed on (float32)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3)):
            raise ValueError(f"expected an HxW or HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        size = (self.thumb_width, max(1, round(h * self.thumb_width / w)))
        # shrink first (area filter, uint8), then average the channels: ~50x cheaper than greying the full frame
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32) if small.ndim == 2 else small.astype(np.float32).mean(axis=2)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def step(self, frame: np.ndarray) -> float:
        """Motion score of this frame against the background (0 on the first frame), then learn it."""
        thumb = self.thumbnail(frame)
        if self._background is None or self._background.shape != thumb.shape:
            self._background = thumb
            return 0.0
        moving = np.abs(thumb - self._background) > self.pixel_delta
        cv2.accumulateWeighted(thumb, self._background, self.background_alpha)
        return float(moving.mean())


#: Fraction of moving thumbnail pixels above which a frame counts as "moving": about a 10x10-pixel
#: patch of change on a 640x360 frame; sensor and compression noise score 0 after the blur.
MOTION_THRESHOLD = 0.002


@dataclass
class DetectionSchedule:
    """Run the detector at least every ``max_interval_frames``, and every ``min_interval_frames`` with motion.

    ``motion_threshold`` is a :class:`MotionGate` score (fraction of moving thumbnail pixels).
    ``tracking=True`` in :meth:`should_detect` (there are live tracks to keep up) counts as motion.
    """

    min_interval_frames: int
    max_interval_frames: int
    motion_threshold: float = MOTION_THRESHOLD

    def __post_init__(self) -> None:
        if not 1 <= self.min_interval_frames <= self.max_interval_frames:
            raise ValueError("need 1 <= min_interval_frames <= max_interval_frames, got "
                             f"{self.min_interval_frames}, {self.max_interval_frames}")
        if not 0 <= self.motion_threshold <= 1:
            raise ValueError(f"motion_threshold must be in [0, 1], got {self.motion_threshold}")
        self._last: int | None = None

    @staticmethod
    def from_seconds(fps: float, min_interval_s: float, max_interval_s: float,
                     motion_threshold: float = MOTION_THRESHOLD) -> DetectionSchedule:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        lo = max(1, round(min_interval_s * fps))
        return DetectionSchedule(lo, max(lo, round(max_interval_s * fps)), motion_threshold)

    def should_detect(self, frame_index: int, motion: float, tracking: bool = False) -> bool:
        """Whether to run the detector on ``frame_index``; a True answer is taken as a run."""
        since = None if self._last is None else frame_index - self._last
        run = (since is None or since >= self.max_interval_frames
               or (since >= self.min_interval_frames and (tracking or motion >= self.motion_threshold)))
        if run:
            self._last = frame_index
        return run

    def reset(self) -> None:
        self._last = None


class GatedDetector:
    """A detector behind the motion gate and schedule: what the objects and faces analyzers share.

    :meth:`run` takes a batch of frames in order, decides per frame (motion score, schedule) whether
    the detector is due, detects the due ones together, and returns ``(index, frame, detections)``.
    """

    def __init__(self, detector: Any, fps: float, min_interval_s: float, max_interval_s: float) -> None:
        self.detector = detector
        self.gate = MotionGate()
        self.schedule = DetectionSchedule.from_seconds(fps, min_interval_s, max_interval_s)
        self.frames_seen = 0
        self.frames_detected = 0

    def run(self, frames: Sequence[np.ndarray], indices: Sequence[int],
            tracking: bool = False) -> list[tuple[int, np.ndarray, Any]]:
        due: list[tuple[int, np.ndarray]] = []
        for frame, index in zip(frames, indices, strict=True):
            self.frames_seen += 1
            if self.schedule.should_detect(int(index), self.gate.step(frame), tracking=tracking):
                due.append((int(index), frame))
        if not due:
            return []
        self.frames_detected += len(due)
        found = self.detector.detect([f for _, f in due])
        return [(index, frame, dets) for (index, frame), dets in zip(due, found, strict=True)]

    def stats(self) -> dict[str, int]:
        return {"frames_seen": self.frames_seen, "frames_detected": self.frames_detected}
