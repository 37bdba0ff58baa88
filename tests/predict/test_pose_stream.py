"""The pose stream on real photos: a person gives plausible in-box keypoints, no person gives zeros, and a
person moving right has a positive box velocity."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.photos import photo_rgb
from vidlens.errors import UsageError
from vidlens.objects.pose import KEYPOINT_NAMES
from vidlens.predict.pose_stream import (
    BOX,
    DBOX,
    DXY,
    POSE_DIM,
    PRESENT,
    XYC,
    PoseStream,
    contains_person_track,
    person_share,
    rows_from,
)

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


@pytest.fixture(scope="module")
def stream() -> PoseStream:
    return PoseStream(fps=4.0, threads=1)


def placed(photo: np.ndarray, x: int, width: int) -> np.ndarray:
    """``photo`` on a grey canvas ``width`` wide, its left edge at ``x``."""
    canvas = np.full((photo.shape[0], width, 3), 90, np.uint8)
    canvas[:, x: x + photo.shape[1]] = photo
    return canvas


def test_the_astronaut_is_present_with_keypoints_inside_her_box(stream: PoseStream) -> None:
    rows = stream.rows([photo_rgb("astronaut.png")])
    assert rows.shape == (1, POSE_DIM) and rows.dtype == np.float32
    row = rows[0]
    assert row[PRESENT] == 1.0
    kp = row[XYC].reshape(17, 3)
    sure = kp[kp[:, 2] > 0.3]
    assert len(sure) >= 5 and ((sure[:, :2] >= -0.05) & (sure[:, :2] <= 1.05)).all()
    assert kp[K["nose"], 1] < kp[K["left_shoulder"], 1] < kp[[K["left_hip"], K["right_hip"]], 1].mean()
    cx, cy, w, h = row[BOX]
    assert 0 < cx < 1 and 0 < cy < 1 and 0.2 < w <= 1 and 0.3 < h <= 1
    assert not row[DXY].any() and not row[DBOX].any()  # no previous frame


@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png"])
def test_no_person_gives_zero_rows(stream: PoseStream, name: str) -> None:
    rows = stream.rows([photo_rgb(name)] * 3)
    assert rows.shape == (3, POSE_DIM) and not rows.any()
    assert person_share(rows) == 0.0 and not contains_person_track(rows)


@pytest.mark.parametrize("step", [60, -60])
def test_a_person_shifted_sideways_has_box_velocity_of_that_sign(stream: PoseStream, step: int) -> None:
    photo = photo_rgb("astronaut.png")
    start = 150 if step > 0 else 270
    frames = [placed(photo, start + i * step, 1000) for i in range(3)]
    track = stream.track(frames)
    assert track.present.all() and contains_person_track(track.rows)
    dbox_x = track.rows[1:, DBOX][:, 0]
    expected = step / (track.boxes[:, 3] - track.boxes[:, 1]).mean()  # box heights per step
    assert (np.sign(dbox_x) == np.sign(step)).all()
    np.testing.assert_allclose(dbox_x, expected, rtol=0.3)
    # the body itself did not move inside its box: the confident keypoints' in-box velocities are
    # a small fraction of the box's
    conf = track.rows[:, XYC].reshape(-1, 17, 3)[:, :, 2]
    sure = (conf[1:] > 0.3) & (conf[:-1] > 0.3)
    assert sure.sum() >= 10
    inbox_x = track.rows[1:, DXY].reshape(-1, 17, 2)[sure][:, 0]
    assert np.abs(inbox_x).mean() < 0.3 * np.abs(expected).min()  # detector box jitter, not motion


def test_rows_of_absent_frames_are_zero_and_velocities_need_two_present_frames() -> None:
    box = np.array([10, 20, 30, 60], np.float32)
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0], kp[:, 1], kp[:, 2] = 20, 40, 0.9  # every keypoint at the box centre
    nan_box, nan_kp = np.full(4, np.nan, np.float32), np.full((17, 3), np.nan, np.float32)
    boxes = np.stack([box, nan_box, box, box + np.array([8, 0, 8, 0], np.float32)])
    keypoints = np.stack([kp, nan_kp, kp, kp + np.array([8, 0, 0], np.float32)])
    rows = rows_from(boxes, keypoints, np.array([[100, 200]] * 4))
    assert rows[:, PRESENT].tolist() == [1, 0, 1, 1]
    assert not rows[1].any()
    np.testing.assert_allclose(rows[0, XYC].reshape(17, 3)[0], [0.5, 0.5, 0.9])
    np.testing.assert_allclose(rows[0, BOX], [0.1, 0.4, 0.1, 0.4])
    assert not rows[2, DBOX].any()  # the frame before it had no person
    np.testing.assert_allclose(rows[3, DBOX], [8 / 40, 0.0])  # 8 px right, boxes 40 px high
    np.testing.assert_allclose(rows[3, DXY], 0.0, atol=1e-6)  # moved with its box


def test_bad_input_is_a_usage_error(stream: PoseStream) -> None:
    with pytest.raises(UsageError):
        stream.rows([])
    with pytest.raises(UsageError):
        stream.rows([np.zeros((10, 10), np.uint8)])
    with pytest.raises(UsageError):
        person_share(np.zeros((3, 5)))
    with pytest.raises(UsageError):
        PoseStream(fps=0)
