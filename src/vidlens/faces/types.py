"""Face detections: the generic :class:`~vidlens.boxes.Boxes` plus landmarks, and the one-class label list.

Faces are not a COCO-80 class, and a second index space inside ``classes`` would make every reader
check which one it holds.  So face detections keep ``classes`` all :data:`FACE_CLASS` (0) and name
it through :data:`FACE_LABELS` (``("face",)``); ``Detections.names()`` (COCO-80) is not meaningful
for them and the timeline writes ``"class": "face"``.  The tracker only compares class ids, so it
takes face detections as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..boxes import Boxes

FACE_LABELS: tuple[str, ...] = ("face",)
FACE_CLASS = 0
#: What each landmark index means, per model (CenterFace: 5 points; BlazeFace: 6).
LANDMARK_NAMES = {
    "centerface": ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"),
    "blazeface": ("left_eye", "right_eye", "nose", "mouth", "left_ear", "right_ear"),
}


@dataclass
class FaceDetections(Boxes):
    """:class:`~vidlens.boxes.Boxes` of faces; ``landmarks`` (N, K, 2) float32 x, y in the same pixels as ``boxes``.

    "Left" and "right" are the subject's as the models were trained (for CenterFace, image-left first)."""

    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, np.float32)
            if lm.ndim != 3:
                lm = lm.reshape(len(self.boxes), -1, 2) if len(self.boxes) else np.zeros((0, 0, 2), np.float32)
            self.landmarks = lm
            if len(self.landmarks) != len(self.boxes):
                raise ValueError(f"landmarks must have one row per box, got {len(self.landmarks)} for "
                                 f"{len(self.boxes)} boxes")

    def __getitem__(self, index: np.ndarray | slice) -> FaceDetections:
        return FaceDetections(self.boxes[index], self.scores[index], self.classes[index],
                              None if self.track_ids is None else self.track_ids[index],
                              None if self.landmarks is None else self.landmarks[index])

    @staticmethod
    def of(boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray | None) -> FaceDetections:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        return FaceDetections(boxes, scores, np.full(len(boxes), FACE_CLASS, np.int32), None, landmarks)

    def shifted(self, dx: float, dy: float) -> FaceDetections:
        """The same faces moved by (dx, dy) pixels (a tile's boxes into the whole frame)."""
        d = np.array([dx, dy], np.float32)
        lm = None if self.landmarks is None else self.landmarks + d
        return FaceDetections(self.boxes + np.tile(d, 2), self.scores, self.classes, self.track_ids, lm)

    def scaled(self, sx: float, sy: float) -> FaceDetections:
        lm = None if self.landmarks is None else self.landmarks * np.array([sx, sy], np.float32)
        return FaceDetections(self.boxes * np.array([sx, sy, sx, sy], np.float32), self.scores, self.classes,
                              self.track_ids, lm)

    def names(self) -> list[str]:
        return [FACE_LABELS[FACE_CLASS]] * len(self)

    @staticmethod
    def concatenate(parts: Sequence[Boxes]) -> FaceDetections:
        if not parts:
            return FaceDetections.of(np.zeros((0, 4)), np.zeros(0), None)
        lms = [getattr(p, "landmarks", None) for p in parts]
        k = {lm.shape[1] for lm in lms if lm is not None and len(lm)}
        landmarks = np.concatenate([lm for lm in lms if lm is not None]) if \
            all(lm is not None for lm in lms) and len(k) <= 1 else None
        return FaceDetections.of(np.concatenate([p.boxes for p in parts]),
                                 np.concatenate([p.scores for p in parts]), landmarks)
