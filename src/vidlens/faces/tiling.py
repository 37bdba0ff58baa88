"""Tiled, two-scale inference for small faces in large frames (1080p and up).

A detector run on a 1920x1080 frame shrunk to 640 wide sees a 24-pixel face as 8 pixels: below
what CenterFace (or BlazeFace) can find.  Tiled mode runs the detector twice over: once on the whole
frame (shrunk as usual: it finds the large faces, which tiles would cut) and once on overlapping
tiles at native resolution (the small ones).  A tile's box that touches a tile edge inside the
frame is dropped, since it is a cut face: any face narrower than the overlap lies whole in some
tile, and larger faces come from the whole-frame pass.  The union is merged by NMS (best score).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..boxes import nms_per_class
from .types import FaceDetections

EDGE_MARGIN = 2.0  # pixels: a box this close to an inner tile edge is a cut face


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px with at least ``overlap`` px shared."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    if length <= tile:
        return [0]
    step = tile - overlap
    n = -(-(length - tile) // step) + 1
    return np.linspace(0, length - tile, n).round().astype(int).tolist()


def tiles(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tile windows ``(x0, y0, x1, y1)`` in frame pixels, row by row."""
    return [(x, y, min(width, x + tile), min(height, y + tile))
            for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]


def detect_tiled(frame: np.ndarray, run: Callable[[Sequence[np.ndarray]], list[FaceDetections]], tile: int,
                 overlap: int, iou_threshold: float = 0.3) -> FaceDetections:
    """Faces in ``frame`` from ``run`` on the whole frame and on its tiles, merged (frame pixels)."""
    h, w = frame.shape[:2]
    parts = [run([frame])[0]]
    windows = tiles(w, h, tile, overlap)
    if len(windows) > 1:
        crops = [np.ascontiguousarray(frame[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
        for (x0, y0, x1, y1), found in zip(windows, run(crops), strict=True):
            b = found.boxes
            cut = np.zeros(len(found), bool)
            if x0 > 0:
                cut |= b[:, 0] <= EDGE_MARGIN
            if y0 > 0:
                cut |= b[:, 1] <= EDGE_MARGIN
            if x1 < w:
                cut |= b[:, 2] >= (x1 - x0) - EDGE_MARGIN
            if y1 < h:
                cut |= b[:, 3] >= (y1 - y0) - EDGE_MARGIN
            parts.append(found[~cut].shifted(x0, y0))
    merged = FaceDetections.concatenate(parts)
    keep = nms_per_class(merged.boxes, merged.scores, merged.classes, iou_threshold)
    return merged[keep]
