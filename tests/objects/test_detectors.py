"""The shipped detectors on real photos and video frames: classes, boxes in frame pixels, batching, filters."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
import pytest

from tests.support import samples
from tests.support.photos import list_photos
from vidlens.boxes import box_iou_matrix
from vidlens.errors import UsageError
from vidlens.media import VideoReader
from vidlens.objects.detectors import DEFAULT_DETECTOR, DETECTORS, Detector, load_detector

PHOTOS = {p.name: p for p in list_photos()}
#: boxes placed by eye on the photos (x0, y0, x1, y1 in their pixels): the astronaut from hair to the bottom edge,
#: the motorcycle from its tail light to the front wheel and from the mirrors to the tyres
HAND_BOXES = {"astronaut.png": ("person", (12, 14, 365, 512)),
              "motorcycle_left.png": ("motorcycle", (93, 72, 685, 452))}


def rgb(name: str) -> np.ndarray:
    if name not in PHOTOS:
        pytest.skip(f"{name} is not installed")
    return np.ascontiguousarray(cv2.imread(str(PHOTOS[name]), cv2.IMREAD_COLOR)[:, :, ::-1])


@pytest.fixture(scope="module", params=DETECTORS)
def detector(request) -> Detector:
    return load_detector(request.param)


def test_the_default_is_one_of_the_detectors() -> None:
    assert DEFAULT_DETECTOR in DETECTORS and load_detector().name == DEFAULT_DETECTOR


@pytest.mark.parametrize(("photo", "expected"), [("motorcycle_left.png", "motorcycle"), ("astronaut.png", "person"),
                                                 ("messi5.jpg", "person")])
def test_the_top_detection_names_the_known_object(detector: Detector, photo: str, expected: str) -> None:
    dets = detector.detect([rgb(photo)])[0]
    assert len(dets) and dets.names()[0] == expected


def test_the_coffee_cup_is_found(detector: Detector) -> None:
    # NanoDet with letterbox calls the cup-on-saucer-on-table scene a dining table first: the cup must be there
    dets = load_detector(detector.name, score_threshold=0.2).detect([rgb("coffee.png")])[0]
    assert "cup" in dets.names()


def test_no_person_on_the_rocket(detector: Detector) -> None:
    assert "person" not in detector.detect([rgb("rocket.jpg")])[0].names()


@pytest.mark.parametrize("photo", list(HAND_BOXES))
def test_boxes_come_back_in_the_photo_pixels(detector: Detector, photo: str) -> None:
    image = rgb(photo)
    label, box = HAND_BOXES[photo]
    dets = detector.detect([image])[0]
    mine = dets[np.array([n == label for n in dets.names()])]
    assert len(mine) and box_iou_matrix(mine.boxes[:1], np.array([box]))[0, 0] > 0.8
    h, w = image.shape[:2]
    assert (dets.boxes[:, [0, 2]] <= w).all() and (dets.boxes[:, [1, 3]] <= h).all() and (dets.boxes >= 0).all()


def test_a_batch_gives_what_single_frames_give(detector: Detector) -> None:
    frames = [rgb("astronaut.png"), rgb("motorcycle_left.png"), rgb("messi5.jpg")]
    batched = detector.detect(frames)
    for frame, b in zip(frames, batched, strict=True):
        s = detector.detect([frame])[0]
        assert s.names() == b.names()
        np.testing.assert_allclose(s.boxes, b.boxes, atol=0.05)
        np.testing.assert_allclose(s.scores, b.scores, atol=1e-4)


def test_the_class_filter_keeps_only_the_wanted_classes() -> None:
    frame = rgb("messi5.jpg")
    everything = load_detector().detect([frame])[0]
    balls = load_detector(classes=["sports ball"]).detect([frame])[0]
    assert set(everything.names()) > {"sports ball"}
    assert len(balls) and set(balls.names()) == {"sports ball"}


def test_an_empty_frame_gives_no_detections(detector: Detector) -> None:
    for frame in (np.zeros((360, 640, 3), np.uint8), np.full((480, 480, 3), 128, np.uint8)):
        assert len(detector.detect([frame])[0]) == 0
    assert detector.detect([]) == []


def test_pedestrians_on_vtest_are_found_as_persons() -> None:
    path = samples.vtest()
    if path is None:
        pytest.skip("opencv-doc's vtest.avi is not installed")
    with contextlib.closing(VideoReader(path).frames()) as stream:
        frame = next(f for f in stream if f.index == 300).av_frame.to_ndarray(format="rgb24")
    people = load_detector(classes=["person"]).detect([frame])[0]
    assert 4 <= len(people) <= 8  # 6 people walk there (counted by eye); small, far ones may be missed
    heights = people.boxes[:, 3] - people.boxes[:, 1]
    assert ((heights > 30) & (heights < 150)).all()  # pedestrian-sized boxes in the 576-pixel-high frame


@pytest.mark.parametrize(("kwargs", "message"), [({"name": "yolo"}, "unknown detector"),
                                                 ({"score_threshold": 1.5}, "score_threshold"),
                                                 ({"resize": "crop"}, "resize"),
                                                 ({"classes": ["unicorn"]}, "unknown class")])
def test_bad_arguments_are_usage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_detector(**kwargs)


@pytest.mark.parametrize("frame", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32),
                                   np.zeros((0, 10, 3), np.uint8)])
def test_bad_frames_are_usage_errors(frame: np.ndarray) -> None:
    with pytest.raises(UsageError, match="frame 0"):
        load_detector().detect([frame])
