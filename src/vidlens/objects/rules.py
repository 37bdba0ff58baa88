"""Counting rules over tracks: directional line crossings and polygon zones (occupancy, dwell, loitering).

Rules live in a small YAML or JSON file in *normalised* coordinates (0..1 of the frame's width and
height), so one file fits any resolution of the same camera:

.. code-block:: yaml

    lines:
      - name: door
        points: [[0.1, 0.6], [0.9, 0.6]]   # from a to b
        classes: [person]                  # optional; default: every class
    zones:
      - name: counter
        polygon: [[0.2, 0.2], [0.5, 0.2], [0.5, 0.6], [0.2, 0.6]]
        classes: [person, car]
        loiter_seconds: 10                 # optional: an event when a visit lasts this long
    anchor: bottom_center                  # where a box "is": bottom_center (feet, default) or center

Direction: standing at ``a`` and looking at ``b``, a crossing from your right to your left is
``in``, the other way ``out``. Only confirmed tracks (``track_id >= 0``) count, each by its own id
(never a shared placeholder id), and a track jittering on a line counts once: its side only
changes after its anchor is ``margin`` (1 % of the frame diagonal) past the line, and a crossing
must pass between the line's end points.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import UsageError
from ..paths import read_user_file
from .types import COCO80, Detections

ANCHORS = ("bottom_center", "center")
#: How far past a line (fraction of the frame diagonal) an anchor must be for its side to count.
LINE_MARGIN = 0.01


class RuleError(UsageError):
    """A rules file that cannot be used: named with the file and the entry at fault."""


@dataclass(frozen=True)
class LineRule:
    name: str
    a: tuple[float, float]
    b: tuple[float, float]
    classes: frozenset[int] | None = None


@dataclass(frozen=True)
class ZoneRule:
    name: str
    polygon: tuple[tuple[float, float], ...]
    classes: frozenset[int] | None = None
    loiter_seconds: float | None = None


@dataclass(frozen=True)
class RuleSet:
    lines: tuple[LineRule, ...] = ()
    zones: tuple[ZoneRule, ...] = ()
    anchor: str = "bottom_center"

    def __bool__(self) -> bool:
        return bool(self.lines or self.zones)

    def to_dict(self) -> dict[str, Any]:
        def classes(c: frozenset[int] | None) -> list[str] | None:
            return None if c is None else sorted(COCO80[i] for i in c)

        return {"anchor": self.anchor,
                "lines": [{"name": r.name, "points": [list(r.a), list(r.b)], "classes": classes(r.classes)}
                          for r in self.lines],
                "zones": [{"name": z.name, "polygon": [list(p) for p in z.polygon], "classes": classes(z.classes),
                           "loiter_seconds": z.loiter_seconds} for z in self.zones]}


def load_rules(path: str | Path) -> RuleSet:
    """Read and check a rules file (``.yaml``/``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = read_user_file(path, "rules file")
    except UsageError as error:
        raise RuleError(str(error)) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:  # the parsers' own errors name line and column
        raise RuleError(f"rules file is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                        f"{' '.join(str(error).split())}", path=path) from None
    try:
        return parse_rules(data)
    except RuleError as error:
        raise RuleError(str(error), path=path) from None


def parse_rules(data: Any) -> RuleSet:
    """Rules from already-parsed data (a dict with ``lines`` and/or ``zones``)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RuleError("rules must be a mapping with 'lines' and/or 'zones'")
    unknown = set(data) - {"lines", "zones", "anchor"}
    if unknown:
        raise RuleError(f"unknown key(s) {sorted(unknown)}; expected 'lines', 'zones', 'anchor'")
    anchor = data.get("anchor", "bottom_center")
    if anchor not in ANCHORS:
        raise RuleError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
    lines = tuple(_line(i, e) for i, e in enumerate(_entries(data, "lines")))
    zones = tuple(_zone(i, e) for i, e in enumerate(_entries(data, "zones")))
    names = [r.name for r in lines] + [z.name for z in zones]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"rule names must be unique, repeated: {dupes}")
    return RuleSet(lines, zones, anchor)


def _entries(data: dict, key: str) -> list[dict]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise RuleError(f"'{key}' must be a list of mappings")
    return value


def _where(kind: str, i: int, entry: dict) -> str:
    return f"{kind}[{i}]" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")


def _point(value: Any, where: str) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise RuleError(f"{where}: a point must be [x, y], got {value!r}")
    x, y = float(value[0]), float(value[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise RuleError(f"{where}: points are fractions of the frame (0..1), got [{x}, {y}]")
    return x, y


def _classes(entry: dict, where: str) -> frozenset[int] | None:
    names = entry.get("classes")
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise RuleError(f"{where}: 'classes' must be a non-empty list of COCO class names")
    index = {n: i for i, n in enumerate(COCO80)}
    bad = [n for n in names if n not in index]
    if bad:
        raise RuleError(f"{where}: unknown class(es) {bad}; use COCO-80 names such as 'person', 'car', 'bicycle'")
    return frozenset(index[n] for n in names)


def _name(entry: dict, kind: str, i: int) -> str:
    name = entry.get("name", f"{kind}{i + 1}")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"{kind}[{i}]: 'name' must be a non-empty string")
    return name


def _line(i: int, entry: dict) -> LineRule:
    where = _where("lines", i, entry)
    _no_unknown(entry, {"name", "points", "classes"}, where)
    points = entry.get("points")
    if not isinstance(points, list) or len(points) != 2:
        raise RuleError(f"{where}: 'points' must be two points [[x, y], [x, y]]")
    a, b = (_point(p, where) for p in points)
    if a == b:
        raise RuleError(f"{where}: the two points are the same")
    return LineRule(_name(entry, "line", i), a, b, _classes(entry, where))


def _zone(i: int, entry: dict) -> ZoneRule:
    where = _where("zones", i, entry)
    _no_unknown(entry, {"name", "polygon", "classes", "loiter_seconds"}, where)
    polygon = entry.get("polygon")
    if not isinstance(polygon, list) or len(polygon) < 3:
        raise RuleError(f"{where}: 'polygon' must list at least 3 points")
    points = tuple(_point(p, where) for p in polygon)
    if abs(_area(points)) < 1e-6:
        raise RuleError(f"{where}: the polygon has no area")
    loiter = entry.get("loiter_seconds")
    if loiter is not None and (isinstance(loiter, bool) or not isinstance(loiter, (int, float)) or loiter <= 0):
        raise RuleError(f"{where}: 'loiter_seconds' must be a positive number of seconds")
    return ZoneRule(_name(entry, "zone", i), points, _classes(entry, where),
                    None if loiter is None else float(loiter))


def _no_unknown(entry: dict, allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(allowed)}")


def _area(points: Sequence[tuple[float, float]]) -> float:
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return 0.5 * float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))


# ------------------------------------------------------------------------------------------------
# evaluation


@dataclass
class _Visit:
    start_frame: int
    start_time: float
    last_frame: int
    last_time: float
    loitered: bool = False


@dataclass
class RuleCounter:
    """Feeds tracked boxes frame by frame through a :class:`RuleSet`; collects events and counts.

    ``frame_size`` is (width, height) of the frames the boxes are in. Events are dicts with
    ``type`` (``line_cross``, ``zone_enter``, ``zone_exit``, ``loitering``), ``rule``, ``track_id``,
    ``class``, ``frame``, ``time`` and, by type, ``direction`` or ``dwell_s``.
    """

    rules: RuleSet
    frame_size: tuple[int, int]
    events: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # line -> class -> in/out
    occupancy: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # zone -> (frame, count) changes
    _sides: dict[tuple[str, int], tuple[int, tuple[float, float]]] = field(default_factory=dict)  # side, where
    _visits: dict[tuple[str, int], _Visit] = field(default_factory=dict)
    _class_of: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        w, h = self.frame_size
        self._scale = np.array([w, h], np.float64)
        self._margin = LINE_MARGIN * float(np.hypot(w, h))
        self._lines = [(r, np.array(r.a) * self._scale, np.array(r.b) * self._scale) for r in self.rules.lines]
        self._zones = [(z, (np.array(z.polygon) * self._scale).astype(np.float32).reshape(-1, 1, 2))
                       for z in self.rules.zones]
        for r in self.rules.lines:
            self.counts[r.name] = {}
        for z in self.rules.zones:
            self.occupancy[z.name] = []

    def update(self, frame: int, time: float, tracked: Detections) -> None:
        """One frame's boxes (with ``track_ids``); frames must come in increasing order."""
        ids = tracked.track_ids if tracked.track_ids is not None else np.full(len(tracked), -1)
        confirmed = ids >= 0
        anchors = self._anchors(tracked.boxes[confirmed])
        present: dict[int, tuple[float, float]] = {}
        for tid, cls, anchor in zip(ids[confirmed].tolist(), tracked.classes[confirmed].tolist(), anchors,
                                    strict=True):
            self._class_of[tid] = cls
            point = (float(anchor[0]), float(anchor[1]))
            present[tid] = point
            for rule, a, b in self._lines:
                if rule.classes is None or cls in rule.classes:
                    self._line_step(rule, a, b, tid, cls, point, frame, time)
        for zone, poly in self._zones:
            inside = {tid for tid, p in present.items()
                      if (zone.classes is None or self._class_of[tid] in zone.classes)
                      and cv2.pointPolygonTest(poly, p, False) >= 0}
            self._zone_step(zone, inside, frame, time)

    def finish(self) -> None:
        """Close the visits still open (the video ended with someone in a zone)."""
        for (zone, tid), visit in sorted(self._visits.items(), key=lambda kv: kv[1].start_frame):
            self._exit(zone, tid, visit, visit.last_frame, visit.last_time, open_at_end=True)
        self._visits.clear()

    def end_track(self, track_id: int) -> None:
        """A track ended: close its open zone visits at its last frame."""
        for key in [k for k in self._visits if k[1] == track_id]:
            visit = self._visits.pop(key)
            self._exit(key[0], track_id, visit, visit.last_frame, visit.last_time)

    # -- internals -----------------------------------------------------------------------------

    def _anchors(self, boxes: np.ndarray) -> np.ndarray:
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        y = boxes[:, 3] if self.rules.anchor == "bottom_center" else (boxes[:, 1] + boxes[:, 3]) / 2
        return np.stack([cx, y], axis=1) if len(boxes) else np.zeros((0, 2))

    def _line_step(self, rule: LineRule, a: np.ndarray, b: np.ndarray, tid: int, cls: int,
                   point: tuple[float, float], frame: int, time: float) -> None:
        d = b - a
        cross = float(d[0] * (point[1] - a[1]) - d[1] * (point[0] - a[0])) / float(np.hypot(*d))
        # image y points down: cross < 0 is the left of a->b as seen on screen
        side = 0 if abs(cross) < self._margin else (1 if cross < 0 else -1)
        key = (rule.name, tid)
        if side == 0:
            return
        before = self._sides.get(key)
        self._sides[key] = (side, point)
        if before is None or before[0] == side:
            return
        if not _passes_between(before[1], point, a, b):
            return  # went round the end of the line
        direction = "in" if side == 1 else "out"
        name = COCO80[cls]
        per_class = self.counts[rule.name].setdefault(name, {"in": 0, "out": 0})
        per_class[direction] += 1
        self.events.append({"type": "line_cross", "rule": rule.name, "direction": direction, "track_id": tid,
                            "class": name, "frame": frame, "time": round(time, 6)})

    def _zone_step(self, zone: ZoneRule, inside: set[int], frame: int, time: float) -> None:
        for tid in inside:
            key = (zone.name, tid)
            visit = self._visits.get(key)
            if visit is None:
                visit = self._visits[key] = _Visit(frame, time, frame, time)
                self.events.append({"type": "zone_enter", "rule": zone.name, "track_id": tid,
                                    "class": COCO80[self._class_of[tid]], "frame": frame, "time": round(time, 6)})
            visit.last_frame, visit.last_time = frame, time
            if zone.loiter_seconds is not None and not visit.loitered \
                    and time - visit.start_time >= zone.loiter_seconds:
                visit.loitered = True
                self.events.append({"type": "loitering", "rule": zone.name, "track_id": tid,
                                    "class": COCO80[self._class_of[tid]], "frame": frame, "time": round(time, 6),
                                    "dwell_s": round(time - visit.start_time, 6)})
        for key in [k for k in self._visits if k[0] == zone.name and k[1] not in inside]:
            visit = self._visits.pop(key)
            self._exit(zone.name, key[1], visit, frame, time)
        series = self.occupancy[zone.name]
        if not series or series[-1][1] != len(inside):
            series.append((frame, len(inside)))

    def _exit(self, zone: str, tid: int, visit: _Visit, frame: int, time: float, open_at_end: bool = False) -> None:
        event = {"type": "zone_exit", "rule": zone, "track_id": tid, "class": COCO80[self._class_of[tid]],
                 "frame": frame, "time": round(time, 6), "entered_frame": visit.start_frame,
                 "dwell_s": round(visit.last_time - visit.start_time, 6)}
        if open_at_end:
            event["open_at_end"] = True
        self.events.append(event)

    def summary(self) -> dict[str, Any]:
        """Counts per line and class, and per zone the peak occupancy and the visits' dwell times."""
        zones = {}
        for zone in self.rules.zones:
            series = self.occupancy[zone.name]
            dwell = [e["dwell_s"] for e in self.events if e["type"] == "zone_exit" and e["rule"] == zone.name]
            zones[zone.name] = {"max_occupancy": max((c for _, c in series), default=0), "visits": len(dwell),
                                "mean_dwell_s": round(float(np.mean(dwell)), 3) if dwell else None,
                                "max_dwell_s": round(float(max(dwell)), 3) if dwell else None,
                                "occupancy": [[f, c] for f, c in series]}
        return {"lines": self.counts, "zones": zones}


def _passes_between(p: tuple[float, float], q: tuple[float, float], a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the move p -> q crosses the line through a, b between a and b (extended by nothing)."""
    p_, q_ = np.asarray(p), np.asarray(q)
    d = b - a
    m = q_ - p_
    denom = d[0] * m[1] - d[1] * m[0]
    if abs(denom) < 1e-12:
        return False
    # p + s·m = a + t·d, crossed with m: t = ((p - a) × m) / (d × m)
    t = ((p_[0] - a[0]) * m[1] - (p_[1] - a[1]) * m[0]) / denom
    return 0.0 <= t <= 1.0
