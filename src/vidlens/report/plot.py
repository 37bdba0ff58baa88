"""The report's timeline plot, drawn as inline SVG text in Python.

Generating the SVG here (rather than with a JS charting library) keeps the report one offline file
and keeps the drawing testable: the output is a string that must parse as XML. Every text and
attribute value coming from the timeline is escaped. Hover tooltips use SVG ``<title>`` elements,
so they need no script.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from ..timebase import clock
from ..timeline import FrameClock, Timeline

#: Colour of each transition kind, shared with the HTML legend and shot cards.
KIND_COLOURS = {"cut": "#c2410c", "dissolve": "#7c3aed", "fade": "#0f766e"}
#: Alternating fills of consecutive shots, so neighbouring shots stay distinguishable.
SHOT_FILLS = ("#3d6a9e", "#86a7cc")
#: Fills of the generic section rows, cycled.
ROW_FILLS = ("#4d7c0f", "#b45309", "#0369a1", "#be185d", "#6d28d9", "#374151")
#: Sections drawn elsewhere (shots) or that are not lists of segments.
NOT_ROWS = frozenset({"shots", "contact_sheet"})
#: Item keys tried, in order, for a segment's caption.
CAPTION_KEYS = ("label", "name", "text", "class", "kind", "type", "description")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

WIDTH = 1200
GUTTER = 92
RIGHT = 16
MARK_H = 12
SHOT_H = 44
LANE_H = 16
MAX_LANES = 4
ROW_GAP = 6
AXIS_H = 30

#: Seconds → x coordinate of the plot.
Scale = Callable[[float], float]


@dataclass(frozen=True)
class Segment:
    """One drawable span of a section row, in seconds; ``end == start`` for an instant."""

    start: float
    end: float
    caption: str


def section_rows(timeline: Timeline) -> list[tuple[str, list[Segment]]]:
    """Every non-empty list section other than shots, with the segments it yields, in timeline order.

    Sections are read generically (any dict item with ``start``/``end`` moments, or a single
    ``time``/``frame``) so analyzers added later show up without changes here.
    """
    fps = _fps(timeline)
    rows = []
    for name, items in timeline.sections.items():
        if name in NOT_ROWS or not isinstance(items, list) or not items:
            continue
        segments = [seg for item in expand_items(items) if (seg := item_segment(item, fps)) is not None]
        rows.append((str(name), segments))
    return rows


def expand_items(items: list[Any]) -> list[Any]:
    """Items whose time lies in nested ``segments`` (labels, text...) become one item per segment,
    carrying the parent's caption fields; other items pass through unchanged."""
    out: list[Any] = []
    for item in items:
        nested = item.get("segments") if isinstance(item, dict) else None
        if isinstance(nested, list) and nested:
            parent = {k: v for k, v in item.items() if k != "segments"}
            out.extend({**parent, **seg} for seg in nested if isinstance(seg, dict))
        else:
            out.append(item)
    return out


def item_segment(item: Any, fps: float | None) -> Segment | None:
    """The time span of one section item, or ``None`` when it carries no usable time."""
    if not isinstance(item, dict):
        return None
    start = _seconds(item.get("start"), fps)
    end = _seconds(item.get("end"), fps)
    if start is None:
        start = _seconds(item, fps)
    if start is None:
        return None
    caption = next((str(item[k]) for k in CAPTION_KEYS if item.get(k) not in (None, "")), "")
    return Segment(start, max(start, end if end is not None else start), caption)


def timeline_svg(timeline: Timeline, width: int = WIDTH, *, frame_clock: FrameClock | None = None) -> str:
    """The whole plot: shot bands with transition markers, one row per other section, a time axis.

    With the analysis's ``frame_clock`` frame indices are placed at their frames' own times; from a
    timeline file alone they are interpolated between the shots' exact (frame, time) boundaries."""
    rows = section_rows(timeline)
    duration = _duration(timeline, rows)
    plot_w = width - GUTTER - RIGHT
    lanes = [assign_lanes(segments) for _, segments in rows]
    heights = [LANE_H * (max(row_lanes, default=0) + 1) + 4 for row_lanes in lanes]
    height = MARK_H + SHOT_H + sum(h + ROW_GAP for h in heights) + ROW_GAP + AXIS_H

    def x(seconds: float) -> float:
        return GUTTER + (min(max(seconds, 0.0), duration) / duration * plot_w if duration > 0 else 0.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-plot" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" font-family="{escape(FONT)}" font-size="11" '
        f'aria-label="Timeline of {len(timeline.shots)} shots over {duration:.3f} seconds">',
        f'<rect x="{GUTTER}" y="{MARK_H}" width="{plot_w}" height="{SHOT_H}" fill="#eef1f5"/>',
        _label("Shots", MARK_H + SHOT_H / 2),
    ]
    parts += _shot_marks(timeline, x, duration, frame_clock)
    y = MARK_H + SHOT_H + ROW_GAP
    for number, (name, segments) in enumerate(rows):
        track = _Track(y, heights[number], ROW_FILLS[number % len(ROW_FILLS)])
        parts += _row(name, segments, lanes[number], track, x, plot_w)
        y += heights[number] + ROW_GAP
    parts += _axis(duration, y, x)
    if duration <= 0:
        parts.append(f'<text x="{GUTTER + plot_w / 2:.1f}" y="{MARK_H + SHOT_H / 2 + 4:.1f}" '
                     f'text-anchor="middle" fill="#52606d">no frames analysed</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def count_svgs(timeline: Timeline, width: int = WIDTH, height: int = 70, *,
               frame_clock: FrameClock | None = None) -> list[tuple[str, str]]:
    """Per object class, a step plot of how many tracks are on screen over time (from ``object_summary``)."""
    classes = _as_mapping(_as_mapping(timeline.sections.get("object_summary")).get("classes"))
    frame_time = _frame_timer(timeline, frame_clock)
    duration = _duration(timeline, [])
    if not classes or duration <= 0:
        return []
    plot_w, plot_h, top = width - GUTTER - RIGHT, height - AXIS_H, 6

    def x(seconds: float) -> float:
        return GUTTER + min(max(seconds, 0.0), duration) / duration * plot_w

    out = []
    for name, info in sorted(classes.items(), key=lambda kv: -_as_mapping(kv[1]).get("screen_time_s", 0)):
        series = [(t, c) for f, c in _as_mapping(info).get("count_series", [])
                  if (t := frame_time(f)) is not None and t <= duration]
        peak = max((c for _, c in series), default=0)
        if not series or peak <= 0:
            continue

        def y(count: float, peak: int = peak) -> float:
            return top + (plot_h - top) * (1 - count / peak)

        points = []
        for i, (t, c) in enumerate(series):
            if i:
                points.append(f"{x(t):.1f},{y(series[i - 1][1]):.1f}")
            points.append(f"{x(t):.1f},{y(c):.1f}")
        points.append(f"{x(duration):.1f},{y(series[-1][1]):.1f}")
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
                 f'font-family="{escape(FONT)}" font-size="11" aria-label="{escape(str(name))} on screen over time, '
                 f'at most {peak}">',
                 f'<rect x="{GUTTER}" y="{top}" width="{plot_w}" height="{plot_h - top}" fill="#f4f6f8"/>',
                 _label(f"{name} (max {peak})", (top + plot_h) / 2),
                 f'<polyline points="{" ".join(points)}" fill="none" stroke="#0369a1" stroke-width="1.5"/>']
        parts += _axis(duration, plot_h, x)
        parts.append("</svg>")
        out.append((str(name), "\n".join(parts)))
    return out


def _as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _shot_marks(timeline: Timeline, x: Scale, duration: float, frame_clock: FrameClock | None) -> list[str]:
    """Shot bands, then gradual-transition shading and boundary markers drawn over them."""
    frame_time = _frame_timer(timeline, frame_clock)
    bands: list[str] = []
    marks: list[str] = []
    top, bottom = MARK_H, MARK_H + SHOT_H
    for i, shot in enumerate(timeline.shots):
        t0, t1 = _seconds(shot.get("start"), None), _seconds(shot.get("end"), None)
        if t0 is None or t1 is None or duration <= 0:
            continue
        x0, x1 = x(t0), x(t1)
        number = _shot_number(shot, i)
        tip = f"Shot {number}: {_tc(shot.get('start'))} – {_tc(shot.get('end'))} ({t1 - t0:.3f} s)"
        bands.append(f'<rect x="{x0:.2f}" y="{top}" width="{max(x1 - x0, 0.5):.2f}" height="{SHOT_H}" '
                     f'fill="{SHOT_FILLS[i % 2]}"><title>{escape(tip)}</title></rect>')
        if x1 - x0 >= 7 * len(str(number)) + 6:
            bands.append(f'<text x="{(x0 + x1) / 2:.2f}" y="{top + SHOT_H / 2 + 4:.1f}" text-anchor="middle" '
                         f'fill="#ffffff" pointer-events="none">{number}</text>')
        kind = shot.get("transition")
        if kind is None:
            continue
        colour = KIND_COLOURS.get(str(kind), "#52606d")
        span = shot.get("transition_span")
        if isinstance(span, dict) and kind != "cut":
            s0, s1 = frame_time(span.get("start")), frame_time(span.get("end"))
            if s0 is not None and s1 is not None and s1 > s0:
                marks.append(f'<rect x="{x(s0):.2f}" y="{top}" width="{max(x(s1) - x(s0), 2):.2f}" '
                             f'height="{SHOT_H}" fill="{colour}" fill-opacity="0.35" pointer-events="none"/>')
        confidence = shot.get("confidence")
        conf = f", confidence {confidence:.2f}" if isinstance(confidence, (int, float)) else ""
        tip = f"{kind} into shot {number} at {_tc(shot.get('start'))}{conf}"
        marks.append(f'<g><title>{escape(tip)}</title>'
                     f'<line x1="{x0:.2f}" y1="{top}" x2="{x0:.2f}" y2="{bottom}" stroke="{colour}" '
                     f'stroke-width="2"/>'
                     f'<path d="M{x0 - 5:.2f},0 L{x0 + 5:.2f},0 L{x0:.2f},{MARK_H - 1} Z" fill="{colour}"/></g>')
    return bands + marks


@dataclass(frozen=True)
class _Track:
    """Where one section row sits in the plot and how it is filled."""

    y: float
    height: float
    fill: str


def assign_lanes(segments: Sequence[Segment], max_lanes: int = MAX_LANES) -> list[int]:
    """A lane per segment so that overlapping segments (e.g. two objects at once) sit apart.

    Greedy interval partitioning in start order; past ``max_lanes`` a segment shares the lane that
    frees up first, so a crowded section stays a compact row instead of growing without bound.
    """
    lane_ends: list[float] = []
    lanes = [0] * len(segments)
    for i in sorted(range(len(segments)), key=lambda j: (segments[j].start, segments[j].end)):
        seg = segments[i]
        free = next((n for n, end in enumerate(lane_ends) if end <= seg.start), None)
        if free is None and len(lane_ends) < max_lanes:
            lane_ends.append(seg.end)
            free = len(lane_ends) - 1
        elif free is None:
            free = min(range(len(lane_ends)), key=lane_ends.__getitem__)
        lane_ends[free] = max(lane_ends[free], seg.end)
        lanes[i] = free
    return lanes


def _row(name: str, segments: Sequence[Segment], lanes: Sequence[int], track: _Track, x: Scale,
         plot_w: float) -> list[str]:
    """One generic section track: its label, a faint background, and each segment in its lane."""
    label = name if len(name) <= 13 else name[:12] + "…"
    out = [
        f'<rect x="{GUTTER}" y="{track.y}" width="{plot_w}" height="{track.height}" fill="#f3f4f6"/>',
        _label(label, track.y + track.height / 2, tip=f"{name}: {len(segments)} item(s) with a time"),
    ]
    for seg, lane in zip(segments, lanes, strict=True):
        x0, x1 = x(seg.start), x(seg.end)
        tip = f"{seg.caption + ': ' if seg.caption else ''}{clock(seg.start)} – {clock(seg.end)}"
        out.append(f'<rect x="{x0:.2f}" y="{track.y + 3 + lane * LANE_H}" width="{max(x1 - x0, 2):.2f}" '
                   f'height="{LANE_H - 2}" fill="{track.fill}" fill-opacity="0.75" rx="2">'
                   f'<title>{escape(tip)}</title></rect>')
    return out


def _axis(duration: float, y: float, x: Scale) -> list[str]:
    """A time axis along the bottom with 'nice' ticks (1, 2, 5 × 10ⁿ seconds or clock steps)."""
    out = [f'<line x1="{GUTTER}" y1="{y}" x2="{x(duration):.2f}" y2="{y}" stroke="#9aa5b1"/>']
    if duration <= 0:
        return out
    step = tick_step(duration)
    for k in range(math.floor(duration / step + 1e-9) + 1):
        t = round(k * step, 6)
        xt = x(t)
        anchor = "start" if k == 0 else "end" if xt > x(duration) - 24 else "middle"
        out.append(f'<line x1="{xt:.2f}" y1="{y}" x2="{xt:.2f}" y2="{y + 5}" stroke="#9aa5b1"/>')
        out.append(f'<text x="{xt:.2f}" y="{y + 17}" text-anchor="{anchor}" fill="#52606d">'
                   f'{tick_label(t, duration)}</text>')
    return out


def tick_step(duration: float, max_ticks: int = 12) -> float:
    """The smallest 'nice' tick interval giving at most ``max_ticks`` intervals over ``duration``."""
    for step in _nice_steps():
        if duration / step <= max_ticks:
            return step
    return duration  # unreachable for finite durations; keeps the type checker and readers calm


def _nice_steps() -> Iterable[float]:
    """0.01, 0.02, 0.05, … up to 1 s; then steps that read well on a clock; then whole hours."""
    for exponent in range(-2, 1):
        for base in (1, 2, 5):
            yield base * 10.0**exponent
    yield from (10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0)
    hours = 1
    while True:
        yield 3600.0 * hours
        hours *= 2


def tick_label(seconds: float, duration: float) -> str:
    """Seconds for short videos (``2.5s``), ``m:ss`` under an hour, ``h:mm:ss`` beyond."""
    if duration < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if duration >= 3600 else f"{m}:{s:02d}"


def _label(text: str, y_mid: float, tip: str | None = None) -> str:
    title = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<text x="{GUTTER - 8}" y="{y_mid + 4:.1f}" text-anchor="end" fill="#323f4b" '
            f'font-weight="600">{escape(text)}{title}</text>')


def _duration(timeline: Timeline, rows: Sequence[tuple[str, Sequence[Segment]]]) -> float:
    """The span to draw: the video's duration, stretched if any shot or segment ends later."""
    ends = [float(timeline.video.get("duration") or 0.0)]
    ends += [t for shot in timeline.shots if (t := _seconds(shot.get("end"), None)) is not None]
    ends += [seg.end for _, segments in rows for seg in segments]
    value = max(ends)
    return value if math.isfinite(value) and value > 0 else 0.0


def _frame_timer(timeline: Timeline, frame_clock: FrameClock | None = None) -> Callable[[Any], float | None]:
    """Frame index → seconds: the clock's time of that frame when the analysis's clock is at hand,
    else interpolated between the shot boundaries' exact (frame, time) pairs.

    Transition spans and count series are stored as frame indices; without the clock the shots'
    moments give the measured times, so variable frame rate stays right at boundaries, and the rate
    only fills in between.
    """
    if frame_clock is not None and frame_clock.frame_count:
        def clock_time(frame: Any) -> float | None:
            ok = isinstance(frame, (int, float)) and not isinstance(frame, bool) and math.isfinite(frame)
            return frame_clock.time(int(frame)) if ok and frame >= 0 else None

        return clock_time
    pairs = sorted({(m["frame"], m["time"]) for shot in timeline.shots for m in (shot.get("start"), shot.get("end"))
                    if isinstance(m, dict) and isinstance(m.get("frame"), int)
                    and isinstance(m.get("time"), (int, float))})
    fps = _fps(timeline)
    frames = np.array([p[0] for p in pairs], dtype=np.float64)
    times = np.array([p[1] for p in pairs], dtype=np.float64)

    def frame_time(frame: Any) -> float | None:
        if not isinstance(frame, (int, float)):
            return None
        if len(frames) >= 2:
            return float(np.interp(frame, frames, times))
        return frame / fps if fps else None

    return frame_time


def _seconds(value: Any, fps: float | None) -> float | None:
    """Seconds of a moment dict (its ``time``, else ``frame / fps``); ``None`` if it has neither."""
    if not isinstance(value, dict):
        return None
    time = value.get("time")
    if isinstance(time, (int, float)) and not isinstance(time, bool) and math.isfinite(time):
        return float(time)
    frame = value.get("frame")
    if isinstance(frame, int) and not isinstance(frame, bool) and fps:
        return frame / fps
    return None


def _fps(timeline: Timeline) -> float | None:
    value = timeline.video.get("fps")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _tc(moment: Any) -> str:
    return str(moment.get("timecode") or "") if isinstance(moment, dict) else ""


def _shot_number(shot: dict[str, Any], position: int) -> int:
    """1-based shot number shown to people (``index`` is 0-based in the timeline)."""
    index = shot.get("index")
    return (index if isinstance(index, int) else position) + 1
