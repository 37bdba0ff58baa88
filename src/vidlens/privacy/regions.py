"""Where to hide on each frame: face tracks turned into per-frame ellipses, with no frame left out.

A detector misses the first and last frames of a face (it enters half cut by the frame edge, turns,
blurs with motion) and drops frames in the middle; deface, which masks each frame from that frame's
detections alone, leaks exactly those frames (its issues #8 and #56). Here a face is masked from
its *track*, so every frame near a detection is covered:

* inside a track, boxes are interpolated between stored rows (:func:`track_box_at`);
* gaps the tracker did not bridge (longer than the track's ``max_gap``) are covered by the union of
  the boxes at both ends, up to ``bridge_s`` seconds (a face hidden behind a passer-by comes back);
  longer gaps are held from each end like a track end;
* before its first and after its last row a track's end box is held for ``hold_s`` seconds;
* the margin grows with the distance (frames) to the nearest real detection (a ``null`` score is
  a box the tracker carried through a miss, not a detection), and with how fast the box moves,
  because a held or interpolated box is a guess whose error grows with time.

The shape is the ellipse circumscribing the grown box: it contains the whole box (an inscribed
ellipse leaves the box corners, i.e. jaw and forehead of a tilted face, uncovered).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..objects.tracks import track_box_at


@dataclass(frozen=True)
class Region:
    """One area to hide on one frame, in output pixels: an ellipse (``cx, cy`` centre, ``ax, ay``
    semi-axes) or, for text, the rectangle with those half-sizes."""

    cx: float
    cy: float
    ax: float
    ay: float
    kind: str  # "face", "person" or "text"
    track_id: int | None = None
    ellipse: bool = True
    detected: bool = True  # the frame is within the track's measured span (not held past its ends)


@dataclass(frozen=True)
class Propagation:
    """How far a track is trusted beyond its detections.

    ``margin``: fraction of the box width/height added on each side at a detected frame (the
    ellipse then circumscribes the grown box). ``growth``: margin added per frame of distance from
    the nearest real detection, capped at ``max_margin``. ``motion``: multiples of the box's speed
    (pixels per frame, measured between rows) added per frame of distance. ``hold_s``: how long a
    track's first / last box is held before / after it. ``bridge_s``: longest gap covered by the
    union of its end boxes.
    """

    margin: float = 0.1
    growth: float = 0.03
    max_margin: float = 0.8
    motion: float = 1.0
    hold_s: float = 0.6
    bridge_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("margin", "growth", "max_margin", "motion", "hold_s", "bridge_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.max_margin < self.margin:
            raise UsageError(f"max_margin ({self.max_margin}) must be >= margin ({self.margin})")


def check_tracks(tracks: Any, section: str) -> list[dict[str, Any]]:
    """Validate a timeline track section (``faces`` or ``objects``): a clear error names the bad track."""
    if not isinstance(tracks, list):
        raise UsageError(f"timeline section {section!r} must be a list of tracks, got {type(tracks).__name__}")
    for i, track in enumerate(tracks):
        where = f"{section}[{i}]"
        if not isinstance(track, dict) or "id" not in track or "boxes" not in track:
            raise UsageError(f"{where} is not a track: need a dict with 'id' and 'boxes'")
        rows = track["boxes"]
        if not isinstance(rows, list) or not all(isinstance(r, (list, tuple)) and len(r) == 6 for r in rows):
            raise UsageError(f"{where} (id {track['id']}): boxes must be rows [frame, x0, y0, x1, y1, score]")
        try:
            arr = np.array([[r[0], r[1], r[2], r[3], r[4]] for r in rows], np.float64).reshape(-1, 5)
        except (TypeError, ValueError) as error:
            raise UsageError(f"{where} (id {track['id']}): boxes hold a non-number ({error})") from None
        if not np.isfinite(arr).all():
            raise UsageError(f"{where} (id {track['id']}): boxes hold NaN or infinite values")
        if len(arr) and (np.any(np.diff(arr[:, 0]) <= 0) or arr[0, 0] < 0):
            raise UsageError(f"{where} (id {track['id']}): box frames must be >= 0 and strictly increasing")
        if np.any(arr[:, 3] < arr[:, 1]) or np.any(arr[:, 4] < arr[:, 2]):
            raise UsageError(f"{where} (id {track['id']}): a box has x1 < x0 or y1 < y0")
    return tracks


class TrackCover:
    """One track's box and uncertainty on any frame, with propagation beyond its detections."""

    def __init__(self, track: dict[str, Any], fps: float, rules: Propagation) -> None:
        self.track = track
        self.id = int(track["id"])
        rows = np.array([[r[0], r[1], r[2], r[3], r[4], np.nan if r[5] is None else r[5]] for r in track["boxes"]],
                        np.float64).reshape(-1, 6)
        self.rows = rows
        self.frames = rows[:, 0].astype(np.int64)
        real = ~np.isnan(rows[:, 5])
        self.real_frames = self.frames[real] if real.any() else self.frames
        self.max_gap = track.get("max_gap") or 0
        self.hold = max(1, round(rules.hold_s * fps))
        self.bridge = round(rules.bridge_s * fps)
        self.rules = rules
        self.speed = _speeds(rows)
        self.confidence = float(track.get("confidence") or 0.0)

    @property
    def first(self) -> int:
        return int(self.frames[0]) - self.hold

    @property
    def last(self) -> int:
        return int(self.frames[-1]) + self.hold

    def box(self, frame: int) -> tuple[np.ndarray, bool] | None:
        """The (unpadded) box to cover on ``frame`` and whether the frame is inside the measured span."""
        frames = self.frames
        if frame < frames[0]:
            return (self.rows[0, 1:5], False) if frames[0] - frame <= self.hold else None
        if frame > frames[-1]:
            return (self.rows[-1, 1:5], False) if frame - frames[-1] <= self.hold else None
        box = track_box_at(self.track, frame)
        if box is not None:
            return np.asarray(box, np.float64), True
        after = int(np.searchsorted(frames, frame))
        a, b = self.rows[after - 1], self.rows[after]
        if b[0] - a[0] <= self.bridge:
            return np.r_[np.minimum(a[1:3], b[1:3]), np.maximum(a[3:5], b[3:5])], True
        if frame - a[0] <= self.hold:
            return a[1:5], False
        if b[0] - frame <= self.hold:
            return b[1:5], False
        return None

    def region(self, frame: int, scale: tuple[float, float], kind: str = "face",
               ellipse: bool = True) -> Region | None:
        """The area to hide on ``frame`` (output pixels), or None when the track does not reach it."""
        found = self.box(frame)
        if found is None:
            return None
        box, inside = found
        near = int(np.searchsorted(self.real_frames, frame))
        dist = min(abs(frame - int(self.real_frames[j])) for j in (near - 1, near) if 0 <= j < len(self.real_frames))
        row = min(max(int(np.searchsorted(self.frames, frame)), 0), len(self.frames) - 1)
        m = min(self.rules.max_margin, self.rules.margin + self.rules.growth * dist)
        sx, sy = scale
        hw, hh = (box[2] - box[0]) / 2 * sx, (box[3] - box[1]) / 2 * sy
        drift = self.rules.motion * self.speed[row] * dist
        # grown half-sizes; an ellipse goes through the grown box's corners (sqrt 2 times the half-sizes)
        stretch = math.sqrt(2) if ellipse else 1.0
        ax = (hw * (1 + 2 * m) + drift * sx) * stretch
        ay = (hh * (1 + 2 * m) + drift * sy) * stretch
        return Region((box[0] + box[2]) / 2 * sx, (box[1] + box[3]) / 2 * sy, ax, ay, kind, self.id, ellipse,
                      inside)


#: Assumed speed of a face seen only once (its motion is unknown): this fraction of its size per frame,
#: a brisk walk across the frame for a face at conversation distance.
UNKNOWN_SPEED = 0.1


def _speeds(rows: np.ndarray) -> np.ndarray:
    """Per row: the larger of its neighbouring segments' speeds (centre and size change, px/frame)."""
    if len(rows) < 2:
        return UNKNOWN_SPEED * np.maximum(rows[:, 3] - rows[:, 1], rows[:, 4] - rows[:, 2])
    centres = np.c_[(rows[:, 1] + rows[:, 3]) / 2, (rows[:, 2] + rows[:, 4]) / 2]
    sizes = np.c_[rows[:, 3] - rows[:, 1], rows[:, 4] - rows[:, 2]]
    dt = np.diff(rows[:, 0])
    seg = (np.abs(np.diff(centres, axis=0)).max(1) + np.abs(np.diff(sizes, axis=0)).max(1) / 2) / dt
    return np.maximum(np.r_[seg[0], seg], np.r_[seg, seg[-1]])


@dataclass(frozen=True)
class CoverPlan:
    """Everything to hide, frame by frame; built once before the video is re-encoded.

    ``found`` are the confident face tracks (masked or kept) without propagation: a person region
    (paranoid mode) is hidden only on frames where none of them is measured inside it.
    """

    faces: list[TrackCover]
    persons: list[TrackCover]
    found: list[TrackCover]
    text: list[dict[str, Any]]
    scale: tuple[float, float]
    text_pad: float = 0.15

    def regions(self, frame: int) -> list[Region]:
        out = [r for c in self.faces if c.first <= frame <= c.last
               and (r := c.region(frame, self.scale)) is not None]
        if self.persons:
            found = [r for c in self.found if c.frames[0] <= frame <= c.frames[-1]
                     and (r := c.region(frame, self.scale)) is not None]
            for cover in self.persons:
                if cover.first <= frame <= cover.last:
                    person = cover.region(frame, self.scale, "person", ellipse=False)
                    if person is not None and not any(_centre_inside(f, person) for f in found):
                        out.append(person)
        sx, sy = self.scale
        for item in self.text:
            if item["start"]["frame"] <= frame < item["end"]["frame"]:
                x0, y0, x1, y1 = item["box"]
                pad = self.text_pad * (y1 - y0)
                out.append(Region((x0 + x1) / 2 * sx, (y0 + y1) / 2 * sy, ((x1 - x0) / 2 + pad) * sx,
                                  ((y1 - y0) / 2 + pad) * sy, "text", None, False))
        return out


def _centre_inside(face: Region, person: Region) -> bool:
    """The face's centre lies in the person's (rectangular) region."""
    return abs(face.cx - person.cx) <= person.ax and abs(face.cy - person.cy) <= person.ay


#: Found faces are taken as measured: no hold, no bridge, no margin.
_AS_MEASURED = Propagation(margin=0, growth=0, max_margin=0, motion=0, hold_s=0, bridge_s=0)


def plan_cover(faces: Sequence[dict[str, Any]], *, fps: float, scale: tuple[float, float] = (1.0, 1.0),
               keep_ids: Sequence[int] = (), persons: Sequence[dict[str, Any]] = (),
               text: Sequence[dict[str, Any]] = (), rules: Propagation = Propagation(),
               min_face_confidence: float = 0.5) -> CoverPlan:
    """Turn timeline sections into a :class:`CoverPlan`.

    ``persons`` (tracks of class person, for paranoid mode) are hidden on frames where no face track
    with confidence >= ``min_face_confidence`` is measured inside them; kept faces count as found,
    so ``keep_ids`` is not undone by paranoid mode.
    """
    if not fps > 0:
        raise UsageError(f"fps must be > 0, got {fps}")
    known = {int(t["id"]) for t in faces}
    missing = sorted({int(k) for k in keep_ids} - known)
    if missing:
        raise UsageError(f"{{keep}} id(s) {', '.join(map(str, missing))} are not face tracks in this timeline "
                         f"(face track ids: {', '.join(map(str, sorted(known))) or 'none'})", params=("keep",))
    keep = {int(k) for k in keep_ids}
    masked = [TrackCover(t, fps, rules) for t in faces if int(t["id"]) not in keep and t["boxes"]]
    person_covers = [TrackCover(t, fps, rules) for t in persons if t["boxes"]]
    found = [TrackCover(t, fps, _AS_MEASURED) for t in faces
             if person_covers and t["boxes"] and float(t.get("confidence") or 0) >= min_face_confidence]
    return CoverPlan(masked, person_covers, found, [t for t in text if t.get("box")], scale)
