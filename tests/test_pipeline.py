"""The decode-once pipeline: fan-out, failure isolation, interruption, the timeline it returns."""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from vidlens import pipeline
from vidlens.analyzers import AnalyzerContext, FrameBatch, TimelinePart
from vidlens.analyzers.shots import ShotsAnalyzer
from vidlens.api import analyze
from vidlens.errors import InvalidMediaError, UsageError
from vidlens.media import FrameSpec, VideoInfo
from vidlens.timebase import TimeSpec
from vidlens.timeline import SCHEMA, Timeline


class Recorder:
    """A test analyzer that records what it was given; can fail or interrupt on demand."""

    name = "recorder"
    after: tuple[str, ...] = ()

    def __init__(self, spec: FrameSpec, fail_at: int | None = None, interrupt_at: int | None = None) -> None:
        self.needs = spec
        self.fail_at, self.interrupt_at = fail_at, interrupt_at
        self.indices: list[int] = []
        self.shapes: set[tuple[int, ...]] = set()

    def start(self, info: VideoInfo) -> None:
        self.indices.clear()

    def process(self, batch: FrameBatch) -> None:
        for frame, index in zip(batch.frames, batch.indices):
            if self.fail_at is not None and index >= self.fail_at:
                raise RuntimeError("recorder broke")
            if self.interrupt_at is not None and index >= self.interrupt_at:
                raise KeyboardInterrupt
            self.indices.append(int(index))
            self.shapes.add(frame.shape)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        return TimelinePart(sections={"recorded": self.indices}, params={"n": len(self.indices)})

    def params(self) -> dict[str, Any]:
        return {}


def test_each_analyzer_gets_its_frames_at_its_size(bikes: Path) -> None:
    every_third = Recorder(FrameSpec(step=3, width=64, height=32, pixel_format="gray"))
    shots = ShotsAnalyzer()
    timeline = pipeline.run(bikes, [shots, every_third], hash_file=False).timeline
    assert every_third.indices == list(range(0, 250, 3))
    assert every_third.shapes == {(32, 64)}
    assert len(timeline.shots) == 6
    assert timeline.analysis["frames_sampled"] == {"shots": 250, "recorder": 84}


def test_a_failing_analyzer_does_not_sink_the_others(bikes: Path) -> None:
    timeline = pipeline.run(bikes, [ShotsAnalyzer(), Recorder(FrameSpec(), fail_at=100)], hash_file=False).timeline
    assert [s["start"]["frame"] for s in timeline.shots] == [0, 30, 76, 137, 187, 242]
    assert any("recorder failed at frame" in w for w in timeline.warnings)
    assert "recorded" not in timeline.sections
    # what the failed analyzer would have added is missing: the timeline says it is partial, and whose part
    assert not timeline.complete and timeline.analysis["failed_analyzers"] == ["recorder"]


def test_a_clean_run_is_complete_with_no_failed_analyzers(bikes: Path) -> None:
    timeline = pipeline.run(bikes, [ShotsAnalyzer()], hash_file=False, end=TimeSpec.parse("1s")).timeline
    assert timeline.complete and timeline.analysis["failed_analyzers"] == []


def test_interruption_keeps_partial_results(bikes: Path) -> None:
    timeline = pipeline.run(bikes, [ShotsAnalyzer(), Recorder(FrameSpec(), interrupt_at=150)], hash_file=False).timeline
    assert timeline.analysis["interrupted"] is True
    assert timeline.complete is False
    assert 140 <= timeline.video["frame_count"] < 250
    starts = [s["start"]["frame"] for s in timeline.shots]
    assert starts[:4] == [0, 30, 76, 137]  # shots seen before the interruption are kept
    assert any("interrupted" in w for w in timeline.warnings)


class SwallowsInterrupts(Recorder):
    """Starts like a model whose loader turns any exception into its own (OmegaConf, under rapidocr, does):
    a KeyboardInterrupt raised while it loads would come out as a broken analyzer."""

    def start(self, info: VideoInfo) -> None:
        super().start(info)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the analyzers start
        try:
            time.sleep(0.2)
        except BaseException as error:
            raise RuntimeError("config failed") from error


def test_ctrl_c_while_analyzers_start_is_an_interruption(bikes: Path) -> None:
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a background job (nohup, `cmd &`): Ctrl-C is ignored
        pytest.skip("SIGINT is ignored in this process, as the pipeline leaves it (a background job)")
    timeline = pipeline.run(bikes, [ShotsAnalyzer(), SwallowsInterrupts(FrameSpec())], hash_file=False).timeline
    assert timeline.analysis["interrupted"] is True and not timeline.complete
    assert not timeline.analysis["failed_analyzers"] and not any("could not start" in w for w in timeline.warnings)
    assert timeline.video["frame_count"] < 250  # it stopped instead of analysing the whole video


class ShotNotes(Recorder):
    """Adds a field to each shot, the way labels, faces or objects do."""

    name = "notes"
    after = ("shots",)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        shots = context.parts["shots"].sections["shots"]
        return TimelinePart(shot_fields={s["index"]: {"note": f"shot {s['index']}"} for s in shots})


class Impostor(ShotNotes):
    name = "impostor"

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        return TimelinePart(sections={"shots": []})


class Mover(ShotNotes):
    name = "mover"

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        return TimelinePart(shot_fields={0: {"start": context.clock.moment(5)}})


def test_shot_fields_are_joined_into_the_shots_section(bikes: Path) -> None:
    timeline = pipeline.run(bikes, [ShotsAnalyzer(), ShotNotes(FrameSpec(step=25))], hash_file=False,
                            end=TimeSpec.parse("3s")).timeline
    assert [s["note"] for s in timeline.shots] == [f"shot {s['index']}" for s in timeline.shots]
    assert list(timeline.sections) == ["shots"]  # no section of its own


@pytest.mark.parametrize("analyzer", [Impostor, Mover])
def test_an_analyzer_may_not_take_over_another_ones_section(bikes: Path, analyzer: type) -> None:
    with pytest.raises(RuntimeError, match="shots"):
        pipeline.run(bikes, [ShotsAnalyzer(), analyzer(FrameSpec(step=25))], hash_file=False, end=TimeSpec.parse("1s"))


def test_timeline_schema_and_moments(bikes: Path, tmp_path: Path) -> None:
    analyze(bikes, output_dir=tmp_path)
    data = Timeline.load(tmp_path / "timeline.json").to_dict()
    assert data["schema"] == SCHEMA
    for key in ("shots", "labels", "objects", "faces", "text", "events"):
        assert isinstance(data[key], list)
    video = data["video"]
    assert video["frame_count"] == 250 and video["frame_count_source"] == "counted"
    assert video["width"] == 640 and video["height"] == 272 and len(video["sha256"]) == 64
    assert data["analysis"]["complete"] is True
    shots = data["shots"]
    assert shots[0]["start"] == {"frame": 0, "time": 0.0, "timecode": "00:00:00:00"}
    assert shots[-1]["end"]["frame"] == 250
    for before, after in itertools.pairwise(shots):
        assert before["end"] == after["start"]  # half-open and contiguous
    for shot in shots:
        assert shot["keyframes"], shot
        for key in shot["keyframes"]:
            assert shot["start"]["frame"] <= key["frame"] < shot["end"]["frame"]
            assert (tmp_path / key["image"]).stat().st_size > 1000
    for name in ("shots.csv", "shots.edl", "report.html", "contact_sheet.jpg"):
        assert (tmp_path / name).stat().st_size > 100


def test_unknown_analyzer_is_a_usage_error(bikes: Path) -> None:
    with pytest.raises(UsageError, match="unknown analyzer"):
        pipeline.run(bikes, ["shots", "telepathy"])


def test_bad_input_is_refused_before_work(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(InvalidMediaError):
        pipeline.run(path)


def test_time_range_keeps_exact_indices(bikes: Path) -> None:
    timeline = pipeline.run(bikes, start=TimeSpec.parse("50f"), end=TimeSpec.parse("8s"), hash_file=False).timeline
    assert [(s["start"]["frame"], s["end"]["frame"]) for s in timeline.shots] == [
        (50, 76), (76, 137), (137, 187), (187, 200)]
    assert timeline.shots[0]["start"]["time"] == pytest.approx(2.0)
    assert timeline.complete and timeline.analysis["range"]["end"]["frame"] == 200


def test_empty_time_range_is_refused(bikes: Path) -> None:
    with pytest.raises(UsageError, match="empty"):
        pipeline.run(bikes, start=TimeSpec.parse("5s"), end=TimeSpec.parse("2s"))
