"""The plain IoU tracker baseline: sane on easy input, and weaker than ByteTracker where motion matters."""

from __future__ import annotations

import numpy as np

from vidlens.objects.iou_tracker import IouTracker
from vidlens.objects.tracker import ByteTracker

from .test_tracker import FPS, box, crossing_paths, dets, ids_by_object


def test_slow_separate_objects_keep_one_id_each() -> None:
    tracker = IouTracker(FPS)
    seen = ids_by_object(tracker, [[box(100 + f, 150), box(400 - f, 250)] for f in range(50)],
                         np.random.default_rng(0), jitter=0.02)
    assert sorted(map(sorted, seen.values())) == [[1], [2]]


def test_low_scores_are_ignored_and_short_gaps_bridged() -> None:
    tracker = IouTracker(FPS, min_score=0.5, max_gap_s=0.4)
    ids = set()
    for f in range(40):
        score = 0.2 if 15 <= f < 20 else 0.9
        out = tracker.update(dets([box(200, 150)], scores=[score]), f)
        assert out.track_ids[0] == (-1 if f < 2 or score < 0.5 else 1)
        ids.update(int(i) for i in out.track_ids if i >= 0)
    assert ids == {1}


def test_accelerating_objects_sampled_sparsely_are_lost_without_a_motion_model() -> None:
    """Speed ramps from 1 to 10 px/frame; at 5 frames a run the box soon moves most of its width."""
    x = np.cumsum(np.linspace(1, 10, 80))
    paths = [[box(40 + x[f], 150), box(600 - x[f], 300)] for f in range(80)]

    def tracked_runs(tracker) -> tuple[int, set[int]]:
        runs, ids = 0, set()
        for f in range(0, 80, 5):
            out = tracker.update(dets(paths[f]), f)
            runs += int((out.track_ids >= 0).sum())
            ids.update(int(i) for i in out.track_ids if i >= 0)
        return runs, ids

    iou_runs, _ = tracked_runs(IouTracker(FPS))
    byte_runs, byte_ids = tracked_runs(ByteTracker(FPS))
    total = 2 * 16
    assert byte_runs >= total - 2 * 2 and byte_ids == {1, 2}  # all but the two runs before confirmation
    assert iou_runs <= 0.75 * total  # without motion it drops them once they outrun their own width


def test_crossing_paths_run_through_the_baseline() -> None:
    seen = ids_by_object(IouTracker(FPS), crossing_paths(), np.random.default_rng(2))
    assert set(seen) == {0, 1} and all(ids for ids in seen.values())
