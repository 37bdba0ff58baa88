"""How decoded frames or per-frame features become a model's input, in NumPy/OpenCV only (no torch).

Training (:mod:`vidlens.train.torch_datasets`) and prediction (also from ONNX Runtime, without torch) both
call these functions, so the evaluation-time input a model was validated on is exactly the one it gets
in deployment: the same temporal positions, the same resize and crop, the same value range.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import UsageError


def segment_positions(n: int, steps: int, offsets: np.ndarray | None = None) -> np.ndarray:
    """TSN-style positions: split ``[0, n)`` into ``steps`` equal segments and take one index per segment.

    ``offsets`` (one per segment, in ``[0, 1)``) choose where in each segment (random for temporal jitter in
    training); ``None`` takes each segment's centre, ``floor((i + 0.5) * n / steps)``. When ``n < steps``
    indices repeat, so any clip with at least one frame gives ``steps`` positions.
    """
    if n < 1 or steps < 1:
        raise UsageError(f"need at least one frame and one step, got n={n}, steps={steps}")
    where = np.full(steps, 0.5) if offsets is None else np.clip(np.asarray(offsets, np.float64), 0.0, 1.0 - 1e-9)
    if where.shape != (steps,):
        raise UsageError(f"need {steps} offsets, got shape {where.shape}")
    return np.minimum(np.floor((np.arange(steps) + where) * n / steps).astype(np.int64), n - 1)


def window_positions(n: int, frames: int, start: int | None = None) -> np.ndarray:
    """``frames`` consecutive indices starting at ``start`` (``None``: the window centred in the clip).

    A clip shorter than the window repeats its last frame (a freeze keeps the motion it has; looping back
    to the start would invent a jump).
    """
    if n < 1 or frames < 1:
        raise UsageError(f"need at least one frame, got n={n}, frames={frames}")
    first = max(0, (n - frames) // 2) if start is None else int(start)
    return np.minimum(np.arange(first, first + frames), n - 1)


def resize_crop(frame: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Crop ``box = (x, y, w, h)`` from an ``[H, W, 3]`` frame and resize it to ``size`` x ``size``.

    INTER_AREA when shrinking (it averages, so small inputs keep thin moving edges without aliasing),
    bilinear when enlarging.
    """
    x, y, w, h = box
    crop = frame[y: y + h, x: x + w]
    interpolation = cv2.INTER_AREA if w >= size and h >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def centre_square(height: int, width: int) -> tuple[int, int, int, int]:
    """The largest centred square of a frame: the evaluation crop (short side kept whole)."""
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side, side


def clip_tensor(frames: np.ndarray) -> np.ndarray:
    """``uint8 [T, H, W, 3]`` RGB -> ``float32 [3, T, H, W]`` in ``[0, 1]`` (the clip models' layout)."""
    return np.ascontiguousarray(frames.transpose(3, 0, 1, 2), dtype=np.float32) / np.float32(255.0)


def check_clip(frames: np.ndarray) -> np.ndarray:
    clip = np.asarray(frames)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8 or clip.shape[0] < 1:
        raise UsageError(f"a clip must be uint8 [T, H, W, 3] with T >= 1, got {clip.dtype} {clip.shape}")
    return clip


def prepare_clip(frames: np.ndarray, num_frames: int, size: int) -> np.ndarray:
    """The evaluation input of a clip model: the centred window of ``num_frames`` frames, the centred
    square of each resized to ``size``, as ``float32 [3, T, size, size]`` in ``[0, 1]``."""
    clip = check_clip(frames)
    picked = clip[window_positions(clip.shape[0], num_frames)]
    box = centre_square(clip.shape[1], clip.shape[2])
    return clip_tensor(np.stack([resize_crop(f, box, size) for f in picked]))


def prepare_features(features: np.ndarray, steps: int) -> np.ndarray:
    """The evaluation input of a feature head: ``steps`` segment-centre rows of ``[N, D]`` features."""
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] < 1:
        raise UsageError(f"features must be [N, D] with N >= 1, got shape {array.shape}")
    return array[segment_positions(array.shape[0], steps)]
