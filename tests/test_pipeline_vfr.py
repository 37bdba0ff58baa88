"""Exact time on a variable-frame-rate file: frames carry pts, the clock is built from them, and a range
given in frames (``--start 30f``) is a frame index, not frames / nominal fps."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import pytest

from vidlens import pipeline
from vidlens.analyzers import AnalyzerContext, FrameBatch, TimelinePart
from vidlens.media import FrameSpec, VideoInfo
from vidlens.timebase import TimeSpec

#: Frame durations in milliseconds, repeating: 20, 60, 40 ms (25 fps on average, far from regular).
STEPS_MS = (20, 60, 40)


@pytest.fixture(scope="module")
def vfr(bikes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 real frames of bikes.mp4, re-timed with irregular pts (time base 1/1000)."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mkv"
    with av.open(str(bikes)) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "0"}
        pts = 0
        for i, frame in enumerate(source.decode(video=0)):
            if i == 60:
                break
            small = frame.reformat(width=160, height=96, format="yuv420p")
            small.pts, small.time_base = pts, Fraction(1, 1000)
            pts += STEPS_MS[i % len(STEPS_MS)]
            out.mux(stream.encode(small))
        out.mux(stream.encode(None))
    return path


def _decoded_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(f.pts for f in container.decode(stream))
        return [float((p - pts[0]) * stream.time_base) for p in pts]


class Recorder:
    name = "recorder"
    after: tuple[str, ...] = ()
    needs = FrameSpec(width=32, height=32)

    def start(self, info: VideoInfo) -> None:
        self.indices: list[int] = []
        self.times: list[float] = []
        self.pts: list[int] = []

    def process(self, batch: FrameBatch) -> None:
        self.indices += [int(i) for i in batch.indices]
        self.times += [float(t) for t in batch.times]
        self.pts += [int(p) for p in batch.pts]
        assert batch.time_base is not None

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        return TimelinePart()

    def params(self) -> dict:
        return {}


def test_a_range_in_frames_lands_on_those_frames_of_a_vfr_file(vfr: Path) -> None:
    truth = _decoded_times(vfr)
    assert len(truth) == 60 and len({round(b - a, 3) for a, b in itertools.pairwise(truth)}) == 3  # really VFR
    recorder = Recorder()
    analysis = pipeline.run(vfr, [recorder], hash_file=False, start=TimeSpec.parse("31f"), end=TimeSpec.parse("44f"))
    # through the average 25 fps, 31f would be 1.24 s, which is frame 32 here (frame 31 is at 1.22 s)
    assert truth[31] == pytest.approx(1.22) and truth[32] == pytest.approx(1.28)
    assert recorder.indices == list(range(31, 44))
    assert recorder.times == pytest.approx(truth[31:44], abs=1e-9)
    timeline = analysis.timeline
    assert timeline.analysis["range"]["start"]["frame"] == 31
    assert timeline.analysis["range"]["start"]["time"] == pytest.approx(truth[31], abs=1e-6)
    assert timeline.analysis["range"]["end"]["frame"] == 44


def test_the_clock_and_the_timeline_carry_the_pts(vfr: Path) -> None:
    truth = _decoded_times(vfr)
    recorder = Recorder()
    analysis = pipeline.run(vfr, [recorder], hash_file=False)
    clock, video = analysis.clock, analysis.timeline.video
    assert clock.frame_count == 60
    assert [clock.time(i) for i in range(60)] == pytest.approx(truth, abs=1e-9)
    tb = Fraction(video["time_base"])
    assert video["start_pts"] == clock.start_pts == recorder.pts[0]
    assert [float((p - recorder.pts[0]) * tb) for p in recorder.pts] == pytest.approx(truth, abs=1e-9)
