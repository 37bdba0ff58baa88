"""TransNetV2 (learned shot-boundary detector, shipped as ONNX) and its ensemble with the classical one.

TransNetV2 sees 100-frame windows of 48x27 RGB frames and predicts, per frame, the probability
that the frame ends a shot (``single_frame``). As upstream's ``predict_frames`` does, the stream
is padded with 25 copies of the first frame, windows advance by 50 and the middle 50 predictions
of each are kept; here that runs as frames arrive, holding at most one window in memory.
A run of frames above the threshold is one transition: a single frame is a cut (the new shot
starts on the next frame), a longer run is gradual (boundary in its middle).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import UsageError
from ..media import FrameSpec
from .classical import ClassicalDetector, ClassicalParams, drop_black_ends
from .types import Transition, TransitionKind, require_next, shifted

MODEL = "transnetv2"
WINDOW, STEP, PAD = 100, 50, 25


@dataclass(frozen=True)
class TransNetParams:
    threshold: float = 0.5
    batch: int = 4  # windows per ONNX Runtime call
    variant: str | None = None  # manifest variant ("fp32", "int8"); None = the manifest default

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise UsageError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.batch < 1:
            raise UsageError(f"batch must be >= 1, got {self.batch}")


class TransNetV2Detector:
    """Learned detector; needs every frame at 48x27 RGB."""

    name = "transnetv2"
    needs = FrameSpec(width=48, height=27, pixel_format="rgb24")

    def __init__(self, params: TransNetParams | None = None, *, fps: float) -> None:
        self.p = params or TransNetParams()
        self.fps = fps
        from ..runtime import load_model  # ONNX Runtime loads only when the model is used

        self.model = load_model(MODEL, self.p.variant)
        self.reset()

    def reset(self) -> None:
        self._buffer: list[np.ndarray] = []  # padded frames not yet fully predicted
        self._pending_windows: list[np.ndarray] = []
        self._predictions: list[np.ndarray] = []
        self._count = 0
        self._first_index: int | None = None
        self._luma: list[tuple[float, float]] = []  # per-frame (mean, std), for black leaders

    def params(self) -> dict:
        return {"detector": self.name, "model": MODEL, "variant": self.model.entry.variant,
                "threshold": self.p.threshold}

    def push(self, frames: list[np.ndarray], indices: np.ndarray) -> None:
        for frame, index in zip(frames, indices):
            if self._first_index is None:
                self._buffer.extend([frame] * PAD)  # upstream's start padding
            self._first_index = require_next(self._first_index, self._count, index, "TransNetV2")
            self._buffer.append(frame)
            gray = frame.mean(axis=2)
            self._luma.append((float(gray.mean()), float(gray.std())))
            self._count += 1
            if len(self._buffer) == WINDOW:
                self._pending_windows.append(np.stack(self._buffer))
                del self._buffer[:STEP]
                if len(self._pending_windows) >= self.p.batch:
                    self._run()

    def _run(self) -> None:
        if not self._pending_windows:
            return
        out = self.model.run({"frames": np.stack(self._pending_windows)})["single_frame"]
        self._predictions.extend(window[PAD: PAD + STEP, 0] for window in out)
        self._pending_windows.clear()

    def frame_probabilities(self) -> np.ndarray:
        """Per-frame probability that the frame is the last of a shot (after ``finish``-style flush)."""
        if self._count and self._buffer:
            last = self._buffer[-1]
            needed = PAD + STEP - (self._count % STEP or STEP)  # upstream's end padding
            padded = self._buffer + [last] * needed
            while len(padded) >= WINDOW:
                self._pending_windows.append(np.stack(padded[:WINDOW]))
                padded = padded[STEP:]
            self._buffer = []
        self._run()
        return np.concatenate(self._predictions)[: self._count] if self._predictions else np.zeros(0)

    def finish(self) -> list[Transition]:
        probs = self.frame_probabilities()
        luma = np.asarray(self._luma, dtype=np.float64).reshape(-1, 2)
        found = drop_black_ends(transitions_from_probabilities(probs, self.p.threshold), luma[:, 0], luma[:, 1])
        return shifted(found, self._first_index or 0)


def transitions_from_probabilities(probs: np.ndarray, threshold: float) -> list[Transition]:
    """Runs of frames above ``threshold``: one frame = cut after it, longer = gradual transition."""
    above = probs > threshold
    out: list[Transition] = []
    i, n = 0, len(probs)
    while i < n:
        if not above[i]:
            i += 1
            continue
        start = i
        while i < n and above[i]:
            i += 1
        end = i  # run is [start, end)
        confidence = round(float(probs[start:end].max()), 3)
        if end - start <= 2:
            frame = int(start + np.argmax(probs[start:end])) + 1
            if frame < n:
                out.append(Transition(TransitionKind.CUT, frame, frame, frame + 1, confidence))
        else:
            out.append(Transition(TransitionKind.DISSOLVE, (start + end) // 2 + 1, start, end + 1, confidence))
    return out


class EnsembleDetector:
    """Classical and TransNetV2 together: a boundary both see is kept; one seen by only one is
    kept when that detector is confident (TransNetV2 >= ``sure`` or a classical cut >= ``sure``).

    Both see the same decoded frames: the classical detector's 128-pixel frames, shrunk again
    to TransNetV2's 48x27 (an area filter, as FFmpeg's scaler would apply from full size).
    """

    name = "ensemble"

    def __init__(self, fps: float, tolerance: int = 2, sure: float = 0.9) -> None:
        self.classical = ClassicalDetector(ClassicalParams(), fps=fps)
        self.transnet = TransNetV2Detector(fps=fps)
        self.tolerance, self.sure = tolerance, sure

    @property
    def needs(self) -> FrameSpec:
        return self.classical.needs

    def params(self) -> dict:
        return {"detector": self.name, "classical": self.classical.params(), "transnetv2": self.transnet.params(),
                "tolerance": self.tolerance, "sure": self.sure}

    def push(self, frames: list[np.ndarray], indices: np.ndarray) -> None:
        self.classical.push(frames, indices)
        small = [cv2.resize(f, (48, 27), interpolation=cv2.INTER_AREA) for f in frames]
        self.transnet.push(small, indices)

    def finish(self) -> list[Transition]:
        return self.combine(self.classical.finish(), self.transnet.finish())  # both drop black leaders

    def combine(self, classical: list[Transition], learned: list[Transition]) -> list[Transition]:
        return combine_detections(classical, learned, self.tolerance, self.sure)


def combine_detections(classical: list[Transition], learned: list[Transition], tolerance: int = 2,
                       sure: float = 0.9) -> list[Transition]:
    """Keep boundaries both detectors report (the classical one's frame and label), plus those
    only one reports when it is at least ``sure`` of them."""
    def same(a: Transition, b: Transition) -> bool:
        return abs(a.frame - b.frame) <= tolerance or a.start <= b.frame < a.end or b.start <= a.frame < b.end

    kept = [c for c in classical if c.confidence >= sure or any(same(c, t) for t in learned)]
    kept += [t for t in learned if t.confidence >= sure and not any(same(c, t) for c in kept)]
    return sorted(kept, key=lambda t: t.frame)
