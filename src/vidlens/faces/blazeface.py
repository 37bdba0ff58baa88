"""BlazeFace short-range (MediaPipe 0.10.21): anchors, pre-processing and decoding, NumPy + OpenCV only.

MediaPipe's face_detection_short_range graph (SsdAnchorsCalculator + TensorsToDetectionsCalculator),
re-implemented: the frame is letterboxed (aspect kept, centred, black) into 128x128 RGB scaled to
[-1, 1], NHWC.  896 anchors: strides 8 and 16 (16x16x2 + 8x8x6), centres ((x+0.5)/fm, (y+0.5)/fm),
unit size.  Per anchor, ``regressors`` give the box centre offset and size and 6 keypoints (eyes,
nose, mouth, ears) in input pixels; ``classificators`` a score logit.  Overlapping boxes are merged
by MediaPipe's weighted NMS (IoU 0.3, coordinates averaged by score).  Trained on faces within
about 2 m of a phone camera: faces smaller than ~1/10 of the frame are mostly missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from ..boxes import Fit, box_iou_matrix, fit_frame
from .types import FaceDetections

INPUT_NAME = "input"
SIZE = 128
DEFAULT_SCORE_THRESHOLD = 0.5  # MediaPipe's min_score_thresh
NMS_IOU = 0.3
KEYPOINTS = 6


@cache
def anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1], MediaPipe's order (layer by layer, row-major, anchors per cell)."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):  # strides [8, 16, 16, 16] with equal strides merged
        fm = SIZE // stride
        ys, xs = np.mgrid[0:fm, 0:fm]
        centres = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def preprocess(frame_rgb: np.ndarray) -> tuple[np.ndarray, Fit]:
    img, fit = fit_frame(frame_rgb, SIZE, SIZE)
    return (img.astype(np.float32) / 127.5 - 1.0)[None], fit


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float = NMS_IOU
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED suppression: each cluster (IoU > threshold with its best box) becomes the
    score-weighted mean of its boxes and keypoints, with the best box's score."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, points = boxes[order], scores[order], points[order]
    iou = box_iou_matrix(boxes, boxes)
    free = np.ones(len(boxes), bool)
    kept_b, kept_s, kept_p = [], [], []
    for i in range(len(boxes)):
        if not free[i]:
            continue
        group = free & (iou[i] > iou_threshold)
        group[i] = True
        w = scores[group][:, None]
        kept_b.append((boxes[group] * w).sum(0) / w.sum())
        kept_p.append((points[group] * w[:, :, None]).sum(0) / w.sum())
        kept_s.append(scores[i])
        free &= ~group
    return (np.array(kept_b, np.float32).reshape(-1, 4), np.array(kept_s, np.float32),
            np.array(kept_p, np.float32).reshape(-1, KEYPOINTS, 2))


def decode(regressors: np.ndarray, logits: np.ndarray, fit: Fit,
           score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> FaceDetections:
    """One image's raw outputs ((896, 16), (896, 1)) → faces in frame pixels."""
    reg = np.asarray(regressors, np.float32).reshape(-1, 4 + 2 * KEYPOINTS)
    scores = (1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, np.float64).reshape(-1), -100, 100)))).astype(np.float32)
    keep = scores > score_threshold
    a = anchors()[keep]
    r, scores = reg[keep], scores[keep]
    cx, cy = r[:, 0] / SIZE + a[:, 0], r[:, 1] / SIZE + a[:, 1]
    w, h = r[:, 2] / SIZE, r[:, 3] / SIZE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * SIZE
    points = (r[:, 4:].reshape(-1, KEYPOINTS, 2) / SIZE + a[:, None, :]) * SIZE
    boxes, scores, points = weighted_nms(boxes, scores, points)
    points[:, :, 0] = np.clip((points[:, :, 0] - fit.pad_x) / fit.scale_x, 0, fit.frame_width)
    points[:, :, 1] = np.clip((points[:, :, 1] - fit.pad_y) / fit.scale_y, 0, fit.frame_height)
    return FaceDetections.of(fit.boxes_to_frame(boxes), scores, points)


def decode_batch(regressors: np.ndarray, logits: np.ndarray, fits: Sequence[Fit],
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> list[FaceDetections]:
    return [decode(regressors[i], logits[i], fit, score_threshold) for i, fit in enumerate(fits)]
