"""The 3D-CNN learns motion direction from raw clips over real photos; the clip dataset's augmentations keep
motion labels unless told otherwise, and its evaluation items are what prediction computes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.support.temporal_toys import moving_square_clips  # noqa: E402
from vidlens.predict.inputs import prepare_clip  # noqa: E402
from vidlens.train.evaluation import evaluate  # noqa: E402
from vidlens.train.loop import TrainConfig, seed_everything, train  # noqa: E402
from vidlens.train.models import build_model  # noqa: E402
from vidlens.train.torch_datasets import ClipDataset  # noqa: E402

torch.set_num_threads(1)
SIZE, FRAMES = 32, 8


def test_r2plus1d_learns_up_versus_down_from_pixels(tmp_path):
    """Every single frame is equally likely in both classes: only the motion tells them apart."""
    train_set = ClipDataset(*moving_square_clips(96, frames=FRAMES, size=SIZE, seed=0), size=SIZE)
    val_set = ClipDataset(*moving_square_clips(48, frames=FRAMES, size=SIZE, seed=1), size=SIZE, train=False)
    test_set = ClipDataset(*moving_square_clips(64, frames=FRAMES, size=SIZE, seed=2), size=SIZE, train=False)
    seed_everything(0)
    model = build_model("r2plus1d", 2, frames=FRAMES, size=SIZE, width=8, dropout=0.1)
    config = TrainConfig(epochs=15, batch_size=16, lr=3e-3, patience=6)
    result = train(model, train_set, val_set, config, tmp_path, progress=False)
    report = evaluate(model, test_set, ["up", "down"])
    assert report["accuracy"] >= 0.85, [round(r["val_accuracy"], 2) for r in result.history]


def striped_clip(frames: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """Pixel values that encode position and time: red = column, green = row, blue = frame index."""
    clip = np.zeros((frames, height, width, 3), np.uint8)
    clip[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :]
    clip[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[None, :, None]
    clip[..., 2] = (np.arange(frames) * 25)[:, None, None]
    return clip


def test_evaluation_items_are_the_prediction_input():
    clip = striped_clip(frames=10)
    item, label = ClipDataset([clip], [1], train=False, size=SIZE, frames=FRAMES)[0]
    assert label == 1 and item.shape == (3, FRAMES, SIZE, SIZE) and item.dtype == torch.float32
    np.testing.assert_array_equal(item.numpy(), prepare_clip(clip, FRAMES, SIZE))
    blue = item[2, :, 0, 0].numpy() * 255  # the centred window of 8 in 10 frames: frames 1..8
    np.testing.assert_allclose(blue, np.arange(1, 9) * 25, atol=1)


def orientation(item: torch.Tensor) -> tuple[bool, bool]:
    """(mirrored, reversed) for an item of :func:`striped_clip`."""
    red, blue = item[0, 0, SIZE // 2].numpy(), item[2, :, 0, 0].numpy()
    return bool(red[0] > red[-1]), bool(blue[0] > blue[-1])


def test_flip_and_reversal_stay_off_unless_enabled():
    clip = striped_clip()
    torch.manual_seed(0)
    default = ClipDataset([clip], [0], size=SIZE, frames=6)
    assert {orientation(default[0][0]) for _ in range(40)} == {(False, False)}
    both = ClipDataset([clip], [0], size=SIZE, frames=6, hflip=True, reverse=True)
    assert {orientation(both[0][0]) for _ in range(80)} == {(False, False), (True, False), (False, True), (True, True)}


def test_training_items_are_random_crops_with_colour_jitter_within_range():
    clip = striped_clip()
    torch.manual_seed(0)
    dataset = ClipDataset([clip], [0], size=SIZE, frames=6, color_jitter=0.4, crop_scale=(0.3, 0.6))
    items = [dataset[0][0] for _ in range(20)]
    assert all(t.shape == (3, 6, SIZE, SIZE) and float(t.min()) >= 0.0 and float(t.max()) <= 1.0 for t in items)
    left_columns = {round(float(t[0, 0, SIZE // 2, 0]), 2) for t in items}
    assert len(left_columns) > 5  # crops start at different places
    mean, std = ClipDataset([clip], [0], size=SIZE).input_stats()
    assert mean.shape == std.shape == (3,) and mean[0] == pytest.approx(clip[..., 0].mean() / 255)
