"""``people`` analyzer: how much of the picture is person, per sampled frame and per shot, from person masks.

MediaPipe's selfie segmentation (general 256x256 model, shipped as ONNX) gives a per-pixel person
probability. Frames are stretched to the square as MediaPipe does, at a low sampling rate (masks
change slowly and the model is cheap, so a few frames per second cost little next to decoding).
The person fraction (pixels with probability > ``threshold``) is reported per sampled frame, per
shot (mean and max), and as presence segments: a person is present from the sample where the
fraction reaches ``presence_on`` until it falls below ``presence_off`` (hysteresis, so a fraction
hovering at the threshold does not flicker); gaps shorter than ``min_gap_s`` are closed and
segments shorter than ``min_duration_s`` dropped.

The model is made for people near the camera (video calls, selfies). It also marks large
foreground objects as person (a close-up cat, a coffee cup) and misses small distant people; see
the README for measured figures. ``person_mask`` is the one way to get a mask for any frame, at
the frame's size; anonymization and background effects build on it.

``masks=True`` also writes ``masks.mp4`` into the output folder: one grey frame per *sampled*
frame (255 = person probability 1), each shown at its source frame's time, at the video's aspect
ratio (longer side ``MASK_MAX_SIDE``). Masks exist only for sampled frames; a full-rate mask video
is ``fps`` set to the video's rate.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..analysis import Artifact
from ..errors import UsageError
from ..media import FrameSpec, VideoInfo
from ..media.encode import VideoEncoder
from .base import AnalyzerContext, FrameBatch, TimelinePart, sampled_in_range, shots_or_whole

MODEL = "selfie_segmentation"
INPUT = 256
MASKS_FILE = "masks.mp4"
MASK_MAX_SIDE = 512
#: mask video time base: fine enough that every sampled frame keeps its own exact-to-0.1-ms time
MASK_TIME_BASE = Fraction(1, 10_000)


def _model():
    from ..runtime import load_model  # ONNX Runtime loads only when a model is used

    return load_model(MODEL)


def _to_input(frame_rgb: np.ndarray) -> np.ndarray:
    """Stretch to 256x256 (MediaPipe does not keep the aspect ratio) and scale to [0, 1]."""
    if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
        raise UsageError(f"person masks need an RGB frame (H x W x 3), got shape {frame_rgb.shape}")
    h, w = frame_rgb.shape[:2]
    if (h, w) != (INPUT, INPUT):
        shrink = h * w > INPUT * INPUT
        frame_rgb = cv2.resize(frame_rgb, (INPUT, INPUT), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return frame_rgb.astype(np.float32) * (1.0 / 255.0)


def _run(inputs: np.ndarray) -> np.ndarray:
    """Person probability masks (N, 256, 256) for stretched, scaled inputs (N, 256, 256, 3)."""
    return _model().run(np.ascontiguousarray(inputs))["mask"][..., 0]


def person_masks(frames_rgb: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Person probability masks (float32 in [0, 1]) for RGB uint8 frames, each at its frame's size, in one batch."""
    if not len(frames_rgb):
        return []
    masks = _run(np.stack([_to_input(f) for f in frames_rgb]))
    out = []
    for frame, mask in zip(frames_rgb, masks, strict=True):
        h, w = frame.shape[:2]
        out.append(cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR) if (h, w) != mask.shape else mask)
    return out


def person_mask(frame_rgb: np.ndarray) -> np.ndarray:
    """The person probability mask (float32 H x W in [0, 1]) of one RGB uint8 frame, at the frame's size."""
    return person_masks([frame_rgb])[0]


class PeopleAnalyzer:
    name = "people"
    after: tuple[str, ...] = ("shots",)

    def __init__(self, fps: float = 2.0, threshold: float = 0.5, presence_on: float = 0.01,
                 presence_off: float = 0.005, min_duration_s: float = 1.0, min_gap_s: float = 1.0,
                 masks: bool = False) -> None:
        if not fps > 0:
            raise UsageError(f"people fps must be > 0, got {fps}")
        if not 0 < threshold < 1:
            raise UsageError(f"people threshold must be in (0, 1), got {threshold}")
        if not 0 <= presence_off <= presence_on <= 1:
            raise UsageError(f"need 0 <= presence_off <= presence_on <= 1, got {presence_off} and {presence_on}")
        if min_duration_s < 0 or min_gap_s < 0:
            raise UsageError(f"min_duration_s and min_gap_s must be >= 0, got {min_duration_s}, {min_gap_s}")
        self.fps, self.threshold = fps, threshold
        self.presence_on, self.presence_off = presence_on, presence_off
        self.min_duration_s, self.min_gap_s = min_duration_s, min_gap_s
        self.masks = masks
        # frames arrive already stretched to the model input: swscale does it once in the decode thread
        self.needs = FrameSpec(width=INPUT, height=INPUT, pixel_format="rgb24",
                               fps=Fraction(fps).limit_denominator(1000))

    def params(self) -> dict[str, Any]:
        return {"model": MODEL, "fps": self.fps, "threshold": self.threshold, "presence_on": self.presence_on,
                "presence_off": self.presence_off, "min_duration_s": self.min_duration_s,
                "min_gap_s": self.min_gap_s, "masks": self.masks}

    def start(self, info: VideoInfo) -> None:
        _model()  # fail at start (missing/damaged model), not at the first batch
        self._indices: list[int] = []
        self._times: list[float] = []
        self._fractions: list[float] = []
        self._encoder: VideoEncoder | None = None
        self._mask_dir: Path | None = None
        if self.masks:
            w, h = info.display_size
            scale = min(1.0, MASK_MAX_SIDE / max(w, h))
            self._mask_size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
            self._mask_dir = Path(tempfile.mkdtemp(prefix="vidlens-masks-"))
            self._encoder = VideoEncoder(self._mask_dir / MASKS_FILE, fps=Fraction(self.fps).limit_denominator(1000),
                                         time_base=MASK_TIME_BASE, crf=12)

    def process(self, batch: FrameBatch) -> None:
        masks = _run(np.stack(batch.frames).astype(np.float32) * (1.0 / 255.0))
        self._fractions.extend(float(f) for f in (masks > self.threshold).mean(axis=(1, 2)))
        self._indices.extend(int(i) for i in batch.indices)
        self._times.extend(float(t) for t in batch.times)
        if self._encoder is not None:
            for mask, t in zip(masks, batch.times, strict=True):
                grey = cv2.resize(mask, self._mask_size, interpolation=cv2.INTER_LINEAR)
                self._encoder.write(np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8),
                                    pts=round(float(t) / MASK_TIME_BASE))

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        part = TimelinePart(params=self.params())
        masks_file = self._finish_masks(context, part)
        if not self._indices:
            part.warnings.append("no frame was sampled for people")
            return part
        indices = np.asarray(self._indices)
        fractions = np.asarray(self._fractions)
        for shot in shots_or_whole(context):
            members = sampled_in_range(indices, shot["start"]["frame"], shot["end"]["frame"])
            part.shot_fields[shot["index"]] = {"people": {"mean_fraction": round(float(fractions[members].mean()), 4),
                              "max_fraction": round(float(fractions[members].max()), 4),
                              "present_share": round(float(np.mean(fractions[members] >= self.presence_on)), 4)}}
        segments = [{"start": context.clock.moment(a), "end": context.clock.moment(b),
                     "mean_fraction": round(float(fractions[sel].mean()), 4),
                     "max_fraction": round(float(fractions[sel].max()), 4)}
                    for a, b in self._presence(indices, fractions, context)
                    for sel in [(indices >= a) & (indices < b)]]
        part.sections["people"] = {
            "model": MODEL, "fps": self.fps, "threshold": self.threshold,
            "segments": segments,
            "samples": {"frames": indices.tolist(), "times": [round(t, 6) for t in self._times],
                        "fractions": [round(float(f), 4) for f in fractions]},
            "masks": masks_file,
        }
        return part

    def _presence(self, indices: np.ndarray, fractions: np.ndarray, context: AnalyzerContext) -> list[tuple[int, int]]:
        """Half-open frame ranges where a person is present (hysteresis, gaps closed, short ones dropped)."""
        spans: list[list[int]] = []
        on = False
        for index, fraction in zip(indices, fractions, strict=True):
            if not on and fraction >= self.presence_on:
                spans.append([int(index), -1])
                on = True
            elif on and fraction < self.presence_off:
                spans[-1][1] = int(index)  # ends at the first sample seen without a person
                on = False
        if on:
            spans[-1][1] = context.clock.frame_count
        time = context.clock.time
        merged: list[list[int]] = []
        for span in spans:
            if merged and time(span[0]) - time(merged[-1][1]) < self.min_gap_s:
                merged[-1][1] = span[1]
            else:
                merged.append(span)
        return [(a, b) for a, b in merged if time(b) - time(a) >= self.min_duration_s - 1e-9]

    def _finish_masks(self, context: AnalyzerContext, part: TimelinePart) -> dict[str, Any] | None:
        """Close the mask video; it becomes a spill-file artifact (its temporary folder goes with it)."""
        if self._encoder is None or self._mask_dir is None:
            return None
        if not self._encoder.frames:
            self._encoder.abort()
            shutil.rmtree(self._mask_dir, ignore_errors=True)
            part.warnings.append("no mask video: no frame was sampled")
            return None
        try:
            self._encoder.close()
        except BaseException:
            shutil.rmtree(self._mask_dir, ignore_errors=True)
            raise
        part.artifacts[MASKS_FILE] = Artifact(spill=self._encoder.path, spill_dir=self._mask_dir)
        w, h = self._mask_size
        return {"file": MASKS_FILE, "frames": self._encoder.frames, "width": w, "height": h,
                "rate": "sampled", "fps": self.fps,
                "encoding": "grey = round(255 x person probability); each frame shown at its source frame's time"}
