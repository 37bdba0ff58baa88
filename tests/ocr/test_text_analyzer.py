"""On-screen text on videos with rendered captions at known times and places."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.captions import Caption, caption_video, draw_caption, panning_photo
from tests.support.photos import list_photos, load_photo
from tests.timeline_schema import assert_valid
from vidlens import pipeline
from vidlens.cli import app
from vidlens.ocr import GateVerdict, OcrEngine, TextGate
from vidlens.ocr.engine import box_iou

PHOTOS = {p.name: p for p in list_photos()}
FPS = 25
CAPTIONS = [Caption("Welcome to the kitchen", 10, 60, size=0.07),
            Caption("Espresso 2 shots 30 ml", 70, 120, y=0.12, size=0.06),
            Caption("EXIT 12 Northbound", 40, 125, x=0.7, y=0.5, size=0.05, color=(255, 255, 0))]


def photo(name: str) -> np.ndarray:
    if name not in PHOTOS:
        pytest.skip(f"{name} is not installed")
    return load_photo(PHOTOS[name])


@pytest.fixture(scope="module")
def captioned(tmp_path_factory) -> tuple[Path, list[dict]]:
    path = tmp_path_factory.mktemp("text") / "captions.mp4"
    truth = caption_video(path, panning_photo(photo("coffee.png"), (640, 360), 140), CAPTIONS, fps=FPS)
    return path, truth


@pytest.fixture(scope="module")
def timeline(captioned):
    return pipeline.run(captioned[0], ["text"]).timeline


def test_engine_reads_a_rendered_line() -> None:
    frame = photo("rocket.jpg")[:360, :640].copy()
    box = draw_caption(frame, Caption("Launch window 06:42 UTC", 0, 1, size=0.08))
    (reading,) = OcrEngine().read(frame[:, :, ::-1])
    assert reading.text == "Launch window 06:42 UTC" and reading.score > 0.9
    assert box_iou(reading.box, box) > 0.5


def test_every_caption_is_one_segment_with_its_text_time_and_place(captioned, timeline) -> None:
    _, truth = captioned
    segments = timeline["text"]
    assert len(segments) == len(truth)
    half_step = FPS / 2 / 2  # 2 samples per second: bounds are exact to half a step
    for cap in truth:
        seg = next(s for s in segments if s["text"].lower() == cap["text"].lower())
        assert abs(seg["start"]["frame"] - cap["start"]) <= half_step + 1, (seg, cap)
        assert abs(seg["end"]["frame"] - cap["end"]) <= half_step + 1, (seg, cap)
        assert box_iou(tuple(seg["box"]), tuple(cap["box"])) > 0.5
        assert seg["confidence"] > 0.9


def test_the_text_timeline_matches_the_schema(timeline) -> None:
    assert timeline["text"] and any("variants" in s or "readings" in s for s in timeline["text"])
    assert_valid(timeline)


def test_the_gate_reads_only_frames_whose_text_changed(timeline) -> None:
    gate = timeline["text_gate"]
    counted = sum(gate[f"frames_{v.value}"] for v in GateVerdict)
    assert counted == gate["frames_sampled"] == 12  # 140 frames at 25 fps sampled at 2 fps
    assert gate["frames_read"] == gate["frames_new_text"] < gate["frames_sampled"]
    assert gate["frames_same_text"] >= 2  # captions held over the panning photo are not read again


def test_gate_says_no_text_on_a_blank_frame_and_unchanged_on_a_repeat() -> None:
    frame = np.full((360, 640, 3), 40, np.uint8)
    frame[180:] = 90  # two flat bands: an edge, but nothing text-like
    gate = TextGate()
    assert gate.assess(frame).verdict is GateVerdict.NO_TEXT
    assert gate.assess(frame.copy()).verdict is GateVerdict.UNCHANGED


def test_cli_writes_srt_and_json(captioned, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    path, truth = captioned
    runner = CliRunner()
    srt = tmp_path / "c.srt"
    result = runner.invoke(app, ["text", str(path), "-q", "-o", str(srt)])
    assert result.exit_code == 0, result.output
    cues = srt.read_text(encoding="utf-8").strip().split("\n\n")
    assert len(cues) == len(truth)
    number, times, text = cues[0].split("\n")
    assert number == "1" and text == "Welcome to the kitchen"
    assert times.startswith("00:00:00,") and " --> 00:00:02," in times
    result = runner.invoke(app, ["text", str(path), "-q", "-f", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {s["text"] for s in payload["text"]} == {c["text"] for c in truth}
