"""Matching tracks to detections by IoU: optimal (Hungarian) for the tracker, greedy for the baseline.

The optimal assignment comes from SciPy's ``linear_sum_assignment`` (a maintained C++ solver with
wheels everywhere; SciPy is already installed alongside scikit-image and OpenCV users). ``lap``'s
LAPJV is faster on thousands of rows, but a frame has tens of boxes, where both take microseconds.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import box_iou_matrix


class Matches:
    """Pairs ``(row, col)`` plus the rows and columns left unmatched, as index arrays."""

    def __init__(self, pairs: np.ndarray, n_rows: int, n_cols: int) -> None:
        self.pairs = pairs.reshape(-1, 2).astype(np.int64)
        self.unmatched_rows = np.setdiff1d(np.arange(n_rows), self.pairs[:, 0])
        self.unmatched_cols = np.setdiff1d(np.arange(n_cols), self.pairs[:, 1])


def gated_iou(track_boxes: np.ndarray, track_classes: np.ndarray, det_boxes: np.ndarray,
              det_classes: np.ndarray, class_aware: bool = True) -> np.ndarray:
    """IoU of every track box with every detection, 0 where the classes differ (when class-aware)."""
    iou = box_iou_matrix(track_boxes, det_boxes)
    if class_aware and iou.size:
        iou = np.where(np.asarray(track_classes)[:, None] == np.asarray(det_classes)[None, :], iou, 0.0)
    return iou


def similar_size(track_boxes: np.ndarray, det_boxes: np.ndarray, max_ratio: float) -> np.ndarray:
    """(N, M) mask: width and height each within a factor ``max_ratio`` of the track's.

    IoU alone lets a thin false positive take over a track it half covers (its IoU with a
    predicted box can pass 0.3); an object does not halve or double its size between two
    detector runs, so such pairs are refused.
    """
    tw = np.maximum(track_boxes[:, 2] - track_boxes[:, 0], 1e-6)[:, None]
    th = np.maximum(track_boxes[:, 3] - track_boxes[:, 1], 1e-6)[:, None]
    dw = np.maximum(det_boxes[:, 2] - det_boxes[:, 0], 1e-6)[None, :]
    dh = np.maximum(det_boxes[:, 3] - det_boxes[:, 1], 1e-6)[None, :]
    rw, rh = dw / tw, dh / th
    return (rw <= max_ratio) & (rw >= 1 / max_ratio) & (rh <= max_ratio) & (rh >= 1 / max_ratio)


def hungarian(iou: np.ndarray, min_iou: float) -> Matches:
    """The assignment maximising total IoU, keeping only pairs with IoU ≥ ``min_iou``.

    Pairs below the threshold are made infeasible *before* solving, not dropped after: dropping
    afterwards can throw away a pair the solver chose over a feasible alternative.
    """
    n_rows, n_cols = iou.shape
    if n_rows == 0 or n_cols == 0:
        return Matches(np.empty((0, 2)), n_rows, n_cols)
    feasible = iou >= min_iou
    cost = np.where(feasible, 1.0 - iou, 1e6)
    rows, cols = linear_sum_assignment(cost)
    keep = feasible[rows, cols]
    return Matches(np.stack([rows[keep], cols[keep]], axis=1), n_rows, n_cols)


def greedy(iou: np.ndarray, min_iou: float) -> Matches:
    """Highest IoU first, each row and column used once (the classic IoU tracker's matching)."""
    n_rows, n_cols = iou.shape
    pairs: list[tuple[int, int]] = []
    if n_rows and n_cols:
        order = np.argsort(-iou, axis=None, kind="stable")
        used_r, used_c = np.zeros(n_rows, bool), np.zeros(n_cols, bool)
        for flat in order:
            r, c = divmod(int(flat), n_cols)
            if iou[r, c] < min_iou:
                break
            if not used_r[r] and not used_c[c]:
                used_r[r] = used_c[c] = True
                pairs.append((r, c))
    return Matches(np.array(pairs, dtype=np.int64), n_rows, n_cols)
