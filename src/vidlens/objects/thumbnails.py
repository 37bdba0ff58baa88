"""The best-scoring crop of each track, kept while a video is analysed and encoded as JPEGs at the end.

Shared by the objects and faces analyzers.  A face thumbnail is personal data in a report that may
be passed around, so ``images(..., blur=True)`` keeps it blurred: the report shows where a face was
without showing whose it was (the face analyzer's default). ``images(..., hide=...)`` instead hides
only what ``hide`` covers in each crop (``--blur-faces``: the faces inside a person's thumbnail).
Each crop remembers the frame it was cut from and where, so the faces of that frame can be found in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..analysis import Artifact
from ..media.images import encode_jpeg
from .types import Detections

THUMB_SIDE = 128


@dataclass(frozen=True)
class Crop:
    """A track's best crop: ``pixels`` cut at ``origin`` (x, y) from frame ``frame`` as the analyzer saw it
    (``frame_size`` = width, height), then resized by ``factor``."""

    score: float
    pixels: np.ndarray
    frame: int
    frame_size: tuple[int, int]
    origin: tuple[int, int]
    factor: float


#: ``hide(crop)`` returns the pixels to write for a crop (e.g. with the faces of its frame blurred).
CropHider = Callable[[Crop], np.ndarray]


class BestCrops:
    """Per track id, the crop (10 % padding, longer side <= ``side``) of its best-scoring box so far."""

    def __init__(self, side: int = THUMB_SIDE) -> None:
        self.side = side
        self._best: dict[int, Crop] = {}

    def offer(self, frame: np.ndarray, tracked: Detections, index: int = -1) -> None:
        """Keep the crops of ``tracked``'s confirmed boxes that beat their track's best score (``index``: the
        frame's number, so :meth:`images`' ``hide`` can find what else was on it)."""
        for box, score, tid in zip(tracked.boxes, tracked.scores.tolist(), tracked.track_ids.tolist(), strict=True):
            best = self._best.get(tid)
            if tid < 0 or (best is not None and score <= best.score):
                continue
            x0, y0, x1, y1 = box
            pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
            h, w = frame.shape[:2]
            left, top = max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y))
            crop = frame[top: min(h, int(y1 + pad_y)), left: min(w, int(x1 + pad_x))]
            if crop.size == 0:
                continue
            scale = self.side / max(crop.shape[:2])
            factor = 1.0
            if scale < 1:
                size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
                factor = size[0] / crop.shape[1]
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            self._best[tid] = Crop(score, np.ascontiguousarray(crop), int(index), (w, h), (left, top), factor)

    def images(self, tracks: list[dict[str, Any]], folder: str, *, blur: bool = False,
               hide: CropHider | None = None) -> dict[str, Artifact]:
        """``<folder>/track_<id>.jpg`` (JPEG bytes) for each track with a crop; sets ``track["thumbnail"]``.

        ``blur`` blurs each whole crop; else ``hide`` gives the pixels to keep for each crop."""
        out: dict[str, Artifact] = {}
        for track in tracks:
            best = self._best.get(track["id"])
            if best is None:
                continue
            crop = blurred(best.pixels) if blur else hide(best) if hide is not None else best.pixels
            name = f"{folder}/track_{track['id']}.jpg"
            out[name] = Artifact(data=encode_jpeg(crop, quality=85))
            track["thumbnail"] = name
            if blur:
                track["thumbnail_blurred"] = True
        return out


def blurred(rgb: np.ndarray) -> np.ndarray:
    """A blur strong enough that a face is not recognisable: Gaussian sigma of 1/6 of the longer side."""
    sigma = max(2.0, max(rgb.shape[:2]) / 6.0)
    return np.ascontiguousarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma))
