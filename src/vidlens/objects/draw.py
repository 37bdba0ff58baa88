"""Drawing tracks, trails, lines and zones on frames (for ``vidlens annotate``); OpenCV, in place.

Colours are fixed per track id (a golden-ratio walk round the hue circle), so an id keeps its colour
for the whole video and neighbouring ids differ. Sizes scale with the frame so a 4K and a 360p
annotation look alike.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .rules import RuleSet
from .types import COCO80, Detections

TRAIL = 30  # frames of trail behind each track


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A saturated RGB colour for an id; -1 (unconfirmed) is grey."""
    if track_id < 0:
        return (160, 160, 160)
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


class Annotator:
    """Stateful (trails): call :meth:`draw` once per frame, in order."""

    def __init__(self, frame_size: tuple[int, int], rules: RuleSet | None = None) -> None:
        self.width, self.height = frame_size
        self.rules = rules
        self.scale = max(0.4, min(self.width, self.height) / 720)
        self.thickness = max(1, round(2 * self.scale))
        self._trails: dict[int, deque[tuple[int, int]]] = defaultdict(lambda: deque(maxlen=TRAIL))

    def draw(self, rgb: np.ndarray, boxes: Detections, counts: dict[str, Any] | None = None) -> None:
        """Paint ``boxes`` (in ``rgb``'s pixels) with ids and trails, the rules, and the running counts."""
        self._draw_rules(rgb)
        ids = boxes.track_ids if boxes.track_ids is not None else np.full(len(boxes), -1)
        seen = set()
        for box, cls, tid in zip(boxes.boxes, boxes.classes, ids.tolist(), strict=True):
            colour = track_colour(tid)
            x0, y0, x1, y1 = np.round(box).astype(int).tolist()
            cv2.rectangle(rgb, (x0, y0), (x1, y1), colour, self.thickness, cv2.LINE_AA)
            name = COCO80[cls] if 0 <= cls < len(COCO80) else "?"
            self._label(rgb, f"{name} {tid}" if tid >= 0 else name, (x0, y0), colour)
            if tid >= 0:
                seen.add(tid)
                trail = self._trails[tid]
                trail.append(((x0 + x1) // 2, y1))
                if len(trail) > 1:
                    cv2.polylines(rgb, [np.array(trail, np.int32).reshape(-1, 1, 2)], False, colour,
                                  self.thickness, cv2.LINE_AA)
        for tid in [t for t in self._trails if t not in seen]:
            del self._trails[tid]
        if counts:
            self._draw_counts(rgb, counts)

    def _label(self, rgb: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int]) -> None:
        font_scale = 0.5 * self.scale
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        x, y = corner[0], max(th + base, corner[1])
        cv2.rectangle(rgb, (x, y - th - base - 2), (x + tw + 4, y), colour, -1)
        cv2.putText(rgb, text, (x + 2, y - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)

    def _draw_rules(self, rgb: np.ndarray) -> None:
        if not self.rules:
            return
        size = np.array([self.width, self.height], np.float64)
        for zone in self.rules.zones:
            pts = (np.array(zone.polygon) * size).astype(np.int32).reshape(-1, 1, 2)
            overlay = rgb.copy()
            cv2.fillPoly(overlay, [pts], (255, 200, 0))
            cv2.addWeighted(overlay, 0.2, rgb, 0.8, 0, dst=rgb)
            cv2.polylines(rgb, [pts], True, (255, 200, 0), self.thickness, cv2.LINE_AA)
            self._label(rgb, zone.name, tuple(pts[0, 0]), (255, 200, 0))
        for line in self.rules.lines:
            a = tuple(int(v) for v in np.array(line.a) * size)
            b = tuple(int(v) for v in np.array(line.b) * size)
            cv2.line(rgb, a, b, (255, 64, 255), self.thickness + 1, cv2.LINE_AA)
            self._label(rgb, line.name, a, (255, 64, 255))

    def _draw_counts(self, rgb: np.ndarray, counts: dict[str, Any]) -> None:
        lines: list[str] = []
        for name, per_class in counts.get("lines", {}).items():
            total_in = sum(c["in"] for c in per_class.values())
            total_out = sum(c["out"] for c in per_class.values())
            lines.append(f"{name}: in {total_in}  out {total_out}")
        for name, occupied in counts.get("zones", {}).items():
            lines.append(f"{name}: {occupied} inside")
        y = int(24 * self.scale)
        for text in lines:
            self._label(rgb, text, (int(8 * self.scale), y), (255, 255, 255))
            y += int(22 * self.scale)


def running_counts(events: Sequence[dict[str, Any]], frame: int, zones: dict[str, list[list[int]]],
                   line_names: Sequence[str]) -> dict[str, Any]:
    """Counts as they stood at ``frame``: line crossings so far and each zone's current occupancy."""
    lines: dict[str, dict[str, dict[str, int]]] = {name: {} for name in line_names}
    for e in events:
        if e["type"] == "line_cross" and e["frame"] <= frame:
            lines.setdefault(e["rule"], {}).setdefault(e["class"], {"in": 0, "out": 0})[e["direction"]] += 1
    occupancy = {}
    for name, series in zones.items():
        now = 0
        for f, count in series:
            if f > frame:
                break
            now = count
        occupancy[name] = now
    return {"lines": lines, "zones": occupancy}
