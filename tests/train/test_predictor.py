"""ONNX export and the ONNX Runtime predictor: windows that tile a video with exact moments, whole-video
predictions equal to the training-style sample input, re-exports picked up, ensembles of mixed inputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.support.photos import list_photos, load_photo  # noqa: E402
from vidlens import api  # noqa: E402
from vidlens.media.encode import encode_video  # noqa: E402
from vidlens.predict import bundle  # noqa: E402
from vidlens.predict.bundle import InvalidBundleError  # noqa: E402
from vidlens.predict.predictor import OnnxPredictor  # noqa: E402
from vidlens.train.bundle import save_bundle  # noqa: E402
from vidlens.train.export import export_onnx  # noqa: E402
from vidlens.train.models import Ensemble, build_model  # noqa: E402
from vidlens.train.video_inputs import clip_inputs  # noqa: E402

torch.set_num_threads(1)
CLASSES = ["a", "b", "c"]
CLIP = {"frames": 4, "size": 16, "fps": 10.0}


def photo_video(path, frames: int, fps: int = 10, size=(64, 48)):
    """A slow pan over a real photo, ``frames`` frames at ``fps``."""
    photo = load_photo(list_photos()[0], (4 * size[0], 4 * size[1]))
    images = [np.ascontiguousarray(photo[20: 20 + size[1], 3 * i: 3 * i + size[0]]) for i in range(frames)]
    return encode_video(path, images, fps=Fraction(fps))


def clip_bundle(directory, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("r2plus1d", len(CLASSES), frames=CLIP["frames"], size=CLIP["size"], width=2).eval()
    save_bundle(directory, model, classes=CLASSES, inputs=[bundle.clip_input(**CLIP)])
    export_onnx(directory)
    return model


def feature_bundle(directory, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("gru", len(CLASSES), steps=4, hidden=16)
    generator = np.random.default_rng(seed)
    model.set_input_stats(generator.random(1280) * 0.3, 0.2 + generator.random(1280) * 0.3)
    save_bundle(directory, model.eval(), classes=CLASSES, inputs=[bundle.feature_input(steps=4, fps=4.0)])
    export_onnx(directory)
    return model


@pytest.mark.parametrize(("frames", "window", "starts"), [
    (52, 2.0, [0, 20, 40]),  # 5.2 s: the last 1.2 s (>= half a window) is a window of its own
    (48, 2.0, [0, 20]),  # 4.8 s: the last 0.8 s joins the window before it
    (15, 2.0, [0]),  # shorter than one window
    (30, 0.5, [0, 5, 10, 15, 20, 25]),
])
def test_windows_tile_the_video_with_exact_moments(tmp_path, frames, window, starts):
    clip_bundle(tmp_path / "m")
    video = photo_video(tmp_path / "v.mp4", frames)
    result = api.predict_video(tmp_path / "m", video, window_s=window)
    windows = result["windows"]
    assert [w["start"]["frame"] for w in windows] == starts
    assert [w["end"]["frame"] for w in windows] == [*starts[1:], frames]
    assert windows[1:] == [] or windows[1]["start"]["time"] == pytest.approx(window)
    assert result["frame_count"] == frames and result["window_s"] == window
    segments = result["segments"]
    assert segments[0]["start"]["frame"] == 0 and segments[-1]["end"]["frame"] == frames
    assert sum(s["windows"] for s in segments) == len(windows)
    assert result["video"]["method"].startswith("duration-weighted mean")


def test_a_clip_window_is_the_training_input_of_that_span(tmp_path):
    model = clip_bundle(tmp_path / "m")
    video = photo_video(tmp_path / "v.mp4", 20)
    predictor = OnnxPredictor(tmp_path / "m")
    inputs = clip_inputs(predictor, video, start=1.0)  # the second second of the video, as training reads it
    assert inputs[0].shape == (3, CLIP["frames"], CLIP["size"], CLIP["size"])
    expected = predictor.predict_arrays([inputs[0][None]])[0]
    with torch.no_grad():
        np.testing.assert_allclose(torch.softmax(model(torch.from_numpy(inputs[0][None])), 1)[0].numpy(), expected,
                                   atol=1e-5)
    second = api.predict_video(predictor, video, window_s=1.0)["windows"][1]
    assert second["start"]["frame"] == 10
    assert second["top"][0]["confidence"] == pytest.approx(float(expected.max()), abs=1e-4)


def test_a_feature_bundle_sees_the_whole_video_as_one_training_clip(tmp_path):
    feature_bundle(tmp_path / "m")
    video = photo_video(tmp_path / "v.mp4", 40)
    predictor = OnnxPredictor(tmp_path / "m")
    expected = predictor.predict_arrays([x[None] for x in clip_inputs(predictor, video)])[0]
    result = api.predict_video(predictor, video, window_s=1.0)
    got = np.array([result["video"]["probabilities"][c] for c in CLASSES])
    np.testing.assert_allclose(got, expected, atol=1e-4)  # probabilities are rounded to 4 decimals
    assert result["video"]["method"].startswith("whole video") and len(result["windows"]) == 4


def test_a_re_export_is_picked_up_in_the_same_process(tmp_path):
    first = clip_bundle(tmp_path / "m", seed=0)
    video = photo_video(tmp_path / "v.mp4", 10)
    before = OnnxPredictor(tmp_path / "m")
    x = clip_inputs(before, video)[0][None]
    old = before.predict_arrays([x])
    second = clip_bundle(tmp_path / "m", seed=1)  # trained again into the same folder
    new = OnnxPredictor(tmp_path / "m").predict_arrays([x])
    with torch.no_grad():
        np.testing.assert_allclose(new, torch.softmax(second(torch.from_numpy(x)), 1).numpy(), atol=1e-5)
        assert not np.allclose(old, new, atol=1e-4)
        np.testing.assert_allclose(old, torch.softmax(first(torch.from_numpy(x)), 1).numpy(), atol=1e-5)


def test_export_is_recorded_only_after_onnx_runtime_agrees(tmp_path):
    clip_bundle(tmp_path / "m")
    meta = bundle.read_meta(tmp_path / "m")
    assert meta["files"]["onnx"] == "model.onnx" and meta["export"]["opset"] == 17
    assert meta["export"]["max_abs_diff"] < 1e-3 * meta["export"]["max_abs_logit"]
    assert meta["export"]["size_bytes"] == (tmp_path / "m" / "model.onnx").stat().st_size
    assert not list((tmp_path / "m").glob(".*partial"))


def test_a_bundle_without_its_onnx_file_is_refused_with_a_hint(tmp_path):
    clip_bundle(tmp_path / "m")
    (tmp_path / "m" / "model.onnx").unlink()
    with pytest.raises(InvalidBundleError, match=r"no ONNX model model\.onnx .*export_onnx"):
        OnnxPredictor(tmp_path / "m")


def test_an_ensemble_of_inputs_at_different_rates_and_sizes_predicts_in_one_pass(tmp_path):
    members = [feature_bundle(tmp_path / "f"), clip_bundle(tmp_path / "c")]
    ensemble = Ensemble(members, inputs=[0, 1])
    specs = [bundle.feature_input(steps=4, fps=4.0), bundle.clip_input(**CLIP)]
    save_bundle(tmp_path / "e", ensemble, classes=CLASSES, inputs=specs)
    export_onnx(tmp_path / "e")
    video = photo_video(tmp_path / "v.mp4", 20)
    predictor = OnnxPredictor(tmp_path / "e")
    inputs = clip_inputs(predictor, video)
    assert [x.shape for x in inputs] == [(4, 1280), (3, 4, 16, 16)]
    with torch.no_grad():
        expected = torch.softmax(ensemble(*[torch.from_numpy(x[None]) for x in inputs]), 1)[0].numpy()
    np.testing.assert_allclose(predictor.predict_arrays([x[None] for x in inputs])[0], expected, atol=1e-5)
    result = api.predict_video(predictor, video, window_s=2.0)  # one window: every frame, each input its own rate
    assert len(result["windows"]) == 1
    got = np.array([result["video"]["probabilities"][c] for c in CLASSES])
    np.testing.assert_allclose(got, expected, atol=0.02)  # the clip frames are resized by OpenCV here, not swscale
