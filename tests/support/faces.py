"""Videos with known faces: real face photos pasted along known paths over real backgrounds.

An anonymizer is judged on the frames a detector finds hard: a face entering or leaving through
the frame edge, a face briefly hidden by something passing in front, a face growing as it comes
closer. The scenes here are made of exactly those, with real faces (scikit-image's astronaut,
its ``lfw_subset`` faces (25x25 grey Labeled Faces in the Wild crops), opencv-doc's Messi) so a
real face detector can run on them, over texture photos without faces (brick, gravel, grass).

Each face is pasted with an elliptical alpha: fully opaque inside the ellipse inscribed in its box
(the ground-truth *face region*), fading out over a thin rim. The truth per frame and face is the
pasted box (unclipped, may reach past the frame edge); the occluders are stored too, so the metric
can tell which face pixels were on screen (:func:`visible_face_mask`).

:func:`simulated_face_tracks` turns the truth into what a face detector + tracker would write to
the timeline: boxes only every few frames, jittered, random misses, the first and last frames of
every appearance missed, nothing while mostly hidden.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlens.media.encode import encode_video

from .photos import OPENCV_DOC_DATA, load_photo, skimage_data_dir
from .tracks import BACKGROUNDS, _background, _photo_path

#: Crops (xyxy) of real faces in photos shipped by installed packages. ``lfw:N`` is face N of
#: scikit-image's ``lfw_subset.npy`` (its first 100 images are faces).
FACE_CROPS = {
    "astronaut": ("astronaut.png", (170, 45, 280, 185)),
    "messi": ("messi5.jpg", (221, 84, 259, 130)),
}
#: Rim of the pasted alpha outside the face ellipse (fraction of the semi-axes).
PASTE_RIM = 0.12
#: Grey levels of per-frame sensor noise, so no two frames are identical.
SENSOR_NOISE = 2.0


def face_names() -> list[str]:
    """Faces available on this machine: the named crops whose photo is installed, then LFW faces."""
    names = []
    for name, (photo, _) in FACE_CROPS.items():
        if any(root is not None and (root / photo).is_file() for root in (skimage_data_dir(), OPENCV_DOC_DATA)):
            names.append(name)
    if _lfw() is not None:
        names += [f"lfw:{i}" for i in range(100)]
    return names


@functools.lru_cache(maxsize=1)
def _lfw() -> np.ndarray | None:
    root = skimage_data_dir()
    path = root / "lfw_subset.npy" if root is not None else None
    return np.load(path) if path is not None and path.is_file() else None


@functools.lru_cache(maxsize=32)
def face_image(name: str) -> np.ndarray:
    """The face crop as RGB uint8 (LFW faces are grey, copied to three channels)."""
    if name.startswith("lfw:"):
        faces = _lfw()
        if faces is None:
            raise FileNotFoundError("scikit-image's lfw_subset.npy is not installed")
        grey = np.rint(faces[int(name[4:])] * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    photo, (x0, y0, x1, y1) = FACE_CROPS[name]
    return np.ascontiguousarray(load_photo(_photo_path(photo))[y0:y1, x0:x1])


def face_aspect(name: str) -> float:
    h, w = face_image(name).shape[:2]
    return w / h


@dataclass(frozen=True)
class FacePath:
    """One face moving linearly through ``keys`` = ``(frame, cx, cy, height)``; exists from the first
    key's frame to the last key's (inclusive)."""

    face: str
    keys: tuple[tuple[float, float, float, float], ...]

    def __post_init__(self) -> None:
        frames = [k[0] for k in self.keys]
        if len(frames) < 2 or any(b <= a for a, b in itertools.pairwise(frames)):
            raise ValueError("a face path needs at least two keys with increasing frames")

    def box_at(self, frame: int) -> np.ndarray | None:
        """The pasted rectangle (float xyxy, possibly past the frame edge), or None outside the path."""
        k = np.array(self.keys, np.float64)
        if frame < k[0, 0] or frame > k[-1, 0]:
            return None
        cx, cy, h = (np.interp(frame, k[:, 0], k[:, i]) for i in (1, 2, 3))
        w = h * face_aspect(self.face)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass(frozen=True)
class Occluder:
    """A texture rectangle ``xyxy`` (crop of ``photo``) drawn in front of the faces during ``[start, end)``;
    it slides by ``velocity`` (px/frame) from its position at ``start``."""

    xyxy: tuple[float, float, float, float]
    start: int
    end: int
    velocity: tuple[float, float] = (0.0, 0.0)
    photo: str = "coffee.png"

    def box_at(self, frame: int) -> np.ndarray | None:
        if not self.start <= frame < self.end:
            return None
        dx, dy = (frame - self.start) * self.velocity[0], (frame - self.start) * self.velocity[1]
        x0, y0, x1, y1 = self.xyxy
        return np.array([x0 + dx, y0 + dy, x1 + dx, y1 + dy])


@dataclass(frozen=True)
class FaceScene:
    name: str
    faces: tuple[FacePath, ...]
    frame_count: int
    occluders: tuple[Occluder, ...] = ()
    size: tuple[int, int] = (640, 360)
    fps: int = 25
    background: str = BACKGROUNDS[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FaceScene:
        faces = tuple(FacePath(f["face"], tuple(tuple(k) for k in f["keys"])) for f in d["faces"])
        occ = tuple(Occluder(tuple(o["xyxy"]), o["start"], o["end"], tuple(o["velocity"]), o["photo"])
                    for o in d.get("occluders", []))
        return FaceScene(d["name"], faces, d["frame_count"], occ, tuple(d["size"]), d["fps"], d["background"])


def ellipse_mask(box: Sequence[float], size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """Pixels (H x W bool) whose centre is inside the ellipse inscribed in ``box`` (semi-axes x ``scale``)."""
    w, h = size
    x0, y0, x1, y1 = box
    cx, cy, ax, ay = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 * scale, (y1 - y0) / 2 * scale
    ys = (np.arange(h) + 0.5 - cy) / ay
    xs = (np.arange(w) + 0.5 - cx) / ax
    return ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0


def visible_face_mask(scene: FaceScene, face: int, frame: int) -> np.ndarray | None:
    """Pixels of face ``face`` (index) on screen at ``frame``: its ellipse, minus occluders and nearer
    faces (later faces are drawn on top), clipped to the frame. None when the face is not on its path."""
    box = scene.faces[face].box_at(frame)
    if box is None:
        return None
    mask = ellipse_mask(box, scene.size)
    w, h = scene.size
    covers = [f.box_at(frame) for f in scene.faces[face + 1:]]
    for other in covers:  # a nearer face hides this one where its pasted (opaque) ellipse is
        if other is not None:
            mask &= ~ellipse_mask(other, scene.size)
    for occluder in scene.occluders:
        o = occluder.box_at(frame)
        if o is not None:
            x0, y0 = max(0, round(o[0])), max(0, round(o[1]))
            x1, y1 = min(w, round(o[2])), min(h, round(o[3]))
            if x1 > x0 and y1 > y0:
                mask[y0:y1, x0:x1] = False
    return mask


def render(scene: FaceScene, seed: int = 0) -> Iterator[np.ndarray]:
    """The scene's RGB frames, one at a time (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    bg = _background(scene.background, scene.size).astype(np.float32)
    for f in range(scene.frame_count):
        frame = bg.copy()
        for path in scene.faces:
            box = path.box_at(f)
            if box is not None:
                _paste(frame, face_image(path.face), box)
        for occluder in scene.occluders:
            o = occluder.box_at(f)
            if o is not None:
                _paste_rect(frame, _occluder_texture(occluder.photo), o)
        frame += rng.normal(0, SENSOR_NOISE, frame.shape).astype(np.float32)
        yield np.clip(frame, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _occluder_texture(photo: str) -> np.ndarray:
    return load_photo(_photo_path(photo))


def _window(box: np.ndarray, w: int, h: int) -> tuple[int, int, int, int, int, int] | None:
    x0, y0, x1, y1 = (int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])), int(np.ceil(box[3])))
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    return cx0, cy0, cx1, cy1, x0, y0


def _paste(frame: np.ndarray, face: np.ndarray, box: np.ndarray) -> None:
    """Paste ``face`` resized to ``box`` with an elliptical alpha (opaque inside the inscribed ellipse)."""
    h, w = frame.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    # the pasted window grows by the rim so the ellipse's soft edge has room
    grow = np.array([-bw, -bh, bw, bh]) * PASTE_RIM / 2
    outer = box + grow
    win = _window(outer, w, h)
    if win is None:
        return
    cx0, cy0, cx1, cy1, x0, y0 = win
    full_w, full_h = int(np.ceil(outer[2])) - x0, int(np.ceil(outer[3])) - y0
    # resample the face so that its crop maps onto ``box`` exactly (sub-pixel), rim included
    sx, sy = face.shape[1] / bw, face.shape[0] / bh
    m = np.array([[sx, 0, (x0 - box[0]) * sx], [0, sy, (y0 - box[1]) * sy]], np.float32)
    warped = cv2.warpAffine(face, m, (full_w, full_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    ys = (np.arange(y0, y0 + full_h) + 0.5 - (box[1] + box[3]) / 2) / (bh / 2)
    xs = (np.arange(x0, x0 + full_w) + 0.5 - (box[0] + box[2]) / 2) / (bw / 2)
    r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    alpha = np.clip((1 + PASTE_RIM - r) / PASTE_RIM, 0, 1)[..., None]
    ox, oy = cx0 - x0, cy0 - y0
    a = alpha[oy:oy + cy1 - cy0, ox:ox + cx1 - cx0]
    src = warped[oy:oy + cy1 - cy0, ox:ox + cx1 - cx0].astype(np.float32)
    frame[cy0:cy1, cx0:cx1] = a * src + (1 - a) * frame[cy0:cy1, cx0:cx1]


def _paste_rect(frame: np.ndarray, texture: np.ndarray, box: np.ndarray) -> None:
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(0, round(box[0])), max(0, round(box[1])), min(w, round(box[2])), min(h, round(box[3]))
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = cv2.resize(texture, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)


# --- truth ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceTruth:
    """The scene plus, per frame and face, the pasted box and the on-screen fraction of its face ellipse.

    Face ids are 1 + the face's index in the scene (a face leaving and coming back keeps its id).
    """

    scene: FaceScene
    rows: list[tuple[int, int, list[float], float]] = field(default_factory=list)  # frame, id, box, visible

    @property
    def face_frames(self) -> int:
        return sum(1 for r in self.rows if r[3] > 0)

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene.to_dict(), "rows": [[f, i, [round(v, 3) for v in b], round(v, 4)]
                                                        for f, i, b, v in self.rows]}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FaceTruth:
        return FaceTruth(FaceScene.from_dict(d["scene"]), [(r[0], r[1], r[2], r[3]) for r in d["rows"]])


def scene_truth(scene: FaceScene) -> FaceTruth:
    """Every (frame, face) with its box and visible fraction (0 when fully hidden or off screen)."""
    rows = []
    for f in range(scene.frame_count):
        for i, path in enumerate(scene.faces):
            box = path.box_at(f)
            if box is None:
                continue
            visible = visible_face_mask(scene, i, f)
            area = float(np.pi * (box[2] - box[0]) * (box[3] - box[1]) / 4)
            rows.append((f, i + 1, box.tolist(), float(visible.sum()) / max(area, 1.0)))
    return FaceTruth(scene, rows)


def truth_path_for(video: Path) -> Path:
    return video.with_name(video.name + ".faces.json")


def write_face_scene(scene: FaceScene, path: str | Path, seed: int = 0, *, tone_hz: float | None = 440.0
                     ) -> tuple[Path, FaceTruth]:
    """Encode the scene (H.264, with a tone so audio can be checked) and its truth to ``<path>.faces.json``."""
    path = Path(path)
    encode_video(path, render(scene, seed), fps=Fraction(scene.fps), tone_hz=tone_hz)
    truth = scene_truth(scene)
    truth_path_for(path).write_text(json.dumps(truth.to_dict()) + "\n")
    return path, truth


def load_face_truth(video: str | Path) -> FaceTruth:
    return FaceTruth.from_dict(json.loads(truth_path_for(Path(video)).read_text()))


# --- what a detector + tracker would say ------------------------------------------------------


@dataclass(frozen=True)
class FaceDetectorMisses:
    """How the simulated face detector fails: it runs every ``every`` frames, misses ``miss_rate`` of
    them at random, misses the first and last ``edge_frames`` frames of every appearance, finds
    nothing while less than ``min_visible`` of the face is on screen, and jitters boxes by
    ``jitter`` of their size. ``max_gap`` is the tracker's bridging limit written to the tracks."""

    every: int = 2
    miss_rate: float = 0.15
    edge_frames: int = 3
    min_visible: float = 0.6
    jitter: float = 0.04
    max_gap: int = 6


def simulated_face_tracks(truth: FaceTruth, rng: np.random.Generator,
                          misses: FaceDetectorMisses = FaceDetectorMisses()) -> list[dict[str, Any]]:
    """Timeline ``faces`` tracks (the ``objects`` track format, class ``face``) from the truth with misses."""
    by_face: dict[int, list[tuple[int, list[float], float]]] = {}
    for f, fid, box, vis in truth.rows:
        by_face.setdefault(fid, []).append((f, box, vis))
    tracks = []
    for fid, rows in sorted(by_face.items()):
        seen = [(f, box) for f, box, vis in rows if vis >= misses.min_visible]
        # appearances: runs of consecutive detectable frames; their ends are missed
        runs: list[list[tuple[int, list[float]]]] = []
        for f, box in seen:
            if runs and f == runs[-1][-1][0] + 1:
                runs[-1].append((f, box))
            else:
                runs.append([(f, box)])
        kept = []
        for run in runs:
            inner = run[misses.edge_frames:len(run) - misses.edge_frames]
            kept += [(f, box) for f, box in inner if f % misses.every == 0 and rng.random() >= misses.miss_rate]
        if not kept:
            continue
        out_rows = []
        for f, box in kept:
            b = np.array(box)
            wh = np.r_[b[2:] - b[:2], b[2:] - b[:2]]
            j = b + rng.normal(0, misses.jitter, 4) * wh
            out_rows.append([int(f), *np.round(j, 1).tolist(), round(float(rng.uniform(0.6, 0.95)), 3)])
        tracks.append({"id": fid, "class": "face", "start": {"frame": out_rows[0][0]},
                       "end": {"frame": out_rows[-1][0] + 1}, "confidence": 0.8, "max_gap": misses.max_gap,
                       "boxes": out_rows})
    return tracks


# --- scenes -----------------------------------------------------------------------------------


def _faces(seed: int, n: int) -> list[str]:
    names = face_names()
    named = [n for n in names if not n.startswith("lfw:")]
    lfw = [n for n in names if n.startswith("lfw:")]
    rng = np.random.default_rng(seed)
    picked = named + [lfw[i] for i in rng.permutation(len(lfw))[:n]] if lfw else named
    return [picked[(seed + k) % len(picked)] for k in range(n)]


def walk_scene(seed: int = 0, frame_count: int = 90) -> FaceScene:
    """Two faces cross the frame edge to edge (entry and exit through the sides); a pole hides one briefly;
    a third comes closer (grows) in the middle."""
    rng = np.random.default_rng(seed)
    a, b, c = _faces(seed, 3)
    end = frame_count - 1
    y1, y2 = rng.uniform(90, 140), rng.uniform(210, 260)
    left = FacePath(a, ((0, -60, y1, 110), (end, 700, y1 + rng.uniform(-20, 20), 110)))
    right = FacePath(b, ((8, 700, y2, 80), (end, -50, y2 - 20, 80)))
    grow = FacePath(c, ((10, 330, 200, 50), (end - 10, 350, 180, 150)))
    pole_x = rng.uniform(220, 300)
    pole = Occluder((pole_x, 0, pole_x + 40, 360), 0, frame_count)
    return FaceScene(f"walk{seed}", (grow, left, right), frame_count, (pole,), background=BACKGROUNDS[seed % 3])


def passerby_scene(seed: int = 0, frame_count: int = 90) -> FaceScene:
    """Faces standing still while a wide board slides across them (each hidden for ~half a second),
    and a small distant face near the top edge that pops in and out."""
    rng = np.random.default_rng(seed)
    a, b, c = _faces(seed + 7, 3)
    still1 = FacePath(a, ((0, 180, 180, 130), (frame_count - 1, 185, 182, 130)))
    still2 = FacePath(b, ((0, 460, 190, 100), (frame_count - 1, 455, 195, 104)))
    small = FacePath(c, ((20, 560, 20, 36), (frame_count - 30, 600, 28, 36)))
    speed = rng.uniform(9, 12)
    board = Occluder((-160, 60, 0, 330), 10, frame_count, (speed, 0.0))
    return FaceScene(f"passerby{seed}", (still1, still2, small), frame_count, (board,),
                     background=BACKGROUNDS[(seed + 1) % 3])


def standard_face_scenes(seeds: Sequence[int] = (0, 1), frame_count: int = 90) -> list[FaceScene]:
    """The benchmark set: a walk and a passer-by scene per seed."""
    return [make(seed, frame_count) for seed in seeds for make in (walk_scene, passerby_scene)]
