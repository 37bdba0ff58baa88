"""Summaries: budget respected, distinct content preferred over repeats, files written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media._make import FPS, count_frames, make_video
from vidlens import pipeline
from vidlens.analyzers import create_analyzers
from vidlens.errors import UsageError
from vidlens.summary import (
    SummaryFeatures,
    _knapsack,
    candidate_segments,
    piece_seconds,
    preview_indices,
    summarize,
    summarize_analysis,
)

#: One look recurs three times between two distinct ones: A B A C A, 2 s each (cuts every 50 frames).
REPEATS = [("red_stripes", 50), ("green_checker", 50), ("red_stripes", 50), ("blue_rings", 50),
           ("red_stripes", 50)]


def _look_at(frame: int, segments: list[tuple[str, int]]) -> str:
    edges = np.cumsum([n for _, n in segments])
    return segments[int(np.searchsorted(edges, frame, side="right"))][0]


@pytest.fixture(scope="module")
def repeats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("summary") / "repeats.mp4", REPEATS, audio=True)


@pytest.fixture(scope="module")
def five_looks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    looks = [("red_stripes", 60), ("green_checker", 40), ("blue_rings", 70), ("gray_ramp", 50),
             ("magenta_dots", 80)]
    return make_video(tmp_path_factory.mktemp("summary") / "five.mp4", looks)


def test_repeated_look_is_chosen_once(repeats: Path) -> None:
    # Budget 4 s: room for two 2-second shots (or pieces); A twice would waste it.
    result = summarize(repeats, ratio=0.4)
    looks = [_look_at(s.start["frame"], REPEATS) for s in result.segments]
    assert len(result.segments) >= 2
    assert looks.count("red_stripes") <= 1
    assert {"green_checker", "blue_rings"} & set(looks)
    assert len(set(looks)) == len(looks)  # no two pieces of the same look either


def test_summary_fits_budget_and_the_video(five_looks: Path) -> None:
    result = summarize(five_looks, ratio=0.15)
    assert result.video_duration_s == pytest.approx(300 / FPS)
    assert result.budget_s == pytest.approx(0.15 * 300 / FPS)
    assert 0 < result.duration_s <= result.budget_s + 1e-9
    assert result.duration_s == pytest.approx(sum(s.duration for s in result.segments))
    previous_end = 0
    for seg in result.segments:
        start, end = seg.start["frame"], seg.end["frame"]
        assert previous_end <= start < end <= 300  # chronological, disjoint, inside the video
        assert seg.frames == end - start and 0 <= seg.score <= 1
        assert seg.duration <= piece_seconds(4.0, result.budget_s) + 1e-9
        previous_end = end
    data = json.loads(json.dumps(result.to_dict()))
    assert data["segments"][0]["start"]["timecode"].count(":") == 3
    assert data["output"] is None and data["preview"] is None


def test_writes_summary_clip_and_preview(repeats: Path, tmp_path: Path) -> None:
    result = summarize(repeats, ratio=0.4, output=tmp_path / "summary.mp4", preview=tmp_path / "preview.gif")
    frames, duration, audio_s = count_frames(tmp_path / "summary.mp4")
    assert result.output is not None and result.output.frames == frames
    assert frames == sum(s.frames for s in result.segments)
    assert duration == pytest.approx(result.duration_s, abs=1e-6)
    assert audio_s is not None and abs(audio_s - duration) <= 1 / FPS
    with av.open(str(result.preview)) as container:
        assert len(list(container.decode(video=0))) > 1


def test_preview_alone_decodes_its_own_frames(repeats: Path, tmp_path: Path) -> None:
    result = summarize(repeats, ratio=0.2, preview=tmp_path / "preview.gif")
    assert result.output is None and result.preview is not None
    with av.open(str(result.preview)) as container:
        assert 1 < len(list(container.decode(video=0))) <= 60


def test_given_timeline_is_reused(repeats: Path) -> None:
    timeline = pipeline.run(repeats, ["shots"], hash_file=False).timeline
    reused = summarize(repeats, ratio=0.4, timeline=timeline)
    fresh = summarize(repeats, ratio=0.4)
    assert [s.start for s in reused.segments] == [s.start for s in fresh.segments]


def test_a_callers_own_pass_summarises_without_decoding_again(repeats: Path) -> None:
    analysis = pipeline.run(repeats, [*create_analyzers(["shots"]), SummaryFeatures()], hash_file=False)
    assert "summary_descriptors.npz" in analysis.artifacts and "summary" not in analysis.timeline.sections
    in_pass = summarize_analysis(analysis, repeats, ratio=0.4)
    fresh = summarize(repeats, ratio=0.4)
    assert [(s.start, s.end) for s in in_pass.segments] == [(s.start, s.end) for s in fresh.segments]
    assert in_pass.segments[0].start["time"] == analysis.clock.moment(in_pass.segments[0].start["frame"])["time"]


def test_an_analysis_without_descriptors_is_a_usage_error(repeats: Path) -> None:
    analysis = pipeline.run(repeats, ["shots"], hash_file=False)
    with pytest.raises(UsageError, match="SummaryFeatures"):
        summarize_analysis(analysis, repeats, ratio=0.4)


@pytest.mark.parametrize("ratio", [0, -0.1, 1.5, math.nan])
def test_bad_ratio_is_a_usage_error(repeats: Path, ratio: float) -> None:
    with pytest.raises(UsageError, match=f"got {ratio!r}"):
        summarize(repeats, ratio=ratio)


def test_a_ratio_too_small_for_any_segment_says_so_and_writes_nothing(repeats: Path, tmp_path: Path) -> None:
    out, gif = tmp_path / "s.mp4", tmp_path / "s.gif"
    with pytest.raises(UsageError, match="nothing fits: use a ratio of at least"):
        summarize(repeats, ratio=0.001, output=out, preview=gif)  # 10 ms of a 10-s video: less than a frame
    assert not out.exists() and not gif.exists()


def test_candidates_skip_gradual_transitions_and_split_long_shots() -> None:
    shots = [
        {"index": 0, "start": {"frame": 0}, "end": {"frame": 100}, "transition": None, "transition_span": None},
        {"index": 1, "start": {"frame": 100}, "end": {"frame": 130}, "transition": "dissolve",
         "transition_span": {"start": 90, "end": 110}},
        {"index": 2, "start": {"frame": 130}, "end": {"frame": 140}, "transition": "cut",
         "transition_span": {"start": 130, "end": 131}},
    ]
    spans = candidate_segments(shots, 140, piece_frames=40, min_frames=12)
    assert spans == [(0, 30, 0), (30, 60, 0), (60, 90, 0), (110, 130, 1)]  # shot 2 is too short


def test_knapsack_is_exact_where_greedy_is_not() -> None:
    # Greedy by value per unit takes item 0 (1.4 per unit), after which nothing else fits: 7 < 8.
    values, costs = np.array([7.0, 4.0, 4.0]), np.array([5, 4, 4])
    assert sorted(_knapsack(values, costs, 8, np.ones(3, dtype=bool))) == [1, 2]
    assert _knapsack(values, costs, 8, np.array([True, False, True])) == [0]


def test_preview_takes_a_short_burst_per_segment() -> None:
    wanted, fps = preview_indices([(0, 100), (200, 260)], 25.0)
    assert fps == pytest.approx(25 / 3)
    assert len(wanted) <= 60 and {i // 100 for i in wanted} == {0, 2}
    many, _ = preview_indices([(i * 10, i * 10 + 5) for i in range(200)], 25.0)
    assert len(many) == 60
