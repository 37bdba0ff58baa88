"""fer's emotion model on real faces: the crop, the classification, batching."""

from __future__ import annotations

import numpy as np
import pytest

from vidlens.faces import load_face_detector
from vidlens.faces.emotion import CROP_MARGIN, EMOTION_LABELS, classify_emotions, face_crop_gray

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut_crop() -> np.ndarray:
    img = skimage_data.astronaut()
    faces = load_face_detector().detect([img])[0]
    return face_crop_gray(img, faces.boxes[0])


@pytest.fixture(scope="module")
def lfw_faces() -> list[np.ndarray]:
    return [np.rint(f * 255).astype(np.uint8) for f in skimage_data.lfw_subset()[:24]]  # the first 100 are faces


def test_astronaut_is_happy(astronaut_crop):
    probs = classify_emotions([astronaut_crop])
    assert probs.shape == (1, len(EMOTION_LABELS))
    assert EMOTION_LABELS[int(probs[0].argmax())] == "happy" and probs[0].max() > 0.9
    mirrored = classify_emotions([np.ascontiguousarray(astronaut_crop[:, ::-1])])
    assert EMOTION_LABELS[int(mirrored[0].argmax())] == "happy"


def test_a_batch_equals_the_faces_one_by_one(astronaut_crop, lfw_faces):
    crops = [astronaut_crop, *lfw_faces]  # different sizes in one batch
    batch = classify_emotions(crops)
    singles = np.concatenate([classify_emotions([c]) for c in crops])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-4)
    assert classify_emotions([]).shape == (0, len(EMOTION_LABELS))


@pytest.mark.parametrize("box, longer_side", [
    ((10, 20, 30, 60), 40),          # made square on the longer side, enlarged by CROP_MARGIN per side
    ((-10, -10, 10, 10), 20),        # partly outside the frame: the edge pixels are repeated
    ((90, 90, 130, 130), 40),
])
def test_face_crop_is_square_and_enlarged(box, longer_side):
    frame = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    crop = face_crop_gray(frame, box)
    side = round(longer_side * (1 + 2 * CROP_MARGIN))
    assert crop.shape == (side, side) and crop.dtype == np.uint8


@pytest.mark.parametrize("box", [(5, 5, 5, 5), (200, 200, 260, 260)])
def test_a_face_box_without_pixels_is_a_clear_error(box):
    with pytest.raises(ValueError):
        face_crop_gray(np.zeros((100, 100, 3), np.uint8), box)


@pytest.mark.parametrize("crop", [np.zeros((0, 5), np.uint8), np.zeros((8, 8, 3), np.uint8),
                                  np.zeros((8, 8), np.float32)])
def test_bad_crops_are_a_clear_error(crop):
    with pytest.raises(ValueError):
        classify_emotions([crop])


def test_cli_analyze_emotions_adds_faces_with_expressions(tmp_path) -> None:
    import subprocess
    import sys

    from tests.support.photos import list_photos, load_photo
    from vidlens.media.encode import encode_video

    photo = next((p for p in list_photos() if p.name == "astronaut.png"), None)
    if photo is None:
        pytest.skip("astronaut.png is not installed")
    frame = np.ascontiguousarray(load_photo(photo)[:384, :512])
    path = encode_video(tmp_path / "astro.mp4", [frame] * 30)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "vidlens.cli", "analyze", str(path), "-q", "-o", str(out),
                           "--analyzers", "shots", "--emotions"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    timeline = json.loads((out / "timeline.json").read_text())
    (track,) = timeline["faces"]
    assert track["emotion"]["emotion"] == "happy"
