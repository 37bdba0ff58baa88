"""Shot detection against exact ground truth: generated edits with every transition and trap,
and real videos whose cuts are known to the frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.support.scoring import micro_f1, score_boundaries
from tests.support.synth import Flash, ShotSpec, TransitionSpec, render_video, standard_set
from vidlens.api import detect_shots
from vidlens.errors import UsageError
from vidlens.media import VideoReader
from vidlens.shotdetect import ClassicalDetector, ClassicalParams, TransitionKind


def boundaries_of(path: Path) -> list[tuple[int, str]]:
    return [(s["start"]["frame"], s["transition"]) for s in detect_shots(path)[1:]]


@pytest.fixture(scope="session")
def generated_set(tmp_path_factory: pytest.TempPathFactory):
    return standard_set(tmp_path_factory.mktemp("synth"))


def test_generated_set_f1(generated_set) -> None:
    """Acceptance: F1 >= 0.98 (+-2 frames, gradual transitions match within their span)."""
    scores = []
    labels_ok = labels_total = 0
    for video in generated_set:
        found = boundaries_of(video.path)
        score = score_boundaries([f for f, _ in found], video.boundaries, tolerance=2)
        scores.append(score)
        kinds = dict(found)
        for truth in video.boundaries:
            near = [f for f in kinds if truth.start - 2 <= f < truth.end + 2]
            if near:
                labels_total += 1
                labels_ok += kinds[near[0]] == truth.kind
    assert micro_f1(scores) >= 0.98, [(s.missed, s.false_detections) for s in scores]
    assert labels_ok / labels_total >= 0.95  # cut / dissolve / fade labels are right


def test_bikes_cuts_are_frame_exact(bikes: Path) -> None:
    assert boundaries_of(bikes) == [(30, "cut"), (76, "cut"), (137, "cut"), (187, "cut"), (242, "cut")]


def test_megamind_cuts_are_frame_exact(megamind: Path) -> None:
    shots = detect_shots(megamind)
    assert [s["start"]["frame"] for s in shots] == [0, 98, 154, 200]
    assert shots[1]["start"]["time"] == pytest.approx(4.087, abs=5e-4)
    assert shots[1]["start"]["timecode"] == "00:00:04:02"  # 98 frames at 23.976 fps, NDF


def _edit(tmp_path: Path, name: str, shots, transitions, **kwargs):
    return render_video(tmp_path / name, shots, transitions, size=(160, 96), **kwargs)


@pytest.mark.parametrize(
    ("name", "shots", "transitions", "expected_kind"),
    [
        ("cut", [ShotSpec(0, 30), ShotSpec(1, 30)], [TransitionSpec.cut()], "cut"),
        ("dissolve", [ShotSpec(0, 40), ShotSpec(1, 40)], [TransitionSpec.dissolve(20)], "dissolve"),
        ("fade", [ShotSpec(0, 40), ShotSpec(1, 40)], [TransitionSpec.fade(10, hold=3)], "fade"),
        ("fade_no_hold", [ShotSpec(2, 40), ShotSpec(3, 40)], [TransitionSpec.fade(8)], "fade"),
        ("pan_cut", [ShotSpec(4, 40, motion="pan"), ShotSpec(5, 40, motion="shake")], [TransitionSpec.cut()], "cut"),
    ],
)
def test_each_transition_kind(tmp_path: Path, name, shots, transitions, expected_kind) -> None:
    video = _edit(tmp_path, f"{name}.mp4", shots, transitions)
    found = boundaries_of(video.path)
    assert len(found) == 1, found
    frame, kind = found[0]
    truth = video.boundaries[0]
    assert kind == expected_kind
    assert truth.start - 2 <= frame < truth.end + 2


@pytest.mark.parametrize(
    ("name", "shot"),
    [
        ("flash2", ShotSpec(0, 60, flashes=(Flash(25, length=2, strength=0.8),))),
        ("flash1", ShotSpec(6, 60, flashes=(Flash(30, length=1, strength=0.7),))),
        ("fast_pan", ShotSpec(7, 60, motion="fast_pan")),
        ("shake", ShotSpec(8, 60, motion="shake")),
        ("zoom", ShotSpec(9, 60, motion="zoom")),
    ],
)
def test_traps_are_not_shots(tmp_path: Path, name: str, shot: ShotSpec) -> None:
    video = _edit(tmp_path, f"{name}.mp4", [shot], [])
    assert boundaries_of(video.path) == []


def test_fade_from_black_at_start_is_not_a_boundary(tmp_path: Path) -> None:
    video = _edit(tmp_path, "intro.mp4", [ShotSpec(0, 50), ShotSpec(1, 40)], [TransitionSpec.cut()],
                  fade_in_start=15, fade_out_end=15)
    assert boundaries_of(video.path) == [(video.boundaries[0].frame, "cut")]


def test_variable_frame_rate_cut_time(tmp_path: Path, make_video) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (72, 128, 3), dtype=np.uint8) for _ in range(2))
    frames = [a] * 20 + [b] * 20
    pts = [round(i * 33.3667) if i < 25 else round(25 * 33.3667 + (i - 25) * 66.7) for i in range(40)]
    path = make_video("vfr.mp4", frames=frames, fps=Fraction(30), pts=pts, time_base=Fraction(1, 1000))
    shots = detect_shots(path)
    assert [s["start"]["frame"] for s in shots] == [0, 20]
    assert shots[1]["start"]["time"] == pytest.approx(pts[20] / 1000)


def test_detectors_do_not_share_state(bikes: Path) -> None:
    one, two = ClassicalDetector(fps=25), ClassicalDetector(fps=25)
    frames = [f.to_ndarray(one.needs) for f in VideoReader(bikes, audio=False)]
    for i in range(0, len(frames), 50):  # interleave two videos' worth of pushes
        idx = np.arange(i, min(i + 50, len(frames)))
        one.push(frames[i: i + 50], idx)
        two.push(frames[i: i + 50], idx)
    assert [t.frame for t in one.finish()] == [t.frame for t in two.finish()] == [30, 76, 137, 187, 242]
    one.reset()
    assert one.finish() == []


def test_transition_kinds_are_enums() -> None:
    assert TransitionKind("cut") is TransitionKind.CUT


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"cut_min": -0.1}, "cut_min"), ({"cut_ratio": 0.5}, "cut_ratio"), ({"min_shot_s": -1}, "min_shot_s")],
)
def test_params_are_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ClassicalParams(**kwargs)


def test_frames_must_be_consecutive() -> None:
    detector = ClassicalDetector(fps=25)
    frame = np.zeros((72, 128, 3), np.uint8)
    detector.push([frame, frame], np.array([0, 1]))
    with pytest.raises(UsageError, match="every frame"):
        detector.push([frame], np.array([5]))
