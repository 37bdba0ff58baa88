"""Face detectors on real photos: known faces found where a person marked them, none on photos without faces."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from tests.support.photos import OPENCV_DOC_DATA
from vidlens.boxes import box_iou_matrix
from vidlens.errors import UsageError
from vidlens.faces import load_face_detector
from vidlens.faces.centerface import input_size
from vidlens.faces.tiling import tile_starts, tiles

skimage_data = pytest.importorskip("skimage.data")

#: Faces marked by hand (looked at, chin to hairline, ear to ear), xyxy in the photo's pixels.
ASTRONAUT_FACE = (178, 62, 272, 180)
MESSI_FACE = (226, 92, 258, 134)  # opencv-doc's messi5.jpg: the player in front (30x40 px)


@pytest.fixture(scope="module")
def centerface():
    return load_face_detector("centerface")


@pytest.fixture(scope="module")
def blazeface():
    return load_face_detector("blazeface")


def best_iou(found, box) -> float:
    return float(box_iou_matrix(found.boxes, np.array([box])).max()) if len(found) else 0.0


def messi() -> np.ndarray:
    path = OPENCV_DOC_DATA / "messi5.jpg"
    if not path.is_file():
        pytest.skip("opencv-doc's messi5.jpg is not installed")
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def lfw_canvas(n: int = 6, side: int = 88) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """LFW face crops (scikit-image's lfw_subset: 25x25 grey, the first 100 are faces) enlarged and set on a
    mid-grey canvas whose sides are not multiples of 32, with their rectangles."""
    faces = skimage_data.lfw_subset()[:n]
    canvas = np.full((217, 2 * 20 + n * (side + 14), 3), 128, np.uint8)
    boxes = []
    for i, f in enumerate(faces):
        x, y = 20 + i * (side + 14), 40 + (i % 2) * 60
        canvas[y:y + side, x:x + side] = cv2.resize((f * 255).astype(np.uint8), (side, side),
                                                    interpolation=cv2.INTER_CUBIC)[:, :, None]
        boxes.append((x, y, x + side, y + side))
    return canvas, boxes


@pytest.mark.parametrize("name, min_iou", [("centerface", 0.75), ("blazeface", 0.65)])
def test_astronaut_face_is_found_where_marked(name, min_iou, centerface, blazeface):
    det = {"centerface": centerface, "blazeface": blazeface}[name]
    found = det.detect([skimage_data.astronaut()])[0]
    assert len(found) == 1
    assert best_iou(found, ASTRONAUT_FACE) >= min_iou
    assert found.classes.tolist() == [0] and found.names() == ["face"]
    # landmarks: eyes and nose inside the box (BlazeFace's ears sit on its edge), both eyes above the nose
    lm = found.landmarks[0, :3]
    x0, y0, x1, y1 = found.boxes[0]
    assert np.all((lm[:, 0] >= x0) & (lm[:, 0] <= x1) & (lm[:, 1] >= y0) & (lm[:, 1] <= y1))
    assert lm[0, 1] < lm[2, 1] and lm[1, 1] < lm[2, 1]


def test_centerface_finds_a_small_face_in_messi5(centerface):
    found = centerface.detect([messi()])[0]
    assert best_iou(found, MESSI_FACE) >= 0.6
    assert found.landmarks.shape == (len(found), 5, 2)


def test_centerface_finds_lfw_faces_on_a_canvas_not_a_multiple_of_32(centerface):
    canvas, boxes = lfw_canvas()
    assert canvas.shape[0] % 32 and canvas.shape[1] % 32
    found = centerface.detect([canvas])[0]
    ious = box_iou_matrix(np.array(boxes), found.boxes)
    assert (ious.max(axis=1) >= 0.5).all(), ious.max(axis=1)
    assert len(found) == len(boxes)


@pytest.mark.parametrize("photo", ["rocket", "coffee"])
def test_no_face_on_photos_without_people(photo, centerface, blazeface):
    img = getattr(skimage_data, photo)()
    assert len(centerface.detect([img])[0]) == 0
    assert len(blazeface.detect([img])[0]) == 0


def test_input_is_padded_to_multiples_of_32_and_boxes_come_back_in_frame_pixels():
    assert input_size(640, 360) == (640, 384, 1.0)
    assert input_size(1920, 1080) == (640, 384, 1 / 3)
    assert input_size(217, 100, None) == (224, 128, 1.0)


def test_tiles_cover_the_frame_with_the_overlap():
    assert tile_starts(500, 640, 128) == [0]
    starts = tile_starts(1920, 640, 128)
    assert starts[0] == 0 and starts[-1] == 1280
    assert all(b - a <= 640 - 128 for a, b in itertools.pairwise(starts))
    assert len(tiles(1920, 1080, 640, 128)) == len(starts) * len(tile_starts(1080, 640, 128))
    with pytest.raises(ValueError):
        tile_starts(100, 64, 64)


def test_tiled_mode_finds_a_small_face_in_a_1080p_frame_that_the_shrunk_frame_misses():
    canvas = np.full((1080, 1920, 3), 128, np.uint8)
    face = skimage_data.astronaut()[40:200, 160:290]  # the face with some hair and neck, 130x160
    small = cv2.resize(face, (26, 32), interpolation=cv2.INTER_AREA)  # ~19 px wide face: 6 px at 640 wide
    canvas[700:732, 1300:1326] = small
    plain = load_face_detector("centerface").detect([canvas])[0]
    tiled = load_face_detector("centerface", tiled=True).detect([canvas])[0]
    assert best_iou(plain, (1300, 700, 1326, 732)) < 0.3
    assert best_iou(tiled, (1300, 700, 1326, 732)) >= 0.3


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError):
        load_face_detector("yolo-face")
    with pytest.raises(UsageError):
        load_face_detector("centerface", score_threshold=1.5)
    with pytest.raises(UsageError):
        load_face_detector("centerface").detect([np.zeros((10, 10), np.uint8)])
