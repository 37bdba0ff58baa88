"""How far two sets of detections of the same frame agree (INT8 vs fp32, letterbox vs stretch, ...).

A box of one set matches a box of the other when both have the same class and IoU >= the threshold;
matching is greedy by IoU, one-to-one.  F1 over a frame is ``2 * matches / (n_a + n_b)``; two empty sets
agree fully.  Used by the model conversion tool and ``bench/detection.py``, so both speak of the same number.
"""

from __future__ import annotations

import numpy as np

from ..boxes import box_iou_matrix
from .types import Detections


def match_count(a: Detections, b: Detections, iou_threshold: float = 0.5) -> int:
    if len(a) == 0 or len(b) == 0:
        return 0
    iou = box_iou_matrix(a.boxes, b.boxes)
    iou[a.classes[:, None] != b.classes[None, :]] = -1.0
    matches = 0
    while matches < min(len(a), len(b)):
        i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
        if iou[i, j] < iou_threshold:
            return matches
        matches += 1
        iou[i, :] = -1.0
        iou[:, j] = -1.0
    return matches


def matched_f1(a: Detections, b: Detections, iou_threshold: float = 0.5) -> float:
    if len(a) + len(b) == 0:
        return 1.0
    return 2.0 * match_count(a, b, iou_threshold) / (len(a) + len(b))
