"""Per-frame signatures and the distances between them, on small frames.

A signature is a joint HSV colour histogram (what colours), a small luma image normalised to zero
mean and unit variance (what structure, insensitive to brightness and contrast changes such as
flashes and fades), and the frame's mean and spread of luma (to see black frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Joint histogram bins: hue x saturation x value.
HIST_BINS = (16, 4, 4)
#: Width of the structure thumbnail; the height follows the aspect ratio.
THUMB_WIDTH = 64
#: Variance floor (luma units squared) so dim, near-flat frames do not look fully correlated.
VARIANCE_FLOOR = 4.0


@dataclass
class Signature:
    hist: np.ndarray  # float32, sums to 1
    luma: np.ndarray  # float32 thumbnail, 0..255
    z: np.ndarray  # zero-mean luma / sqrt(var + floor)
    mean: float
    std: float


def _hanning(shape: tuple[int, int]) -> np.ndarray:
    return cv2.createHanningWindow((shape[1], shape[0]), cv2.CV_32F)


class Signer:
    """Makes signatures from RGB frames of one fixed size (keeps the window for phase correlation)."""

    def __init__(self) -> None:
        self._window: np.ndarray | None = None

    def sign(self, rgb: np.ndarray) -> Signature:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
        hist /= max(float(hist.sum()), 1.0)
        height = max(8, round(THUMB_WIDTH * rgb.shape[0] / rgb.shape[1]))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        luma = cv2.resize(gray, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        mean = float(luma.mean())
        std = float(luma.std())
        z = (luma - mean) / np.sqrt(std * std + VARIANCE_FLOOR)
        if self._window is None or self._window.shape != luma.shape:
            self._window = _hanning(luma.shape)
        return Signature(hist=hist, luma=luma, z=z, mean=mean, std=std)

    def shifted_structure_distance(self, a: Signature, b: Signature) -> float:
        """Structure distance after undoing the global shift between two frames (pans, shake)."""
        direct = structure_distance(a, b)
        if direct < 0.02 or self._window is None:
            return direct
        (dx, dy), _ = cv2.phaseCorrelate(a.luma, b.luma, self._window)
        sx, sy = round(dx), round(dy)
        h, w = a.z.shape
        if (sx == 0 and sy == 0) or abs(sx) > w // 3 or abs(sy) > h // 3:
            return direct
        za = a.z[max(0, -sy): h - max(0, sy), max(0, -sx): w - max(0, sx)]
        zb = b.z[max(0, sy): h - max(0, -sy), max(0, sx): w - max(0, -sx)]
        return min(direct, _ncc_distance(za, zb))


def histogram_distance(a: Signature, b: Signature) -> float:
    """Half the L1 distance of normalised histograms: 0 same colours, 1 disjoint colours."""
    return 0.5 * float(np.abs(a.hist - b.hist).sum())


def structure_distance(a: Signature, b: Signature) -> float:
    """(1 - normalised cross-correlation) / 2 of the luma thumbnails: 0 same, ~0.5 unrelated."""
    return _ncc_distance(a.z, b.z)


def _ncc_distance(za: np.ndarray, zb: np.ndarray) -> float:
    ncc = float(np.mean(za * zb))
    return min(1.0, max(0.0, (1.0 - ncc) / 2.0))


def blend_residual(a: Signature, mid: Signature, b: Signature) -> float:
    """How far ``mid`` is from the average of ``a`` and ``b``, relative to how far ``a`` is from ``b``.

    Near 0 inside a dissolve (every frame is a mix of the two shots); around 0.5 or more for a
    cut, a pan or a zoom, where the middle frame is sharp and the average is a double image.
    """
    spread = float(np.mean(np.abs(a.luma - b.luma)))
    if spread < 1e-3:
        return 1.0
    residual = float(np.mean(np.abs(mid.luma - 0.5 * (a.luma + b.luma))))
    return residual / spread


def change(a: Signature, b: Signature) -> float:
    """The combined change score between two frames (colour and structure, equal weights)."""
    return 0.5 * histogram_distance(a, b) + 0.5 * structure_distance(a, b)


#: Size of the structure part of a compact signature.
COMPACT_THUMB = (16, 9)


def compact(sig: Signature) -> np.ndarray:
    """A small float16 copy of a signature (histogram + 16x9 normalised luma) to keep per frame."""
    z = cv2.resize(sig.z, COMPACT_THUMB, interpolation=cv2.INTER_AREA)
    return np.concatenate([sig.hist, z.ravel()]).astype(np.float16)


def compact_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``change`` computed on two compact signatures."""
    n = int(np.prod(HIST_BINS))
    ha, hb = a[:n].astype(np.float32), b[:n].astype(np.float32)
    za, zb = a[n:].astype(np.float32), b[n:].astype(np.float32)
    za = (za - za.mean()) / max(float(za.std()), 1e-3)
    zb = (zb - zb.mean()) / max(float(zb.std()), 1e-3)
    return 0.5 * 0.5 * float(np.abs(ha - hb).sum()) + 0.5 * _ncc_distance(za, zb)
