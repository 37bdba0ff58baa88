"""Synthetic videos with frame-exact shot-boundary ground truth.

Real footage never comes with exact boundaries, and hand labels disagree by a frame or two around
gradual transitions.  Here every shot is a virtual camera (static, panning, whip-panning, zooming
or shaking) filming one real photo, and the editor (cuts, dissolves, fades) is our own code, so
the truth is known by construction.  The same generator also plants *traps*: events that fool
naive detectors (flashes, whip pans, shake, zooms, cuts between two framings of one photo, fades
at the very start/end) so that benchmarks measure false positives as well as misses.

Timeline conventions (all frame indices are 0-based presentation indices):

* ``cut`` at ``b``: frames ``< b`` show shot A, frames ``>= b`` shot B.
* ``dissolve`` of ``L`` starting at ``s``: frame ``s+i`` is ``(1-a)·A + a·B`` with
  ``a = (i+1)/(L+1)``; the last ``L`` frames of A overlap the first ``L`` frames of B, and both
  cameras keep moving.  The boundary is the first frame with ``a >= 0.5``.
* ``fade``: A's last ``L1`` frames ramp down with gain ``1-(i+1)/L1`` (its last one is black),
  ``H`` pure-black frames follow, then B's first ``L2`` frames ramp up with gain ``(i+1)/(L2+1)``.
  The boundary is the first fade-in frame, i.e. the first frame where B is visible.
* The opening fade-in has gain ``j/F`` (frame 0 is black) and the closing fade-out
  ``1-(j+1)/F`` (the last frame is black); neither is a boundary.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlens.media.encode import encode_video

from .photos import list_photos, load_photo

GENERATOR_VERSION = "vidlens-synth/1"  # bump whenever rendering changes: cached sets are keyed on it
MOTIONS = ("static", "pan", "fast_pan", "zoom", "shake")
TRAP_KINDS = ("flash", "fast_pan", "shake", "zoom", "near_identical", "fade_in_start", "fade_out_end")
FAST_PAN_MIN_SPEED = 0.06  # fraction of the frame width per frame; below this it is a normal pan
FLASH_MARGIN = 3  # flashes stay this many frames inside the part of a shot no transition touches
_MIN_VIEW = 0.25  # narrowest framing (fraction of the widest) before upscaling turns to mush
_SHAKE_MAX_VIEW = 0.85  # leave a border so jitter and roll never reveal the photo's edge


# ----------------------------------------------------------------------------- ground-truth records


@dataclass(frozen=True)
class Boundary:
    """A true shot boundary; ``frame`` is the first frame of the new shot."""

    kind: str  # "cut" | "dissolve" | "fade"
    start: int  # first frame of the transition span (== frame for cuts)
    end: int  # exclusive end of the span (== frame + 1 for cuts)
    frame: int


@dataclass(frozen=True)
class Trap:
    """An event that is *not* a boundary (except ``near_identical``, which marks a hard cut)."""

    kind: str  # one of TRAP_KINDS
    start: int
    end: int  # exclusive


# ----------------------------------------------------------------------------- specifications


@dataclass(frozen=True)
class Flash:
    """``length`` frames blended toward white by ``strength``, ``offset`` frames into the shot."""

    offset: int
    length: int = 2
    strength: float = 0.7


@dataclass(frozen=True)
class ShotSpec:
    """One virtual camera over one photo.

    ``length`` counts every frame in which the shot is visible, including frames it shares with
    dissolves and its own fade ramps.  Geometry is relative so that specs work for any photo:
    ``view`` is the framing width as a fraction of the widest framing that fits the photo, and
    ``center`` places the camera inside the range of admissible centres (0..1 on each axis).
    """

    photo: int | str | Path  # index into list_photos(), or a path
    length: int
    motion: str = "static"  # one of MOTIONS
    view: float = 0.8
    center: tuple[float, float] = (0.5, 0.5)
    speed: float | None = None  # pan speed in frame widths per frame (default 0.01 / 0.08 fast)
    direction: float = 0.0  # pan direction in degrees, 0 = camera moves right, 90 = down
    zoom: float = 1.6  # total magnification over the shot (> 1 zooms in, < 1 zooms out)
    shake: float = 4.0  # std of the per-frame jitter, in output pixels
    noise: float = 2.0  # std of the sensor noise, in grey levels
    pan_frames: int = 12  # fast_pan: number of fast frames, centred in the untouched part of the shot
    flashes: tuple[Flash, ...] = ()

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}, expected one of {MOTIONS}")
        if self.length < 1 or not 0 < self.view <= 1 or self.zoom <= 0 or self.pan_frames < 1:
            raise ValueError(f"invalid shot spec {self}")
        if self.motion == "fast_pan" and self.pan_speed < FAST_PAN_MIN_SPEED:
            raise ValueError(f"a fast pan needs speed >= {FAST_PAN_MIN_SPEED}, got {self.pan_speed}")

    @property
    def pan_speed(self) -> float:
        """Pan speed with the per-motion default applied."""
        if self.speed is not None:
            return self.speed
        return 0.08 if self.motion == "fast_pan" else 0.01


@dataclass(frozen=True)
class TransitionSpec:
    """How one shot hands over to the next; use the ``cut``/``dissolve``/``fade`` constructors."""

    kind: str = "cut"
    length: int = 0  # dissolve length, or fade-out length
    hold: int = 0  # fade only: pure-black frames between fade-out and fade-in
    fade_in: int = 0  # fade only: fade-in length

    def __post_init__(self) -> None:
        ok = {
            "cut": self.length == self.hold == self.fade_in == 0,
            "dissolve": self.length >= 1 and self.hold == self.fade_in == 0,
            "fade": self.length >= 1 and self.fade_in >= 1 and self.hold >= 0,
        }
        if not ok.get(self.kind, False):
            raise ValueError(f"invalid transition {self}")

    @classmethod
    def cut(cls) -> TransitionSpec:
        return cls("cut")

    @classmethod
    def dissolve(cls, length: int) -> TransitionSpec:
        return cls("dissolve", length)

    @classmethod
    def fade(cls, out: int, hold: int = 0, fade_in: int | None = None) -> TransitionSpec:
        return cls("fade", out, hold, out if fade_in is None else fade_in)

    @property
    def tail(self) -> int:
        """Frames at the end of the outgoing shot that belong to the transition."""
        return self.length

    @property
    def head(self) -> int:
        """Frames at the start of the incoming shot that belong to the transition."""
        return {"cut": 0, "dissolve": self.length, "fade": self.fade_in}[self.kind]

    @property
    def advance(self) -> int:
        """Offset from the outgoing shot's end to the incoming shot's start (negative = overlap)."""
        return -self.length if self.kind == "dissolve" else self.hold


# ----------------------------------------------------------------------------- virtual camera


def _resolve_photo(photo: int | str | Path) -> Path:
    if isinstance(photo, int):
        photos = list_photos()
        if not photos:
            raise RuntimeError("no local photos found (install scikit-image or opencv-doc)")
        return photos[photo % len(photos)]
    return Path(photo)


def _box(vw: float, photo_wh: tuple[int, int], aspect: float, margin: float = 0.0) -> tuple[float, float, float, float]:
    """Admissible camera centres (x0, x1, y0, y1) for a framing ``vw`` photo pixels wide.

    ``margin`` (photo pixels) keeps that much extra photo around the frame where possible; when
    the photo is too small for it the range collapses to the middle.
    """
    (wp, hp), vh = photo_wh, vw * aspect
    x0, x1 = vw / 2 + margin, wp - vw / 2 - margin
    y0, y1 = vh / 2 + margin, hp - vh / 2 - margin
    x0, x1 = (x0, x1) if x1 >= x0 else (wp / 2, wp / 2)
    y0, y1 = (y0, y1) if y1 >= y0 else (hp / 2, hp / 2)
    return x0, x1, y0, y1


def _place(uv: tuple[float, float], box: tuple[float, float, float, float]) -> np.ndarray:
    return np.array([box[0] + uv[0] * (box[1] - box[0]), box[2] + uv[1] * (box[3] - box[2])])


def _exit(c: np.ndarray, d: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """How far the centre can travel from ``c`` along unit vector ``d`` without leaving ``box``."""
    t = math.inf
    for pos, step, lo, hi in ((c[0], d[0], box[0], box[1]), (c[1], d[1], box[2], box[3])):
        if step > 1e-9:
            t = min(t, (hi - pos) / step)
        elif step < -1e-9:
            t = min(t, (lo - pos) / step)
    return max(0.0, t)


@dataclass
class _Path:
    """Where the camera looks in each local frame (photo pixels unless noted)."""

    centres: np.ndarray  # (n, 2)
    widths: np.ndarray  # (n,) framing width
    roll: np.ndarray | None = None  # (n,) degrees
    jitter: np.ndarray | None = None  # (n, 2) output pixels
    span: tuple[int, int] | None = None  # local frames of trap-worthy motion


@dataclass
class _Geometry:
    width: int  # output width in pixels
    photo_wh: tuple[int, int]
    aspect: float  # output height / width
    vfit: float  # widest framing that fits the photo
    direction: np.ndarray  # unit pan vector


def _zoom_path(spec: ShotSpec, g: _Geometry, clean: tuple[int, int]) -> _Path:
    """Geometric (constant-rate) zoom around a fixed centre chosen for the widest framing."""
    vw0 = spec.view * g.vfit
    vw1 = vw0 / spec.zoom
    vw0, vw1 = (v * min(1.0, g.vfit / max(vw0, vw1)) for v in (vw0, vw1))
    n = spec.length
    widths = vw0 * (vw1 / vw0) ** (np.arange(n) / max(1, n - 1))
    centre = _place(spec.center, _box(max(vw0, vw1), g.photo_wh, g.aspect))
    return _Path(np.repeat(centre[None], n, 0), widths, span=clean)


def _fast_pan_path(spec: ShotSpec, g: _Geometry, clean: tuple[int, int]) -> _Path:
    """Hold, whip-pan for ``pan_frames`` frames centred in the clean part of the shot, hold.

    Speed is a fraction of the framing, so the framing is narrowed until the whole whip fits
    inside the photo; only if even the narrowest framing is too small is the whip shortened.
    """
    d, view, k = g.direction, spec.view, min(spec.pan_frames, clean[1] - clean[0])
    while True:
        vw = view * g.vfit
        step = spec.pan_speed * vw
        box = _box(vw, g.photo_wh, g.aspect)
        c = _place(spec.center, box)
        back, fwd = _exit(c, -d, box), _exit(c, d, box)
        if back + fwd >= step * k or view <= _MIN_VIEW:
            break
        view = max(_MIN_VIEW, view * 0.9)
    k = min(k, int((back + fwd) // step))
    start = c - d * min(back, max(step * k / 2, step * k - fwd))
    p0 = clean[0] + (clean[1] - clean[0] - k) // 2
    moved = np.clip(np.arange(spec.length) - p0 + 1, 0, k)  # frames p0..p0+k-1 each move one step
    return _Path(start + d * step * moved[:, None], np.full(spec.length, vw), span=(p0, p0 + k) if k else None)


def _steady_path(spec: ShotSpec, g: _Geometry, clean: tuple[int, int], rng: np.random.Generator) -> _Path:
    """Static, slow pan (slowed down if the photo is too small for it) or hand-held shake."""
    n, d = spec.length, g.direction
    shake = spec.motion == "shake"
    vw = (min(spec.view, _SHAKE_MAX_VIEW) if shake else spec.view) * g.vfit
    # A shaking camera needs spare photo around the frame: ~4 sigma of jitter plus the roll.
    guard = vw * (4 * spec.shake / g.width + 0.03) if shake else 0.0
    box = _box(vw, g.photo_wh, g.aspect, guard)
    c = _place(spec.center, box)
    path = _Path(np.repeat(c[None], n, 0), np.full(n, vw))
    if spec.motion == "pan" and n > 1:
        step = spec.pan_speed * vw
        back, fwd = _exit(c, -d, box), _exit(c, d, box)
        rewind = min(back, max(0.0, step * (n - 1) - fwd))
        step = min(step, (fwd + rewind) / (n - 1))
        path.centres = (c - d * rewind) + d * step * np.arange(n)[:, None]
    elif shake:
        path.jitter, path.roll, path.span = rng.normal(0.0, spec.shake, (n, 2)), rng.normal(0.0, 0.4, n), clean
    return path


@dataclass
class _Camera:
    image: np.ndarray  # the photo, pre-shrunk so the widest framing is not heavily minified
    matrices: np.ndarray  # (n, 2, 3) affine maps photo pixel -> output pixel, per local frame
    motion_span: tuple[int, int] | None  # local frames of trap-worthy motion


def _camera(
    spec: ShotSpec, photo: np.ndarray, clean: tuple[int, int], size: tuple[int, int], rng: np.random.Generator
) -> _Camera:
    """Camera path of one shot turned into per-frame affine matrices for ``cv2.warpAffine``."""
    (w, h), photo_wh = size, (photo.shape[1], photo.shape[0])
    rad = math.radians(spec.direction)
    g = _Geometry(w, photo_wh, h / w, min(photo_wh[0], photo_wh[1] * w / h), np.array([math.cos(rad), math.sin(rad)]))
    if spec.motion == "zoom":
        path = _zoom_path(spec, g, clean)
    elif spec.motion == "fast_pan":
        path = _fast_pan_path(spec, g, clean)
    else:
        path = _steady_path(spec, g, clean, rng)

    # Pre-shrink the photo so the widest framing maps at >= 0.8x: plain bilinear warping of a much
    # larger image aliases, which would make pans shimmer unlike any real camera.
    r = min(1.0, 1.25 * w / float(path.widths.max()))
    image = photo
    if r < 1.0:
        shrunk = (max(1, round(photo_wh[0] * r)), max(1, round(photo_wh[1] * r)))
        image = cv2.resize(photo, shrunk, interpolation=cv2.INTER_AREA)
        r = image.shape[1] / photo_wh[0]
    n = spec.length
    roll = np.radians(path.roll if path.roll is not None else np.zeros(n))
    scale = w / (path.widths * r)
    cos, sin = np.cos(roll) * scale, np.sin(roll) * scale
    a = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)  # (n, 2, 2)
    offset = np.array([w / 2 - 0.5, h / 2 - 0.5]) + (path.jitter if path.jitter is not None else 0.0)
    # pixel centres sit at integer indices: out_idx = A (p_idx + 0.5 - centre) + (size/2 - 0.5) + jitter
    trans = np.einsum("nij,nj->ni", a, 0.5 - path.centres * r) + offset
    return _Camera(image, np.concatenate([a, trans[:, :, None]], axis=2), path.span)


# ----------------------------------------------------------------------------- the edit


class SynthPlan:
    """Frame-exact edit of shots and transitions; renders any frame without encoding.

    Exposed separately from :func:`render_video` so tests can compare decoded frames with the exact
    pre-encoding images and with each shot's own camera render.
    """

    def __init__(
        self,
        shots: Sequence[ShotSpec],
        transitions: Sequence[TransitionSpec],
        *,
        size: tuple[int, int] = (320, 180),
        seed: int = 0,
        fade_in_start: int = 0,
        fade_out_end: int = 0,
    ) -> None:
        if not shots or len(transitions) != len(shots) - 1:
            raise ValueError("need at least one shot and exactly one transition between shots")
        if size[0] % 2 or size[1] % 2 or min(size) < 2:
            raise ValueError(f"output size must be positive and even for yuv420p, got {size}")
        self.shots, self.transitions = list(shots), list(transitions)
        self.size, self.seed = (int(size[0]), int(size[1])), seed
        self.fade_in_start, self.fade_out_end = fade_in_start, fade_out_end
        self.photos = [_resolve_photo(s.photo) for s in self.shots]
        n = len(self.shots)
        heads = [fade_in_start] + [tr.head for tr in self.transitions]
        tails = [tr.tail for tr in self.transitions] + [fade_out_end]
        self.clean = [(heads[i], s.length - tails[i]) for i, s in enumerate(self.shots)]
        for i, (a, b) in enumerate(self.clean):
            if b <= a:
                raise ValueError(f"shot {i} (length {self.shots[i].length}) is shorter than its transitions")
            for fl in self.shots[i].flashes:
                if fl.offset < a + FLASH_MARGIN or fl.offset + fl.length > b - FLASH_MARGIN or fl.length < 1:
                    raise ValueError(f"flash {fl} of shot {i} must stay {FLASH_MARGIN} frames inside [{a}, {b})")
        self.starts = [0]
        for i, tr in enumerate(self.transitions):
            self.starts.append(self.starts[i] + self.shots[i].length + tr.advance)
        self.frame_count = self.starts[-1] + self.shots[-1].length
        self.gains = [self._gains(i) for i in range(n)]
        self._cameras = [
            _camera(s, load_photo(p), self.clean[i], self.size, np.random.default_rng((seed, i, 0)))
            for i, (s, p) in enumerate(zip(self.shots, self.photos, strict=True))
        ]
        self._flash = {
            self.starts[i] + fl.offset + j: fl.strength
            for i, s in enumerate(self.shots)
            for fl in s.flashes
            for j in range(fl.length)
        }
        self.boundaries = self._boundaries()
        self.traps = self._traps()

    def _gains(self, i: int) -> np.ndarray:
        g = np.ones(self.shots[i].length)
        n = len(g)
        if i == 0 and self.fade_in_start:
            g[: self.fade_in_start] = np.arange(self.fade_in_start) / self.fade_in_start
        if i == len(self.shots) - 1 and self.fade_out_end:
            f = self.fade_out_end
            g[n - f :] = 1 - np.arange(1, f + 1) / f
        if i > 0:  # incoming side of the previous transition
            tr = self.transitions[i - 1]
            if tr.kind == "dissolve":
                g[: tr.length] = np.arange(1, tr.length + 1) / (tr.length + 1)
            elif tr.kind == "fade":
                g[: tr.fade_in] = np.arange(1, tr.fade_in + 1) / (tr.fade_in + 1)
        if i < len(self.shots) - 1:  # outgoing side of the next transition
            tr = self.transitions[i]
            if tr.kind == "dissolve":
                g[n - tr.length :] = 1 - np.arange(1, tr.length + 1) / (tr.length + 1)
            elif tr.kind == "fade":
                g[n - tr.length :] = 1 - np.arange(1, tr.length + 1) / tr.length
        return g

    def _boundaries(self) -> list[Boundary]:
        out = []
        for i, tr in enumerate(self.transitions):
            b = self.starts[i + 1]
            if tr.kind == "cut":
                out.append(Boundary("cut", b, b + 1, b))
            elif tr.kind == "dissolve":
                first = next(j for j in range(tr.length) if 2 * (j + 1) >= tr.length + 1)
                out.append(Boundary("dissolve", b, b + tr.length, b + first))
            else:
                out.append(Boundary("fade", b - tr.hold - tr.length, b + tr.fade_in, b))
        return out

    def _traps(self) -> list[Trap]:
        traps = []
        if self.fade_in_start:
            traps.append(Trap("fade_in_start", 0, self.fade_in_start))
        if self.fade_out_end:
            traps.append(Trap("fade_out_end", self.frame_count - self.fade_out_end, self.frame_count))
        for i, (shot, cam, g0) in enumerate(zip(self.shots, self._cameras, self.starts, strict=True)):
            traps += [Trap("flash", g0 + fl.offset, g0 + fl.offset + fl.length) for fl in shot.flashes]
            if shot.motion in ("fast_pan", "shake", "zoom") and cam.motion_span is not None:
                traps.append(Trap(shot.motion, g0 + cam.motion_span[0], g0 + cam.motion_span[1]))
            if i and self.transitions[i - 1].kind == "cut" and self.photos[i] == self.photos[i - 1]:
                traps.append(Trap("near_identical", g0, g0 + 1))
        return sorted(traps, key=lambda tr: (tr.start, tr.end, tr.kind))

    def shot_frame(self, index: int, local: int) -> np.ndarray:
        """Camera image of shot ``index`` at its ``local`` frame, with sensor noise, as float32 RGB."""
        cam, (w, h) = self._cameras[index], self.size
        img = cv2.warpAffine(
            cam.image, cam.matrices[local], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        ).astype(np.float32)
        sigma = self.shots[index].noise
        if sigma > 0:
            rng = np.random.default_rng((self.seed, index, local, 1))
            img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
        return img

    def frame(self, t: int) -> np.ndarray:
        """Final RGB ``uint8`` frame ``t`` of the video, exactly as handed to the encoder."""
        if not 0 <= t < self.frame_count:
            raise IndexError(t)
        acc = np.zeros((self.size[1], self.size[0], 3), np.float32)
        for i, (shot, g0) in enumerate(zip(self.shots, self.starts, strict=True)):
            local = t - g0
            if 0 <= local < shot.length and self.gains[i][local] > 0:
                acc += np.float32(self.gains[i][local]) * self.shot_frame(i, local)
        if t in self._flash:
            s = np.float32(self._flash[t])
            acc = acc * (1 - s) + 255 * s
        return np.clip(np.rint(acc), 0, 255).astype(np.uint8)

    def frames(self) -> Iterator[np.ndarray]:
        return (self.frame(t) for t in range(self.frame_count))

    def describe(self) -> dict[str, Any]:
        """JSON-ready recipe of this plan (photo names instead of indices); doubles as a cache key."""
        shots = [{**asdict(s), "photo": p.name} for s, p in zip(self.shots, self.photos, strict=True)]
        spec = {
            "seed": self.seed,
            "size": list(self.size),
            "fade_in_start": self.fade_in_start,
            "fade_out_end": self.fade_out_end,
            "shots": shots,
            "transitions": [asdict(tr) for tr in self.transitions],
        }
        return json.loads(json.dumps(spec))

    def truth(self, path: Path, fps: Fraction, *, audio: bool = False) -> SynthVideo:
        """Ground truth of this plan encoded at ``path`` (nothing is written)."""
        meta = {"generator": GENERATOR_VERSION, "audio": audio, "recipe": self.describe()}
        w, h = self.size
        return SynthVideo(Path(path), Fraction(fps), self.frame_count, w, h, self.boundaries, self.traps, meta)


# ----------------------------------------------------------------------------- video + truth files


def truth_path_for(video: Path) -> Path:
    """Where the ground truth of ``video`` lives: ``<video file name>.truth.json`` next to it."""
    return video.with_name(video.name + ".truth.json")


@dataclass
class SynthVideo:
    """An encoded synthetic video and its ground truth."""

    path: Path
    fps: Fraction
    frame_count: int
    width: int
    height: int
    boundaries: list[Boundary]
    traps: list[Trap]
    meta: dict[str, Any] = field(default_factory=dict)  # generator version + full recipe

    @property
    def truth_path(self) -> Path:
        return truth_path_for(self.path)

    def counts(self) -> dict[str, int]:
        """Number of boundaries and traps per kind (traps prefixed ``trap:``), for summaries."""
        kinds = [b.kind for b in self.boundaries] + [f"trap:{t.kind}" for t in self.traps]
        return dict(sorted(Counter(kinds).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.path.name,
            "fps": str(self.fps),
            "frame_count": self.frame_count,
            "width": self.width,
            "height": self.height,
            "boundaries": [asdict(b) for b in self.boundaries],
            "traps": [asdict(t) for t in self.traps],
            "meta": self.meta,
        }

    def save_truth(self) -> Path:
        self.truth_path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return self.truth_path

    @classmethod
    def load(cls, truth_json: Path) -> SynthVideo:
        """Read a truth file; the video is looked up next to it, so directories can be moved."""
        truth_json = Path(truth_json)
        d = json.loads(truth_json.read_text())
        return cls(
            path=truth_json.parent / d["video"],
            fps=Fraction(d["fps"]),
            frame_count=d["frame_count"],
            width=d["width"],
            height=d["height"],
            boundaries=[Boundary(**b) for b in d["boundaries"]],
            traps=[Trap(**t) for t in d["traps"]],
            meta=d.get("meta", {}),
        )


def _encode(path: Path, plan: SynthPlan, fps: Fraction, audio: bool) -> None:
    """H.264/yuv420p with pts == frame index in a 1/fps time base (the muxer may rescale it)."""
    encode_video(path, plan.frames(), fps=fps, tone_hz=440.0 if audio else None)


def render_video(
    path: Path,
    shots: Sequence[ShotSpec],
    transitions: Sequence[TransitionSpec],
    *,
    size: tuple[int, int] = (320, 180),
    fps: Fraction | int = Fraction(25),
    seed: int = 0,
    fade_in_start: int = 0,
    fade_out_end: int = 0,
    audio: bool = False,
) -> SynthVideo:
    """Render and encode the edit, write ``<name>.truth.json`` next to it, return the truth."""
    path, fps = Path(path), Fraction(fps)
    plan = SynthPlan(shots, transitions, size=size, seed=seed, fade_in_start=fade_in_start, fade_out_end=fade_out_end)
    _encode(path, plan, fps, audio)
    out = plan.truth(path, fps, audio=audio)
    out.save_truth()
    return out


# ----------------------------------------------------------------------------- random edits

FEATURES = (
    "cut",
    "dissolve",
    "fade_hold",
    "fade_nohold",
    "flash",
    "fast_pan",
    "shake",
    "zoom",
    "near_identical",
    "fade_in_start",
    "fade_out_end",
    "short_shot",
    "long_shot",
)
"""Things :func:`random_recipe` can be asked to include; ``"dissolve:N"`` fixes the length."""

_GAP = 12  # frames every shot shows alone, so no two events blur into one another


@dataclass
class Recipe:
    """Shots and transitions of one synthetic video, before rendering."""

    shots: list[ShotSpec]
    transitions: list[TransitionSpec]
    fps: Fraction
    fade_in_start: int = 0
    fade_out_end: int = 0

    def plan(self, size: tuple[int, int], seed: int) -> SynthPlan:
        return SynthPlan(
            self.shots,
            self.transitions,
            size=size,
            seed=seed,
            fade_in_start=self.fade_in_start,
            fade_out_end=self.fade_out_end,
        )

    def render(self, path: Path, size: tuple[int, int], seed: int, *, reuse: bool = True) -> SynthVideo:
        """Render to ``path``; with ``reuse``, keep an existing file whose truth JSON still matches."""
        path = Path(path)
        truth = truth_path_for(path)
        if reuse and path.is_file() and truth.is_file():
            wanted = self.plan(size, seed).truth(path, self.fps)
            cached = SynthVideo.load(truth)
            if cached.to_dict() == json.loads(json.dumps(wanted.to_dict())):
                return cached
        return render_video(path, self.shots, self.transitions, size=size, fps=self.fps, seed=seed,
                            fade_in_start=self.fade_in_start, fade_out_end=self.fade_out_end)


def _random_transition(rng: random.Random, kind: str) -> TransitionSpec:
    if kind == "cut":
        return TransitionSpec.cut()
    if kind.startswith("dissolve"):
        _, _, length = kind.partition(":")
        return TransitionSpec.dissolve(int(length) if length else rng.randint(8, 40))
    hold = rng.randint(3, 12) if kind == "fade_hold" else 0
    return TransitionSpec.fade(rng.randint(6, 20), hold, rng.randint(6, 20))


def _random_motion(rng: random.Random, motion: str) -> dict[str, Any]:
    direction = rng.uniform(0, 360)
    if motion == "fast_pan":  # mostly horizontal whip pans, like an operator's
        direction = rng.uniform(-25, 25) + rng.choice((0, 180))
    return {
        "motion": motion,
        "view": rng.uniform(0.5, 0.65) if motion == "fast_pan" else rng.uniform(0.6, 1.0),
        "center": (rng.random(), rng.random()),
        "speed": rng.uniform(0.07, 0.11) if motion == "fast_pan" else rng.uniform(0.003, 0.015),
        "direction": direction,
        "zoom": rng.uniform(1.4, 2.2) ** rng.choice((1, -1)),
        "shake": rng.uniform(3.0, 6.0),
        "noise": rng.uniform(1.0, 3.0),
        "pan_frames": rng.randint(8, 14),
    }


def random_recipe(
    seed: int, *, n_shots: int = 8, fps: Fraction | int = Fraction(25), features: Sequence[str] = ()
) -> Recipe:
    """A seeded random edit mixing all motions, transitions and traps.

    ``features`` are guaranteed to appear (see :data:`FEATURES`); everything else is drawn at
    random.  Every shot keeps at least ``_GAP`` frames to itself (the deliberately short shot,
    about 0.3 s between two cuts, excepted), and flashes and whip pans sit at least 10 frames
    away from transitions, so that the ground truth is unambiguous.
    """
    fps = Fraction(fps)
    unknown = [f for f in features if f.split(":")[0] not in FEATURES]
    if unknown or n_shots < 2 or ("short_shot" in features and n_shots < 3):
        raise ValueError(f"bad features {unknown} or too few shots ({n_shots})")
    rng = random.Random(seed)
    n = n_shots
    trans: list[TransitionSpec | None] = [None] * (n - 1)
    roles: dict[int, str] = {}

    def pick(options: list[int], what: str) -> int:
        if not options:
            raise ValueError(f"{n_shots} shots are too few to fit {what} with {list(features)}")
        return rng.choice(options)

    if "short_shot" in features:
        j = pick([j for j in range(1, n - 1)], "a short shot")
        roles[j], trans[j - 1], trans[j] = "short", TransitionSpec.cut(), TransitionSpec.cut()
    if "near_identical" in features:
        free = [k for k in range(n - 1) if trans[k] in (None, TransitionSpec.cut()) and {k, k + 1}.isdisjoint(roles)]
        k = pick(free, "a near-identical cut")
        roles[k], roles[k + 1], trans[k] = "near_a", "near_b", TransitionSpec.cut()
    for f in features:
        if f.split(":")[0] in ("cut", "dissolve", "fade_hold", "fade_nohold"):
            trans[pick([k for k in range(n - 1) if trans[k] is None], f)] = _random_transition(rng, f)
    kinds = ("cut", "dissolve", "fade_hold", "fade_nohold")
    done = [t or _random_transition(rng, rng.choices(kinds, (4, 3, 1, 1))[0]) for t in trans]
    for f in ("fast_pan", "shake", "zoom", "flash", "long_shot"):
        if f in features:
            roles[pick([i for i in range(n) if i not in roles], f)] = f

    fade_in = rng.randint(8, 20) if "fade_in_start" in features or rng.random() < 0.2 else 0
    fade_out = rng.randint(8, 20) if "fade_out_end" in features or rng.random() < 0.2 else 0
    order = list(range(len(list_photos())))
    rng.shuffle(order)

    def sec(seconds: float) -> int:
        return max(1, round(seconds * fps))

    shots: list[ShotSpec] = []
    next_photo = 0
    for i in range(n):
        role = roles.get(i)
        if role in ("fast_pan", "shake", "zoom"):
            motion = role
        elif role in ("short", "long_shot", "near_a", "near_b"):
            motion = rng.choice(("static", "pan"))
        else:
            motion = rng.choices(MOTIONS, (3, 3, 0 if role == "flash" else 1.5, 1.5, 1.5))[0]
        params = _random_motion(rng, motion)
        if role == "near_b":  # same photo, clearly different framing: a hard but real cut
            prev = shots[-1]
            params.update(view=prev.view * rng.uniform(0.5, 0.65), center=tuple((c + 0.5) % 1.0 for c in prev.center))
        if role == "short":
            clean = max(6, sec(0.3))
        elif role == "long_shot":
            clean = sec(rng.uniform(6.0, 8.0))
        else:  # a whip pan needs room for itself plus a quiet gap on each side
            minimum = params["pan_frames"] + 2 * _GAP if motion == "fast_pan" else _GAP
            clean = max(sec(rng.uniform(1.2, 3.5)), minimum)
        head = done[i - 1].head if i else fade_in
        tail = done[i].tail if i < n - 1 else fade_out
        flashes: tuple[Flash, ...] = ()
        if role == "flash" or (role is None and motion != "fast_pan" and rng.random() < 0.15):
            clean = max(clean, 32)
            length = rng.randint(1, 3)
            flashes = (Flash(head + rng.randint(10, clean - 10 - length), length, rng.uniform(0.5, 0.8)),)
        if role == "near_b":
            photo = shots[-1].photo
        else:
            photo, next_photo = order[next_photo % len(order)], next_photo + 1
        shots.append(ShotSpec(photo=photo, length=head + clean + tail, flashes=flashes, **params))
    return Recipe(shots, done, fps, fade_in, fade_out)


def random_video(
    path: Path,
    seed: int,
    *,
    n_shots: int = 8,
    size: tuple[int, int] = (320, 180),
    fps: Fraction | int = Fraction(25),
    features: Sequence[str] = (),
) -> SynthVideo:
    """Render :func:`random_recipe` (deterministic for a given seed, size and fps)."""
    return random_recipe(seed, n_shots=n_shots, fps=fps, features=features).render(path, size, seed, reuse=False)


# ----------------------------------------------------------------------------- the evaluation set

# (fps, shots, guaranteed features) per video.  Together they cover every transition kind,
# dissolves from 8 to 40 frames, fades with and without a black hold, every trap, shots from
# ~0.3 s to several seconds, and NTSC 30000/1001 timing (first, so it survives any merging).
_STANDARD = (
    (
        Fraction(30000, 1001),
        9,
        ("near_identical", "dissolve:40", "fade_nohold", "shake", "zoom", "long_shot", "fade_out_end"),
    ),
    (Fraction(25), 9, ("short_shot", "dissolve:8", "fade_hold", "flash", "fast_pan", "fade_in_start")),
    (Fraction(25), 10, ("dissolve:16", "dissolve:24", "fade_hold", "flash", "fast_pan", "short_shot")),
    (
        Fraction(30000, 1001),
        10,
        ("dissolve:32", "fade_nohold", "zoom", "shake", "near_identical", "long_shot"),
    ),
    (Fraction(25), 8, ("dissolve:12", "cut", "flash", "fade_in_start", "fade_out_end")),
    (Fraction(24), 8, ("dissolve:20", "fade_hold", "fast_pan", "shake")),
)


def standard_recipes(n_videos: int = 6, seed: int = 0) -> list[Recipe]:
    """Recipes of :func:`standard_set`; with fewer than six videos the feature lists are merged."""
    if n_videos < 1:
        raise ValueError("n_videos must be >= 1")
    recipes = []
    for v in range(n_videos):
        group = [_STANDARD[k] for k in range(v, len(_STANDARD), n_videos)] or [_STANDARD[v % len(_STANDARD)]]
        features = [f for _, _, feats in group for f in feats]
        n_shots = max(sum(n for _, n, _ in group), len(features) + 3)
        recipes.append(random_recipe(seed * 1000 + v, n_shots=n_shots, fps=group[0][0], features=features))
    return recipes


def coverage(videos: Sequence[SynthVideo]) -> set[str]:
    """Which evaluation-set requirements ``videos`` satisfy (used to check :func:`standard_set`).

    Boundary and trap kinds come from the truth; fade holds, dissolve lengths and shot durations
    from the recipe stored in each video's ``meta``.
    """
    got = {b.kind for v in videos for b in v.boundaries} | {t.kind for v in videos for t in v.traps}
    for v in videos:
        recipe = v.meta["recipe"]
        for tr in recipe["transitions"]:
            if tr["kind"] == "fade":
                got.add("fade_hold" if tr["hold"] else "fade_nohold")
            elif tr["kind"] == "dissolve" and tr["length"] <= 10:
                got.add("dissolve<=10")
            elif tr["kind"] == "dissolve" and tr["length"] >= 36:
                got.add("dissolve>=36")
        seconds = [shot["length"] / v.fps for shot in recipe["shots"]]
        got |= {"short_shot"} if min(seconds) <= 0.4 else set()
        got |= {"long_shot"} if max(seconds) >= 5 else set()
        got |= {"fps=30000/1001"} if v.fps == Fraction(30000, 1001) else set()
    return got


def standard_set(
    out_dir: Path, *, n_videos: int = 6, seed: int = 0, size: tuple[int, int] = (320, 180)
) -> list[SynthVideo]:
    """The evaluation set, rendered into ``out_dir`` (reused when the cached truth still matches)."""
    out_dir = Path(out_dir)
    return [
        r.render(out_dir / f"synth_{v:02d}.mp4", size, seed * 1000 + v)
        for v, r in enumerate(standard_recipes(n_videos, seed))
    ]


def moving_gradient_clip(path: Path) -> Path:
    """Two seconds of a horizontal gradient scrolling 3 px a frame, 64x48 at 10 fps: the smallest real video
    that every analyzer can read (tests of the API and the CLI's usage errors)."""
    from vidlens.media.encode import encode_video

    ramp = np.linspace(0, 255, 64, dtype=np.float32)
    frames = [np.broadcast_to(np.roll(ramp, 3 * i)[None, :, None], (48, 64, 3)).astype(np.uint8) for i in range(20)]
    encode_video(path, frames, fps=10)
    return path
