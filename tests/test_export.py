"""Exact-output tests of the shot list exports (CSV, CMX3600 EDL, JSON) on hand-built timelines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pytest

from vidlens.export import CSV_COLUMNS, shots_csv, shots_edl, shots_json
from vidlens.timeline import FrameClock, Timeline

CSV_HEADER = ",".join(CSV_COLUMNS)
NTSC = Fraction(30000, 1001)


def make_timeline(
    fps: Fraction,
    frame_count: int,
    bounds: Sequence[int],
    kinds: Sequence[str | None],
    keyframes: Sequence[Sequence[int]],
    path: str | None = "/media/clips/bikes.mp4",
) -> Timeline:
    """A timeline whose shots start at ``bounds`` (plus frame 0), with constant-rate frame times."""
    clock = FrameClock([i / fps for i in range(frame_count)], fps)
    starts = [0, *bounds] if frame_count else []
    ends = [*bounds, frame_count] if frame_count else []
    shots: list[dict[str, Any]] = []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        kind = kinds[i]
        shots.append({
            "index": i, "start": clock.moment(start), "end": clock.moment(end), "frames": end - start,
            "duration": round(clock.time(end) - clock.time(start), 6), "transition": kind,
            "transition_span": None if kind is None else {"start": start, "end": start + 1},
            "confidence": 1.0 if kind is None else 0.875,
            "keyframes": [{**clock.moment(k), "sharpness": 10.0, "image": f"keyframes/{k:06d}.jpg"}
                          for k in keyframes[i]],
        })
    video = {"path": path, "fps": float(fps), "fps_exact": str(fps), "duration": clock.end_time,
             "frame_count": frame_count, "width": 640, "height": 360}
    return Timeline(video=video, analysis={"complete": True, "warnings": []}, sections={"shots": shots})


PAL = make_timeline(Fraction(25), 250, [30], [None, "cut"], [[0], [50, 60]])
NTSC_CLIP = make_timeline(NTSC, 1800, [45], [None, "dissolve"], [[10], []])  # second shot: no keyframe


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        (PAL, [
            CSV_HEADER,
            "0,0,30,0.0,1.2,00:00:00:00,00:00:01:05,1.2,30,,1.0,0",
            "1,30,250,1.2,10.0,00:00:01:05,00:00:10:00,8.8,220,cut,0.875,50;60",
        ]),
        (NTSC_CLIP, [
            CSV_HEADER,
            "0,0,45,0.0,1.5015,00:00:00:00,00:00:01:15,1.5015,45,,1.0,10",
            "1,45,1800,1.5015,60.06,00:00:01:15,00:01:00:00,58.5585,1755,dissolve,0.875,",
        ]),
        (make_timeline(Fraction(25), 0, [], [], [], path=None), [CSV_HEADER]),
    ],
    ids=["25fps", "29.97fps-missing-keyframe", "no-shots"],
)
def test_shots_csv_lines(timeline: Timeline, expected: list[str]) -> None:
    assert shots_csv(timeline).splitlines() == expected


def test_csv_leaves_missing_values_empty() -> None:
    timeline = make_timeline(Fraction(25), 50, [], [None], [[]])
    shot = timeline.shots[0]
    shot["confidence"] = None
    del shot["duration"]
    shot["end"]["timecode"] = None
    assert shots_csv(timeline).splitlines()[1] == "0,0,50,0.0,2.0,00:00:00:00,,,50,,,"


EVENT = "{n}  AX       V     C        {a} {b} {a} {b}"


@pytest.mark.parametrize(
    ("timeline", "title", "expected"),
    [
        (PAL, None, [
            "TITLE: bikes", "FCM: NON-DROP FRAME", "",
            EVENT.format(n="001", a="00:00:00:00", b="00:00:01:05"),
            "* FROM CLIP NAME: bikes.mp4", "",
            EVENT.format(n="002", a="00:00:01:05", b="00:00:10:00"),
            "* FROM CLIP NAME: bikes.mp4", "",
        ]),
        (NTSC_CLIP, "Reel one\ncut", [
            "TITLE: Reel one cut", "FCM: NON-DROP FRAME", "",
            EVENT.format(n="001", a="00:00:00:00", b="00:00:01:15"),
            "* FROM CLIP NAME: bikes.mp4", "",
            EVENT.format(n="002", a="00:00:01:15", b="00:01:00:00"),
            "* FROM CLIP NAME: bikes.mp4", "",
        ]),
        (make_timeline(Fraction(25), 10, [], [None], [[]], path=None), None, [
            "TITLE: vidlens", "FCM: NON-DROP FRAME", "",
            EVENT.format(n="001", a="00:00:00:00", b="00:00:00:10"), "",
        ]),
        (make_timeline(Fraction(25), 0, [], [], []), "empty", ["TITLE: empty", "FCM: NON-DROP FRAME", ""]),
    ],
    ids=["25fps", "29.97fps-custom-title", "no-path", "no-shots"],
)
def test_shots_edl_lines(timeline: Timeline, title: str | None, expected: list[str]) -> None:
    text = shots_edl(timeline, title=title)
    assert text.split("\n") == expected


def test_edl_event_columns_match_cmx3600() -> None:
    """Reel in columns 6-13, channel 15-19, transition 21-24, source in from column 30 (1-based)."""
    event = shots_edl(PAL).splitlines()[3]
    assert event[5:13] == "AX      "
    assert event[14:19] == "V    "
    assert event[20:24] == "C   "
    assert event[29:] == "00:00:00:00 00:00:01:05 00:00:00:00 00:00:01:05"


def test_edl_derives_a_missing_timecode_from_the_frame() -> None:
    timeline = make_timeline(NTSC, 1800, [45], [None, "cut"], [[], []])
    timeline.shots[1]["end"]["timecode"] = None
    assert shots_edl(timeline).splitlines()[6] == EVENT.format(n="002", a="00:00:01:15", b="00:01:00:00")
    timeline.shots[1]["end"] = {}
    with pytest.raises(ValueError, match="neither a timecode nor a frame"):
        shots_edl(timeline)


@pytest.mark.parametrize("timeline", [PAL, NTSC_CLIP], ids=["25fps", "29.97fps"])
def test_shots_json_has_only_video_and_shots(timeline: Timeline) -> None:
    data = json.loads(shots_json(timeline))
    assert set(data) == {"schema", "video", "shots"}
    assert data["video"]["fps_exact"] == timeline.video["fps_exact"]
    assert [s["start"]["timecode"] for s in data["shots"]] == [s["start"]["timecode"] for s in timeline.shots]


def test_shots_json_writes_fractions_as_numbers() -> None:
    timeline = make_timeline(NTSC, 100, [], [None], [[]])
    timeline.video["fps"] = NTSC
    assert json.loads(shots_json(timeline))["video"]["fps"] == pytest.approx(29.97002997)
