"""The motion stream (issue 14): the extractor's signs and sizes, its cache entry, and a default ``vidlens train``
learning camera motion on photos it never saw, run without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.actions import make_action_dataset, split_photos
from tests.support.photos import list_photos, load_photo
from vidlens.errors import UsageError
from vidlens.predict.bundle import feature_input
from vidlens.predict.motion import CHANGE_START, FLOW_START, MOTION_DIM, motion_rows
from vidlens.predict.streams import parse_streams, spec_streams


def _views(transform, n: int = 3, size: tuple[int, int] = (298, 224)) -> list[np.ndarray]:
    photo = np.array(load_photo(next(p for p in list_photos() if p.name == "astronaut.png")))
    h, w = photo.shape[:2]
    out = []
    for k in range(n):
        dx, dy, zoom = transform(k)
        s = size[0] / (0.6 * w) * zoom
        m = np.array([[s, 0, size[0] / 2 - s * w / 2 + dx], [0, s, size[1] / 2 - s * h / 2 + dy]])
        out.append(cv2.warpAffine(photo, m, size, flags=cv2.INTER_LINEAR))
    return out


@pytest.mark.parametrize(("transform", "dx", "dy"), [
    (lambda k: (10 * k, 0, 1.0), 10 / 298 / 0.25, 0.0),  # content moves right 10 px a step
    (lambda k: (-10 * k, 0, 1.0), -10 / 298 / 0.25, 0.0),
    (lambda k: (0, 8 * k, 1.0), 0.0, 8 / 224 / 0.25),  # down
    (lambda k: (0, -8 * k, 1.0), 0.0, -8 / 224 / 0.25),
])
def test_shift_sign_and_size(transform, dx: float, dy: float) -> None:
    rows = motion_rows(_views(transform), [0.0, 0.25, 0.5])
    assert rows.shape == (3, MOTION_DIM)
    np.testing.assert_allclose(rows[1, :2], [dx, dy], atol=0.015)  # global phase correlation, per second
    flow = rows[1, FLOW_START:CHANGE_START].reshape(16, 3)
    np.testing.assert_allclose(flow[:, :2].mean(axis=0), [dx, dy], atol=0.02)  # the pooled DIS flow agrees
    assert rows[1, 2] > 0.5  # a clean shift: a peaked correlation
    np.testing.assert_array_equal(rows[0], rows[1])  # the first row repeats the second


def test_zoom_in_and_out_have_opposite_scale_signs() -> None:
    zoom_in = motion_rows(_views(lambda k: (0, 0, 1.08 ** k)), [0.0, 0.25, 0.5])
    zoom_out = motion_rows(_views(lambda k: (0, 0, 1.08 ** -k)), [0.0, 0.25, 0.5])
    expected = np.log(1.08) / 0.25
    assert 0.5 * expected < zoom_in[1, 3] < 1.5 * expected
    assert -1.5 * expected < zoom_out[1, 3] < -0.5 * expected
    # the flow diverges for zoom in: the left column moves left, the right column right
    flow = zoom_in[1, FLOW_START:CHANGE_START].reshape(4, 4, 3)
    assert flow[:, 0, 0].mean() < 0 < flow[:, 3, 0].mean()


def test_resolution_independent() -> None:
    small = motion_rows(_views(lambda k: (5 * k, 0, 1.0), size=(150, 112)), [0.0, 0.25, 0.5])
    large = motion_rows(_views(lambda k: (20 * k, 0, 1.0), size=(600, 448)), [0.0, 0.25, 0.5])
    np.testing.assert_allclose(small[1, :2], large[1, :2], atol=0.01)


def test_stream_names_and_old_bundles() -> None:
    assert parse_streams("auto") == ("appearance", "motion")
    assert parse_streams("motion,appearance") == ("appearance", "motion")
    assert spec_streams(feature_input(steps=8, fps=4.0)) == ("appearance",)  # a bundle from before streams
    spec = feature_input(steps=8, fps=4.0, streams=("appearance", "motion"))
    assert spec["dim"] == 1280 + MOTION_DIM and spec_streams(spec) == ("appearance", "motion")
    assert parse_streams("pose,motion") == ("motion", "pose")
    for bad in ("colour", "poses", ""):
        with pytest.raises(UsageError):
            parse_streams(bad)


def test_held_out_photos_are_disjoint() -> None:
    train, test = split_photos(0)
    assert len(test) >= 2 and not {p.name for p in train} & {p.name for p in test}


@pytest.fixture(scope="module")
def camera(tmp_path_factory) -> Path:
    return make_action_dataset(tmp_path_factory.mktemp("camera"), 8, classes=("pan_left", "pan_right", "zoom_in",
                               "zoom_out"), held_out=3, val=2, frames=16, size=(112, 112), fps=8)


def test_motion_cache_round_trip(camera: Path, tmp_path: Path) -> None:
    from vidlens.train.dataset import load_dataset
    from vidlens.train.features import FeatureCache

    sample = load_dataset(camera).samples[0]
    cache = FeatureCache(tmp_path / "cache")
    old = cache.features(sample)  # an appearance-only entry, as before the motion stream
    both = cache.features(sample, streams=("appearance", "motion"))  # motion added beside it
    np.testing.assert_array_equal(both.features, old.features)
    again = FeatureCache(tmp_path / "cache").features(sample, streams=("appearance", "motion"))
    np.testing.assert_array_equal(again.motion, both.motion)
    assert both.rows(("appearance", "motion")).shape == (len(old), 1280 + MOTION_DIM)


def test_default_train_learns_camera_motion_on_held_out_photos(camera: Path, tmp_path: Path) -> None:
    from vidlens import api

    splits = [camera / "splits" / f"{n}.txt" for n in ("train", "val", "test")]
    summary = api.train_classifier(camera, tmp_path / "model", cache=tmp_path / "cache", progress=False,
                                   splits=splits, epochs=40, patience=0, threads=1, seed=0)
    # auto tried appearance, motion and both, and kept the one the validation clips favour: it must read motion
    tried = [c["streams"] for c in summary["auto_inputs"]["candidates"]]
    assert tried == [["appearance"], ["motion"], ["appearance", "motion"]]
    assert "motion" in summary["inputs"] and summary["auto_inputs"]["chosen"] == summary["inputs"]
    meta = json.loads((tmp_path / "model" / "vidlens_model.json").read_text())
    assert meta["inputs"][0]["streams"] == summary["inputs"]
    assert meta["training"]["auto_inputs"]["chosen"] == summary["inputs"]
    assert summary["test_onnx"]["accuracy"] >= 0.75  # 12 held-out clips, 4 classes: chance is 0.25
    # prediction without torch: the ONNX bundle, the motion stream and the backbone only
    video = camera / "zoom_in" / "test_0001.mp4"
    code = ("import sys; sys.modules['torch'] = None; from vidlens import api; "
            f"print(api.predict_video({str(tmp_path / 'model')!r}, {str(video)!r})['video']['label'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] in ("pan_left", "pan_right", "zoom_in", "zoom_out")

    # explain draws the motion stream's flow field on each step
    from vidlens.train.explain import explain_video

    explanation = explain_video(tmp_path / "model", video)
    assert "flow" in explanation.methods and all(step.flow.shape == (4, 4, 3) for step in explanation.steps)

    # INT8 (static, calibrated on the training clips' streams) keeps the held-out accuracy, without torch
    from vidlens.train.compress import compress_bundle

    report = compress_bundle(tmp_path / "model", int8=["static"], dataset=camera, cache_dir=tmp_path / "cache",
                             runs=3, progress=False)
    int8 = next(v for v in report["variants"] if v["name"] == "int8_static")
    assert int8["accuracy"] is not None and int8["accuracy"] >= summary["test_onnx"]["accuracy"] - 0.1
