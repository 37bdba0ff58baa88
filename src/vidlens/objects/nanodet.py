"""NanoDet (COCO-80, 416x416): the default object detector.

Pre-processing is NanoDet's own: **BGR** with its ImageNet mean/std.  human.js, where the weights come
from, feeds RGB/255, which gives wrong classes (a vase on a motorcycle, a toilet on a coffee cup; see
``shared/models/RECIPE.md``).  The graph outputs sigmoid class scores and GFL box *distributions* per
anchor at strides 8, 16 and 32: each side (left, top, right, bottom) is 11 logits over distances
0..10 strides; the distance is the softmax expectation (GFL's integral), not the argmax.  Anchor centres
are ``(col + 0.5, row + 0.5) * stride`` (the legacy NanoDet head this model uses).

The functions here are pure NumPy/OpenCV so that ``tools/convert`` checks the INT8 file with the same
decoding the detector ships.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..boxes import Fit, ResizeMode, fit_frame, nms_per_class
from .types import Detections

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
#: chosen on real frames (bench/detection.py): person F1 against a hand count of 10 vtest.avi frames at three
#: aspect ratios is 0.91 at 0.4, 0.95 at 0.45, 0.96 at 0.5; 0.45 keeps weaker objects of other classes (cars on
#: bikes.mp4 score 0.5-0.6).  Trackers that use low-score boxes set their own, lower threshold.
DEFAULT_SCORE_THRESHOLD = 0.45
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
_MEAN_CHW = MEAN_BGR[:, None, None]
_INV_STD_CHW = (1.0 / STD_BGR)[:, None, None]
#: ONNX output names, as tools/convert_models.py names them: class scores then box distributions per stride
SCORE_OUTPUTS = tuple(f"scores_s{s}" for s in STRIDES)
BOX_OUTPUTS = tuple(f"boxes_s{s}" for s in STRIDES)


def preprocess(frames_rgb: Sequence[np.ndarray], mode: ResizeMode | str = ResizeMode.LETTERBOX
               ) -> tuple[np.ndarray, list[Fit]]:
    """RGB uint8 frames → the (N, 3, 416, 416) float32 BGR mean/std batch, and each frame's fit."""
    x = np.empty((len(frames_rgb), 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    fits = []
    for i, frame in enumerate(frames_rgb):
        img, fit = fit_frame(frame, INPUT_SIZE, INPUT_SIZE, mode)
        # straight into the batch, planes in BGR order (10x faster than converting the HWC image first)
        np.subtract(img.transpose(2, 0, 1)[::-1], _MEAN_CHW, out=x[i], dtype=np.float32)
        x[i] *= _INV_STD_CHW
        fits.append(fit)
    return x, fits


def _centres(stride: int) -> np.ndarray:
    n = INPUT_SIZE // stride + (INPUT_SIZE % stride > 0)
    rows, cols = np.divmod(np.arange(n * n), n)
    return np.stack([(cols + 0.5) * stride, (rows + 0.5) * stride], axis=1).astype(np.float32)


_CENTRES = {s: _centres(s) for s in STRIDES}
_PROJECT = np.arange(BINS, dtype=np.float32)


def decode(scores: Sequence[np.ndarray], boxes: Sequence[np.ndarray], fits: Sequence[Fit],
           score_threshold: float, iou_threshold: float = 0.5, class_mask: np.ndarray | None = None
           ) -> list[Detections]:
    """Raw outputs of a batch (one array per stride, batch first) → per-frame detections in frame pixels.

    Every (anchor, class) pair above the threshold is a candidate (an anchor can be a person and a bicycle);
    box distributions are decoded only for candidate anchors."""
    out = []
    for i, fit in enumerate(fits):
        all_boxes, all_scores, all_classes = [], [], []
        for level, stride in enumerate(STRIDES):
            s = scores[level][i]
            if class_mask is not None:
                s = np.where(class_mask[None, :], s, 0.0)
            anchors, classes = np.nonzero(s > score_threshold)
            if anchors.size == 0:
                continue
            logits = boxes[level][i][anchors].reshape(-1, 4, BINS)
            logits = logits - logits.max(axis=2, keepdims=True)
            p = np.exp(logits)
            dist = (p @ _PROJECT) / p.sum(axis=2) * stride  # (k, 4): left, top, right, bottom
            c = _CENTRES[stride][anchors]
            all_boxes.append(np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1))
            all_scores.append(s[anchors, classes])
            all_classes.append(classes)
        if not all_boxes:
            out.append(Detections())
            continue
        b, sc, cl = np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_classes)
        keep = nms_per_class(b, sc, cl, iou_threshold)
        out.append(Detections(fit.boxes_to_frame(b[keep]), sc[keep], cl[keep]))
    return out
