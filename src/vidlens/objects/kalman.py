"""A constant-velocity Kalman filter over boxes, written out in NumPy (it is eight numbers).

State ``[cx, cy, w, h, vcx, vcy, vw, vh]``: centre, width and height, and their velocities in
pixels per frame. Width rather than ByteTrack's aspect ratio, as in BoT-SORT: a box that grows
sideways (a car turning, a person raising an arm) is then one component, not two coupled ones.

Time is explicit: ``predict`` takes ``dt`` in frames, because the detector runs on sampled frames
(every k-th, and more or less often with motion) and a track may have missed several runs. One
prediction over ``dt`` equals ``dt`` single steps in the mean (``F(a) F(b) = F(a + b)``) and, to
first order, in the covariance (process noise grows linearly with ``dt``), so a track that missed
detections keeps its last posterior and is predicted straight to the frame asked for.

Noise scales with the box size (ByteTrack's 1/20 and 1/160 weights): a 20-pixel box and a
400-pixel box jitter by the same fraction of their size, not by the same number of pixels.
"""

from __future__ import annotations

import numpy as np

_POSITION_STD = 1.0 / 20.0
_VELOCITY_STD = 1.0 / 160.0
_MIN_SIZE = 1.0
_H = np.hstack([np.eye(4), np.zeros((4, 4))])  # we measure the box, not its velocity


def xyxy_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])


def cxcywh_to_xyxy(state: np.ndarray) -> np.ndarray:
    """The box of a state (sizes kept at least one pixel: extrapolated velocities can shrink them)."""
    cx, cy = state[0], state[1]
    w, h = max(float(state[2]), _MIN_SIZE), max(float(state[3]), _MIN_SIZE)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def _size_scale(mean: np.ndarray) -> np.ndarray:
    w, h = max(float(mean[2]), _MIN_SIZE), max(float(mean[3]), _MIN_SIZE)
    return np.array([w, h, w, h])


def initiate(box_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new track from its first box; velocity unknown (large variance)."""
    z = xyxy_to_cxcywh(box_xyxy)
    mean = np.concatenate([z, np.zeros(4)])
    scale = _size_scale(mean)
    std = np.concatenate([2 * _POSITION_STD * scale, 10 * _VELOCITY_STD * scale])
    return mean, np.diag(std**2)


def predict(mean: np.ndarray, cov: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """The state ``dt`` frames later (``dt`` may be 0 or fractional; negative is refused)."""
    if dt < 0:
        raise ValueError(f"cannot predict backwards in time (dt={dt})")
    if dt == 0:
        return mean.copy(), cov.copy()
    f = np.eye(8)
    f[:4, 4:] = dt * np.eye(4)
    scale = _size_scale(mean)
    q = np.diag(np.concatenate([(_POSITION_STD * scale) ** 2, (_VELOCITY_STD * scale) ** 2]) * dt)
    return f @ mean, f @ cov @ f.T + q


def update(mean: np.ndarray, cov: np.ndarray, box_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The posterior after measuring ``box_xyxy`` at the state's time."""
    z = xyxy_to_cxcywh(box_xyxy)
    r = np.diag((_POSITION_STD * _size_scale(mean)) ** 2)
    s = _H @ cov @ _H.T + r
    gain = np.linalg.solve(s, _H @ cov).T  # cov H^T S^-1 (S and cov symmetric)
    mean = mean + gain @ (z - _H @ mean)
    cov = cov - gain @ s @ gain.T
    return mean, (cov + cov.T) / 2
