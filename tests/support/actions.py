"""Labelled action datasets made from real photos, with known ground truth (no action dataset ships).

Two kinds, both written in the class-folder layout (``root/class/class_0001.mp4``) that
:func:`vidlens.train.dataset.load_dataset` reads:

* **motion classes** (:func:`make_action_dataset`): ``pan_left`` (the camera turns left, so the
  scene slides *right* across the frame), ``pan_right``, ``zoom_in``, ``zoom_out``, ``static``,
  ``object_up`` and ``object_down`` (a crop of another photo moves up / down over a still
  background). Every clip of every class is drawn from the same pool of photos, and every clip
  holds a pasted object (in the camera classes it is part of the scene and moves with it), so a
  single frame says nothing about the class: only the motion between frames does. Speed, framing,
  start position, photos and object are random per clip (seeded).
* **appearance classes** (:func:`make_appearance_dataset`): clips of different photos per class
  (cat, coffee, rocket, astronaut...) under mild random camera motion, which single frames solve.

Next to the videos, ``ground_truth.csv`` lists each clip (``path,label`` first, so it is also a
manifest) with its photo, object, motion and speed, and ``generator.json`` the parameters; a
second call with the same parameters reuses the files.
"""

from __future__ import annotations

import csv
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidlens.errors import UsageError
from vidlens.media.encode import encode_video

from .photos import list_photos, load_photo

GENERATOR_VERSION = "vidlens-actions/1"  # bump when rendering changes: reused datasets are keyed on it
ACTION_CLASSES = ("pan_left", "pan_right", "zoom_in", "zoom_out", "static", "object_up", "object_down")
#: Appearance classes: photo file names per class (the ones installed are used).
APPEARANCE_CLASSES: dict[str, tuple[str, ...]] = {
    "cat": ("chelsea.png",),
    "coffee": ("coffee.png",),
    "rocket": ("rocket.jpg",),
    "astronaut": ("astronaut.png",),
    "motorcycle": ("motorcycle_left.png",),
    "fruit": ("fruits.jpg", "orange.jpg", "apple.jpg"),
    "texture": ("brick.png", "grass.png", "gravel.png"),
}
TRUTH_FILE = "ground_truth.csv"
PARAMS_FILE = "generator.json"

PAN_SPEED = (0.015, 0.04)  # frame widths per frame
OBJECT_SPEED = (0.02, 0.05)  # frame heights per frame
ZOOM = (1.35, 2.0)  # total magnification over the clip
VIEW = (0.4, 0.6)  # framing width as a fraction of the widest framing that fits the photo
OBJECT_SIZE = (0.28, 0.38)  # object height as a fraction of the frame height
NOISE = 2.0  # sensor noise, grey levels


@dataclass(frozen=True)
class ClipTruth:
    """How one clip was made. ``speed``: frame widths (pans) or heights (objects) per frame; ``zoom``:
    total magnification (> 1 in, < 1 out); ``content_dx`` / ``content_dy``: pixels per frame the
    scene (pans) or the object (objects) moves in the image, + = right / down. ``object_x`` ...
    ``object_h``: the moving object's box in the first frame (pixels: top-left corner and size) for
    ``object_up`` / ``object_down``, ``None`` for the camera classes; :meth:`object_xyxy` gives it in any
    frame (what explanations are checked against)."""

    path: str
    label: str
    photo: str
    object_photo: str
    motion: str
    speed: float
    zoom: float
    content_dx: float
    content_dy: float
    object_x: float | None = None
    object_y: float | None = None
    object_w: float | None = None
    object_h: float | None = None

    def object_xyxy(self, frame: int) -> tuple[float, float, float, float] | None:
        """The moving object's box ``(x0, y0, x1, y1)`` in pixels in frame ``frame`` (0-based), if it moves."""
        if self.object_x is None or self.object_y is None or self.object_w is None or self.object_h is None:
            return None
        y = self.object_y + self.content_dy * frame
        return self.object_x, y, self.object_x + self.object_w, y + self.object_h


@dataclass
class _Framing:
    centres: np.ndarray  # (n, 2) photo pixels
    widths: np.ndarray  # (n,) photo pixels


def _photos_named(names: Sequence[str]) -> list[Path]:
    by_name = {p.name: p for p in list_photos()}
    return [by_name[n] for n in names if n in by_name]


def _widest(photo_wh: tuple[int, int], size: tuple[int, int]) -> float:
    """Widest framing (photo pixels) with the output's aspect that fits inside the photo."""
    return min(photo_wh[0], photo_wh[1] * size[0] / size[1])


def _camera_path(motion: str, n: int, photo_wh: tuple[int, int], size: tuple[int, int],
                 rng: np.random.Generator, *, view: tuple[float, float], speed: float, zoom: float,
                 direction: float) -> _Framing:
    """Framings of a static shot, a pan along ``direction`` (radians, 0 = camera moves right) or a zoom."""
    (pw, ph), aspect = photo_wh, size[1] / size[0]
    fit = _widest(photo_wh, size)
    d = np.array([math.cos(direction), math.sin(direction)])
    v = rng.uniform(*view)
    if motion == "pan":
        # the framing and its whole travel (speed * (n-1) framing widths along d) must fit in the photo
        travel = speed * (n - 1)
        v = min(v, 1 / (1 + travel * max(abs(d[0]), abs(d[1]) / aspect)))
    vw = v * fit
    widths = np.full(n, vw)
    if motion == "zoom":
        # geometric zoom whose mid-clip framing is ``vw``, like a static or panning clip's framing, so
        # the scale of a single frame says nothing about the class; narrowed if the widest would not fit
        widths = vw * (1 / zoom) ** (np.arange(n) / max(1, n - 1) - 0.5)
        widths *= min(1.0, fit / float(widths.max()))
    big = float(widths.max())
    lo = np.array([big / 2, big * aspect / 2])
    hi = np.array([pw - big / 2, ph - big * aspect / 2])
    steps = np.arange(n)[:, None] * (speed * vw) * d[None] if motion == "pan" else np.zeros((n, 2))
    span_lo, span_hi = steps.min(axis=0), steps.max(axis=0)
    first_lo, first_hi = lo - span_lo, hi - span_hi
    start = np.where(first_hi >= first_lo, first_lo + rng.random(2) * np.maximum(first_hi - first_lo, 0),
                     (lo + hi) / 2 - (span_lo + span_hi) / 2)
    return _Framing(start[None] + steps, widths)


def _render(photo: np.ndarray, framing: _Framing, size: tuple[int, int]) -> list[np.ndarray]:
    """Warp the photo through each framing (the photo is pre-shrunk so warping does not alias)."""
    w, h = size
    r = min(1.0, 1.25 * w / float(framing.widths.max()))
    image = photo
    if r < 1.0:
        image = cv2.resize(photo, (max(1, round(photo.shape[1] * r)), max(1, round(photo.shape[0] * r))),
                           interpolation=cv2.INTER_AREA)
        r = image.shape[1] / photo.shape[1]
    out = []
    for (cx, cy), vw in zip(framing.centres, framing.widths):
        s = w / (vw * r)
        m = np.array([[s, 0, w / 2 - s * cx * r], [0, s, h / 2 - s * cy * r]], np.float64)
        out.append(cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    return out


def _object_crop(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random crop of a photo (aspect 0.75..1.33, 30-60 % of its shorter side)."""
    ph, pw = photo.shape[:2]
    side = rng.uniform(0.3, 0.6) * min(ph, pw)
    aspect = rng.uniform(0.75, 1.33)
    cw, ch = min(pw, round(side * math.sqrt(aspect))), min(ph, round(side / math.sqrt(aspect)))
    x, y = int(rng.integers(0, pw - cw + 1)), int(rng.integers(0, ph - ch + 1))
    return photo[y: y + ch, x: x + cw]


def _paste(canvas: np.ndarray, sprite: np.ndarray, x: float, y: float) -> None:
    """Paste ``sprite`` with its top-left corner at (x, y), sub-pixel (bilinear edges), clipped to the canvas.

    Sub-pixel placement keeps a slow object's motion smooth, as a camera sees it, instead of steps
    of whole pixels that alternate between two speeds.
    """
    h, w = sprite.shape[:2]
    x0, y0 = math.floor(x), math.floor(y)
    shift = np.array([[1, 0, x - x0], [0, 1, y - y0]], np.float64)
    size = (w + 1, h + 1)
    layer = cv2.warpAffine(sprite, shift, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(np.ones((h, w), np.float32), shift, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)[..., None]
    ax0, ay0 = max(0, x0), max(0, y0)
    ax1, ay1 = min(canvas.shape[1], x0 + w + 1), min(canvas.shape[0], y0 + h + 1)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    region = canvas[ay0:ay1, ax0:ax1].astype(np.float32)
    a = alpha[ay0 - y0: ay1 - y0, ax0 - x0: ax1 - x0]
    part = layer[ay0 - y0: ay1 - y0, ax0 - x0: ax1 - x0].astype(np.float32)
    canvas[ay0:ay1, ax0:ax1] = np.clip(np.rint(region * (1 - a) + part * a), 0, 255).astype(canvas.dtype)


def _noisy(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    return [np.clip(f.astype(np.float32) + rng.normal(0, NOISE, f.shape).astype(np.float32), 0, 255)
            .astype(np.uint8) for f in frames]


def render_action_clip(label: str, rng: np.random.Generator, *, frames: int = 16,
                       size: tuple[int, int] = (112, 112), photos: Sequence[Path] | None = None,
                       ) -> tuple[list[np.ndarray], ClipTruth]:
    """The RGB frames of one clip of motion class ``label`` and how it was made (``path`` left empty)."""
    if label not in ACTION_CLASSES:
        raise UsageError(f"unknown action class {label!r}; known: {', '.join(ACTION_CLASSES)}")
    pool = list(photos) if photos is not None else list_photos()
    if len(pool) < 2:
        raise UsageError("need at least two local photos (install scikit-image or opencv-doc)")
    w, h = size
    n = frames
    first, second = rng.choice(len(pool), size=2, replace=False)
    photo_path, object_path = pool[int(first)], pool[int(second)]
    photo = np.array(load_photo(photo_path, (w, h)))
    crop = _object_crop(load_photo(object_path), rng)
    oh = rng.uniform(*OBJECT_SIZE) * h
    ow = min(0.6 * w, oh * crop.shape[1] / crop.shape[0])
    motion = {"pan_left": "pan", "pan_right": "pan", "zoom_in": "zoom", "zoom_out": "zoom"}.get(label, "static")
    speed, zoom, dx, dy = 0.0, 1.0, 0.0, 0.0
    if motion == "pan":
        speed = rng.uniform(*PAN_SPEED)
    elif motion == "zoom":
        zoom = rng.uniform(*ZOOM)
        zoom = zoom if label == "zoom_in" else 1 / zoom
    direction = math.pi if label == "pan_left" else 0.0
    framing = _camera_path(motion, n, (photo.shape[1], photo.shape[0]), size, rng, view=VIEW, speed=speed,
                           zoom=zoom, direction=direction)
    if label in ("object_up", "object_down"):
        out = _render(photo, framing, size)
        sprite = cv2.resize(crop, (max(2, round(ow)), max(2, round(oh))), interpolation=cv2.INTER_AREA)
        oh_px = sprite.shape[0]
        speed = rng.uniform(*OBJECT_SPEED)
        step = min(speed * h, (h - oh_px) / max(1, n - 1))
        speed = step / h
        dy = -step if label == "object_up" else step
        travel = min(step * (n - 1), h - oh_px)  # the clamped step times n - 1 can exceed the room by rounding
        top = rng.uniform(travel, h - oh_px) if label == "object_up" else rng.uniform(0, h - oh_px - travel)
        left = rng.uniform(0, w - sprite.shape[1])
        for t, frame in enumerate(out):
            _paste(frame, sprite, left, top + dy * t)
    else:
        # the object is part of the scene: pasted into the photo where every framing of the clip sees it
        scale = float(np.median(framing.widths)) / w  # photo pixels per output pixel, mid-clip
        sw, sh = max(2, round(ow * scale)), max(2, round(oh * scale))
        half = framing.widths[:, None] * np.array([1.0, h / w])[None] / 2
        inner_lo = (framing.centres - half).max(axis=0)
        inner_hi = (framing.centres + half).min(axis=0)
        room = inner_hi - inner_lo
        shrink = min(1.0, 0.9 * room[0] / sw, 0.9 * room[1] / sh)
        sw, sh = max(2, round(sw * shrink)), max(2, round(sh * shrink))
        sprite = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        x = inner_lo[0] + rng.random() * max(0.0, room[0] - sw)
        y = inner_lo[1] + rng.random() * max(0.0, room[1] - sh)
        _paste(photo, sprite, x, y)
        out = _render(photo, framing, size)
        if motion == "pan":
            dx = -speed * w if label == "pan_right" else speed * w  # the scene moves against the camera
    truth = ClipTruth("", label, photo_path.name, object_path.name, motion if motion != "static" else
                      ("object" if label.startswith("object") else "static"), round(float(speed), 5),
                      round(float(zoom), 5), round(float(dx), 4), round(float(dy), 4))
    if label in ("object_up", "object_down"):
        truth = replace(truth, object_x=round(float(left), 3), object_y=round(float(top), 3),
                        object_w=float(sprite.shape[1]), object_h=float(sprite.shape[0]))
    return _noisy(out, rng), truth


def render_appearance_clip(label: str, photos: Sequence[Path], rng: np.random.Generator, *, frames: int = 16,
                           size: tuple[int, int] = (112, 112)) -> tuple[list[np.ndarray], ClipTruth]:
    """One clip of one of ``photos`` under mild random camera motion (static, slow pan or slow zoom)."""
    photo_path = photos[int(rng.integers(len(photos)))]
    photo = load_photo(photo_path, size)
    motion = ("static", "pan", "zoom")[int(rng.integers(3))]
    speed = rng.uniform(0.004, 0.012) if motion == "pan" else 0.0
    zoom = rng.uniform(1.05, 1.25) ** (1 if rng.random() < 0.5 else -1) if motion == "zoom" else 1.0
    direction = rng.uniform(0, 2 * math.pi)
    framing = _camera_path(motion, frames, (photo.shape[1], photo.shape[0]), size, rng, view=(0.55, 0.95),
                           speed=speed, zoom=zoom, direction=direction)
    out = _render(photo, framing, size)
    dx, dy = (-speed * size[0] * math.cos(direction), -speed * size[0] * math.sin(direction)) if speed else (0.0, 0.0)
    truth = ClipTruth("", label, photo_path.name, "", motion, round(float(speed), 5), round(float(zoom), 5),
                      round(float(dx), 4), round(float(dy), 4))
    return _noisy(out, rng), truth


def _check(per_class: int, frames: int, size: tuple[int, int], fps: int | Fraction) -> None:
    if per_class < 1:
        raise UsageError(f"per_class must be >= 1, got {per_class}")
    if frames < 2:
        raise UsageError(f"frames must be >= 2 (motion needs two), got {frames}")
    if size[0] % 2 or size[1] % 2 or min(size) < 16:
        raise UsageError(f"size must be even and at least 16 px, got {size}")
    if Fraction(fps) <= 0:
        raise UsageError(f"fps must be > 0, got {fps}")


def _reuse(root: Path, params: dict) -> bool:
    """True when ``root`` already holds a complete dataset made with exactly these parameters."""
    try:
        if json.loads((root / PARAMS_FILE).read_text()) != params:
            return False
        with open(root / TRUTH_FILE, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, ValueError):
        return False
    return len(rows) == params["clips"] and all((root / row["path"]).is_file() for row in rows)


def _write(root: Path, params: dict, clips: list[tuple[str, str, list[np.ndarray], ClipTruth]],
           fps: int | Fraction) -> Path:
    truths = []
    for label, name, frames, truth in clips:
        rel = f"{label}/{name}"
        encode_video(root / rel, frames, fps=Fraction(fps))
        truths.append(replace(truth, path=rel))
    with open(root / TRUTH_FILE, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(truths[0])))
        writer.writeheader()
        writer.writerows(asdict(t) for t in truths)
    (root / PARAMS_FILE).write_text(json.dumps(params, indent=1) + "\n")
    return root


def _rng(seed: int, label: str, clip: int) -> np.random.Generator:
    """Per clip, keyed on the class name, so a subset of classes gives the same clips."""
    return np.random.default_rng([seed, zlib.crc32(label.encode("utf-8")), clip])


def split_photos(seed: int, test_fraction: float = 0.35) -> tuple[list[Path], list[Path]]:
    """The local photos cut (seeded) into a training pool and a disjoint held-out pool (at least 2 each)."""
    pool = list_photos()
    order = np.random.default_rng([seed, 7]).permutation(len(pool))
    n_test = min(len(pool) - 2, max(2, round(test_fraction * len(pool))))
    return [pool[i] for i in sorted(order[n_test:])], [pool[i] for i in sorted(order[:n_test])]


def make_action_dataset(root: Path, per_class: int, *, classes: Sequence[str] = ACTION_CLASSES, frames: int = 16,
                        size: tuple[int, int] = (112, 112), fps: int | Fraction = 8, seed: int = 0,
                        held_out: int = 0, val: int = 0) -> Path:
    """Write ``per_class`` clips of each motion class under ``root`` (class folders); returns ``root``.

    With ``held_out`` > 0 the photos are split (:func:`split_photos`, seeded): the ``per_class`` clips use
    only the training pool and ``held_out`` more clips per class (``class/test_NNNN.mp4``) only the held-out
    pool, so no test photo was ever seen in training; ``splits/train.txt``, ``splits/val.txt`` (the last
    ``val`` training-pool clips of each class) and ``splits/test.txt`` list them for ``splits=``.
    """
    root = Path(root)
    _check(per_class, frames, size, fps)
    unknown = [c for c in classes if c not in ACTION_CLASSES]
    if unknown or not classes:
        raise UsageError(f"unknown action class(es) {unknown}; known: {', '.join(ACTION_CLASSES)}")
    params = {"generator": GENERATOR_VERSION, "kind": "actions", "classes": list(classes), "per_class": per_class,
              "frames": frames, "size": list(size), "fps": str(Fraction(fps)), "seed": seed,
              "clips": (per_class + held_out) * len(classes)}
    if held_out:
        params |= {"held_out": held_out, "val": val}
    if _reuse(root, params):
        return root
    pool, test_pool = split_photos(seed) if held_out else (list_photos(), [])
    clips = []
    for label in classes:
        for i in range(per_class):
            images, truth = render_action_clip(label, _rng(seed, label, i), frames=frames, size=size, photos=pool)
            clips.append((label, f"{label}_{i + 1:04d}.mp4", images, truth))
        for i in range(held_out):
            images, truth = render_action_clip(label, _rng(seed + 7919, label, i), frames=frames, size=size,
                                               photos=test_pool)
            clips.append((label, f"test_{i + 1:04d}.mp4", images, truth))
    if held_out:
        lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
        for label, name, _, _ in clips:
            number = int(name.rsplit("_", 1)[1].split(".")[0])
            split = "test" if name.startswith("test_") else "val" if number > per_class - val else "train"
            lists[split].append(f"{label}/{name}")
        (root / "splits").mkdir(parents=True, exist_ok=True)
        for split, names in lists.items():
            (root / "splits" / f"{split}.txt").write_text("\n".join(names) + "\n")
    return _write(root, params, clips, fps)


def make_appearance_dataset(root: Path, per_class: int, *,
                            classes: Sequence[str] | Mapping[str, Sequence[str]] | None = None, frames: int = 16,
                            size: tuple[int, int] = (112, 112), fps: int | Fraction = 8, seed: int = 0) -> Path:
    """Write ``per_class`` clips of each appearance class (photos per class) under ``root``; returns ``root``.

    ``classes``: names from :data:`APPEARANCE_CLASSES`, or a mapping class -> photo file names;
    default: every built-in class whose photos are installed.
    """
    root = Path(root)
    _check(per_class, frames, size, fps)
    if classes is None:
        groups = {c: names for c, names in APPEARANCE_CLASSES.items() if _photos_named(names)}
    elif isinstance(classes, Mapping):
        groups = {c: tuple(names) for c, names in classes.items()}
    else:
        unknown = [c for c in classes if c not in APPEARANCE_CLASSES]
        if unknown:
            raise UsageError(f"unknown appearance class(es) {unknown}; known: {', '.join(APPEARANCE_CLASSES)}")
        groups = {c: APPEARANCE_CLASSES[c] for c in classes}
    photos = {c: _photos_named(names) for c, names in groups.items()}
    missing = [c for c, found in photos.items() if not found]
    if missing or len(groups) < 2:
        raise UsageError(f"need two or more classes with installed photos; none found for: {', '.join(missing)}")
    params = {"generator": GENERATOR_VERSION, "kind": "appearance",
              "classes": {c: [p.name for p in found] for c, found in photos.items()}, "per_class": per_class,
              "frames": frames, "size": list(size), "fps": str(Fraction(fps)), "seed": seed,
              "clips": per_class * len(groups)}
    if _reuse(root, params):
        return root
    clips = []
    for label, found in photos.items():
        for i in range(per_class):
            images, truth = render_appearance_clip(label, found, _rng(seed, label, i), frames=frames, size=size)
            clips.append((label, f"{label}_{i + 1:04d}.mp4", images, truth))
    return _write(root, params, clips, fps)
