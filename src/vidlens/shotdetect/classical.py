"""The classical shot detector: fast, explainable, and good enough to be the default.

Streaming part (``push``): each frame is signed once (see ``signature``) and compared with a few
earlier frames kept in a ring buffer; only scalars per frame are kept, so memory stays small on
long videos. Decision part (``finish``) works on those scalar series:

* **cuts**: the adjacent-frame change (colour histogram + motion-compensated structure) must stand
  out from its neighbourhood (an adaptive threshold: a multiple of the local median), so pans,
  zooms and shake, which change every frame a little, do not fire;
* **flashes**: a spike whose frame before is matched again a few frames later is a flash, not a cut;
* **dissolves**: over a window of half-width h the two ends differ in structure, while the middle
  frame is close to their average (``blend_residual``), which a pan or a zoom is not;
* **fades**: a valley of mean luma that reaches (near) black between two different shots.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UsageError
from ..media import FrameSpec
from .signature import (
    Signature,
    Signer,
    blend_residual,
    compact,
    compact_distance,
    histogram_distance,
    variance_dip,
)
from .types import Transition, TransitionKind, require_next, shifted

#: Half-widths (frames) of the windows tested for dissolves.
DISSOLVE_HALF_WIDTHS = (3, 5, 8, 12, 16, 20)
#: A frame this dark and this flat (luma, 0..255) is black: a leader or trailer, not a shot.
BLACK_MEAN, BLACK_STD = 16.0, 6.0
#: Furthest look-back for the flash test (frames).
FLASH_LOOKBACK = 4


@dataclass(frozen=True)
class ClassicalParams:
    """Tunable thresholds. Defaults were chosen on generated and real videos, not on one file."""

    cut_min: float = 0.10  # a cut's change score must reach this...
    cut_ratio: float = 3.0  # ...and stand this many times above the local median
    cut_sure: float = 0.45  # above this it is a cut whatever the neighbourhood
    spike_ratio: float = 1.5  # and it must exceed both adjacent frames' change by this factor
    raw_peak: float = 1.3  # the uncompensated change must peak there too, by this factor
    jump_ratio: float = 3.0  # a jump cut (no compensation) must stand out this much
    level_window: int = 10  # frames on each side for the local median
    level_floor: float = 0.02
    flash_frames: int = 3  # longest flash (frames) that is not a shot
    flash_match: float = 0.45  # a frame this close (relative to the spike) after it means a flash
    dissolve_residual: float = 0.30  # blend residual below this looks like a mix of two shots
    dissolve_change: float = 0.16  # structure change across the window must reach this
    dissolve_dip: float = 0.85  # the middle frame's contrast must dip below this fraction of the ends'
    dissolve_strength: float = 0.02  # product of the three tests' margins must reach this
    fade_dark: float = 16.0  # a fade's darkest frame has a mean luma (0..255) under this...
    fade_flat: float = 8.0  # ...and a luma spread under this: black, not a dark shot
    fade_depth: float = 0.25  # valley must fall below this fraction of the brightness around it
    fade_rise: float = 8.0  # and the shots on both sides must be at least this much brighter (0..255)
    min_shot_s: float = 0.2  # shorter shots are merged (the weaker boundary is dropped)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise UsageError(f"{name} must be >= 0, got {value}")
        if self.cut_ratio < 1:
            raise UsageError(f"cut_ratio must be >= 1, got {self.cut_ratio}")


def drop_black_ends(found: list[Transition], mean: np.ndarray, std: np.ndarray) -> list[Transition]:
    """A black leader before the first shot, or black after the last, is not a shot of its own.

    ``mean``/``std`` are per-frame luma statistics indexed like the transitions' frames.
    """
    dark = (mean <= BLACK_MEAN) & (std <= BLACK_STD)
    if found and dark[: found[0].frame].all():
        found = found[1:]
    if found and dark[found[-1].frame:].all():
        found = found[:-1]
    return found


def _neighbours(series: np.ndarray, t: int) -> float:
    return max(series[t - 1] if t >= 1 else 0.0, series[t + 1] if t + 1 < len(series) else 0.0)


def cut_score(hist: np.ndarray, struct: np.ndarray) -> np.ndarray:
    """Adjacent-frame change: structure is the evidence, colour only amplifies it.

    Colour histograms alone jump when brightness crosses a bin edge (fades, flashes, exposure
    changes) while the picture's structure is unchanged, so colour may not fire a cut on its own.
    """
    return struct * (1.0 + hist)


class ClassicalDetector:
    """Default shot detector; needs every frame at 128 pixels wide, RGB."""

    name = "classical"
    needs = FrameSpec(max_side=128, pixel_format="rgb24")

    def __init__(self, params: ClassicalParams | None = None, *, fps: float) -> None:
        self.p = params or ClassicalParams()
        self.fps = fps
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next frame pushed is frame 0 of a new video."""
        self._signer = Signer()
        self._ring: deque[Signature] = deque(maxlen=2 * max(DISSOLVE_HALF_WIDTHS) + 1)
        self._shifts: deque[tuple[float, float]] = deque(maxlen=2 * max(DISSOLVE_HALF_WIDTHS))
        self._count = 0
        self._first_index: int | None = None
        n_h = len(DISSOLVE_HALF_WIDTHS)
        self._series: dict[str, list[float]] = {
            "hist": [], "struct": [], "raw": [], "mean": [], "std": [],
            **{f"skip{k}": [] for k in range(2, FLASH_LOOKBACK + 1)},
        }
        self._compact: list[np.ndarray] = []  # ~0.8 kB per frame, for comparisons far apart
        self._residual = [[] for _ in range(n_h)]  # indexed by the window's middle frame
        self._change = [[] for _ in range(n_h)]
        self._dip = [[] for _ in range(n_h)]

    def params(self) -> dict:
        return {"detector": self.name, **asdict(self.p)}

    # -- streaming --------------------------------------------------------------------------------

    def push(self, frames: list[np.ndarray], indices: np.ndarray) -> None:
        for frame, index in zip(frames, indices, strict=False):
            self._first_index = require_next(self._first_index, self._count, index, "classical")
            self._push_one(frame)

    def _push_one(self, rgb: np.ndarray) -> None:
        sig = self._signer.sign(rgb)
        ring, s = self._ring, self._series
        if ring:
            prev = ring[-1]
            s["hist"].append(histogram_distance(prev, sig))
            direct, compensated, shift = self._signer.compare(prev, sig, self._shifts[-1] if self._shifts else None)
            self._shifts.append(shift)
            s["raw"].append(direct)
            s["struct"].append(compensated)
        else:
            s["hist"].append(0.0)
            s["raw"].append(0.0)
            s["struct"].append(0.0)
        self._compact.append(compact(sig))
        s["mean"].append(sig.mean)
        s["std"].append(sig.std)
        # The flash test only ever reads these within a few frames of a cut candidate (a raw
        # change >= cut_min), so elsewhere they are skipped (NaN): they cost a phase correlation each.
        near_candidate = max(cut_score(np.asarray(s["hist"][-FLASH_LOOKBACK:]),
                                       np.asarray(s["raw"][-FLASH_LOOKBACK:]))) >= self.p.cut_min
        for k in range(2, FLASH_LOOKBACK + 1):
            value = self._skip_change(ring[-k], sig) if near_candidate and len(ring) >= k else float("nan")
            s[f"skip{k}"].append(value)
        ring.append(sig)
        self._count += 1
        for j, h in enumerate(DISSOLVE_HALF_WIDTHS):
            if len(ring) >= 2 * h + 1:
                a, mid, b = ring[-2 * h - 1], ring[-h - 1], ring[-1]
                residual, dip = blend_residual(a, mid, b), variance_dip(a, mid, b)
                change = 0.0  # the costly test runs only where the cheap ones already pass
                if residual < self.p.dissolve_residual and dip <= self.p.dissolve_dip:
                    recent = list(self._shifts)[-2 * h:]
                    travelled = (sum(d[0] for d in recent), sum(d[1] for d in recent))
                    change = self._signer.window_change(a, b, travelled)
                self._residual[j].append(residual)
                self._change[j].append(change)
                self._dip[j].append(dip)

    def _skip_change(self, a: Signature, b: Signature) -> float:
        """Change between frames a few apart, net of camera motion: the flash (and jolt) test."""
        _, compensated, _ = self._signer.compare(a, b)
        return float(cut_score(histogram_distance(a, b), compensated))

    # -- decisions --------------------------------------------------------------------------------

    def finish(self) -> list[Transition]:
        # An interruption can land between two appends: use only frames every series has.
        n = min(self._count, len(self._compact), *(len(v) for v in self._series.values()))
        if n < 2:
            return []
        s = {k: np.asarray(v[:n], dtype=np.float64) for k, v in self._series.items()}
        score = cut_score(s["hist"], s["struct"])
        fades = self._fades(s["mean"], s["std"], n)
        cuts = self._cuts(score, s)
        dissolves = self._dissolves(cuts, fades, n)
        found = list(fades)
        for t in cuts + dissolves:
            if not any(f.start - 2 <= t.frame < f.end + 2 for f in fades):
                found.append(t)
        found = self._enforce_min_length(sorted(found, key=lambda t: t.frame))
        found = drop_black_ends(found, s["mean"], s["std"])
        return shifted(found, self._first_index or 0)

    def _enforce_min_length(self, found: list[Transition]) -> list[Transition]:
        """Drop the weaker of two boundaries closer than ``min_shot_s`` (and any at frame 0)."""
        min_frames = max(1, round(self.p.min_shot_s * self.fps))
        kept: list[Transition] = []
        for t in found:
            if t.frame <= 0:
                continue
            if kept and t.frame - kept[-1].frame < min_frames:
                if t.confidence > kept[-1].confidence:
                    kept[-1] = t
                continue
            kept.append(t)
        return kept

    def _cuts(self, score: np.ndarray, s: dict[str, np.ndarray]) -> list[Transition]:
        """Cuts: single-frame changes that stand out, judged with and without motion compensation.

        With compensation, pans and shake stay low, so a cut during camera motion stands out;
        the uncompensated change must then also peak at that frame (a failed motion estimate in
        a burst of motion is not a cut). Without compensation, a jump between two views of the
        same scene (a jump cut, which a shift would "explain") is found when it is isolated
        enough: a stricter test, since shake looks alike frame by frame.
        """
        p, n = self.p, len(score)
        raw = cut_score(s["hist"], s["raw"])
        out: list[Transition] = []
        for t in range(1, n):
            compensated = self._stands_out(score, t, p.cut_ratio, p.spike_ratio) and (
                raw[t] >= p.raw_peak * _neighbours(raw, t)
            )
            jump = self._stands_out(raw, t, p.jump_ratio, p.jump_ratio)
            if not (compensated or jump):
                continue
            if self._is_flash(t, score[t] if compensated else raw[t], s, n):
                continue
            value = score[t] if compensated else raw[t]
            ratio = value / self._level(score if compensated else raw, t)
            confidence = float(np.clip(0.5 + 0.5 * min(value / p.cut_sure, ratio / (2 * p.cut_ratio)), 0, 1))
            out.append(Transition(TransitionKind.CUT, t, t, t + 1, round(confidence, 3)))
        return out

    def _level(self, series: np.ndarray, t: int) -> float:
        """Robust local level of a change series around ``t`` (excluding t and its neighbours)."""
        w = self.p.level_window
        around = np.concatenate([series[max(1, t - w): max(1, t - 1)], series[t + 2: t + 2 + w]])
        return max(float(np.median(around)) if around.size else 0.0, self.p.level_floor)

    def _stands_out(self, series: np.ndarray, t: int, ratio: float, spike: float) -> bool:
        value = series[t]
        if value < self.p.cut_min:
            return False
        if value < spike * _neighbours(series, t):
            return False  # part of a burst of change, not a single-frame change
        return value >= self.p.cut_sure or value >= ratio * self._level(series, t)

    def _is_flash(self, t: int, spike: float, s: dict[str, np.ndarray], n: int) -> bool:
        """A spike is a flash when the frame before it reappears within ``flash_frames`` frames,
        or when frame ``t`` itself matches a frame from just before a short burst (its end)."""
        p = self.p
        limit = p.flash_match * spike
        for k in range(2, min(p.flash_frames + 1, FLASH_LOOKBACK) + 1):
            later = t - 1 + k  # distance(frame t-1, frame t-1+k) is stored at index t-1+k
            if later < n and s[f"skip{k}"][later] < limit:
                return True
            if s[f"skip{k}"][t] < limit:  # frame t matches frame t-k: the flash is ending here
                return True
        return False

    def _dissolves(self, cuts: list[Transition], fades: list[Transition],
                   n: int) -> list[Transition]:
        """Dissolves: windows whose ends show different pictures, whose middle is their mix
        (low blend residual and a dip in contrast), with no abrupt step inside."""
        p = self.p
        cut_frames = np.array([c.frame for c in cuts], dtype=np.int64)
        best = np.zeros(n)
        best_h = np.zeros(n, dtype=np.int64)
        for j, h in enumerate(DISSOLVE_HALF_WIDTHS):
            residual = np.asarray(self._residual[j])
            change = np.asarray(self._change[j])
            dip = np.asarray(self._dip[j])
            count = max(0, min(len(residual), len(change), len(dip), n - h))
            residual, change, dip = residual[:count], change[:count], dip[:count]
            mids = np.arange(h, h + count)
            ok = (residual < p.dissolve_residual) & (change >= p.dissolve_change) & (dip <= p.dissolve_dip)
            strength = np.where(ok, change * (1 - residual / p.dissolve_residual) * (1.2 - dip), 0.0)
            strength[strength < p.dissolve_strength] = 0.0
            better = strength > best[mids]
            best[mids[better]] = strength[better]
            best_h[mids[better]] = h
        out: list[Transition] = []
        max_h = max(DISSOLVE_HALF_WIDTHS)
        for m in np.flatnonzero(best > 0):
            m = int(m)
            if best[m] < best[max(0, m - max_h): m + max_h + 1].max():
                continue
            h = int(best_h[m])
            lo, hi = m - h, m + h + 1
            if cut_frames.size and np.any((cut_frames > lo) & (cut_frames < hi)):
                continue
            if any(f.start < hi and lo < f.end for f in fades):
                continue
            if self._black(lo) or self._black(hi - 1):
                continue  # a mix with black is a fade (at the very start or end: no boundary)
            if out and m - out[-1].frame <= max_h:
                continue
            confidence = float(np.clip(0.5 + 2 * best[m], 0, 1))
            out.append(Transition(TransitionKind.DISSOLVE, m, lo, hi, round(confidence, 3)))
        return out

    def _fades(self, mean: np.ndarray, std: np.ndarray, n: int) -> list[Transition]:
        """Fades through black: a dark valley of mean luma between two brighter, different shots.

        The valley is a local minimum that is black (``fade_dark``, ``fade_flat``); its hold is the run of frames within
        one luma level of it; the fade spans the monotonic descent before and ascent after. The
        new shot starts on the first frame after the hold. A dark shot on either side is fine:
        only the rise above the valley matters, not an absolute brightness.
        """
        p = self.p
        out: list[Transition] = []
        horizon = max(round(2 * self.fps), 10)
        t = 1
        while t < n - 1:
            valley = float(mean[t])
            if valley > p.fade_dark or valley > mean[max(0, t - 3): t + 4].min() or std[t] > p.fade_flat:
                t += 1
                continue
            a = t
            while a > 0 and mean[a - 1] <= valley + 1.0:
                a -= 1
            b = t + 1
            while b < n and mean[b] <= valley + 1.0:
                b += 1
            t = b
            if a == 0 or b >= n:
                continue  # fade in from black at the start, or out to black at the end
            start = a
            while start > 0 and start > a - horizon and mean[start - 1] > mean[start] + 0.25:
                start -= 1
            end = b
            while end < n - 1 and end < b + horizon and mean[end + 1] > mean[end] + 0.25:
                end += 1
            before, after = float(mean[start]), float(mean[end])
            rise = min(before, after) - valley
            if rise < p.fade_rise or valley > p.fade_depth * min(before, after):
                continue
            if not self._differs(max(0, start - 1), min(n - 1, end + 1)):
                continue  # dip to black and back into the same shot
            confidence = float(np.clip(0.6 + 0.4 * min(1.0, rise / 60.0), 0, 1))
            out.append(Transition(TransitionKind.FADE, b, start, end + 1, round(confidence, 3)))
        return out

    def _black(self, i: int) -> bool:
        s = self._series
        return s["mean"][i] <= self.p.fade_dark and s["std"][i] <= self.p.fade_flat

    def _differs(self, i: int, j: int) -> bool:
        """Whether frames i and j belong to different shots, from their compact stored signatures."""
        a, b = self._compact[i], self._compact[j]
        return compact_distance(a, b) > self.p.dissolve_change
