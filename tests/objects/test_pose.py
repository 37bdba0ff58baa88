"""MoveNet keypoints on real photos of people: inside the body, in the right order from head to feet."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.photos import photo_rgb
from vidlens.errors import UsageError
from vidlens.objects.detectors import load_detector
from vidlens.objects.pose import KEYPOINT_NAMES, PoseEstimator, estimate_poses

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def person_box(frame: np.ndarray) -> np.ndarray:
    people = load_detector(classes=["person"]).detect([frame])[0]
    assert len(people)
    return people.boxes[:1]


def test_the_names_are_coco17() -> None:
    assert len(KEYPOINT_NAMES) == 17 and KEYPOINT_NAMES[0] == "nose" and KEYPOINT_NAMES[-1] == "right_ankle"


def test_astronaut_keypoints_lie_on_the_body_head_above_hips() -> None:
    frame = photo_rgb("astronaut.png")
    box = person_box(frame)
    kp = estimate_poses(frame, box)
    assert kp.shape == (1, 17, 3)
    kp = kp[0]
    upper = [K[n] for n in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder")]
    assert (kp[upper, 2] > 0.4).all()  # the head and shoulders are in plain view
    x0, y0, x1, y1 = box[0]
    sure = kp[kp[:, 2] > 0.3]
    assert ((sure[:, 0] >= x0 - 5) & (sure[:, 0] <= x1 + 5) & (sure[:, 1] >= y0 - 5) & (sure[:, 1] <= y1 + 5)).all()
    hips_y = kp[[K["left_hip"], K["right_hip"]], 1].mean()
    assert kp[K["nose"], 1] < kp[K["left_shoulder"], 1] < hips_y
    # the face: skimage's astronaut has her face around (180..270, 80..175)
    assert 180 < kp[K["nose"], 0] < 270 and 80 < kp[K["nose"], 1] < 175


def test_messi_is_upright_feet_below_knees_below_hips() -> None:
    frame = photo_rgb("messi5.jpg")
    kp = PoseEstimator().estimate(frame, person_box(frame))[0]
    y = {n: kp[K[n], 1] for n in KEYPOINT_NAMES}
    assert y["nose"] < min(y["left_hip"], y["right_hip"]) < max(y["left_knee"], y["right_knee"])
    assert min(y["left_ankle"], y["right_ankle"]) > min(y["left_hip"], y["right_hip"])


def test_no_boxes_gives_no_poses_and_bad_input_is_refused() -> None:
    assert estimate_poses(photo_rgb("astronaut.png"), np.zeros((0, 4))).shape == (0, 17, 3)
    with pytest.raises(UsageError):
        estimate_poses(np.zeros((10, 10), np.uint8), np.zeros((1, 4)))
    with pytest.raises(UsageError):
        PoseEstimator(margin=0.5)


def test_a_box_at_the_frame_edge_is_padded_not_shifted() -> None:
    frame = photo_rgb("astronaut.png")
    box = person_box(frame)
    shifted = np.zeros((512, 812, 3), np.uint8)
    shifted[:, 300:] = frame  # the same person 300 px further right, with black on the left
    a = estimate_poses(frame, box)[0]
    b = estimate_poses(shifted, box + np.array([300, 0, 300, 0], np.float32))[0]
    np.testing.assert_allclose(b[:, 0] - 300, a[:, 0], atol=1.0)
    np.testing.assert_allclose(b[:, 1], a[:, 1], atol=1.0)
