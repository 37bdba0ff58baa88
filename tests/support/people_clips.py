"""Real human motion with ground truth: opencv-doc's ``vtest.avi`` pedestrians cut into person-track clips.

``vtest.avi`` (768x576, 10 fps, 79.5 s) is a static camera over a pedestrian precinct: people walk left and
right across it, some stand and talk. :func:`make_people_dataset` turns it into a class-folder dataset that
``vidlens train`` reads (``root/walking_left/vtest_t012_f0240.mp4``):

1. **Tracks** come from vidlens' own shipped pipeline, exactly as a user gets them:
   :func:`vidlens.api.track_objects` with ``classes=["person"]`` (NanoDet + the ByteTrack-style tracker, boxes
   interpolated between detector runs). They are stored in ``tracks.json`` and reused while the video and
   range are the same, so changing a threshold below does not re-run detection.
2. **Clips**: each track is cut into windows of ``clip_s`` seconds (default 2 s = 20 frames) every
   ``stride_s`` (default 1 s: consecutive clips of a track overlap by half). A window is kept only where the
   track has a box on every frame, no box touches the frame border (a person half out of view has a box whose
   centre moves as they emerge), and no other person's box overlaps it (IoU > :data:`OVERLAP_IOU` on a quarter
   of its frames or more: occlusions and groups make the subject ambiguous).
3. **Labels** from the track's horizontal speed ``vx`` and vertical speed ``vy``: least-squares slopes of
   the box centre over the clip's frames, in *median box widths per second* (a unit that does not depend on
   how far the person is from the camera). A walking adult covers about 1.3 m/s, some 3 shoulder widths per
   second when crossing the view square on; standing still, detector jitter stays well under 0.1 width/s.
   So (:func:`motion_label`):

   * ``walking_left`` / ``walking_right``: ``|vx| >= WALK_SPEED`` (0.5 widths/s) and the motion mostly
     horizontal (``|vx| >= 2 |vy|``); the sign of ``vx`` says which (image left / right);
   * ``standing``: ``|vx| <= STAND_SPEED`` and ``|vy| <= STAND_SPEED`` (0.12 widths/s);
   * anything else (slow shuffles, walking towards or away from the camera, turning) is *dropped*, and
     counted in ``generator.json`` under ``dropped``.
4. **Pixels**: a fixed square window per clip (it does not follow the person: a static camera), centred on
   the middle of the person's path over the clip, ``CROP_HEIGHTS`` times the person's median box height on a
   side (so a person is the same size in every clip, walking or not), black where it leaves the frame,
   resized to ``size`` px and written at the video's own 10 fps. Other people crossing the window stay in it.

``clips.csv`` lists every clip (``path,label`` first, so it is also a manifest) with its ``track`` id, frame
range, speeds and window; :func:`write_track_splits` writes ``split_train.txt`` / ``split_val.txt`` /
``split_test.txt`` that keep all clips of one track in one split (``vidlens train ROOT --splits
ROOT/split_train.txt,ROOT/split_val.txt,ROOT/split_test.txt``): clips of one walk overlap in who and where,
so splitting them across train and test would leak.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlens.boxes import box_iou_matrix, padded_square
from vidlens.errors import UsageError
from vidlens.media import FrameSpec
from vidlens.media.encode import encode_video
from vidlens.media.images import contact_sheet
from vidlens.objects.tracks import track_box_at
from vidlens.timebase import TimeSpec
from vidlens.train.sampling import decode_clip

from .samples import vtest

GENERATOR_VERSION = "vidlens-people/1"  # bump when cutting or labelling changes: reused datasets are keyed on it
PEOPLE_CLASSES = ("standing", "walking_left", "walking_right")
CLIPS_FILE = "clips.csv"
TRACKS_FILE = "tracks.json"
PARAMS_FILE = "generator.json"
SPLIT_FILES = {"train": "split_train.txt", "val": "split_val.txt", "test": "split_test.txt"}

#: At least this horizontal speed (median box widths per second) is walking.
WALK_SPEED = 0.5
#: At most this speed on both axes (box widths per second) is standing.
STAND_SPEED = 0.12
#: Walking must be mostly sideways: ``|vx| >= HORIZONTAL_RATIO * |vy|``.
HORIZONTAL_RATIO = 2.0
#: Window side in median person-box heights.
CROP_HEIGHTS = 2.0
#: Another person's box overlapping the subject's this much (IoU) ...
OVERLAP_IOU = 0.2
#: ... on at least this share of the clip's frames drops the clip.
OVERLAP_SHARE = 0.25
#: A box closer than this (pixels) to the frame border touches it.
BORDER_PX = 2.0


@dataclass(frozen=True)
class PersonClip:
    """One clip: where it is written, its label, the track it comes from and why it got that label."""

    path: str  # relative to the dataset root
    label: str
    track: int
    start_frame: int  # first frame of the clip in the video (presentation index)
    end_frame: int  # first frame after it
    vx: float  # box widths per second, + = to the right of the image
    vy: float  # box widths per second, + = down the image
    box_height: float  # median, video pixels
    x0: float  # the window: top-left corner and side, video pixels
    y0: float
    side: float


def motion_label(vx: float, vy: float) -> str | None:
    """``walking_left`` / ``walking_right`` / ``standing`` from speeds in box widths per second; None = ambiguous."""
    if abs(vx) <= STAND_SPEED and abs(vy) <= STAND_SPEED:
        return "standing"
    if abs(vx) >= WALK_SPEED and abs(vx) >= HORIZONTAL_RATIO * abs(vy):
        return "walking_right" if vx > 0 else "walking_left"
    return None


def person_tracks(video: Path, start_frame: int = 0, end_frame: int | None = None,
                  cache: Path | None = None) -> tuple[list[dict[str, Any]], tuple[int, int], float]:
    """Person tracks of ``video`` in ``[start_frame, end_frame)`` from vidlens' objects pipeline.

    Returns the timeline's track dicts, the frame size (width, height) and the frame rate. With ``cache``
    (a JSON file) the result is read from there when it was made from the same file and range.
    """
    from vidlens import api

    key = {"generator": GENERATOR_VERSION, "video": _file_key(video), "start": start_frame, "end": end_frame}
    if cache is not None and cache.is_file():
        try:
            stored = json.loads(cache.read_text())
            if stored.get("key") == key:
                return stored["tracks"], tuple(stored["size"]), float(stored["fps"])
        except (OSError, ValueError, KeyError):
            pass
    timeline = api.track_objects(video, classes=["person"], start=TimeSpec(frames=start_frame),
                                 end=None if end_frame is None else TimeSpec(frames=end_frame))
    tracks = [t for t in timeline["objects"] if t["class"] == "person"]
    size = (int(timeline.video["width"]), int(timeline.video["height"]))
    fps = float(timeline.video["fps"])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "size": size, "fps": fps, "tracks": tracks}) + "\n")
    return tracks, size, fps


def _file_key(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:16]


def plan_clips(tracks: list[dict[str, Any]], frame_size: tuple[int, int], fps: float, *, clip_frames: int,
               stride_frames: int) -> tuple[list[PersonClip], dict[str, int]]:
    """The clips to cut (no pixels yet) and how many windows were dropped, by reason."""
    width, height = frame_size
    dropped: dict[str, int] = defaultdict(int)
    clips: list[PersonClip] = []
    seconds = np.arange(clip_frames) / fps
    for track in tracks:
        first, last = int(track["boxes"][0][0]), int(track["boxes"][-1][0])
        others = [t for t in tracks if t is not track and t["boxes"][0][0] <= last and t["boxes"][-1][0] >= first]
        for start in range(first, last - clip_frames + 2, stride_frames):
            frames = range(start, start + clip_frames)
            found = [track_box_at(track, f) for f in frames]
            if any(b is None for b in found):
                dropped["track gap"] += 1
                continue
            boxes = np.stack(found).astype(np.float64)
            if (boxes[:, :2].min() < BORDER_PX or boxes[:, 2].max() > width - BORDER_PX
                    or boxes[:, 3].max() > height - BORDER_PX):
                dropped["at the frame border"] += 1
                continue
            if _overlapped(boxes, others, frames):
                dropped["overlaps another person"] += 1
                continue
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            w = float(np.median(boxes[:, 2] - boxes[:, 0]))
            h = float(np.median(boxes[:, 3] - boxes[:, 1]))
            vx = float(np.polyfit(seconds, cx, 1)[0]) / w
            vy = float(np.polyfit(seconds, cy, 1)[0]) / w
            label = motion_label(vx, vy)
            if label is None:
                dropped["ambiguous motion"] += 1
                continue
            side = CROP_HEIGHTS * h
            mx, my = (cx.min() + cx.max()) / 2, (cy.min() + cy.max()) / 2
            name = f"{label}/vtest_t{int(track['id']):03d}_f{start:04d}.mp4"
            clips.append(PersonClip(name, label, int(track["id"]), start, start + clip_frames, round(vx, 3),
                                    round(vy, 3), round(h, 1), round(mx - side / 2, 1), round(my - side / 2, 1),
                                    round(side, 1)))
    return clips, dict(dropped)


def _overlapped(boxes: np.ndarray, others: list[dict[str, Any]], frames: range) -> bool:
    hits = 0
    for i, frame in enumerate(frames):
        near = [b for t in others if (b := track_box_at(t, frame)) is not None]
        if near and float(box_iou_matrix(boxes[i: i + 1], np.stack(near)).max()) > OVERLAP_IOU:
            hits += 1
    return hits >= OVERLAP_SHARE * len(frames)


def window_crop(frame: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """The square ``(x0, y0, side)`` of ``frame`` (black outside it) resized to ``size`` x ``size``."""
    return padded_square(frame, round(x0), round(y0), max(1, round(side)), size)


def make_people_dataset(root: Path, video: Path | None = None, *, start_frame: int = 0, end_frame: int | None = None,
                        clip_s: float = 2.0, stride_s: float | None = 1.0, size: int = 160) -> Path:
    """Write the person-track clips of ``video`` (default ``vtest.avi``) under ``root``; returns ``root``.

    ``[start_frame, end_frame)`` limits the part of the video used (tests take a few seconds). Raises
    ``UsageError`` when the video is not installed. A second call with the same parameters reuses the files.
    """
    root = Path(root)
    video = video or vtest()
    if video is None or not Path(video).is_file():
        raise UsageError("vtest.avi is not installed (Debian package opencv-doc)")
    if clip_s <= 0 or (stride_s is not None and stride_s <= 0) or size < 16 or size % 2:
        raise UsageError(f"need clip_s > 0, stride_s > 0 and an even size >= 16, got {clip_s}, {stride_s}, {size}")
    params: dict[str, Any] = {"generator": GENERATOR_VERSION, "video": Path(video).name, "start_frame": start_frame,
                              "end_frame": end_frame, "clip_s": clip_s, "stride_s": stride_s, "size": size,
                              "walk_speed": WALK_SPEED, "stand_speed": STAND_SPEED, "crop_heights": CROP_HEIGHTS}
    if _reuse(root, params):
        return root
    for label in PEOPLE_CLASSES:  # clips of an earlier call with other parameters must not stay in the classes
        for stale in (root / label).glob("*.mp4"):
            stale.unlink()
    tracks, frame_size, fps = person_tracks(Path(video), start_frame, end_frame, root / TRACKS_FILE)
    clip_frames = max(2, round(clip_s * fps))
    stride_frames = max(1, round((stride_s or clip_s) * fps))
    clips, dropped = plan_clips(tracks, frame_size, fps, clip_frames=clip_frames, stride_frames=stride_frames)
    by_frame: dict[int, list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        for f in range(clip.start_frame, clip.end_frame):
            by_frame[f].append(i)
    pending: dict[int, list[np.ndarray]] = defaultdict(list)
    if clips:
        last = max(c.end_frame for c in clips) - 1
        for frame in decode_clip(video, FrameSpec(pixel_format="rgb24"), select=lambda o, t, k: o in by_frame,
                                 last=last):
            if frame.image is None:
                continue
            for i in by_frame.get(frame.index, ()):
                c = clips[i]
                pending[i].append(window_crop(frame.image, c.x0, c.y0, c.side, size))
                if frame.index == c.end_frame - 1:
                    encode_video(root / c.path, pending.pop(i), fps=Fraction(fps).limit_denominator(1001))
    counts = {label: sum(c.label == label for c in clips) for label in PEOPLE_CLASSES}
    with open(root / CLIPS_FILE, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(PersonClip.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(c) for c in clips)
    summary = {**params, "clips": len(clips), "counts": counts, "tracks": len({c.track for c in clips}),
               "dropped": dropped}
    (root / PARAMS_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return root


def _reuse(root: Path, params: dict[str, Any]) -> bool:
    try:
        stored = json.loads((root / PARAMS_FILE).read_text())
        rows = read_clips(root)
    except (OSError, ValueError):
        return False
    return ({k: stored.get(k) for k in params} == params and len(rows) == stored.get("clips")
            and all((root / c.path).is_file() for c in rows))


def read_clips(root: Path) -> list[PersonClip]:
    """The clips listed in ``root/clips.csv``."""
    with open(Path(root) / CLIPS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        values = {k: (int(v) if k in ("track", "start_frame", "end_frame") else
                      v if k in ("path", "label") else float(v)) for k, v in row.items()}
        out.append(PersonClip(**values))
    return out


def track_splits(clips: list[PersonClip], ratios: tuple[float, ...] = (0.6, 0.2, 0.2),
                 seed: int = 0) -> dict[str, list[PersonClip]]:
    """Clips split by track (all of a track's clips in one split), stratified by each track's majority label.

    Tracks of one label are shuffled with ``seed`` and dealt out in the ratios (largest remainder, at least one
    track in train); a label with few tracks may miss val or test.
    """
    if len(ratios) not in (2, 3) or abs(sum(ratios) - 1) > 1e-6 or min(ratios) < 0 or ratios[0] <= 0:
        raise UsageError(f"ratios must be 2 or 3 numbers >= 0 summing to 1 with train > 0, got {ratios}")
    names = ("train", "val", "test")[: len(ratios)]
    by_track: dict[int, list[PersonClip]] = defaultdict(list)
    for clip in clips:
        by_track[clip.track].append(clip)
    majority: dict[str, list[int]] = defaultdict(list)
    for track, items in sorted(by_track.items()):
        labels = [c.label for c in items]
        majority[max(sorted(set(labels)), key=labels.count)].append(track)
    out: dict[str, list[PersonClip]] = {name: [] for name in names}
    for label, tracks in sorted(majority.items()):
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        order = [tracks[i] for i in rng.permutation(len(tracks))]
        exact = np.array(ratios) * len(order)
        counts = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - counts), kind="stable")[: len(order) - int(counts.sum())]:
            counts[i] += 1
        if counts[0] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[0] += 1
        at = 0
        for name, count in zip(names, counts):
            for track in order[at: at + count]:
                out[name].extend(by_track[track])
            at += count
    return out


def write_track_splits(root: Path, ratios: tuple[float, ...] = (0.6, 0.2, 0.2), seed: int = 0) -> dict[str, Path]:
    """Split files (one relative clip path per line) for ``vidlens train --splits``, keeping tracks together."""
    root = Path(root)
    written = {}
    for name, items in track_splits(read_clips(root), ratios, seed).items():
        path = root / SPLIT_FILES[name]
        path.write_text("".join(f"{c.path}\n" for c in sorted(items, key=lambda c: c.path)))
        written[name] = path
    return written


def write_contact_sheet(root: Path, out: Path, per_class: int = 4, seed: int = 0) -> Path:
    """A PNG with ``per_class`` random clips of each class: first and last frame side by side, captioned."""
    from vidlens.train.sampling import read_frames

    rng = np.random.default_rng(seed)
    images, captions = [], []
    clips = read_clips(root)
    for label in PEOPLE_CLASSES:
        mine = [c for c in clips if c.label == label]
        for i in sorted(rng.choice(len(mine), min(per_class, len(mine)), replace=False)) if mine else []:
            c = mine[i]
            first, last = read_frames(Path(root) / c.path, [0, c.end_frame - c.start_frame - 1], None)
            images.append(np.concatenate([first, np.full((first.shape[0], 4, 3), 255, np.uint8), last], axis=1))
            captions.append(f"{label} t{c.track} vx {c.vx:+.2f}")
    if not images:
        raise UsageError("no clip to show", path=root)
    sheet = contact_sheet(images, captions, columns=per_class, tile_width=324)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return out
