"""The action-dataset generator: the motion in the pixels is the labelled one, and single frames don't tell it."""

from __future__ import annotations

import csv
import itertools
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.actions import (
    ACTION_CLASSES,
    NOISE,
    PARAMS_FILE,
    TRUTH_FILE,
    make_action_dataset,
    make_appearance_dataset,
    render_action_clip,
)
from tests.support.photos import list_photos
from vidlens.errors import UsageError
from vidlens.media import probe
from vidlens.train.dataset import load_dataset
from vidlens.train.sampling import read_frames

CHANCE = 1 / len(ACTION_CLASSES)


def grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def global_shift(frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Median (dx, dy) of the whole image between consecutive frames (phase correlation, Hann-windowed so
    the image borders do not pull the peak towards zero)."""
    window = cv2.createHanningWindow((frames[0].shape[1], frames[0].shape[0]), cv2.CV_32F)
    return np.median([cv2.phaseCorrelate(grey(a), grey(b), window)[0] for a, b in itertools.pairwise(frames)], axis=0)


def zoom_factor(frames: list[np.ndarray]) -> float:
    """Scale from first to last frame: product of per-step similarity fits to tracked corners."""
    total = 1.0
    for a, b in itertools.pairwise(frames):
        a8, b8 = grey(a).astype(np.uint8), grey(b).astype(np.uint8)
        corners = cv2.goodFeaturesToTrack(a8, 300, 0.01, 3)
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(a8, b8, corners, None, winSize=(21, 21), maxLevel=3)
        keep = ok[:, 0] == 1
        fit, _ = cv2.estimateAffinePartial2D(corners[keep, 0], moved[keep, 0], method=cv2.RANSAC,
                                             ransacReprojThreshold=0.5)
        total *= float(np.hypot(fit[0, 0], fit[1, 0]))
    return total


def object_motion(frames: list[np.ndarray]) -> float:
    """Mean over consecutive pairs of the median vertical motion of tracked corners that move (> 1 px)."""
    steps = []
    for a, b in itertools.pairwise(frames):
        a8, b8 = grey(a).astype(np.uint8), grey(b).astype(np.uint8)
        corners = cv2.goodFeaturesToTrack(a8, 400, 0.005, 3)
        moved, ok, _ = cv2.calcOpticalFlowPyrLK(a8, b8, corners, None, winSize=(15, 15), maxLevel=2)
        d = (moved - corners)[ok[:, 0] == 1, 0]
        moving = np.hypot(d[:, 0], d[:, 1]) > 1
        if moving.sum() >= 3:
            steps.append(float(np.median(d[moving, 1])))
    return float(np.mean(steps)) if steps else 0.0


def still_share(frames: list[np.ndarray]) -> float:
    """Median over consecutive pairs of the share of pixels whose dense optical flow is below 0.2 px."""
    shares = []
    for a, b in itertools.pairwise(frames):
        flow = cv2.calcOpticalFlowFarneback(grey(a).astype(np.uint8), grey(b).astype(np.uint8), None,
                                            0.5, 3, 15, 3, 5, 1.2, 0)
        shares.append(float((np.hypot(flow[..., 0], flow[..., 1]) < 0.2).mean()))
    return float(np.median(shares))


def clip(label: str, i: int, seed: int = 11, **kwargs) -> tuple[list[np.ndarray], object]:
    rng = np.random.default_rng([seed, zlib.crc32(label.encode()), i])
    return render_action_clip(label, rng, photos=list_photos(), **kwargs)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's tiny set: 7 classes x 4 clips x 16 frames at 112 px."""
    return make_action_dataset(tmp_path_factory.mktemp("actions"), 4, frames=16, size=(112, 112), fps=8)


def test_tiny_set_layout_and_ground_truth(tiny: Path) -> None:
    ds = load_dataset(tiny)
    assert ds.classes == sorted(ACTION_CLASSES) and ds.counts() == dict.fromkeys(ds.classes, 4)
    info = probe(ds.samples[0].path)
    assert (info.width, info.height, info.frame_count, float(info.fps)) == (112, 112, 16, 8.0)
    with open(tiny / TRUTH_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 28 and {r["label"] for r in rows} == set(ACTION_CLASSES)
    photos = {p.name for p in list_photos()}
    for row in rows:
        assert (tiny / row["path"]).is_file() and row["photo"] in photos and row["object_photo"] in photos
        assert row["photo"] != row["object_photo"]
        assert (float(row["speed"]) > 0) == (row["label"] not in ("static", "zoom_in", "zoom_out"))
    # same parameters: nothing is rewritten
    stamps = {p: p.stat().st_mtime_ns for p in tiny.rglob("*.mp4")}
    make_action_dataset(tiny, 4, frames=16, size=(112, 112), fps=8)
    assert stamps == {p: p.stat().st_mtime_ns for p in tiny.rglob("*.mp4")}
    assert (tiny / PARAMS_FILE).is_file()


def test_encoded_pans_move_the_scene_against_the_camera(tiny: Path) -> None:
    with open(tiny / TRUTH_FILE, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"].startswith("pan_")]
    for row in rows:
        frames = read_frames(tiny / row["path"], range(16), None)
        dx, dy = global_shift(frames)
        truth = float(row["content_dx"])
        assert np.sign(dx) == np.sign(truth) == (1 if row["label"] == "pan_left" else -1)
        assert abs(dx - truth) < 0.2 * abs(truth) and abs(dy) < 0.5


@pytest.mark.parametrize("label", ACTION_CLASSES)
def test_each_class_has_its_motion(label: str) -> None:
    for i in range(4):
        frames, truth = clip(label, i)
        if label.startswith("pan_"):
            dx, dy = global_shift(frames)
            assert np.sign(dx) == np.sign(truth.content_dx) and abs(dx - truth.content_dx) < 0.2 * abs(truth.content_dx)
            assert abs(dy) < 0.5
        elif label.startswith("zoom_"):
            measured = zoom_factor(frames)
            assert (measured > 1) == (label == "zoom_in") == (truth.zoom > 1)
            assert measured == pytest.approx(truth.zoom, rel=0.1)
        elif label == "static":
            assert np.abs(global_shift(frames)).max() < 0.1
            # consecutive frames differ by the sensor noise only: E|n1 - n2| = 2 sigma / sqrt(pi)
            change = np.mean([np.abs(b.astype(np.float32) - a).mean() for a, b in itertools.pairwise(frames)])
            assert change < 1.25 * 2 * NOISE / np.sqrt(np.pi)
        else:
            dy = object_motion(frames)
            assert np.sign(dy) == np.sign(truth.content_dy) == (-1 if label == "object_up" else 1)
            # corners on a textureless crop sit at its pasted edge, where tracking lags: a loose bound
            assert abs(dy - truth.content_dy) < 0.5 * abs(truth.content_dy)
            assert still_share(frames) > 0.5  # the camera does not move: most of the picture is still
            # what changes between frames lies inside the recorded object boxes of the two frames
            for t, (a, b) in enumerate(itertools.pairwise(frames)):
                changed = np.abs(grey(b) - grey(a)) > 8 * NOISE
                inside = np.zeros(changed.shape, bool)
                for box in (truth.object_xyxy(t), truth.object_xyxy(t + 1)):
                    x0, y0, x1, y1 = box
                    inside[max(0, int(y0)): int(np.ceil(y1)) + 1, max(0, int(x0)): int(np.ceil(x1)) + 1] = True
                assert changed.any() and changed[inside].sum() >= 0.99 * changed.sum()
        if not label.startswith("object_"):
            assert truth.object_xyxy(0) is None


def frame_statistics(frame: np.ndarray) -> np.ndarray:
    """What a single frame looks like: colour means and spreads, edge energy, sharpness, hue histogram."""
    g = grey(frame)
    hue = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 0]
    gradient = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return np.concatenate([frame.reshape(-1, 3).mean(0), frame.reshape(-1, 3).std(0),
                           [gradient.mean(), cv2.Laplacian(g, cv2.CV_32F).std()],
                           np.bincount(hue.ravel() // 23, minlength=8)[:8] / hue.size])


def motion_statistics(frames: list[np.ndarray]) -> np.ndarray:
    """What the first two frames say about motion: global shift, divergence, vertical motion of moving parts."""
    a, b = grey(frames[0]), grey(frames[1])
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    flow = cv2.calcOpticalFlowFarneback(a.astype(np.uint8), b.astype(np.uint8), None, 0.5, 3, 15, 3, 5, 1.2, 0)
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w]
    divergence = float(((xx - w / 2) * flow[..., 0] + (yy - h / 2) * flow[..., 1]).mean()) / w
    speed = np.hypot(flow[..., 0], flow[..., 1])
    moving = speed > 0.5
    object_dy = float(np.median(flow[..., 1][moving])) if moving.sum() > 20 else 0.0
    return np.array([dx, dy, divergence, object_dy, float((speed < 0.2).mean())])


def leave_one_out_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Nearest class centroid on standardised features, each sample left out of its own centroid."""
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        centroids = np.stack([x[keep & (y == c)].mean(0) for c in np.unique(y)])
        hits += int(np.argmin(((centroids - x[i]) ** 2).sum(1)) == y[i])
    return hits / len(x)


def test_single_frames_do_not_tell_the_motion_classes_apart() -> None:
    single, motion, labels = [], [], []
    for k, label in enumerate(ACTION_CLASSES):
        for i in range(8):
            frames, _ = clip(label, i, seed=5)
            single.append(frame_statistics(frames[len(frames) // 2]))
            motion.append(motion_statistics(frames))
            labels.append(k)
    y = np.array(labels)
    appearance = leave_one_out_accuracy(np.array(single), y)
    moving = leave_one_out_accuracy(np.array(motion), y)
    assert appearance < 2.5 * CHANCE, f"single frames give away the class ({appearance:.2f})"
    assert moving > 5 * CHANCE, f"two frames should show the motion ({moving:.2f})"


def test_appearance_classes_are_told_by_single_frames(tmp_path: Path) -> None:
    root = make_appearance_dataset(tmp_path, 4, classes=("cat", "coffee", "rocket", "astronaut"), frames=8,
                                   size=(64, 64))
    ds = load_dataset(root)
    assert ds.classes == ["astronaut", "cat", "coffee", "rocket"]
    with open(root / TRUTH_FILE, newline="") as handle:
        photos = {r["label"]: r["photo"] for r in csv.DictReader(handle)}
    assert len(set(photos.values())) == 4
    x = np.array([frame_statistics(read_frames(s.path, [4], None)[0]) for s in ds.samples])
    assert leave_one_out_accuracy(x, ds.labels()) > 0.75


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"classes": ("pan_up",)}, "unknown action class"),
    ({"per_class": 0}, "per_class"),
    ({"size": (111, 112)}, "even"),
    ({"frames": 1}, "frames"),
])
def test_bad_generator_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"per_class": 1, **kwargs}
    with pytest.raises(UsageError, match=message):
        make_action_dataset(tmp_path, args.pop("per_class"), **args)
    with pytest.raises(UsageError, match="unknown appearance class"):
        make_appearance_dataset(tmp_path, 1, classes=("dog", "cat"))
