"""Timeline sections in the formats other tools read: shot lists as CSV for spreadsheets, CMX3600 EDL
for editors and JSON; on-screen text as SRT / WebVTT subtitles and JSON.

These are pure functions over a :class:`~vidlens.timeline.Timeline` returning text, so callers decide
where it goes (a file, stdout, an HTTP response) and tests can compare exact lines. Times and
timecodes are taken from the timeline as written, never recomputed, so every export agrees with
``timeline.json`` to the frame. A value the timeline lacks is written as an empty CSV cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from .timebase import timecode
from .timeline import Timeline

#: CSV columns, in order. ``keyframe_frames`` holds the shot's keyframe frame indices joined by ``;``.
CSV_COLUMNS = (
    "index", "start_frame", "end_frame", "start_time", "end_time", "start_timecode", "end_timecode",
    "duration", "frames", "transition", "confidence", "keyframe_frames",
)

#: Reel name written in every EDL event: "AX" is the conventional auxiliary source, which editors
#: relink to the clip named in the ``FROM CLIP NAME`` comment.
EDL_REEL = "AX"


def shots_csv(timeline: Timeline) -> str:
    """One CSV row per shot (header first, ``\\n`` line ends); missing values are empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for shot in timeline.shots:
        start, end = shot.get("start") or {}, shot.get("end") or {}
        keyframes = [k.get("frame") for k in shot.get("keyframes") or [] if isinstance(k, dict)]
        writer.writerow([
            _cell(shot.get("index")),
            _cell(start.get("frame")), _cell(end.get("frame")),
            _cell(start.get("time")), _cell(end.get("time")),
            _cell(start.get("timecode")), _cell(end.get("timecode")),
            _cell(shot.get("duration")), _cell(shot.get("frames")),
            _cell(shot.get("transition")), _cell(shot.get("confidence")),
            ";".join(_cell(f) for f in keyframes if f is not None),
        ])
    return buffer.getvalue()


def shots_edl(timeline: Timeline, title: str | None = None) -> str:
    """A CMX3600 EDL with one cut event per shot, source and record times equal to the shot's.

    The record side reuses the source timecodes so that importing the EDL rebuilds the video as
    cut into its shots, in place. Timecodes are the timeline's own, which are non-drop-frame at
    the nominal rate (30 for 29.97 material), hence ``FCM: NON-DROP FRAME`` in every case. Out
    points are exclusive, as both the timeline's shot ends and EDLs define them. Gradual
    transitions are written as cuts at the shot's first frame: the task is to mark shots, and a
    CMX dissolve would need an extra event per transition that few importers agree on.
    """
    name = _file_name(timeline)
    heading = _edl_text(title if title is not None else (PurePath(name).stem if name else "vidlens"))
    lines = [f"TITLE: {heading}", "FCM: NON-DROP FRAME", ""]
    fps = _fps(timeline)
    for number, shot in enumerate(timeline.shots, start=1):
        tc_in = _timecode(shot.get("start"), fps)
        tc_out = _timecode(shot.get("end"), fps)
        lines.append(f"{number:03d}  {EDL_REEL:<8} V     C        {tc_in} {tc_out} {tc_in} {tc_out}")
        if name:
            lines.append(f"* FROM CLIP NAME: {_edl_text(name)}")
        lines.append("")
    return "\n".join(lines)


def shots_json(timeline: Timeline) -> str:
    """The shot list with the video facts it refers to, as indented JSON (no other sections)."""
    return json.dumps(shots_payload(timeline), indent=2, ensure_ascii=False) + "\n"


def shots_payload(timeline: Timeline) -> dict[str, Any]:
    """What :func:`shots_json` writes, JSON-ready: ``{"schema", "video", "shots"}``."""
    plain = json.loads(timeline.to_json(indent=None))  # reuses the timeline's Fraction/numpy handling
    return {"schema": plain["schema"], "video": plain["video"], "shots": plain["shots"]}


def text_srt(timeline: Timeline) -> str:
    """The ``text`` section as SubRip subtitles: one cue per line of text, simultaneous lines overlap."""
    return _subtitles(timeline, srt=True)


def text_vtt(timeline: Timeline) -> str:
    """The ``text`` section as WebVTT, with each cue placed near where the text was on screen."""
    return _subtitles(timeline, srt=False)


def text_json(timeline: Timeline) -> str:
    """The text segments with the video facts they refer to, as indented JSON (no other sections)."""
    return json.dumps(text_payload(timeline), indent=2, ensure_ascii=False) + "\n"


def text_payload(timeline: Timeline) -> dict[str, Any]:
    """What :func:`text_json` writes, JSON-ready: ``{"schema", "video", "text", "text_gate"}``."""
    plain = json.loads(timeline.to_json(indent=None))
    return {"schema": plain["schema"], "video": plain["video"], "text": plain.get("text", []),
            "text_gate": plain.get("text_gate", {})}


def objects_mot(timeline: Timeline) -> str:
    """Every track's box on every frame it spans, in the MOT Challenge text format.

    ``frame, id, bb_left, bb_top, bb_width, bb_height, conf, -1, -1, -1`` with 1-based frames, as
    MOT tools (motmetrics, TrackEval) read. Frames between detections carry the interpolated box and
    the track's mean confidence; frames inside a gap longer than the track's ``max_gap`` have no row.
    """
    from .objects.tracks import track_box_at

    rows = []
    for track in timeline["objects"] or []:
        if not track.get("boxes"):
            continue
        first, last = int(track["boxes"][0][0]), int(track["boxes"][-1][0])
        for frame in range(first, last + 1):
            box = track_box_at(track, frame)
            if box is None:  # inside a gap longer than the track's max_gap: the object was lost there
                continue
            x0, y0, x1, y1 = (float(v) for v in box)
            rows.append((frame + 1, track["id"], x0, y0, x1 - x0, y1 - y0, track.get("confidence", 1.0)))
    rows.sort()
    return "".join(f"{f},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{c:.4f},-1,-1,-1\n" for f, i, x, y, w, h, c in rows)


def objects_json(timeline: Timeline) -> str:
    """Tracks, per-class summary, counts and events with the video facts, as indented JSON."""
    plain = json.loads(timeline.to_json(indent=None))
    payload: dict[str, Any] = {"schema": plain["schema"], "video": plain["video"]}
    for key in ("objects", "object_summary", "object_counts", "events"):
        if key in plain:
            payload[key] = plain[key]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _subtitles(timeline: Timeline, srt: bool) -> str:
    height = timeline.video.get("height") or 0  # display height: boxes are in display pixels too
    lines = [] if srt else ["WEBVTT", ""]
    for number, seg in enumerate(timeline["text"], 1):
        start, end = _clock(seg["start"]["time"], srt), _clock(seg["end"]["time"], srt)
        cue = f"{start} --> {end}"
        if not srt and height and seg.get("box"):
            cue += f" line:{max(0, min(100, round(100 * seg['box'][1] / height)))}%"
        lines += [str(number), cue, seg["text"].replace("-->", "->"), ""]
    return "\n".join(lines)


def _clock(seconds: float, srt: bool) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    sec, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{',' if srt else '.'}{ms:03d}"


def _cell(value: Any) -> str:
    """CSV text of one value: empty for missing, shortest exact form for numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _file_name(timeline: Timeline) -> str:
    """The analysed file's base name (what editors relink to), or empty if the path is unknown."""
    path = timeline.video.get("path")
    return PurePath(str(path)).name if path else ""


def _edl_text(text: str) -> str:
    """EDL fields are one line of plain text: control characters would split or corrupt an event."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _fps(timeline: Timeline) -> Fraction | None:
    """The exact frame rate, only needed to fill in a timecode that the timeline left out."""
    for key in ("fps_exact", "fps"):
        value = timeline.video.get(key)
        if value:
            try:
                return Fraction(str(value))
            except (ValueError, ZeroDivisionError):
                continue
    return None


def _timecode(moment: Any, fps: Fraction | None) -> str:
    """The moment's own timecode; derived from its frame only when absent (older or partial data)."""
    if isinstance(moment, dict):
        if moment.get("timecode"):
            return str(moment["timecode"])
        if isinstance(moment.get("frame"), int) and fps:
            return timecode(moment["frame"], fps)
    raise ValueError(f"shot boundary {moment!r} has neither a timecode nor a frame to derive one from")
