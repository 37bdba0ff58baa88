"""CenterNet (MobileNetV3 backbone, COCO-80, 512x512): the alternative detector.

The graph decodes itself (heatmap peaks, top-100, boxes in input pixels); what is left here is the
input (RGB 0..255 float, NHWC, no normalisation: what human.js feeds it), the score threshold, a
per-class NMS (the in-graph peak picking leaves overlapping boxes of one object) and the way back to
frame pixels.  The graph has a fixed batch of 1 (its in-graph TopK runs over one image), so a batch is
a loop of single runs.
"""

from __future__ import annotations

import numpy as np

from ..boxes import Fit, ResizeMode, fit_frame, nms_per_class
from .types import Detections

INPUT_SIZE = 512
INPUT_NAME = "images"
#: chosen on real frames (bench/detection.py), as NanoDet's: its best person F1 on vtest.avi (0.92)
DEFAULT_SCORE_THRESHOLD = 0.4
OUTPUT_NAME = "detections"  # (1, 100, 6): x0, y0, x1, y1 (input pixels), score, class


def preprocess(frame_rgb: np.ndarray, mode: ResizeMode | str = ResizeMode.LETTERBOX) -> tuple[np.ndarray, Fit]:
    img, fit = fit_frame(frame_rgb, INPUT_SIZE, INPUT_SIZE, mode)
    return img[None].astype(np.float32), fit


def decode(detections: np.ndarray, fit: Fit, score_threshold: float, iou_threshold: float = 0.5,
           class_mask: np.ndarray | None = None) -> Detections:
    d = np.asarray(detections, np.float32).reshape(-1, 6)
    classes = d[:, 5].astype(np.int32)
    keep = d[:, 4] > score_threshold
    if class_mask is not None:
        keep &= class_mask[np.clip(classes, 0, len(class_mask) - 1)]
    d, classes = d[keep], classes[keep]
    order = nms_per_class(d[:, :4], d[:, 4], classes, iou_threshold)
    return Detections(fit.boxes_to_frame(d[order, :4]), d[order, 4], classes[order])
