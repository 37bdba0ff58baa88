"""ByteTracker: ids through crossings and occlusions, no ids for one-frame false positives, boxes between runs."""

from __future__ import annotations

import numpy as np
import pytest

from vidlens.boxes import box_iou_matrix
from vidlens.objects.history import detections_by_frame
from vidlens.objects.iou_tracker import IouTracker
from vidlens.objects.tracker import ByteTracker
from vidlens.objects.types import Detections

FPS = 25


def box(cx: float, cy: float, w: float = 60, h: float = 120) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def dets(boxes: list[list[float]], scores: list[float] | None = None, classes: list[int] | None = None,
         rng: np.random.Generator | None = None, jitter: float = 0.0) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    if rng is not None and jitter:
        size = np.concatenate([b[:, 2:] - b[:, :2]] * 2, axis=1)
        b = b + rng.normal(0, jitter, b.shape).astype(np.float32) * size
    n = len(b)
    return Detections(b, [0.9] * n if scores is None else scores, [0] * n if classes is None else classes)


def ids_by_object(tracker, frames_boxes, rng, jitter=0.03, every=1):
    """Run the tracker; for each true object (row order), the set of confirmed ids it was given."""
    seen: dict[int, set[int]] = {}
    for f, boxes in enumerate(frames_boxes):
        if f % every:
            continue
        out = tracker.update(dets(boxes, rng=rng, jitter=jitter), f)
        for obj, tid in enumerate(out.track_ids):
            if tid >= 0:
                seen.setdefault(obj, set()).add(int(tid))
    return seen


def crossing_paths(n: int = 80, overlap_dy: float = 10.0) -> list[list[list[float]]]:
    """Two same-class, same-size boxes crossing head on (they overlap for ~10 frames)."""
    return [[box(100 + 5 * f, 200), box(500 - 5 * f, 200 + overlap_dy)] for f in range(n)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("every", [1, 2])
def test_two_objects_crossing_keep_their_ids(seed: int, every: int) -> None:
    seen = ids_by_object(ByteTracker(FPS), crossing_paths(), np.random.default_rng(seed), every=every)
    assert len(seen[0]) == 1 and len(seen[1]) == 1, seen
    assert seen[0] != seen[1]


@pytest.mark.parametrize("missing", [5, 20, 40])
def test_short_occlusion_keeps_the_id(missing: int) -> None:
    """Detections vanish for ``missing`` frames (up to 1.6 s) while the object keeps moving."""
    rng = np.random.default_rng(1)
    tracker = ByteTracker(FPS, lost_s=2.0)
    ids = set()
    for f in range(30 + missing + 30):
        hidden = 30 <= f < 30 + missing
        out = tracker.update(dets([] if hidden else [box(50 + 3 * f, 150)], rng=rng, jitter=0.02), f)
        ids.update(int(i) for i in out.track_ids if i >= 0)
    assert len(ids) == 1


def test_a_track_lost_longer_than_the_window_gets_a_new_id() -> None:
    tracker = ByteTracker(FPS, lost_s=0.4)  # 10 frames
    ids = []
    for f in range(50):
        out = tracker.update(dets([] if 10 <= f < 30 else [box(200, 150)]), f)
        ids += [int(i) for i in out.track_ids if i >= 0]
    assert sorted(set(ids)) == [1, 2]


def test_one_frame_false_positives_never_get_an_id() -> None:
    """A confident box for one frame at a new place each frame, next to a real object."""
    rng = np.random.default_rng(2)
    tracker = ByteTracker(FPS)
    for f in range(60):
        fp = box(rng.uniform(300, 600), rng.uniform(80, 300), 40, 40)
        out = tracker.update(dets([box(100, 150), fp], scores=[0.9, 0.95]), f)
        assert out.track_ids[1] == -1
    assert [r.track_id for r in tracker.records()] == [1]


def test_ids_are_dense_unique_per_frame_and_minus_one_until_confirmed() -> None:
    tracker = ByteTracker(FPS, min_hits=3)
    for f in range(10):
        out = tracker.update(dets([box(100 + i * 150, 150) for i in range(3)]), f)
        confirmed = out.track_ids[out.track_ids >= 0]
        assert len(set(confirmed.tolist())) == len(confirmed)
        if f < 2:
            assert (out.track_ids == -1).all()
        else:
            assert sorted(out.track_ids.tolist()) == [1, 2, 3]


def test_output_rows_follow_the_input_and_boxes_are_smoothed() -> None:
    rng = np.random.default_rng(3)
    tracker = ByteTracker(FPS)
    truth = [box(100 + 4 * f, 150) for f in range(40)]
    raw_err, out_err = [], []
    for f in range(40):
        d = dets([truth[f], box(500, 300, 30, 30)], scores=[0.9, 0.05], rng=rng, jitter=0.05)
        out = tracker.update(d, f)
        assert len(out) == 2 and out.scores[1] == pytest.approx(0.05) and out.track_ids[1] == -1
        if f >= 10:
            raw_err.append(np.abs(d.boxes[0] - truth[f]).mean())
            out_err.append(np.abs(out.boxes[0] - truth[f]).mean())
    assert np.mean(out_err) < 0.8 * np.mean(raw_err)


def test_low_score_boxes_extend_tracks_but_never_start_them() -> None:
    tracker = ByteTracker(FPS, high_score=0.5, low_score=0.1)
    for f in range(20):
        out = tracker.update(dets([box(100 + 2 * f, 150), box(400, 150)], scores=[0.9 if f < 10 else 0.3, 0.3]), f)
    assert out.track_ids[0] == 1  # partly hidden (low score) but still the same track
    assert out.track_ids[1] == -1
    assert len(tracker.records()) == 1


def test_classes_are_gated() -> None:
    tracker = ByteTracker(FPS)
    for f in range(10):
        out = tracker.update(dets([box(100, 150)], classes=[0 if f < 5 else 2]), f)
    assert out.track_ids[0] == 2  # a car where the person was is a new track, not the person
    assert [r.class_id for r in tracker.records()] == [0, 2]


def test_predict_gives_boxes_between_detector_runs_on_a_linear_path() -> None:
    every = 5
    rng = np.random.default_rng(4)
    tracker = ByteTracker(FPS)
    worst = 0.0
    for f in range(100):
        truth = np.array(box(60 + 4 * f, 100 + 1.5 * f))
        if f % every == 0:
            out = tracker.update(dets([truth.tolist()], rng=rng, jitter=0.02), f)
            got = out[out.track_ids >= 0]
        else:
            got = tracker.predict(f)
        if f >= 5 * every:  # after confirmation and a few updates to learn the velocity
            assert len(got) == 1, f
            worst = max(worst, float(np.abs(got.boxes[0] - truth).max()))
    assert worst < 12.0  # pixels, on a 60x120 box moving 4 px/frame (20 px between runs)


def test_filled_records_give_a_box_on_every_frame_with_bounded_error() -> None:
    every = 6
    rng = np.random.default_rng(5)
    tracker = ByteTracker(FPS)
    path = {f: np.array(box(60 + 3 * f, 200 - f)) for f in range(120)}
    for f in range(0, 120, every):
        tracker.update(dets([path[f].tolist()], rng=rng, jitter=0.02), f)
    (record,) = tracker.records()
    filled = record.filled(max_gap_frames=every)
    assert filled.frames.tolist() == list(range(record.first_frame, record.last_frame + 1))
    assert (~filled.observed).sum() == (len(record.frames) - 1) * (every - 1)
    iou = [box_iou_matrix(b[None], path[int(f)][None])[0, 0] for f, b in zip(filled.frames, filled.boxes)]
    assert min(iou) > 0.7
    per_frame = detections_by_frame([filled])
    assert sorted(per_frame) == filled.frames.tolist()


def test_gaps_longer_than_the_limit_are_not_filled() -> None:
    tracker = ByteTracker(FPS)
    for f in [*range(0, 30, 2), *range(60, 90, 2)]:
        tracker.update(dets([box(200, 150)]), f)
    (record,) = tracker.records()
    frames = set(record.filled(max_gap_frames=4).frames.tolist())
    assert {27, 28, 60, 61} <= frames and not frames & set(range(29, 60))


def test_bad_calls_raise_clear_errors() -> None:
    tracker = ByteTracker(FPS)
    tracker.update(dets([box(1, 1)]), 10)
    with pytest.raises(ValueError, match="increasing order"):
        tracker.update(dets([]), 10)
    with pytest.raises(ValueError, match="before the last update"):
        tracker.predict(3)
    with pytest.raises(ValueError, match="fps"):
        ByteTracker(0)
    with pytest.raises(ValueError, match="low_score"):
        ByteTracker(FPS, low_score=0.7, high_score=0.5)
    with pytest.raises(ValueError, match="min_hits"):
        ByteTracker(FPS, min_hits=0)


def test_two_trackers_do_not_share_ids_and_reset_restarts() -> None:
    a, b = ByteTracker(FPS, min_hits=1), IouTracker(FPS, min_hits=1)
    for f in range(3):
        assert a.update(dets([box(100, 100)]), f).track_ids.tolist() == [1]
        assert b.update(dets([box(300, 100)]), f).track_ids.tolist() == [1]
    a.reset()
    assert a.update(dets([box(500, 100)]), 0).track_ids.tolist() == [1]
    assert a.records()[0].first_frame == 0 and len(a.records()) == 1



@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("scene_fn", ["crossing_scene", "occlusion_scene"])
def test_generated_crossing_and_occlusion_keep_ids_with_noisy_detections(scene_fn: str, seed: int) -> None:
    """On the generated scenes (walkers crossing, a cat behind a motorcycle) with simulated detector noise."""
    pytest.importorskip("motmetrics")
    from tests.support import tracks
    from tests.support.mot import evaluate

    scene = getattr(tracks, scene_fn)(seed)
    truth = tracks.scene_truth(scene)
    rng = np.random.default_rng(seed)
    tracker = ByteTracker(scene.fps)
    outputs, gt = {}, {}
    for f in range(0, scene.frame_count, 2):
        out = tracker.update(tracks.noisy_detections(truth, f, rng, scene.size), f)
        outputs[f], gt[f] = out[out.track_ids >= 0], truth.detections(f)
    scores = evaluate(gt, outputs, with_hota=False)
    assert scores.id_switches == 0
    assert scores.mota > 0.6
