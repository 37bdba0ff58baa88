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
#: Low-pass (pixels of the thumbnail) for the gradual-transition tests.
BLUR_SIGMA = 3.0
#: Below this luma spread (0..255) a frame has too little structure to align by phase correlation.
MIN_ALIGN_CONTRAST = 6.0
#: Variance floor (luma units squared) so dim, near-flat frames do not look fully correlated.
VARIANCE_FLOOR = 4.0


@dataclass
class Signature:
    hist: np.ndarray  # float32, sums to 1
    luma: np.ndarray  # float32 thumbnail, 0..255
    z: np.ndarray  # zero-mean luma / sqrt(var + floor)
    mean: float
    std: float
    blur: np.ndarray  # the luma thumbnail low-passed: immune to shake and small motion


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
        z = _normalise(luma)
        if self._window is None or self._window.shape != luma.shape:
            self._window = _hanning(luma.shape)
        blur = cv2.GaussianBlur(luma, (0, 0), BLUR_SIGMA)
        return Signature(hist=hist, luma=luma, z=z, mean=mean, std=std, blur=blur)

    def window_change(self, a: Signature, b: Signature, travelled: tuple[float, float] = (0.0, 0.0)) -> float:
        """Structure change between two frames far apart, after undoing a global shift, at low
        resolution: a pan, a zoom or shake between them explains most of it; a new shot does not.

        ``travelled`` is the camera shift accumulated frame by frame between them, which still
        aligns them when a fast pan has moved too far for one phase correlation to see it.
        """
        shift = _phase_shift(a.luma, b.luma, self._window)
        best = _ncc_distance(_normalise(a.blur), _normalise(b.blur))
        for candidate in (shift, travelled):
            best = min(best, _aligned_distance(a.blur, b.blur, *candidate, max_shift=0.5))
        return best

    def compare(self, a: Signature, b: Signature, hint: tuple[float, float] | None = None
                ) -> tuple[float, float, tuple[float, float]]:
        """(direct, motion-compensated structure distance, camera shift) between two frames.

        The global shift comes from phase correlation with sub-pixel precision; ``hint`` (the
        previous pair's shift) is tried too, because a large moving foreground can mislead one
        estimate while the camera moves on smoothly. ``b`` is warped back onto ``a`` and only the
        overlap, re-normalised, is compared.
        """
        direct = structure_distance(a, b)
        if self._window is None or direct < 0.002 or min(a.std, b.std) < MIN_ALIGN_CONTRAST:
            return direct, direct, (0.0, 0.0)  # too little picture to estimate motion from
        shift = _phase_shift(a.luma, b.luma, self._window)
        if direct < 0.02:
            return direct, direct, shift
        best, best_shift = direct, (0.0, 0.0)
        for candidate in {shift, hint or (0.0, 0.0)}:
            d = _aligned_distance(a.luma, b.luma, *candidate)
            if d < best:
                best, best_shift = d, candidate
        return direct, best, best_shift


def _phase_shift(a: np.ndarray, b: np.ndarray, window: np.ndarray | None) -> tuple[float, float]:
    """Sub-pixel global shift from ``a`` to ``b`` by phase correlation.

    OpenCV 5.0's ``phaseCorrelate`` multiplies its inputs by the window *in place*, so it gets
    copies: the thumbnails are compared again later and must stay intact.
    """
    shift, _ = cv2.phaseCorrelate(a.copy(), b.copy(), window)
    return shift


def _aligned_distance(a: np.ndarray, b: np.ndarray, dx: float, dy: float, max_shift: float = 1 / 3) -> float:
    """NCC distance of ``a`` and ``b`` shifted back by (dx, dy), over their overlap only.

    Shifts beyond ``max_shift`` of the frame leave too little overlap for a trustworthy match
    (unrelated pictures then "match" by chance), so they count as no match.
    """
    h, w = a.shape
    if (abs(dx) < 0.25 and abs(dy) < 0.25) or abs(dx) > w * max_shift or abs(dy) > h * max_shift:
        return 1.0
    mx, my = int(np.ceil(abs(dx))) + 1, int(np.ceil(abs(dy))) + 1
    if w - 2 * mx < 8 or h - 2 * my < 8:
        return 1.0
    matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
    warped = cv2.warpAffine(b, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _ncc_distance(_normalise(a[my: h - my, mx: w - mx]), _normalise(warped[my: h - my, mx: w - mx]))


def _normalise(luma: np.ndarray) -> np.ndarray:
    std = float(luma.std())
    return (luma - float(luma.mean())) / np.sqrt(std * std + VARIANCE_FLOOR)


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
    spread = float(np.mean(np.abs(a.blur - b.blur)))
    if spread < 1e-3:
        return 1.0
    residual = float(np.mean(np.abs(mid.blur - 0.5 * (a.blur + b.blur))))
    return residual / spread


def variance_dip(a: Signature, mid: Signature, b: Signature) -> float:
    """Spread of ``mid`` relative to the ends' (RMS of their spreads).

    Mixing two unrelated pictures halves the variance at the midpoint (ratio ~0.71); a pan,
    a zoom or a steady shot keeps it near 1.
    """
    ends = np.sqrt(0.5 * (a.std * a.std + b.std * b.std))
    return float(mid.std / ends) if ends > 1e-3 else 1.0


#: Size of the structure part of a compact signature.
COMPACT_THUMB = (16, 9)


def compact(sig: Signature) -> np.ndarray:
    """A small float16 copy of a signature (histogram + 16x9 normalised luma) to keep per frame."""
    z = cv2.resize(sig.z, COMPACT_THUMB, interpolation=cv2.INTER_AREA)
    return np.concatenate([sig.hist, z.ravel()]).astype(np.float16)


def compact_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Colour + structure change (equal weights) between two compact signatures."""
    n = int(np.prod(HIST_BINS))
    ha, hb = a[:n].astype(np.float32), b[:n].astype(np.float32)
    za, zb = a[n:].astype(np.float32), b[n:].astype(np.float32)
    za = (za - za.mean()) / max(float(za.std()), 1e-3)
    zb = (zb - zb.mean()) / max(float(zb.std()), 1e-3)
    return 0.5 * 0.5 * float(np.abs(ha - hb).sum()) + 0.5 * _ncc_distance(za, zb)
