"""Loudness per ITU-R BS.1770-4 / EBU R128, streamed: K-weighting, 100 ms energy steps, gating.

Why this shape: every loudness figure (integrated, short-term, loudness range, silence) is a
function of the K-weighted, channel-weighted mean square over 100 ms steps, so the meter keeps only
that series (10 numbers a second) and derives the rest at the end.

K-weighting is the standard's two biquads at 48 kHz (the analyzer asks the media layer for 48 kHz).
They are applied as an FIR of their impulse response cut at 125 ms, by FFT overlap-add in numpy:
the slowest pole (the 38 Hz high-pass, radius 0.99502) has decayed to below 1e-9 by then, so this
matches the recursive filter (checked against ``scipy.signal.lfilter`` in the tests) without making
scipy a dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

RATE = 48000
STEP = RATE // 10  # 100 ms
#: BS.1770-4 stage 1 (high shelf, +4 dB) and stage 2 (RLB high-pass) at 48 kHz: (b, a).
SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585))
HIGHPASS = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))
IMPULSE = 6000  # samples of the K-weighting impulse response kept (125 ms)
OFFSET = -0.691
ABSOLUTE_GATE = -70.0
#: Channel weights G_i of BS.1770 by FFmpeg channel name: surround channels +1.5 dB, LFE ignored.
CHANNEL_WEIGHTS = {"LFE": 0.0, "LFE2": 0.0, "SL": 1.41, "SR": 1.41, "BL": 1.41, "BR": 1.41}
MIN_BLOCK = RATE // 2  # filter at least this many samples per FFT (chunks from decoders are ~20 ms)


@cache
def k_weighting_impulse() -> np.ndarray:
    """The impulse response of the two K-weighting biquads in cascade (float64)."""
    x = np.zeros(IMPULSE)
    x[0] = 1.0
    for b, a in (SHELF, HIGHPASS):
        y = np.zeros(IMPULSE)
        for n in range(IMPULSE):  # once per process, 12k steps
            acc = b[0] * x[n]
            if n >= 1:
                acc += b[1] * x[n - 1] - a[1] * y[n - 1]
            if n >= 2:
                acc += b[2] * x[n - 2] - a[2] * y[n - 2]
            y[n] = acc
        x = y
    return x


@cache
def _spectrum(size: int) -> np.ndarray:
    return np.fft.rfft(k_weighting_impulse(), size)


def loudness(energy: float) -> float:
    """LUFS of a K-weighted, channel-weighted mean square; -inf for digital silence."""
    return OFFSET + 10 * np.log10(energy) if energy > 0 else float("-inf")


class LoudnessMeter:
    """Feed 48 kHz float samples ``(channels, n)``; read the 100 ms energy series with ``steps()``.

    Steps that contain samples fed with ``missing=True`` (zeros standing in for undecodable audio)
    are NaN and left out of every figure.
    """

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.weights = np.array([CHANNEL_WEIGHTS.get(c, 1.0) for c in channels])[:, None]
        self._pending: list[np.ndarray] = []
        self._pending_missing: list[np.ndarray] = []
        self._tail = np.zeros((len(channels), IMPULSE - 1))
        self._energy = np.zeros(0)  # weighted squares not yet summed into a full step
        self._missing = np.zeros(0, dtype=bool)
        self._steps: list[float] = []
        self.peak = 0.0

    def push(self, samples: np.ndarray, missing: bool = False) -> None:
        if samples.shape[0] != self.weights.shape[0]:
            raise ValueError(f"expected {self.weights.shape[0]} channels, got {samples.shape[0]}")
        self.peak = max(self.peak, float(np.abs(samples).max(initial=0.0)))
        self._pending.append(samples)
        self._pending_missing.append(np.full(samples.shape[1], missing))
        if sum(p.shape[1] for p in self._pending) >= MIN_BLOCK:
            self._filter()

    def _filter(self) -> None:
        if not self._pending:
            return
        x = np.concatenate(self._pending, axis=1).astype(np.float64)
        missing = np.concatenate(self._pending_missing)
        self._pending, self._pending_missing = [], []
        n = x.shape[1]
        size = 1 << int(np.ceil(np.log2(n + IMPULSE - 1)))
        y = np.fft.irfft(np.fft.rfft(x, size) * _spectrum(size), size)[:, : n + IMPULSE - 1]
        y[:, : IMPULSE - 1] += self._tail
        self._tail = y[:, n:].copy()
        energy = np.concatenate([self._energy, (self.weights * y[:, :n] ** 2).sum(axis=0)])
        missing = np.concatenate([self._missing, missing])
        full = len(energy) // STEP * STEP
        if full:
            means = energy[:full].reshape(-1, STEP).mean(axis=1)
            means[missing[:full].reshape(-1, STEP).any(axis=1)] = np.nan
            self._steps.extend(means.tolist())
        self._energy, self._missing = energy[full:], missing[full:]

    def steps(self) -> np.ndarray:
        """Mean weighted K-filtered square per 100 ms step (a last partial step is dropped)."""
        self._filter()
        return np.asarray(self._steps)


@dataclass(frozen=True)
class LoudnessFigures:
    integrated_lufs: float | None
    loudness_range_lu: float | None
    short_term_lufs: np.ndarray  # one value per 100 ms step: the 3 s window centred on it (NaN: unknown)


def window_energy(steps: np.ndarray, width: int) -> np.ndarray:
    """Mean energy of every run of ``width`` steps (NaN when any step in it is missing)."""
    if len(steps) < width:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(steps))])
    bad = np.concatenate([[0], np.cumsum(np.isnan(steps))])
    out = (c[width:] - c[:-width]) / width
    out[(bad[width:] - bad[:-width]) > 0] = np.nan
    return out


def gated_mean(energies: np.ndarray, relative_lu: float) -> tuple[float | None, np.ndarray]:
    """BS.1770 gating: drop blocks below -70 LUFS, then those ``relative_lu`` below the mean of the rest."""
    e = energies[~np.isnan(energies)]
    e = e[e > 0]
    lufs = OFFSET + 10 * np.log10(e) if e.size else e
    kept = e[lufs > ABSOLUTE_GATE]
    if not kept.size:
        return None, kept
    gate = loudness(float(kept.mean())) - relative_lu
    kept = e[(lufs > ABSOLUTE_GATE) & (lufs > gate)]
    return (float(kept.mean()) if kept.size else None), kept


def figures(steps: np.ndarray) -> LoudnessFigures:
    """Integrated loudness (400 ms blocks, 75 % overlap, -10 LU relative gate), loudness range (EBU Tech
    3342: 3 s windows, -20 LU gate, 10th-95th percentile) and the short-term series."""
    blocks = window_energy(steps, 4)
    integrated, _ = gated_mean(blocks, 10.0)
    short = window_energy(steps, 30)
    _, kept = gated_mean(short, 20.0)
    lra = None
    if kept.size >= 2:
        lufs = OFFSET + 10 * np.log10(kept)
        lra = float(np.percentile(lufs, 95) - np.percentile(lufs, 10))
    series = np.full(len(steps), np.nan)
    if short.size:  # value of window [k, k + 30) belongs to its centre step k + 15
        with np.errstate(divide="ignore"):
            series[15: 15 + short.size] = OFFSET + 10 * np.log10(short)
    return LoudnessFigures(loudness(integrated) if integrated else None, lra, series)
