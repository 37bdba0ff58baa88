"""The best-scoring crop of each track, kept while a video is analysed and written as JPEGs at the end.

Shared by the objects and faces analyzers.  A face thumbnail is personal data in a report that may
be passed around, so ``write(..., blur=True)`` stores it blurred: the report shows where a face was
without showing whose it was (the face analyzer's default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..media.images import encode_jpeg
from .types import Detections

THUMB_SIDE = 128


class BestCrops:
    """Per track id, the crop (10 % padding, longer side <= ``side``) of its best-scoring box so far."""

    def __init__(self, side: int = THUMB_SIDE) -> None:
        self.side = side
        self._best: dict[int, tuple[float, np.ndarray]] = {}

    def offer(self, frame: np.ndarray, tracked: Detections) -> None:
        """Keep the crops of ``tracked``'s confirmed boxes that beat their track's best score."""
        for box, score, tid in zip(tracked.boxes, tracked.scores.tolist(), tracked.track_ids.tolist(), strict=True):
            if tid < 0 or score <= self._best.get(tid, (-1.0, None))[0]:
                continue
            x0, y0, x1, y1 = box
            pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
            h, w = frame.shape[:2]
            crop = frame[max(0, int(y0 - pad_y)): min(h, int(y1 + pad_y)),
                         max(0, int(x0 - pad_x)): min(w, int(x1 + pad_x))]
            if crop.size == 0:
                continue
            scale = self.side / max(crop.shape[:2])
            if scale < 1:
                crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                                  interpolation=cv2.INTER_AREA)
            self._best[tid] = (score, np.ascontiguousarray(crop))

    def write(self, tracks: list[dict[str, Any]], output_dir: Path, folder: str, *, blur: bool = False) -> None:
        """``<output_dir>/<folder>/track_<id>.jpg`` for each track with a crop; sets ``track["thumbnail"]``."""
        (output_dir / folder).mkdir(parents=True, exist_ok=True)
        for track in tracks:
            best = self._best.get(track["id"])
            if best is None:
                continue
            crop = blurred(best[1]) if blur else best[1]
            path = output_dir / folder / f"track_{track['id']}.jpg"
            path.write_bytes(encode_jpeg(crop, quality=85))
            track["thumbnail"] = f"{folder}/{path.name}"
            if blur:
                track["thumbnail_blurred"] = True


def blurred(rgb: np.ndarray) -> np.ndarray:
    """A blur strong enough that a face is not recognisable: Gaussian sigma of 1/6 of the longer side."""
    sigma = max(2.0, max(rgb.shape[:2]) / 6.0)
    return np.ascontiguousarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma))
