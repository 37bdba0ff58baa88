"""Motion gate: still on a static (noisy) real photo, moving on a pan and on a pasted moving object."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.tracks import ObjectPath, TrackScene, _background, scene_frames
from vidlens.objects.motion_gate import MOTION_THRESHOLD, DetectionSchedule, MotionGate


def _scores(frames) -> list[float]:
    gate = MotionGate()
    return [gate.step(f) for f in frames]


def _still_scene(frames: int = 30) -> TrackScene:
    return TrackScene("still", (), frames, sensor_noise=4.0)


def test_static_scene_with_sensor_noise_is_still() -> None:
    scores = _scores(scene_frames(_still_scene()))
    assert max(scores) < MOTION_THRESHOLD / 4


def test_camera_pan_over_a_photo_moves() -> None:
    big = np.asarray(_background("gravel.png", (960, 360)))
    frames = [np.ascontiguousarray(big[:, 4 * i : 4 * i + 640]) for i in range(30)]  # 4 px per frame
    scores = _scores(frames)
    assert scores[0] == 0.0
    assert min(scores[1:]) > 10 * MOTION_THRESHOLD


def test_one_small_moving_object_moves_and_stops_when_it_leaves() -> None:
    cat = ObjectPath("cat", ((0, 100, 180, 60), (20, 300, 180, 60)))
    scene = TrackScene("cat", (cat,), 45, sensor_noise=2.0)
    scores = _scores(scene_frames(scene))
    assert min(scores[1:20]) > MOTION_THRESHOLD  # an 80x60 cat on 640x360 moving 10 px/frame
    assert scores[-1] < MOTION_THRESHOLD / 4  # gone for 24 frames: the background has learnt the empty scene


def test_schedule_runs_rarely_when_still_and_often_with_motion() -> None:
    still = DetectionSchedule(min_interval_frames=2, max_interval_frames=10)
    runs = [f for f in range(50) if still.should_detect(f, motion=0.0)]
    assert runs == [0, 10, 20, 30, 40]
    moving = DetectionSchedule(min_interval_frames=2, max_interval_frames=10)
    assert [f for f in range(10) if moving.should_detect(f, motion=0.05)] == [0, 2, 4, 6, 8]
    tracking = DetectionSchedule(min_interval_frames=3, max_interval_frames=10)
    assert [f for f in range(10) if tracking.should_detect(f, motion=0.0, tracking=True)] == [0, 3, 6, 9]


def test_schedule_from_seconds_and_bad_values() -> None:
    s = DetectionSchedule.from_seconds(25, 0.2, 2.0)
    assert (s.min_interval_frames, s.max_interval_frames) == (5, 50)
    with pytest.raises(ValueError, match="min_interval_frames"):
        DetectionSchedule(5, 2)
    with pytest.raises(ValueError, match="uint8"):
        MotionGate().step(np.zeros((10, 10), np.float32))
