"""Videos with known object tracks: real object crops pasted along known paths over real photos.

A tracker is judged on what it does when objects cross, hide behind one another and leave the
frame and come back, so those are what the scenes here are made of. The objects are rectangular
crops of real photos (scikit-image's astronaut, motorcycle, cat and coffee cup: COCO classes
person, motorcycle, cat, cup), so a real detector can later be run on the same videos; the
backgrounds are texture photos without COCO objects in them (brick, gravel, grass...).

The ground truth is exact by construction: each object's box is the rectangle it was pasted into,
clipped to the frame, with its *visibility* (the fraction of the sprite not hidden by nearer
objects or the frame edge). Fully hidden objects are kept out of the truth rows (no pixel of them
is in the video). Everything is deterministic from the scene (and a seed for the noise).

:func:`noisy_detections` turns the truth into what a detector would plausibly say (jittered boxes,
misses, low scores when partly hidden, one-frame false positives), for testing trackers without
a detector.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidlens.media.encode import encode_video
from vidlens.objects.types import COCO80, Detections

from .photos import OPENCV_DOC_DATA, load_photo, skimage_data_dir


@dataclass(frozen=True)
class Sprite:
    """A crop ``xyxy`` of a photo (scikit-image data file) showing one COCO object."""

    photo: str
    xyxy: tuple[int, int, int, int]
    label: str

    @property
    def class_id(self) -> int:
        return COCO80.index(self.label)

    @property
    def aspect(self) -> float:
        x0, y0, x1, y1 = self.xyxy
        return (x1 - x0) / (y1 - y0)


SPRITES = {
    "astronaut": Sprite("astronaut.png", (20, 10, 370, 512), "person"),
    "motorcycle": Sprite("motorcycle_left.png", (90, 95, 690, 455), "motorcycle"),
    "cat": Sprite("chelsea.png", (20, 0, 430, 300), "cat"),
    "cup": Sprite("coffee.png", (170, 15, 420, 310), "cup"),
}

# Texture photos with no COCO object in them; the first one installed is the default.
BACKGROUNDS = ("brick.png", "gravel.png", "grass.png", "building.jpg")


@dataclass(frozen=True)
class ObjectPath:
    """One object: a sprite moving through ``keys`` = ``(frame, cx, cy, height)`` points, linearly.

    The object exists from the first key's frame to the last key's frame (inclusive); ``depth``
    orders the drawing (larger = nearer the camera, drawn on top).
    """

    sprite: str
    keys: tuple[tuple[float, float, float, float], ...]
    depth: int = 0

    def __post_init__(self) -> None:
        if self.sprite not in SPRITES:
            raise ValueError(f"unknown sprite {self.sprite!r}; known: {', '.join(SPRITES)}")
        frames = [k[0] for k in self.keys]
        if len(frames) < 2 or any(b <= a for a, b in itertools.pairwise(frames)):
            raise ValueError("an object path needs at least two keys with increasing frames")

    def box_at(self, frame: int) -> np.ndarray | None:
        """The pasted rectangle (integer xyxy, possibly outside the frame), or None outside the path."""
        k = np.array(self.keys, np.float64)
        if frame < k[0, 0] or frame > k[-1, 0]:
            return None
        cx, cy, h = (np.interp(frame, k[:, 0], k[:, i]) for i in (1, 2, 3))
        w = h * SPRITES[self.sprite].aspect
        return np.round([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]).astype(np.int64)


@dataclass(frozen=True)
class TrackScene:
    name: str
    objects: tuple[ObjectPath, ...]
    frame_count: int
    size: tuple[int, int] = (640, 360)
    fps: int = 25
    background: str = BACKGROUNDS[0]
    sensor_noise: float = 2.0  # grey levels of per-frame Gaussian noise, so no two frames are identical

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GroundTruth:
    """Rows of (frame, id, class, box, visibility); ids are 1 + the object's index in the scene."""

    frames: np.ndarray
    ids: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    visibility: np.ndarray
    frame_count: int
    fps: int

    def at(self, frame: int) -> GroundTruth:
        rows = self.frames == frame
        return GroundTruth(self.frames[rows], self.ids[rows], self.classes[rows], self.boxes[rows],
                           self.visibility[rows], self.frame_count, self.fps)

    def detections(self, frame: int) -> Detections:
        """The exact truth at ``frame`` as Detections (score 1, ``track_ids`` = object ids)."""
        t = self.at(frame)
        return Detections(t.boxes, np.ones(len(t.ids)), t.classes, t.ids)

    def to_dict(self) -> dict:
        return {"frame_count": self.frame_count, "fps": self.fps,
                "rows": [[int(f), int(i), int(c), [float(v) for v in b], round(float(v), 4)]
                         for f, i, c, b, v in zip(self.frames, self.ids, self.classes, self.boxes, self.visibility)]}

    @staticmethod
    def from_dict(d: dict) -> GroundTruth:
        rows = d["rows"]
        return GroundTruth(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                           np.array([r[2] for r in rows], np.int32),
                           np.array([r[3] for r in rows], np.float32).reshape(-1, 4),
                           np.array([r[4] for r in rows], np.float32), d["frame_count"], d["fps"])


def _boxes_at(scene: TrackScene, frame: int) -> list[np.ndarray | None]:
    return [o.box_at(frame) for o in scene.objects]


def scene_truth(scene: TrackScene) -> GroundTruth:
    """The exact ground truth of a scene, computed from geometry alone (no rendering)."""
    w, h = scene.size
    rows: list[tuple[int, int, int, np.ndarray, float]] = []
    order = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].depth)
    for f in range(scene.frame_count):
        boxes = _boxes_at(scene, f)
        covered = np.zeros((h, w), bool)
        visible_px: dict[int, int] = {}
        for i in reversed(order):  # nearest first: what it covers is hidden from the ones behind
            b = boxes[i]
            if b is None:
                continue
            x0, y0, x1, y1 = max(b[0], 0), max(b[1], 0), min(b[2], w), min(b[3], h)
            if x1 <= x0 or y1 <= y0:
                continue
            region = covered[y0:y1, x0:x1]
            visible_px[i] = int((~region).sum())
            region[:] = True
        for i, b in enumerate(boxes):
            if b is None or visible_px.get(i, 0) == 0:
                continue
            clipped = np.array([max(b[0], 0), max(b[1], 0), min(b[2], w), min(b[3], h)], np.float32)
            area = float((b[2] - b[0]) * (b[3] - b[1]))
            rows.append((f, i + 1, SPRITES[scene.objects[i].sprite].class_id, clipped, visible_px[i] / area))
    if not rows:
        empty = np.zeros(0)
        return GroundTruth(empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int32),
                           np.zeros((0, 4), np.float32), empty.astype(np.float32), scene.frame_count, scene.fps)
    f, i, c, b, v = zip(*rows)
    return GroundTruth(np.array(f, np.int64), np.array(i, np.int64), np.array(c, np.int32),
                       np.array(b, np.float32), np.array(v, np.float32), scene.frame_count, scene.fps)


def _photo_path(name: str) -> Path:
    for root in (skimage_data_dir(), OPENCV_DOC_DATA):
        if root is not None and (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"photo {name} not found (scikit-image data or opencv-doc examples)")


@functools.lru_cache(maxsize=8)
def _sprite_image(name: str) -> np.ndarray:
    s = SPRITES[name]
    x0, y0, x1, y1 = s.xyxy
    return np.ascontiguousarray(load_photo(_photo_path(s.photo))[y0:y1, x0:x1])


@functools.lru_cache(maxsize=4)
def _background(name: str, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    rgb = load_photo(_photo_path(name))
    scale = max(w / rgb.shape[1], h / rgb.shape[0])
    big = cv2.resize(rgb, (max(w, round(rgb.shape[1] * scale)), max(h, round(rgb.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    out = np.ascontiguousarray(big[y : y + h, x : x + w])
    out.setflags(write=False)
    return out


def scene_frames(scene: TrackScene, seed: int = 0) -> Iterator[np.ndarray]:
    """The scene's RGB frames, rendered one at a time (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    w, h = scene.size
    bg = _background(scene.background, scene.size).astype(np.float32)
    order = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].depth)
    for f in range(scene.frame_count):
        frame = bg.copy()
        for i in order:
            b = scene.objects[i].box_at(f)
            if b is None or b[2] <= 0 or b[3] <= 0 or b[0] >= w or b[1] >= h:
                continue
            bw, bh = int(b[2] - b[0]), int(b[3] - b[1])
            sprite = cv2.resize(_sprite_image(scene.objects[i].sprite), (bw, bh), interpolation=cv2.INTER_AREA)
            x0, y0 = max(b[0], 0), max(b[1], 0)
            x1, y1 = min(b[2], w), min(b[3], h)
            frame[y0:y1, x0:x1] = sprite[y0 - b[1] : y1 - b[1], x0 - b[0] : x1 - b[0]]
        if scene.sensor_noise > 0:
            frame += rng.normal(0, scene.sensor_noise, frame.shape).astype(np.float32)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def truth_path_for(video: Path) -> Path:
    return video.with_name(video.name + ".tracks.json")


def write_scene(scene: TrackScene, path: str | Path, seed: int = 0) -> tuple[Path, GroundTruth]:
    """Encode the scene (H.264) to ``path`` and its truth to ``<path>.tracks.json``; returns both."""
    path = Path(path)
    encode_video(path, scene_frames(scene, seed), fps=Fraction(scene.fps))
    truth = scene_truth(scene)
    truth_path_for(path).write_text(json.dumps({"scene": scene.to_dict(), "seed": seed, **truth.to_dict()}) + "\n")
    return path, truth


def load_truth(video: str | Path) -> GroundTruth:
    return GroundTruth.from_dict(json.loads(truth_path_for(Path(video)).read_text()))


@dataclass(frozen=True)
class DetectorNoise:
    """How far the simulated detector is from the truth.

    ``box_jitter`` is the std of each corner's error as a fraction of the box size; objects less
    visible than ``min_visibility`` are not detected, others are missed with ``miss_rate``; scores
    fall with visibility (a half-hidden object scores lower: ByteTrack's premise); false positives
    come ``false_positives`` per frame on average (Poisson), one frame each, with scores mostly
    below a tracker's high threshold.
    """

    box_jitter: float = 0.04
    miss_rate: float = 0.08
    min_visibility: float = 0.25
    false_positives: float = 0.3
    class_flip_rate: float = 0.0


def noisy_detections(truth: GroundTruth, frame: int, rng: np.random.Generator, size: tuple[int, int],
                     noise: DetectorNoise = DetectorNoise()) -> Detections:
    """What a plausible detector would output at ``frame`` (no ``track_ids``)."""
    t = truth.at(frame)
    keep = (t.visibility >= noise.min_visibility) & (rng.random(len(t.ids)) >= noise.miss_rate)
    boxes, vis, classes = t.boxes[keep].astype(np.float64), t.visibility[keep], t.classes[keep].copy()
    wh = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    boxes = boxes + rng.normal(0, noise.box_jitter, boxes.shape) * wh
    scores = np.clip(0.3 + 0.6 * vis + rng.normal(0, 0.08, len(vis)), 0.05, 0.99)
    flips = rng.random(len(classes)) < noise.class_flip_rate
    classes[flips] = rng.integers(0, len(COCO80), int(flips.sum()))
    n_fp = int(rng.poisson(noise.false_positives))
    w, h = size
    fp_wh = rng.uniform(30, 140, (n_fp, 2))
    fp_xy = rng.uniform(0, 1, (n_fp, 2)) * (np.array([w, h]) - fp_wh)
    fp_boxes = np.concatenate([fp_xy, fp_xy + fp_wh], axis=1)
    fp_classes = rng.choice(np.unique(truth.classes), n_fp) if len(truth.classes) else np.zeros(n_fp, np.int32)
    fp_scores = np.clip(rng.normal(0.35, 0.15, n_fp), 0.05, 0.9)
    return Detections(np.concatenate([boxes, fp_boxes]).astype(np.float32), np.concatenate([scores, fp_scores]),
                      np.concatenate([classes, fp_classes]))


# --- scenes ---------------------------------------------------------------------------------


def crossing_scene(seed: int = 0, frame_count: int = 100) -> TrackScene:
    """Two people walking towards each other; the nearer one hides the other as they pass."""
    rng = np.random.default_rng(seed)
    y = 200 + rng.uniform(-20, 20)
    dy = rng.uniform(10, 30)
    end = frame_count - 1
    a = ObjectPath("astronaut", ((0, 80, y, 150), (end, 560, y + dy, 150)), depth=1)
    b = ObjectPath("astronaut", ((0, 560, y - dy, 130), (end, 80, y, 130)), depth=0)
    cup = ObjectPath("cup", ((0, 560, 300, 60), (end, 540, 300, 60)), depth=2)
    return TrackScene(f"crossing{seed}", (a, b, cup), frame_count, background=BACKGROUNDS[seed % 3])


def occlusion_scene(seed: int = 0, frame_count: int = 100) -> TrackScene:
    """A cat walks behind a parked motorcycle (hidden for about a second) and out the other side."""
    rng = np.random.default_rng(seed)
    speed = rng.uniform(5.5, 7.5)  # pixels per frame
    moto = ObjectPath("motorcycle", ((0, 330, 220, 130), (frame_count - 1, 330, 220, 130)), depth=2)
    cat = ObjectPath("cat", ((0, 60, 215, 70), (frame_count - 1, 60 + speed * (frame_count - 1), 225, 70)), depth=1)
    return TrackScene(f"occlusion{seed}", (moto, cat), frame_count, background=BACKGROUNDS[(seed + 1) % 3])


def exit_return_scene(seed: int = 0, frame_count: int = 125) -> TrackScene:
    """A motorcycle drives out of the right edge and comes back; a person stands by."""
    rng = np.random.default_rng(seed)
    y = 230 + rng.uniform(-15, 15)
    turn = frame_count // 2
    moto = ObjectPath("motorcycle", ((0, 250, y, 110), (turn, 850, y, 110), (frame_count - 1, 420, y + 10, 110)),
                      depth=1)
    person = ObjectPath("astronaut", ((0, 100, 190, 160), (frame_count - 1, 130, 190, 160)), depth=0)
    return TrackScene(f"exit_return{seed}", (moto, person), frame_count, background=BACKGROUNDS[(seed + 2) % 3])


def crowd_scene(seed: int = 0, frame_count: int = 150, n_objects: int = 6) -> TrackScene:
    """Objects on random straight paths across the frame: many crossings, same-class pairs included."""
    rng = np.random.default_rng(seed)
    names = list(SPRITES)
    w, h = 640, 360
    objects = []
    for k in range(n_objects):
        sprite = names[k % len(names)] if k < len(names) else names[int(rng.integers(len(names)))]
        height = float(rng.uniform(60, 130))
        start = (rng.uniform(0, w), rng.uniform(height / 2, h - height / 2))
        end = (rng.uniform(0, w), rng.uniform(height / 2, h - height / 2))
        f0 = int(rng.integers(0, frame_count // 3))
        keys = ((f0, *start, height), (frame_count - 1, *end, height * rng.uniform(0.8, 1.25)))
        objects.append(ObjectPath(sprite, keys, depth=k))
    return TrackScene(f"crowd{seed}", tuple(objects), frame_count, background=BACKGROUNDS[seed % 3])


def standard_scenes(seed: int = 0) -> list[TrackScene]:
    """The benchmark set: one of each scenario, plus two crowds."""
    return [crossing_scene(seed), occlusion_scene(seed), exit_return_scene(seed), crowd_scene(seed),
            crowd_scene(seed + 1, n_objects=8)]
