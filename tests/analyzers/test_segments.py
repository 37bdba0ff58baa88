"""The segments analyzer: long shots cut into equal windows, each with a keyframe inside it, its colours and motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.captions import panning_photo
from tests.support.photos import list_photos, load_photo
from vidlens import api
from vidlens.analyzers.segments import COLOURS, colour_shares, motion_word
from vidlens.media.encode import encode_video


@pytest.mark.parametrize(("rgb", "name"), [((220, 30, 30), "red"), ((30, 60, 220), "blue"), ((40, 180, 60), "green"),
                                           ((250, 250, 250), "white"), ((10, 10, 10), "black"),
                                           ((128, 128, 128), "grey"), ((240, 200, 20), "yellow"),
                                           ((120, 70, 30), "brown"), ((250, 140, 10), "orange")])
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    shares = colour_shares(np.full((8, 8, 3), rgb, np.uint8))
    assert COLOURS[int(np.argmax(shares))] == name and shares.sum() == pytest.approx(1.0)


def test_motion_words_are_ordered() -> None:
    assert [motion_word(v) for v in (0.0, 0.03, 0.2)] == ["still", "moving", "busy"]


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """14 s of a still red card, then 4 s of a fast pan over a real photo (10 fps)."""
    photo = load_photo(list_photos()[0])
    path = tmp_path_factory.mktemp("segments") / "two_shots.mp4"
    still = [np.full((180, 320, 3), (200, 20, 20), np.uint8)] * 140
    pan = list(panning_photo(photo, (320, 180), 40, travel=1.5))
    encode_video(path, [*still, *pan], fps=10)
    return path


def test_long_shots_are_cut_into_equal_windows_with_their_own_keyframes(two_shots: Path, tmp_path: Path) -> None:
    timeline = api.analyze(two_shots, analyzers=["shots", "segments"], output_dir=tmp_path, report=False)
    shots = [(s["start"]["frame"], s["end"]["frame"]) for s in timeline.shots]
    assert shots == [(0, 140), (140, 180)]
    segments = timeline["segments"]
    assert [(s["start"]["frame"], s["end"]["frame"]) for s in segments] == [(0, 47), (47, 93), (93, 140),
                                                                           (140, 180)]
    assert [s["shot"] for s in segments] == [0, 0, 0, 1]
    for s in segments:
        assert s["start"]["frame"] <= s["keyframe"]["frame"] < s["end"]["frame"]
        assert (tmp_path / s["thumbnail"]).stat().st_size > 0
    assert all(s["colours"][0]["name"] == "red" and s["motion"]["level"] == "still" for s in segments[:3])
    assert segments[3]["motion"]["level"] != "still"
