"""``segments`` analyzer: shots cut into search-sized moments, each with a keyframe, its colours and motion.

A search hit should point at seconds, not at a five-minute static shot, so every shot is cut into
windows of at most ``max_length`` seconds (equal parts, so no sliver is left at the end). Each window
gets the sampled frame nearest its middle as keyframe (a small JPEG thumbnail in ``segments/``), the
colours most of its pixels have, and how much the picture changes from one sampled frame to the next.
These are the units the library indexes and the moments search merges back together.

Colours are named from HSV buckets (black, white, grey, red, orange, yellow, green, cyan, blue, purple,
pink, brown): coarse on purpose, they are what people type ("a red car", "blue sky"). Motion is the mean
absolute grey-level change between consecutive sampled frames (2 per second) inside the shot: ``still`` below
1.5 % of full scale, ``moving`` below 6 %, ``busy`` above (camera pans and crowds land there).
With ``blur_faces`` the thumbnails are written with the run's faces blurred (:mod:`vidlens.privacy.derived`);
the library stores these thumbnails, so they are what ``vidlens index --blur-faces`` keeps.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from ..analysis import Artifact
from ..errors import UsageError
from ..media import FrameSpec, VideoInfo
from ..media.images import decode_jpeg, encode_jpeg
from ..privacy.derived import NO_FACES_WARNING, face_blur
from .base import AnalyzerContext, FrameBatch, TimelinePart, shots_or_whole

THUMBNAIL_SIDE = 256
FOLDER = "segments"
COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown")
#: Motion words by mean absolute grey change (fraction of full scale) between sampled frames.
MOTION_LEVELS = ((0.015, "still"), (0.06, "moving"), (float("inf"), "busy"))
MIN_COLOUR_SHARE = 0.15


def colour_shares(rgb: np.ndarray) -> np.ndarray:
    """Share of the image's pixels in each of ``COLOURS`` (sums to 1)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.int32)
    h, s, v = hsv[:, 0] * 360 // 256, hsv[:, 1], hsv[:, 2]
    names = np.full(len(hsv), -1)
    dark, pale = v < 50, s < 40
    names[dark] = 0
    names[~dark & pale & (v >= 200)] = 1
    names[~dark & pale & (v < 200)] = 2
    chroma = names < 0
    # hue buckets (degrees): red wraps around 0
    edges = ((15, 3), (40, 4), (70, 5), (160, 6), (200, 7), (260, 8), (300, 9), (340, 10), (361, 3))
    lower = 0
    for upper, index in edges:
        sel = chroma & (h >= lower) & (h < upper)
        names[sel] = index
        lower = upper
    # dark oranges and reds read as brown
    names[chroma & (names == 4) & (v < 150)] = 11
    names[chroma & (names == 3) & (v < 110) & (s < 170)] = 11
    counts = np.bincount(names, minlength=len(COLOURS)).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def motion_word(value: float) -> str:
    return next(word for limit, word in MOTION_LEVELS if value < limit)


class SegmentsAnalyzer:
    name = "segments"
    after: tuple[str, ...] = ("shots",)

    def __init__(self, max_length: float = 6.0, fps: float = 2.0, blur_faces: bool = False) -> None:
        if not max_length > 0 or not fps > 0:
            raise UsageError(f"segments: max_length and fps must be positive, got {max_length}, {fps}")
        self.max_length, self.fps = float(max_length), float(fps)
        self.blur_faces = bool(blur_faces)
        if self.blur_faces:  # the face tracks must be known when the thumbnails are written
            self.after = (*self.after, "faces")
        self.needs = FrameSpec(max_side=THUMBNAIL_SIDE, pixel_format="rgb24",
                               fps=Fraction(fps).limit_denominator(1000))

    def params(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "fps": self.fps, "thumbnail_side": THUMBNAIL_SIDE} | (
            {"blur_faces": True} if self.blur_faces else {})

    def start(self, info: VideoInfo) -> None:
        self._indices: list[int] = []
        self._thumbs: list[bytes] = []
        self._colours: list[np.ndarray] = []
        self._grey: list[np.ndarray] = []

    def process(self, batch: FrameBatch) -> None:
        for frame, index in zip(batch.frames, batch.indices):
            self._indices.append(int(index))
            self._thumbs.append(encode_jpeg(frame, quality=80))
            self._colours.append(colour_shares(frame).astype(np.float32))
            self._grey.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (64, 36),
                                         interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        if not self._indices:
            return TimelinePart(sections={"segments": []}, params=self.params(),
                                warnings=["no frame was sampled for segments"])
        clock = context.clock
        indices = np.asarray(self._indices)
        colours = np.stack(self._colours)
        segments: list[dict[str, Any]] = []
        warnings: list[str] = []
        artifacts: dict[str, Artifact] | None = {}
        self._blur = face_blur(context) if self.blur_faces else None
        if self.blur_faces and self._blur is None:
            warnings.append(NO_FACES_WARNING)
            artifacts = None  # a sharp face must not be kept when blurring was asked for
        for shot in shots_or_whole(context):
            first, end = shot["start"]["frame"], shot["end"]["frame"]
            length = shot["end"]["time"] - shot["start"]["time"]
            parts = max(1, int(np.ceil(length / self.max_length - 1e-9)))
            bounds = np.linspace(first, end, parts + 1).round().astype(int)
            inside_shot = set(np.flatnonzero((indices >= first) & (indices < end)).tolist())
            for a, b in itertools.pairwise(bounds):
                if b <= a:
                    continue
                segments.append(self._segment(len(segments), shot["index"], int(a), int(b), indices, colours,
                                              inside_shot, clock, artifacts))
        return TimelinePart(sections={"segments": segments}, params=self.params(), warnings=warnings,
                            artifacts=artifacts or {})

    def _segment(self, number: int, shot: int, a: int, b: int, indices: np.ndarray, colours: np.ndarray,
                 inside_shot: set[int], clock: Any, artifacts: dict[str, Artifact] | None) -> dict[str, Any]:
        members = np.flatnonzero((indices >= a) & (indices < b))
        # a window shorter than the sampling step borrows the nearest sampled frame of its own shot if any
        fallback = np.asarray(sorted(inside_shot)) if inside_shot else np.arange(len(indices))
        pool = members if members.size else fallback
        key = int(pool[np.argmin(np.abs(indices[pool] - (a + b) / 2))])
        share = colours[members].mean(axis=0) if members.size else colours[key]
        order = np.argsort(-share)
        named = [{"name": COLOURS[i], "share": round(float(share[i]), 3)} for i in order[:3]
                 if share[i] >= MIN_COLOUR_SHARE]
        # motion: change between consecutive sampled frames of the same shot, inside this window
        diffs = [float(np.mean(np.abs(self._grey[i] - self._grey[i - 1])))
                 for i in members if i - 1 in inside_shot]
        motion = float(np.median(diffs)) if diffs else 0.0
        item: dict[str, Any] = {"index": number, "shot": shot, "start": clock.moment(a), "end": clock.moment(b),
                                "keyframe": clock.moment(int(indices[key])), "colours": named,
                                "motion": {"value": round(motion, 4), "level": motion_word(motion)}}
        if artifacts is not None:
            data = self._thumbs[key]
            if self._blur is not None:
                rgb = decode_jpeg(data)
                hidden = self._blur.image(rgb, int(indices[key]))
                data = data if hidden is rgb else encode_jpeg(hidden, quality=80)
            item["thumbnail"] = f"{FOLDER}/{number:05d}.jpg"
            artifacts[item["thumbnail"]] = Artifact(data=data)
        return item
