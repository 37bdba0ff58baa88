"""Fitting a frame into a detector's fixed square input, and mapping boxes back.

Two ways: *letterbox* keeps the aspect ratio (scale by the longer side, pad the rest, centred), *stretch*
resizes each axis on its own.  On 4:3 and 16:9 video, stretching squashes people sideways, which the
detectors were not trained on; ``bench/detection.py`` measures both on real frames (letterbox is the default).
The mapping is one affine per axis, ``input = frame * scale + pad``, so boxes go back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np


class ResizeMode(str, Enum):
    LETTERBOX = "letterbox"
    STRETCH = "stretch"


@dataclass(frozen=True)
class Fit:
    """How one frame was placed in the input: ``input_px = frame_px * scale + pad`` per axis."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def boxes_to_frame(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes in input pixels → frame pixels, clipped to the frame."""
        b = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4).copy()
        b[:, [0, 2]] = (b[:, [0, 2]] - self.pad_x) / self.scale_x
        b[:, [1, 3]] = (b[:, [1, 3]] - self.pad_y) / self.scale_y
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, self.frame_width)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, self.frame_height)
        return b


def fit_frame(frame: np.ndarray, width: int, height: int, mode: ResizeMode | str = ResizeMode.LETTERBOX,
              pad_value: float | tuple[float, ...] = 0) -> tuple[np.ndarray, Fit]:
    """``frame`` (H, W, C) resized into a (height, width, C) image, and the :class:`Fit` to map boxes back.

    Area interpolation when shrinking (no aliasing on 1080p → 416), linear when enlarging."""
    mode = ResizeMode(mode)
    fh, fw = frame.shape[:2]
    if fh == 0 or fw == 0:
        raise ValueError(f"empty frame of shape {frame.shape}")
    if mode is ResizeMode.STRETCH:
        sx, sy = width / fw, height / fh
        nw, nh, px, py = width, height, 0, 0
    else:
        sx = sy = min(width / fw, height / fh)
        nw, nh = max(1, round(fw * sx)), max(1, round(fh * sy))
        px, py = (width - nw) // 2, (height - nh) // 2
    interp = cv2.INTER_AREA if nw < fw or nh < fh else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    if (nw, nh) == (width, height):
        out = resized
    else:
        out = np.empty((height, width, frame.shape[2]), dtype=frame.dtype)
        out[...] = np.asarray(pad_value, dtype=frame.dtype)
        out[py:py + nh, px:px + nw] = resized
    # the exact scale of the resized content (rounding of nw, nh), so boxes map back to the pixel
    return out, Fit(nw / fw, nh / fh, float(px), float(py), fw, fh)
