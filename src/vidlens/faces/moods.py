"""Emotion samples of face tracks, summed up per track (mean and a coarse timeline) and per shot (mood).

A sample is one face of one track on one frame the detector saw it, classified by
:func:`vidlens.faces.emotion.classify_emotions`.  Single samples are noisy (a blink or a turn of the
head flips the label), so what the timeline keeps are means: per track over its whole life and over
each ``step_s`` window, per shot over all of its face-frames (every face weighs by how many frames it
was seen, so a shot's mood leans to the faces that are on screen longest).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..timeline import FrameClock
from .emotion import EMOTION_LABELS

DEFAULT_STEP_S = 1.0


def distribution(probs: np.ndarray) -> dict[str, float]:
    """Label → probability of one 7-vector, rounded for the JSON."""
    return {label: round(float(p), 4) for label, p in zip(EMOTION_LABELS, probs, strict=True)}


def dominant(probs: np.ndarray) -> tuple[str, float]:
    best = int(np.argmax(probs))
    return EMOTION_LABELS[best], round(float(probs[best]), 4)


class EmotionSamples:
    """Per track id, the frames it was classified on and the probabilities there."""

    def __init__(self) -> None:
        self._frames: dict[int, list[int]] = defaultdict(list)
        self._probs: dict[int, list[np.ndarray]] = defaultdict(list)

    def add(self, track_id: int, frame: int, probs: np.ndarray) -> None:
        self._frames[track_id].append(int(frame))
        self._probs[track_id].append(np.asarray(probs, np.float64))

    def track_summary(self, track_id: int, clock: FrameClock, step_s: float = DEFAULT_STEP_S) -> dict[str, Any] | None:
        """``{"emotion", "probability", "distribution", "samples", "step_s", "timeline"}`` or None (never classified).

        ``timeline`` has one row per ``step_s`` window of the video clock that holds samples:
        ``{"start": moment of its first sample, "emotion", "probability", "samples"}``."""
        frames = self._frames.get(track_id)
        if not frames:
            return None
        probs = np.stack(self._probs[track_id])
        mean = probs.mean(axis=0)
        label, p = dominant(mean)
        windows = np.array([int(clock.time(f) // step_s) for f in frames])
        timeline = []
        for window in np.unique(windows):
            rows = np.flatnonzero(windows == window)
            w_label, w_p = dominant(probs[rows].mean(axis=0))
            timeline.append({"start": clock.moment(frames[rows[0]]), "emotion": w_label, "probability": w_p,
                             "samples": int(rows.size)})
        return {"emotion": label, "probability": p, "distribution": distribution(mean), "samples": len(frames),
                "step_s": step_s, "timeline": timeline}

    def shot_mood(self, start: int, end: int) -> dict[str, Any] | None:
        """The mean distribution over every face-frame sampled in [start, end), or None when there is none."""
        inside = [p for tid, frames in self._frames.items()
                  for f, p in zip(frames, self._probs[tid], strict=True) if start <= f < end]
        if not inside:
            return None
        mean = np.mean(inside, axis=0)
        label, p = dominant(mean)
        return {"emotion": label, "probability": p, "distribution": distribution(mean), "face_frames": len(inside)}
