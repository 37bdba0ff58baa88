"""vtest.avi cut into person-track clips: labelled by horizontal speed, written as a class-folder dataset that
``load_dataset`` reads, with split files that keep a track's clips together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import samples
from tests.support.people_clips import (
    PEOPLE_CLASSES,
    make_people_dataset,
    motion_label,
    read_clips,
    track_splits,
    write_track_splits,
)
from vidlens.media import probe
from vidlens.train.dataset import load_dataset, load_splits


@pytest.mark.parametrize(("vx", "vy", "label"), [
    (0.0, 0.0, "standing"), (0.1, -0.1, "standing"), (1.5, 0.3, "walking_right"), (-2.0, -0.5, "walking_left"),
    (0.3, 0.0, None),  # too slow for walking, too fast for standing
    (0.8, 0.6, None),  # mostly towards or away from the camera
    (0.0, 0.5, None),
])  # fmt: skip
def test_motion_labels(vx: float, vy: float, label: str | None) -> None:
    assert motion_label(vx, vy) == label


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if samples.vtest() is None:
        pytest.skip("opencv-doc's vtest.avi is not installed")
    # the first 12 s: people walking both ways and one standing
    return make_people_dataset(tmp_path_factory.mktemp("people"), start_frame=0, end_frame=120, size=96)


def test_a_short_range_gives_labelled_fixed_size_clips(people: Path) -> None:
    clips = read_clips(people)
    assert len(clips) >= 6
    assert {c.label for c in clips} <= set(PEOPLE_CLASSES)
    assert {"walking_left", "walking_right"} <= {c.label for c in clips}
    for c in clips:
        assert c.end_frame - c.start_frame == 20 and c.end_frame <= 120  # 2 s at 10 fps, inside the range
        assert motion_label(c.vx, c.vy) == c.label
    info = probe(people / clips[0].path)
    assert (info.width, info.height) == (96, 96) and abs(info.duration_s - 2.0) < 0.15
    ds = load_dataset(people)
    assert {k: v for k, v in ds.counts().items() if v} == {
        label: n for label in PEOPLE_CLASSES if (n := sum(c.label == label for c in clips))}
    assert make_people_dataset(people, start_frame=0, end_frame=120, size=96) == people  # reused


def test_splits_keep_each_track_in_one_split(people: Path) -> None:
    clips = read_clips(people)
    parts = track_splits(clips, (0.5, 0.25, 0.25), seed=1)
    assert sum(len(v) for v in parts.values()) == len(clips)
    owners = [{c.track for c in part} for part in parts.values()]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
    files = write_track_splits(people, (0.5, 0.25, 0.25), seed=1)
    splits = load_splits(load_dataset(people), files)
    assert sorted(len(s) for s in splits.values()) == sorted(len(v) for v in parts.values())
    walkers = [c for c in clips if c.label.startswith("walking")]
    assert np.all([np.sign(c.vx) == (1 if c.label == "walking_right" else -1) for c in walkers])
