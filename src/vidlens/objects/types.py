"""The values that cross the detector → tracker → rules seams.

One container for "some boxes in one frame", as arrays rather than a list of small objects: a crowd
of 200 people is 200 rows, NMS and IoU are vectorised, and the tracker adds a column (``track_ids``)
instead of a new type. Boxes are ``x0, y0, x1, y1`` in the pixels of the frame the detector saw,
floats, x1/y1 exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

#: COCO-80 class names in the detectors' output order (from human.js ``labels.ts``, MIT).
COCO80_FILE = "labels/coco80.txt"


@cache
def coco80_names() -> tuple[str, ...]:
    text = resources.files("vidlens.models").joinpath(COCO80_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


COCO80 = coco80_names()


def _empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


@dataclass
class Detections:
    """Boxes in one frame: ``boxes`` (N, 4) float32 xyxy, ``scores`` (N,), ``classes`` (N,) COCO-80 index.

    ``track_ids`` (N,) int64 is set by a tracker; -1 marks a box not (yet) in a confirmed track.
    """

    boxes: np.ndarray = field(default_factory=lambda: _empty((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: _empty((0,), np.float32))
    classes: np.ndarray = field(default_factory=lambda: _empty((0,), np.int32))
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.classes = np.asarray(self.classes, dtype=np.int32).reshape(-1)
        if self.track_ids is not None:
            self.track_ids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if len(self.scores) != n or len(self.classes) != n or (self.track_ids is not None and len(self.track_ids) != n):
            raise ValueError(f"boxes, scores, classes (and track_ids) must have the same length, got {n}, "
                             f"{len(self.scores)}, {len(self.classes)}"
                             f"{'' if self.track_ids is None else f', {len(self.track_ids)}'}")

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        """Rows by boolean mask, index array or slice."""
        return Detections(self.boxes[index], self.scores[index], self.classes[index],
                          None if self.track_ids is None else self.track_ids[index])

    @staticmethod
    def concatenate(parts: list[Detections]) -> Detections:
        if not parts:
            return Detections()
        ids = None if any(p.track_ids is None for p in parts) else np.concatenate([p.track_ids for p in parts])
        return Detections(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                          np.concatenate([p.classes for p in parts]), ids)

    def scaled(self, sx: float, sy: float) -> Detections:
        """The same boxes in another pixel grid (e.g. the detector's input back to the frame's)."""
        return Detections(self.boxes * np.array([sx, sy, sx, sy], np.float32), self.scores, self.classes,
                          self.track_ids)

    def names(self) -> list[str]:
        return [COCO80[c] for c in self.classes]


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy → (N, M)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)
