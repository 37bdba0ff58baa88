"""Evaluation and training plots: what the pixels say, and PNG files that decode."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidlens.train import metrics, plots


def cell_colour(image: np.ndarray, confusion: np.ndarray, row: int, col: int) -> np.ndarray:
    """Colour at the centre of a confusion-matrix cell, found from the grid's known geometry: the grid is
    the block of non-white pixels right of the row names, one cell per class."""
    classes = confusion.shape[0]
    is_blue = (image[:, :, 2].astype(int) - image[:, :, 0].astype(int)) > 5  # blue-ish cells (not grey text)
    ys, xs = np.nonzero(is_blue[:, : image.shape[1] - 90])  # leave out the colour bar at the right
    top, left = ys.min(), xs.min()
    cell = (xs.max() - left + 1) / classes
    return image[int(top + (row + 0.15) * cell), int(left + (col + 0.15) * cell)]  # corner: off the count text


def test_confusion_matrix_colours_follow_row_shares_not_counts():
    # class 0 has 100 samples (90 right), class 1 has 10 (9 right): same row shares, different counts
    cm = np.array([[90, 10], [1, 9]])
    image = plots.confusion_matrix_image(cm, ["pan_left", "pan_right"])
    assert image.dtype == np.uint8 and image.ndim == 3
    diag0, diag1 = cell_colour(image, cm, 0, 0), cell_colour(image, cm, 1, 1)
    off = cell_colour(image, cm, 0, 1)
    np.testing.assert_allclose(diag0, diag1, atol=3)  # 90 % and 90 %: same shade despite 10x the count
    assert diag0.astype(int).sum() < off.astype(int).sum() - 200  # dark diagonal, light mistakes
    np.testing.assert_allclose(diag0, plots.blues(0.9), atol=3)


def test_confusion_matrix_handles_many_classes_long_and_non_ascii_names():
    names = [f"class_{i}_with_a_rather_long_descriptive_name_é" for i in range(30)]
    cm = np.random.default_rng(0).integers(0, 50, size=(30, 30))
    image = plots.confusion_matrix_image(cm, names)
    assert image.shape[0] > 30 * 20 and image.shape[1] > 30 * 20
    with pytest.raises(ValueError, match="3 classes"):
        plots.confusion_matrix_image(cm, names[:3])


def test_reliability_diagram_bars_reach_the_bin_accuracy(tmp_path):
    truth = [0] * 8 + [1] * 2
    probs = np.array([[0.9, 0.1]] * 10)  # one bin (0.867, 0.933] with accuracy 0.8
    bins = metrics.reliability_bins(truth, probs)
    image = plots.reliability_diagram_image(bins, ece=metrics.expected_calibration_error(truth, probs))
    # the plot area is 360 px high starting at y=40 and x=80 (see plots.reliability_diagram_image)
    x = 80 + int(0.9 * 360)
    column = image[40: 400, x]
    bar = np.nonzero((column[:, 2].astype(int) - column[:, 0].astype(int)) > 60)[0]  # the blue bar
    assert bar.size and abs((360 - bar.min()) / 360 - 0.8) < 0.03  # bar top, from the axis at y=400
    empty_column = image[40: 398, 80 + int(0.3 * 360)]
    assert not ((empty_column[:, 2].astype(int) - empty_column[:, 0].astype(int)) > 60).any()
    path = plots.write_png(tmp_path / "reliability.png", image)
    decoded = cv2.imread(str(path))
    assert decoded.shape == image.shape and (decoded[:, :, ::-1] == image).all()


def test_training_curves_draw_every_series_and_survive_missing_validation(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 1 - 0.4 / e,
                "val_accuracy": 0.9 - 0.4 / e, "val_macro_f1": 0.85 - 0.4 / e, "lr": 1e-3} for e in range(1, 9)]
    image = plots.training_curves_image(history, best_epoch=6)
    for colour in plots.SERIES_COLOURS[:3]:  # train, val and F1 lines are all drawn
        assert (np.abs(image.astype(int) - colour).sum(axis=2) < 30).sum() > 50
    no_val = [{**r, "val_loss": None, "val_accuracy": None, "val_macro_f1": None} for r in history[:1]]
    image = plots.training_curves_image(no_val)
    assert not (np.abs(image.astype(int) - plots.SERIES_COLOURS[2]).sum(axis=2) < 30).any()
    with pytest.raises(ValueError):
        plots.training_curves_image([])
