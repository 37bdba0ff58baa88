"""The motion stream: per sampled frame, how the picture moved since the previous sampled frame (no torch).

Pooled ImageNet features barely change when a camera pans or zooms, so heads over them cannot tell
``pan_left`` from ``pan_right`` or ``zoom_in`` from ``zoom_out``. This stream measures the motion itself,
on a small grey copy of each sampled frame (``GREY`` x ``GREY`` pixels, whatever the video's size, so the
numbers do not depend on resolution), with OpenCV and NumPy only:

* **global (camera) motion**: the sub-pixel phase-correlation shift ``dx, dy`` (fractions of the frame's
  width / height) and its ``response`` (how peaked the correlation is: ~1 for a clean shift, ~0 for no
  shared structure); ``log_scale`` and ``rotation`` (radians) from phase correlation of the log-polar
  magnitude spectra (Fourier-Mellin: the spectrum's magnitude ignores translation, so a pan does not read
  as a zoom). ``log_scale`` > 0 when the picture grows (zoom in);
* **local motion**: dense optical flow (OpenCV DIS, ultrafast preset) pooled on a ``GRID`` x ``GRID`` grid of
  cells, each cell's mean ``dx``, ``dy`` (fractions of width / height) and mean flow magnitude;
* **where the change is**: the mean absolute grey-level change of each cell (0..1).

Shifts, scale and rotation are rates (per second of presentation time between the two frames), so a
different sampling rate or a frame-rate change gives the same numbers for the same motion; the change
map is per step. The first sampled frame has no predecessor: its row repeats the second's (motion is
continuous; a zero row would read as "the camera stopped"); a single frame gives zeros.

Motion is measured between *sampled* frames only (the rate the bundle records; 4 frames/s for feature heads).
Accumulating it frame to frame at the full frame rate between samples is not done: it would convert every
decoded frame (the sampled decode skips the pixel conversion of the others), and on the generated camera and
object motions the sampled steps already carry the class (a GRU on this stream alone: bench/RESULTS.md,
"Issue 14"). Fast motion that aliases at the sampling rate (a shake, a spinning wheel) is what it misses.

Training (:mod:`vidlens.train.features`, cached with the appearance features in the same decode pass) and
prediction (:class:`vidlens.predict.predictor.WindowStream`) both call :class:`MotionExtractor` on the same
frames (the feature look: shorter side 224 px, RGB), so a model sees the same numbers in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import UsageError

#: Bump when what a motion row means changes (it keys the cache's motion entries).
MOTION_VERSION = 1
#: Side of the grey square motion is measured on.
GREY = 96
#: Cells per side of the local-motion grid.
GRID = 4
GLOBAL_NAMES = ("dx", "dy", "response", "log_scale", "rotation")
#: Columns of a motion row: the global numbers, then per cell (row-major) dx, dy, magnitude, then per cell change.
COLUMNS = (*GLOBAL_NAMES,
           *(f"flow_{r}{c}_{k}" for r in range(GRID) for c in range(GRID) for k in ("dx", "dy", "mag")),
           *(f"change_{r}{c}" for r in range(GRID) for c in range(GRID)))
MOTION_DIM = len(COLUMNS)
FLOW_START = len(GLOBAL_NAMES)
CHANGE_START = FLOW_START + 3 * GRID * GRID


def _hann(size: int) -> np.ndarray:
    return cv2.createHanningWindow((size, size), cv2.CV_64F)


@dataclass
class _Previous:
    grey: np.ndarray  # uint8 [GREY, GREY]
    spectrum: np.ndarray  # float32 log-polar log-magnitude spectrum
    time: float


class MotionExtractor:
    """Motion rows of a stream of frames, one per frame, each relative to the frame before it.

    Stateful (the previous frame): one extractor per video, or :meth:`reset` between videos. Frames are RGB
    ``uint8 [H, W, 3]`` (or grey ``[H, W]``) of any size; ``times`` in seconds.
    """

    def __init__(self) -> None:
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._window = _hann(GREY)
        self._previous: _Previous | None = None
        self.count = 0

    def reset(self) -> None:
        self._previous = None
        self.count = 0

    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray:
        """``float32 [len(frames), MOTION_DIM]``; the first row of a stream is zeros until :func:`fill_first_row`."""
        if len(frames) != len(times):
            raise UsageError(f"{len(frames)} frames but {len(times)} times")
        out = np.zeros((len(frames), MOTION_DIM), np.float32)
        for i, (frame, t) in enumerate(zip(frames, times)):
            out[i] = self.row(frame, float(t))
        return out

    def row(self, frame: np.ndarray, time: float) -> np.ndarray:
        grey = small_grey(frame)
        spectrum = _log_polar_spectrum(grey, self._window)
        current = _Previous(grey, spectrum, float(time))
        previous, self._previous = self._previous, current
        self.count += 1
        if previous is None:
            return np.zeros(MOTION_DIM, np.float32)
        dt = current.time - previous.time
        rate = 1.0 / dt if dt > 1e-6 else 1.0
        return measure(previous.grey, grey, previous.spectrum, spectrum, rate, self._flow, self._window)


def small_grey(frame: np.ndarray) -> np.ndarray:
    """The frame as a ``GREY`` x ``GREY`` uint8 grey image (area-averaged; aspect not kept: motion is then
    measured in fractions of width and height)."""
    image = np.asarray(frame)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim != 2 or min(image.shape) < 2:
        raise UsageError(f"a frame must be [H, W, 3] RGB or [H, W] grey, got shape {image.shape}")
    interpolation = cv2.INTER_AREA if min(image.shape) >= GREY else cv2.INTER_LINEAR
    return cv2.resize(image, (GREY, GREY), interpolation=interpolation)


def _log_polar_spectrum(grey: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Log-magnitude of the windowed image's centred spectrum, resampled log-polar (x: log radius, y: angle)."""
    image = grey.astype(np.float64)
    image = (image - image.mean()) * window
    magnitude = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(image)))).astype(np.float32)
    centre = GREY / 2
    return cv2.warpPolar(magnitude, (GREY, GREY), (centre, centre), centre,
                         cv2.WARP_POLAR_LOG | cv2.INTER_LINEAR).astype(np.float64)


def measure(a: np.ndarray, b: np.ndarray, spectrum_a: np.ndarray, spectrum_b: np.ndarray, rate: float,
            flow: cv2.DISOpticalFlow, window: np.ndarray) -> np.ndarray:
    """One motion row from grey ``a`` (earlier) to ``b`` (later): see the module for the columns."""
    out = np.zeros(MOTION_DIM, np.float32)
    (dx, dy), response = cv2.phaseCorrelate(a.astype(np.float64), b.astype(np.float64), window)
    # Fourier-Mellin: the spectrum's radius shrinks as the picture grows; angles only matter modulo pi
    (sx, sy), _ = cv2.phaseCorrelate(spectrum_a, spectrum_b)
    log_scale = -sx * np.log(GREY / 2) / GREY
    half_turn = GREY / 2  # a magnitude spectrum repeats every pi radians: fold the angle shift into [-pi/2, pi/2)
    rotation = ((sy + half_turn / 2) % half_turn - half_turn / 2) * 2 * np.pi / GREY
    out[:5] = (dx / GREY * rate, dy / GREY * rate, response, log_scale * rate, rotation * rate)
    field = flow.calc(a, b, None)  # [GREY, GREY, 2] pixels
    cell = GREY // GRID
    cells = field[: cell * GRID, : cell * GRID].reshape(GRID, cell, GRID, cell, 2)
    mean = cells.mean(axis=(1, 3))  # [GRID, GRID, 2]
    magnitude = np.sqrt((cells ** 2).sum(axis=4)).mean(axis=(1, 3))
    local = np.stack([mean[..., 0] / GREY * rate, mean[..., 1] / GREY * rate, magnitude / GREY * rate], axis=2)
    out[FLOW_START:CHANGE_START] = local.reshape(-1)
    change = np.abs(b.astype(np.float32) - a.astype(np.float32))[: cell * GRID, : cell * GRID]
    out[CHANGE_START:] = (change.reshape(GRID, cell, GRID, cell).mean(axis=(1, 3)) / 255.0).reshape(-1)
    return out


def fill_first_row(rows: np.ndarray) -> np.ndarray:
    """``rows`` with the first row (no predecessor) set to the second's; in place, also returned."""
    if len(rows) >= 2:
        rows[0] = rows[1]
    return rows


def motion_rows(frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray:
    """The motion rows of a whole sequence (first row filled): what the feature cache stores."""
    return fill_first_row(MotionExtractor().rows(frames, times))


def flow_grid(row: np.ndarray) -> np.ndarray:
    """The local-motion part of a row as ``[GRID, GRID, 3]`` (dx, dy, magnitude per cell), for drawing."""
    return np.asarray(row, np.float32)[FLOW_START:CHANGE_START].reshape(GRID, GRID, 3)
