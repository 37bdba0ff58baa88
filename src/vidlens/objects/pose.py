"""People's poses: MoveNet Lightning keypoints for each person box.

MoveNet single-pose sees one person per 192x192 input, so each person box becomes a square crop around
the box (``margin`` x its longer side, black outside the frame: the person is not squashed and keeps
some context, as MoveNet's own cropping does).  The keypoints come back as (y, x, score) in the crop
and are mapped to frame pixels.  The input is int32 RGB 0..255, NHWC (the graph casts it itself).
"""

from __future__ import annotations

import numpy as np

from ..boxes import padded_square
from ..errors import UsageError
from ..runtime import Model, load_model

#: COCO-17 keypoints, in MoveNet's output order.
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
INPUT_SIZE = 192
MODEL_NAME = "movenet_lightning"


def square_crop(frame_rgb: np.ndarray, box_xyxy: np.ndarray, margin: float) -> tuple[np.ndarray, float, float, float]:
    """The square around the box (black outside the frame), resized to the model input; and its x0, y0, side."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    side = max(x1 - x0, y1 - y0, 1.0) * margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    sx0, sy0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
    n = max(1, int(np.ceil(side)))
    return padded_square(frame_rgb, sx0, sy0, n, INPUT_SIZE), float(sx0), float(sy0), float(n)


class PoseEstimator:
    """MoveNet Lightning on person crops.  ``estimate`` returns (N, 17, 3): x, y (frame pixels), score."""

    def __init__(self, model: Model | None = None, margin: float = 1.25) -> None:
        if margin < 1.0:
            raise UsageError(f"margin must be >= 1 (the crop must hold the box), got {margin}")
        self.model = model or load_model(MODEL_NAME)
        self.margin = margin

    def estimate(self, frame_rgb: np.ndarray, person_boxes: np.ndarray) -> np.ndarray:
        if not isinstance(frame_rgb, np.ndarray) or frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
            raise UsageError(f"expected an RGB frame (H, W, 3), got {getattr(frame_rgb, 'shape', frame_rgb)}")
        boxes = np.asarray(person_boxes, np.float32).reshape(-1, 4)
        out = np.zeros((len(boxes), len(KEYPOINT_NAMES), 3), np.float32)
        for i, box in enumerate(boxes):
            crop, x0, y0, side = square_crop(frame_rgb, box, self.margin)
            kp = self.model.run({"input": crop[None].astype(np.int32)})["keypoints"][0, 0]  # (17, 3): y, x, score
            out[i, :, 0] = x0 + kp[:, 1] * side
            out[i, :, 1] = y0 + kp[:, 0] * side
            out[i, :, 2] = kp[:, 2]
        return out


def estimate_poses(frame_rgb: np.ndarray, person_boxes: np.ndarray, margin: float = 1.25) -> np.ndarray:
    """(N, 17, 3) keypoints (x, y in frame pixels, score) for the N person boxes (xyxy, frame pixels)."""
    return PoseEstimator(margin=margin).estimate(frame_rgb, person_boxes)
