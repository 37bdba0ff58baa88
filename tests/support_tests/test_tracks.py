"""Generated track scenes: exact truth (boxes, visibility, occlusion order), determinism, encoding."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.tracks import (
    SPRITES,
    DetectorNoise,
    ObjectPath,
    TrackScene,
    crossing_scene,
    load_truth,
    noisy_detections,
    occlusion_scene,
    scene_frames,
    scene_truth,
    standard_scenes,
    write_scene,
)
from vidlens.media.info import probe


def test_truth_boxes_visibility_and_hiding() -> None:
    near = ObjectPath("motorcycle", ((0, 320, 180, 120), (9, 320, 180, 120)), depth=1)
    far = ObjectPath("cup", ((0, 100, 180, 60), (9, 320, 180, 60)), depth=0)  # ends fully behind the motorcycle
    g = scene_truth(TrackScene("t", (near, far), 10))
    first = g.at(0)
    assert first.ids.tolist() == [1, 2]
    np.testing.assert_allclose(first.visibility, [1.0, 1.0])
    w = round(60 * SPRITES["cup"].aspect)
    np.testing.assert_allclose(first.boxes[1], [100 - w / 2, 150, 100 + w / 2, 210], atol=1)
    assert g.at(9).ids.tolist() == [1]  # the hidden cup has no row
    assert 0 < g.at(5).visibility[1] < 1


def test_objects_leaving_the_frame_are_clipped_then_gone() -> None:
    path = ObjectPath("cat", ((0, 600, 100, 80), (10, 800, 100, 80)))
    g = scene_truth(TrackScene("edge", (path,), 11))
    assert g.at(0).boxes[0, 2] == 640 and 0 < g.at(0).visibility[0] < 1
    assert g.at(10).ids.size == 0


def test_scenes_hold_what_their_names_say() -> None:
    crossing = scene_truth(crossing_scene(0))
    assert (crossing.visibility[crossing.ids == 2] < 0.5).any()  # the far walker is hidden while passing
    occl = scene_truth(occlusion_scene(0))
    cat_frames = occl.frames[occl.ids == 2]
    assert np.diff(cat_frames).max() >= 10  # fully hidden for a while, then back
    assert len(standard_scenes()) == 5


def test_rendering_and_noise_are_deterministic() -> None:
    scene = crossing_scene(3, frame_count=3)
    a, b = list(scene_frames(scene, seed=1)), list(scene_frames(scene, seed=1))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    g = scene_truth(scene)
    d1 = noisy_detections(g, 1, np.random.default_rng(5), scene.size)
    d2 = noisy_detections(g, 1, np.random.default_rng(5), scene.size)
    np.testing.assert_array_equal(d1.boxes, d2.boxes)


def test_noisy_detections_follow_the_noise_model() -> None:
    scene = crossing_scene(0)
    g = scene_truth(scene)
    rng = np.random.default_rng(0)
    exact = DetectorNoise(box_jitter=0.0, miss_rate=0.0, false_positives=0.0)
    d = noisy_detections(g, 0, rng, scene.size, exact)
    np.testing.assert_allclose(d.boxes, g.at(0).boxes)
    n_fp = [len(noisy_detections(g, f, rng, scene.size, DetectorNoise(miss_rate=1.0, false_positives=2.0)))
            for f in range(100)]
    assert 1.5 < np.mean(n_fp) < 2.5


def test_write_scene_encodes_video_and_truth(tmp_path) -> None:
    scene = crossing_scene(0, frame_count=12)
    path, truth = write_scene(scene, tmp_path / "crossing.mp4")
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (640, 360, 12)
    loaded = load_truth(path)
    np.testing.assert_allclose(loaded.boxes, truth.boxes)
    assert loaded.ids.tolist() == truth.ids.tolist()


def test_bad_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown sprite"):
        ObjectPath("dragon", ((0, 0, 0, 10), (1, 0, 0, 10)))
    with pytest.raises(ValueError, match="increasing"):
        ObjectPath("cat", ((3, 0, 0, 10), (1, 0, 0, 10)))
