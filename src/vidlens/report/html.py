"""The HTML report: one self-contained page per timeline that opens offline from the output folder.

Everything the page needs is inline (CSS, the SVG plot) except images, which are referenced by
relative path so that the output folder can be moved or zipped as a whole. The page is rendered
with Jinja2 autoescaping; values are turned into display strings here so the template stays
declarative and a timeline with missing or odd values still renders instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from .. import __version__
from ..files import write_text_atomic
from ..timebase import clock
from ..timeline import FrameClock, Timeline
from .plot import KIND_COLOURS, ROW_FILLS, count_svgs, expand_items, section_rows, timeline_svg

#: Object tracks shown as cards (the longest); the rest are in ``timeline.json``.
MAX_TRACK_CARDS = 48
#: Rows listed per generic section in the page; the rest is in ``timeline.json``.
MAX_SECTION_ROWS = 500
#: Keyframes shown as small extra thumbnails under a shot's main one.
MAX_EXTRA_KEYFRAMES = 4

_ENV = Environment(loader=PackageLoader("vidlens.report", "templates"), autoescape=True,
                   trim_blocks=True, lstrip_blocks=True)


def write_report(timeline: Timeline, output_dir: Path, filename: str = "report.html", *,
                 frame_clock: FrameClock | None = None) -> Path:
    """Render the report into ``output_dir`` (where the keyframes live) and return its path.

    Written atomically, so a half-written page never replaces a good one.
    """
    output_dir = Path(output_dir)
    return write_text_atomic(output_dir / filename, render_report(timeline, output_dir, frame_clock=frame_clock))


def render_report(timeline: Timeline, output_dir: Path | None = None, *,
                  frame_clock: FrameClock | None = None) -> str:
    """The report's HTML text. With ``output_dir``, images missing from it get a placeholder; with the
    analysis's ``frame_clock``, the plots place frame indices at their frames' own times."""
    return _ENV.get_template("report.html.j2").render(**report_context(timeline, output_dir, frame_clock=frame_clock))


def report_context(timeline: Timeline, output_dir: Path | None = None, *,
                   frame_clock: FrameClock | None = None) -> dict[str, Any]:
    """Everything the template shows, as display-ready strings, lists and flags."""
    video, analysis = timeline.video, timeline.analysis
    name = PurePosixPath(str(video.get("path") or "")).name or "video"
    rows = section_rows(timeline)
    sections = [s for s in _generic_sections(timeline) if s["items"]]
    return {
        "title": name,
        "video_path": str(video.get("path") or ""),
        "video_rows": _video_rows(video),
        "analysis_rows": _analysis_rows(timeline),
        "stages": _stages(analysis.get("stages_s")),
        "decode_rows": _pairs(analysis.get("decode"), skip=("errors",)),
        "decode_errors": [str(e) for e in _as_list((analysis.get("decode") or {}).get("errors"))],
        "analyzer_params": {str(k): _pairs(v) for k, v in _as_dict(analysis.get("analyzers")).items()},
        "warnings": [str(w) for w in _as_list(analysis.get("warnings"))],
        "complete": timeline.complete,
        "interrupted": bool(analysis.get("interrupted")),
        "shots": [_shot_card(shot, i, output_dir) for i, shot in enumerate(timeline.shots)],
        "svg": Markup(timeline_svg(timeline, frame_clock=frame_clock)),  # built from escaped parts in plot.py
        "kinds": [{"name": k, "colour": c} for k, c in KIND_COLOURS.items()],
        "row_legend": [{"name": n, "colour": ROW_FILLS[i % len(ROW_FILLS)], "count": len(s)}
                       for i, (n, s) in enumerate(rows)],
        "sections": sections,
        "contact_sheet": _local_ref(timeline.sections.get("contact_sheet"), output_dir),
        "tracks": _track_cards(timeline, output_dir),
        "counts": [{"name": name, "svg": Markup(svg)} for name, svg in count_svgs(timeline, frame_clock=frame_clock)],
        "timeline_json": "timeline.json",
        "version": __version__,
        "aspect": _aspect(video),
    }


def _video_rows(video: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Facts about the file; a counted/declared frame-count mismatch is flagged for attention."""
    width, height = video.get("width"), video.get("height")
    size = f"{width} × {height}" if width and height else "—"
    if video.get("rotation"):
        size += f" (rotated {video['rotation']}°)"
    counted, declared = video.get("frame_count"), video.get("declared_frame_count")
    frames = f"{_text(counted)} counted · {_text(declared)} declared"
    if video.get("declared_frame_count_source"):
        frames += f" ({video['declared_frame_count_source']})"
    audio = "none"
    if video.get("has_audio"):
        audio = str(video.get("audio_codec") or "yes (codec unknown)")
    return [
        {"label": "Path", "value": _text(video.get("path")), "mono": True},
        {"label": "Container", "value": _text(video.get("container"))},
        {"label": "Video codec", "value": _text(video.get("codec"))},
        {"label": "Frame size", "value": size},
        {"label": "Frame rate", "value": _fps_text(video)},
        {"label": "Duration", "value": _duration_text(video.get("duration"), video.get("declared_duration"))},
        {"label": "Frames", "value": frames,
         "flag": counted is not None and declared is not None and counted != declared},
        {"label": "Audio", "value": audio},
        {"label": "File size", "value": _bytes_text(video.get("size_bytes"))},
        {"label": "SHA-256", "value": _text(video.get("sha256")), "mono": True},
    ]


def _analysis_rows(timeline: Timeline) -> list[dict[str, Any]]:
    analysis = timeline.analysis
    elapsed, speed = analysis.get("elapsed_s"), analysis.get("speed_fps")
    return [
        {"label": "vidlens version", "value": _text(analysis.get("vidlens_version"))},
        {"label": "Elapsed", "value": f"{elapsed:.2f} s" if _is_number(elapsed) else "—"},
        {"label": "Speed", "value": f"{speed:,.1f} frames/s" if _is_number(speed) else "—"},
        {"label": "Shots", "value": str(len(timeline.shots))},
        {"label": "Warnings", "value": str(len(timeline.warnings)), "flag": bool(timeline.warnings)},
    ]


def _stages(stages: Any) -> list[dict[str, Any]]:
    """Per-stage seconds with each stage's share of the slowest one, for the inline bar widths."""
    items = [(str(k), float(v)) for k, v in _as_dict(stages).items() if _is_number(v)]
    slowest = max((v for _, v in items), default=0.0)
    return [{"name": k, "seconds": f"{v:.3f}", "pct": round(100 * v / slowest, 1) if slowest > 0 else 0}
            for k, v in items]


#: Label/category chips shown per shot card (categories first: they are what people scan for).
MAX_CHIPS = 6


def _shot_card(shot: Mapping[str, Any], position: int, output_dir: Path | None) -> dict[str, Any]:
    """One shot strip card: thumbnail (first keyframe with an image), times and transition."""
    start, end = _as_dict(shot.get("start")), _as_dict(shot.get("end"))
    keyframes = [k for k in _as_list(shot.get("keyframes")) if isinstance(k, dict)]
    images = [{"src": src, "timecode": _text(k.get("timecode"))}
              for k in keyframes if (src := _local_ref(k.get("image"), output_dir))]
    kind = shot.get("transition")
    span = _as_dict(shot.get("transition_span"))
    span_frames = span["end"] - span["start"] if _is_number(span.get("start")) and _is_number(span.get("end")) else 0
    transition = str(kind) if kind else "start"
    if kind and kind != "cut" and span_frames > 1:
        transition += f" · {span_frames} f"
    confidence = shot.get("confidence")
    index = shot.get("index")
    duration = shot.get("duration")
    return {
        "number": (index if isinstance(index, int) else position) + 1,
        "start": _text(start.get("timecode")),
        "end": _text(end.get("timecode")),
        "start_clock": clock(start["time"]) if _is_number(start.get("time")) else "",
        "duration": f"{duration:.2f} s" if _is_number(duration) else "—",
        "frames": _text(shot.get("frames")),
        "kind": str(kind) if kind else "start",
        "colour": KIND_COLOURS.get(str(kind), "#9aa5b1"),
        "transition": transition,
        "confidence": f"{confidence:.0%}" if _is_number(confidence) and kind else "",
        "thumb": images[0] if images else None,
        "extra": images[1:1 + MAX_EXTRA_KEYFRAMES],
        "keyframes": len(keyframes),
        "chips": ([f"{_text(o.get('name'))} ×{o['count']}" if _is_number(o.get("count")) and o["count"] > 1
                   else _text(o.get("name")) for o in _as_list(shot.get("objects")) if isinstance(o, dict)]
                  + [_text(c.get("name")) for key in ("categories", "labels")
                     for c in _as_list(shot.get(key)) if isinstance(c, dict)])[:MAX_CHIPS],
    }


def _track_cards(timeline: Timeline, output_dir: Path | None) -> list[dict[str, Any]]:
    """One card per object or face track (longest first): thumbnail (faces': blurred), class, id, when, how long."""
    cards = []
    for track in [*_as_list(timeline.sections.get("objects")), *_as_list(timeline.sections.get("faces"))]:
        if not isinstance(track, dict):
            continue
        start, end = _as_dict(track.get("start")), _as_dict(track.get("end"))
        seconds = end.get("time", 0) - start.get("time", 0) if _is_number(end.get("time")) and \
            _is_number(start.get("time")) else None
        cards.append({"id": _text(track.get("id")), "name": _text(track.get("class")),
                      "thumb": _local_ref(track.get("thumbnail"), output_dir), "start": _text(start.get("timecode")),
                      "duration": f"{seconds:.1f} s" if seconds is not None else "", "seconds": seconds or 0.0,
                      "emotion": _emotion_caption(track.get("emotion"))})
    cards.sort(key=lambda c: -c["seconds"])
    return cards[:MAX_TRACK_CARDS]


def _emotion_caption(emotion: Any) -> str:
    """A face track's dominant expression and its mean probability (``happy 0.93``), or "" without one."""
    emotion = _as_dict(emotion)
    label, p = emotion.get("emotion"), emotion.get("probability")
    return f"{_text(label)} {p:.2f}" if label and _is_number(p) else ""


def _generic_sections(timeline: Timeline) -> list[dict[str, Any]]:
    """Tables of the non-shot list sections, with the columns any segment-like item has."""
    out = []
    for name, items in timeline.sections.items():
        if name in ("shots", "contact_sheet", "objects", "faces") or not isinstance(items, list):
            continue
        rows = []
        expanded = expand_items(items)
        for item in expanded[:MAX_SECTION_ROWS]:
            data = _as_dict(item)
            start, end = _as_dict(data.get("start")) or data, _as_dict(data.get("end"))
            caption = next((data[k] for k in ("label", "name", "text", "class", "kind", "type") if data.get(k)), "")
            rows.append({"start": _text(start.get("timecode")), "end": _text(end.get("timecode")),
                         "caption": _text(caption if data else item),
                         "confidence": f"{data['confidence']:.2f}" if _is_number(data.get("confidence")) else ""})
        out.append({"name": str(name), "items": rows, "total": len(expanded)})
    return out


def _local_ref(path: Any, output_dir: Path | None) -> str | None:
    """A safe relative URL for a file in the output folder, or ``None`` (placeholder shown).

    Remote, absolute and parent-escaping paths are refused so the page never reaches outside its
    folder (it must work offline and stay portable); a missing file is refused when we can check.
    """
    if not isinstance(path, str) or not path or "://" in path or ":" in path.split("/")[0]:
        return None
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return None
    if output_dir is not None and not (Path(output_dir) / rel).is_file():
        return None
    return quote(rel.as_posix())


def _fps_text(video: Mapping[str, Any]) -> str:
    exact, fps = video.get("fps_exact"), video.get("fps")
    if exact and _is_number(fps) and "/" in str(exact):
        return f"{exact} ≈ {fps:.3f} fps"
    if exact:
        return f"{exact} fps"
    return f"{fps:g} fps" if _is_number(fps) else "—"


def _duration_text(duration: Any, declared: Any) -> str:
    if not _is_number(duration):
        return "—"
    text = f"{clock(duration)} ({duration:.3f} s)"
    if _is_number(declared) and abs(declared - duration) >= 0.001:
        text += f" · container says {declared:.3f} s"
    return text


def _bytes_text(size: Any) -> str:
    if not _is_number(size):
        return "—"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return "—"  # not reached: the loop returns at GiB


def _pairs(value: Any, skip: tuple[str, ...] = ()) -> list[dict[str, str]]:
    return [{"label": str(k), "value": _text(v)} for k, v in _as_dict(value).items() if k not in skip]


def _text(value: Any) -> str:
    """Display text of a plain value: an em dash for missing, yes/no for booleans."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or "—"
    return str(value)


def _aspect(video: Mapping[str, Any]) -> str:
    """CSS aspect ratio of thumbnails, so placeholders and images line up in the strip."""
    width, height = video.get("width"), video.get("height")
    if _is_number(width) and _is_number(height) and width > 0 and height > 0:
        return f"{width} / {height}"
    return "16 / 9"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
