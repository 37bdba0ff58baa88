"""Per-class non-maximum suppression, vectorised with NumPy.

Boxes of different classes never suppress each other (a person on a bicycle keeps both boxes): every
class is moved to its own region of the plane by an offset larger than any coordinate, then one greedy
NMS runs over all boxes at once (the trick torchvision's ``batched_nms`` uses).  Candidates are capped
before NMS (``max_candidates``, highest scores first) so a noisy frame costs a bounded time.
"""

from __future__ import annotations

import numpy as np

from .types import box_iou_matrix


def nms_per_class(boxes_xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float = 0.5,
                  max_candidates: int = 1000, max_detections: int = 300) -> np.ndarray:
    """Indices of the kept boxes, best score first."""
    scores = np.asarray(scores, np.float32).reshape(-1)
    if scores.size == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)[order]
    offset = float(np.abs(boxes).max()) + 1.0
    shifted = boxes + (np.asarray(classes).reshape(-1)[order].astype(np.float32) * offset)[:, None]
    iou = box_iou_matrix(shifted, shifted)
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= max_detections:
            break
        suppressed |= iou[i] > iou_threshold
    return order[np.asarray(keep, np.int64)]
