"""Generic box primitives shared by object and face detection: the per-frame box container, IoU, NMS,
fitting a frame into a detector's input and mapping boxes back, and the frame check every detector runs.

Boxes are ``x0, y0, x1, y1`` in the pixels of the frame the detector saw, floats, x1/y1 exclusive. One
container for "some boxes in one frame", as arrays rather than a list of small objects: a crowd of 200
people is 200 rows, NMS and IoU are vectorised, and a tracker adds a column (``track_ids``) instead of a
new type. :mod:`vidlens.objects` (COCO-80 :class:`~vidlens.objects.types.Detections`) and
:mod:`vidlens.faces` (:class:`~vidlens.faces.types.FaceDetections`, + landmarks) both build on it.

Letterbox or stretch: *letterbox* keeps the aspect ratio (scale by the longer side, pad the rest,
centred), *stretch* resizes each axis on its own. On 4:3 and 16:9 video, stretching squashes people
sideways, which the detectors were not trained on; ``bench/detection.py`` measures both on real frames
(letterbox is the default). The mapping is one affine per axis, ``input = frame * scale + pad``, so boxes
go back exactly.

NMS is per class: boxes of different classes never suppress each other (a person on a bicycle keeps both
boxes): every class is moved to its own region of the plane by an offset larger than any coordinate, then
one greedy NMS runs over all boxes at once (the trick torchvision's ``batched_nms`` uses). Candidates are
capped before NMS (``max_candidates``, highest scores first) so a noisy frame costs a bounded time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import UsageError

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11; annotations only, never imported at run time


def _empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


@dataclass
class Boxes:
    """Boxes in one frame: ``boxes`` (N, 4) float32 xyxy, ``scores`` (N,), ``classes`` (N,) class index (what the
    index means is the detector's: :class:`vidlens.objects.types.Detections` are COCO-80, faces one class).

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

    def __getitem__(self, index: np.ndarray | slice) -> Self:
        """Rows by boolean mask, index array or slice."""
        return type(self)(self.boxes[index], self.scores[index], self.classes[index],
                          None if self.track_ids is None else self.track_ids[index])

    @classmethod
    def concatenate(cls, parts: Sequence[Boxes]) -> Self:
        if not parts:
            return cls()
        ids = None if any(p.track_ids is None for p in parts) else np.concatenate([p.track_ids for p in parts])
        return cls(np.concatenate([p.boxes for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.classes for p in parts]), ids)

    def scaled(self, sx: float, sy: float) -> Self:
        """The same boxes in another pixel grid (e.g. the detector's input back to the frame's)."""
        return type(self)(self.boxes * np.array([sx, sy, sx, sy], np.float32), self.scores, self.classes,
                          self.track_ids)


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


# -- fitting a frame into a detector's input --------------------------------------------------------


class ResizeMode(str, Enum):
    LETTERBOX = "letterbox"
    STRETCH = "stretch"


@dataclass(frozen=True)
class Fit:
    """How one frame was placed in the input: ``input_px = frame_px * scale + pad`` per axis."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def boxes_to_frame(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Boxes in input pixels → frame pixels, clipped to the frame."""
        b = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4).copy()
        b[:, [0, 2]] = (b[:, [0, 2]] - self.pad_x) / self.scale_x
        b[:, [1, 3]] = (b[:, [1, 3]] - self.pad_y) / self.scale_y
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, self.frame_width)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, self.frame_height)
        return b


def fit_frame(frame: np.ndarray, width: int, height: int, mode: ResizeMode | str = ResizeMode.LETTERBOX,
              pad_value: float | tuple[float, ...] = 0) -> tuple[np.ndarray, Fit]:
    """``frame`` (H, W, C) resized into a (height, width, C) image, and the :class:`Fit` to map boxes back.

    Area interpolation when shrinking (no aliasing on 1080p → 416), linear when enlarging."""
    mode = ResizeMode(mode)
    fh, fw = frame.shape[:2]
    if fh == 0 or fw == 0:
        raise ValueError(f"empty frame of shape {frame.shape}")
    if mode is ResizeMode.STRETCH:
        sx, sy = width / fw, height / fh
        nw, nh, px, py = width, height, 0, 0
    else:
        sx = sy = min(width / fw, height / fh)
        nw, nh = max(1, round(fw * sx)), max(1, round(fh * sy))
        px, py = (width - nw) // 2, (height - nh) // 2
    interp = cv2.INTER_AREA if nw < fw or nh < fh else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    if (nw, nh) == (width, height):
        out = resized
    else:
        out = np.empty((height, width, frame.shape[2]), dtype=frame.dtype)
        out[...] = np.asarray(pad_value, dtype=frame.dtype)
        out[py:py + nh, px:px + nw] = resized
    # the exact scale of the resized content (rounding of nw, nh), so boxes map back to the pixel
    return out, Fit(nw / fw, nh / fh, float(px), float(py), fw, fh)


def padded_square(frame: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """The ``side`` x ``side`` square of ``frame`` whose top-left corner is ``(x0, y0)`` (black where it leaves
    the frame), resized to ``size`` x ``size`` (area filter when shrinking)."""
    n = max(1, int(side))
    h, w = frame.shape[:2]
    canvas = np.zeros((n, n, *frame.shape[2:]), frame.dtype)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if fx1 > fx0 and fy1 > fy0:
        canvas[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


def check_frames(frames_rgb: Sequence[np.ndarray]) -> None:
    for i, f in enumerate(frames_rgb):
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3 or f.shape[0] == 0 or f.shape[1] == 0:
            shape = getattr(f, "shape", type(f).__name__)
            raise UsageError(f"frame {i}: expected an RGB image of shape (H, W, 3), got {shape}")
        if f.dtype != np.uint8:
            raise UsageError(f"frame {i}: expected uint8 pixels, got {f.dtype}")
