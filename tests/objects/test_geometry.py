"""Letterbox/stretch geometry, per-class NMS and detection agreement: exact, generated cases."""

from __future__ import annotations

import numpy as np
import pytest

from vidlens.boxes import fit_frame, nms_per_class
from vidlens.errors import UsageError
from vidlens.objects.agreement import matched_f1
from vidlens.objects.classes import class_mask
from vidlens.objects.types import Detections


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("size", [(576, 768), (272, 640), (720, 1280), (1080, 607), (100, 100)])
def test_a_drawn_rectangle_maps_back_to_its_frame_pixels(mode: str, size: tuple[int, int]) -> None:
    h, w = size
    frame = np.zeros((h, w, 3), np.uint8)
    x0, y0, x1, y1 = w // 5, h // 3, w // 2, (4 * h) // 5
    frame[y0:y1, x0:x1] = 255
    img, fit = fit_frame(frame, 416, 416, mode)
    assert img.shape == (416, 416, 3)
    ys, xs = np.nonzero(img[:, :, 0] > 127)  # the rectangle as the model sees it
    back = fit.boxes_to_frame(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32))[0]
    tol = max(w, h) / 416 + 1  # one input pixel
    assert np.allclose(back, [x0, y0, x1, y1], atol=tol)


def test_letterbox_keeps_the_aspect_ratio_and_centres_the_frame() -> None:
    img, fit = fit_frame(np.full((576, 768, 3), 200, np.uint8), 416, 416, "letterbox")
    assert fit.scale_x == pytest.approx(fit.scale_y)
    assert fit.pad_x == 0 and fit.pad_y == (416 - 312) // 2
    assert img[: int(fit.pad_y)].max() == 0 and img[int(fit.pad_y):int(fit.pad_y) + 312].min() == 200
    _, stretched = fit_frame(np.zeros((576, 768, 3), np.uint8), 416, 416, "stretch")
    assert stretched.pad_x == stretched.pad_y == 0 and stretched.scale_x != stretched.scale_y


def test_boxes_outside_the_frame_are_clipped() -> None:
    _, fit = fit_frame(np.zeros((300, 600, 3), np.uint8), 416, 416, "letterbox")
    back = fit.boxes_to_frame(np.array([[-50, 0, 500, 416]], np.float32))[0]
    assert back.tolist() == [0.0, 0.0, 600.0, 300.0]


def test_nms_suppresses_within_a_class_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0])
    keep = nms_per_class(boxes, scores, classes, 0.5)
    assert keep.tolist() == [0, 2, 3]  # box 1 overlaps box 0 (same class); box 2 is another class
    assert nms_per_class(np.zeros((0, 4)), np.zeros(0), np.zeros(0)).size == 0


def test_matched_f1_counts_same_class_overlaps_one_to_one() -> None:
    a = Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 2])
    assert matched_f1(a, a) == 1.0
    assert matched_f1(a, Detections([[0, 0, 10, 10]], [0.5], [0])) == pytest.approx(2 / 3)
    assert matched_f1(a, Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [1, 2])) == 0.5
    assert matched_f1(Detections(), Detections()) == 1.0


@pytest.mark.parametrize(("classes", "error"), [(["person", "car"], None), ([0, 2], None), ("Person", None),
                                                 (["unicorn"], UsageError), ([80], UsageError)])
def test_class_filters_take_names_or_indices(classes, error) -> None:
    if error:
        with pytest.raises(error):
            class_mask(classes)
        return
    mask = class_mask(classes)
    assert mask[0] and mask.sum() == (1 if classes == "Person" else 2)
