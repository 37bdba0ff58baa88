"""``vidlens train / evaluate / predict`` and ``analyze --classifier`` end to end on tiny generated datasets:
the bundle and its ONNX file, ONNX = torch, the evaluation outputs, predictions with moments, the timeline
section, bad videos listed and skipped, one-line errors, and evaluate / predict without torch."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.support.actions import make_action_dataset, make_appearance_dataset  # noqa: E402
from tests.timeline_schema import assert_valid  # noqa: E402
from vidlens import api  # noqa: E402
from vidlens.cli import main  # noqa: E402
from vidlens.media import probe  # noqa: E402
from vidlens.predict.bundle import read_meta  # noqa: E402
from vidlens.predict.predictor import OnnxPredictor  # noqa: E402
from vidlens.train.bundle import load_bundle  # noqa: E402
from vidlens.train.dataset import load_dataset  # noqa: E402
from vidlens.train.video_inputs import clip_inputs  # noqa: E402

torch.set_num_threads(1)
APPEARANCE = ("cat", "coffee", "rocket")
MOTION = ("pan_left", "pan_right", "static")
TRAIN = ["--epochs", "5", "--lr", "3e-3", "--threads", "1", "--split", "0.5,0.17,0.33"]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("traincli")


@pytest.fixture(scope="module")
def appearance(work) -> Path:
    """3 photo classes x 6 clips, plus a file named like a video that is not one."""
    root = make_appearance_dataset(work / "appearance", 6, classes=APPEARANCE)
    (root / "cat" / "broken.mp4").write_bytes(b"this is not a video\n" * 40)
    return root


@pytest.fixture(scope="module")
def trained(work, appearance) -> tuple[Path, int, str]:
    """``vidlens train`` (GRU over cached backbone features): the model folder, exit code and stderr."""
    import io
    from contextlib import redirect_stderr

    buffer = io.StringIO()
    with redirect_stderr(buffer):
        code = main(["train", str(appearance), "-o", str(work / "gru"), "--cache", str(work / "cache"), *TRAIN])
    return work / "gru", code, buffer.getvalue()


def test_train_writes_the_bundle_onnx_splits_and_test_report(trained, appearance):
    model, code, stderr = trained
    assert code == 0, stderr
    for name in ("vidlens_model.json", "weights.pt", "model.onnx", "splits/test.txt", "training/history.json",
                 "evaluation/metrics.json", "evaluation/report.html", "evaluation/confusion.png"):
        assert (model / name).is_file(), name
    meta = read_meta(model)
    assert meta["files"]["onnx"] == "model.onnx" and meta["export"]["max_abs_diff"] < 1e-3
    assert meta["classes"] == sorted(APPEARANCE) and meta["inputs"][0]["kind"] == "features"
    assert meta["training"]["clip_seconds"] == pytest.approx(2.0, abs=0.3)  # 16 frames at 8 fps
    # the bad video is listed (with its reason) and left out, and the run went on
    assert "broken.mp4" in stderr and [s["path"] for s in meta["training"]["skipped"]] == [
        str(appearance / "cat" / "broken.mp4")]
    test_names = (model / "splits" / "test.txt").read_text().split()
    assert test_names and not set(test_names) & set((model / "splits" / "train.txt").read_text().split())
    # appearance classes are learned from 3 clips each: well above chance (1/3) on clips never seen
    assert meta["metrics"]["num_samples"] == len(test_names)
    assert meta["metrics"]["accuracy"] >= 2 / 3, meta["metrics"]["confusion_matrix"]


def test_onnx_predictions_equal_torch_predictions(trained, appearance):
    model_dir = trained[0]
    model, _ = load_bundle(model_dir)
    predictor = OnnxPredictor(model_dir)
    samples = load_dataset(appearance).samples[1:7]  # cat_0001.. (the broken file sorts first)
    items = [clip_inputs(predictor, s) for s in samples]
    onnx_probs = predictor.predict_samples(items)
    with torch.no_grad():
        torch_probs = torch.softmax(model(torch.from_numpy(np.stack([i[0] for i in items]))), 1).numpy()
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-5)
    # and the bundle's torch test metrics are what the ONNX evaluation measured
    metrics = json.loads((model_dir / "evaluation" / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(read_meta(model_dir)["metrics"]["accuracy"])
    assert metrics["confusion_matrix"] == read_meta(model_dir)["metrics"]["confusion_matrix"]


def test_evaluate_writes_metrics_plots_and_an_offline_report(trained, appearance, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(trained[0]), str(appearance), "--split", "all", "-o", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert printed["accuracy"] == metrics["accuracy"] and metrics["num_samples"] == 18  # all but the broken file
    assert set(metrics["per_class"]) == set(APPEARANCE) and {"macro", "weighted", "ece", "top_k"} <= set(metrics)
    assert [s["path"].endswith("broken.mp4") for s in metrics["skipped"]] == [True]
    for png in ("confusion.png", "reliability.png", "curves.png"):
        image = cv2.imread(str(out / png))
        assert image is not None and image.shape[0] > 100, png
    html = (out / "report.html").read_text()
    assert all(name in html for name in APPEARANCE) and "macro average" in html and 'src="confusion.png"' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    predictions = json.loads((out / "predictions.json").read_text())
    wrong = [p for p in predictions if not p["correct"]]
    assert len(list((out / "mistakes").glob("*.jpg")) if wrong else []) == min(len(wrong), 12)


def test_evaluate_on_a_new_folder_scores_all_of_it_and_says_so(trained, appearance, tmp_path, capsys):
    """The recorded test split names clips of the training dataset; a new folder holds none of them."""
    import shutil

    other = tmp_path / "new_videos"
    for label in APPEARANCE:
        (other / label).mkdir(parents=True)
        for i, video in enumerate(sorted((appearance / label).glob(f"{label}_*.mp4"))[:2]):
            shutil.copy(video, other / label / f"fresh_{i}.mp4")
    assert main(["evaluate", str(trained[0]), str(other), "-o", str(tmp_path / "eval"), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["num_samples"] == 6 and "split 'all'" in captured.err
    assert main(["evaluate", str(trained[0]), str(other), "--split", "test", "-o", str(tmp_path / "e2")]) == 2
    assert "not the dataset the model was trained on; score split 'all'" in capsys.readouterr().err


def test_predict_json_gives_video_labels_and_windows_that_tile_the_video(trained, appearance, capsys):
    videos = [appearance / "coffee" / "coffee_0001.mp4", appearance / "rocket" / "rocket_0002.mp4"]
    assert main(["predict", str(trained[0]), *map(str, videos), "--window", "0.75s", "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in results] == [str(v) for v in videos]
    for result in results:
        assert result["video"]["label"] in APPEARANCE and abs(sum(result["video"]["probabilities"].values()) - 1) < 1e-3
        windows, segments = result["windows"], result["segments"]
        frames = probe(result["path"]).frame_count
        # 2 s in 0.75 s windows: [0, .75), [.75, 1.5), then [1.5, 2) is not a sliver (>= half a window)
        assert len(windows) == 3 and windows[0]["start"]["frame"] == 0 and windows[-1]["end"]["frame"] == frames
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(windows))
        assert segments[0]["start"]["frame"] == 0 and segments[-1]["end"]["frame"] == frames
        assert all(a["label"] != b["label"] for a, b in itertools.pairwise(segments))  # equal neighbours merged
        assert windows[1]["start"]["timecode"] == "00:00:00:06"  # 0.75 s at 8 fps


def test_analyze_with_the_classifier_puts_its_segments_in_the_timeline(trained, appearance, tmp_path):
    video = appearance / "rocket" / "rocket_0003.mp4"
    assert main(["analyze", str(video), "--analyzers", "shots", "--classifier", str(trained[0]),
                 "-o", str(tmp_path / "out"), "-q"]) == 0
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    [section] = timeline["classifier"]
    assert section["model"] == "gru" and section["classes"] == sorted(APPEARANCE)
    assert section["segments"] and section["segments"][0]["start"]["frame"] == 0
    assert section["segments"][-1]["end"]["frame"] == timeline["video"]["frame_count"]
    assert section["video"] == api.predict_video(trained[0], video)["video"]  # one decode path for both
    assert timeline["analysis"]["analyzers"]["classifier"]["arch"] == "gru"
    assert_valid(timeline)  # the classifier section as the published schema describes it
    assert "classifier" in (tmp_path / "out" / "report.html").read_text()


def test_a_clip_model_and_an_ensemble_of_both_kinds_train_and_predict(work, tmp_path):
    """R(2+1)D on raw clips (motion classes), then a mean ensemble of it with the GRU: two ONNX inputs."""
    root = make_action_dataset(work / "motion", 6, classes=MOTION)
    summary = api.train_classifier(root, tmp_path / "cnn", arch="r2plus1d", size=32, frames=8, epochs=2, threads=1,
                                   split=(0.5, 0.17, 0.33), hyper_parameters={"width": 4}, progress=False)
    assert summary["test_onnx"]["samples"] == 6 and (tmp_path / "cnn" / "model.onnx").is_file()
    features = api.train_classifier(root, tmp_path / "gru", epochs=2, threads=1, split=(0.5, 0.17, 0.33),
                                    cache=work / "cache", progress=False)
    assert features["samples"] == summary["samples"]  # same seed, same split
    fused = api.fuse_classifiers([tmp_path / "gru", tmp_path / "cnn"], tmp_path / "both", cache=work / "cache",
                                 progress=False)
    assert fused["inputs"] == ["features", "clip"] and fused["weights"] == [0.5, 0.5]
    assert fused["test"]["accuracy"] == pytest.approx(fused["test_onnx"]["accuracy"])
    result = api.predict_video(tmp_path / "both", root / "pan_left" / "pan_left_0001.mp4")
    assert result["arch"] == "ensemble" and result["video"]["label"] in MOTION


@pytest.mark.parametrize(("args", "message"), [
    (["train", "{data}", "-o", "{tmp}/m", "--arch", "gru", "--flip"], "--flip needs raw clips"),
    (["train", "{data}", "{data}", "-o", "{tmp}/m"], "give one dataset"),
    (["evaluate", "{tmp}", "{data}"], "not a vidlens model"),
    (["predict", "{model}", "{data}/cat/broken.mp4"], "not a readable media file"),
    (["predict", "{model}", "{data}/cat/cat_0001.mp4", "--window", "0s"], "--window takes a duration"),
])
def test_bad_input_gives_one_line_errors(trained, appearance, tmp_path, capsys, args, message):
    filled = [a.format(data=appearance, tmp=tmp_path, model=trained[0]) for a in args]
    assert main(filled) == 2
    stderr = capsys.readouterr().err
    assert message in " ".join(stderr.split()) and "Traceback" not in stderr


@pytest.mark.parametrize("command", ["evaluate", "predict", "explain", "export"])
def test_a_real_model_with_hostile_inputs_is_never_an_internal_error(trained, command, tmp_path, capsys):
    """The sweep of tests/test_cli_sweep.py cannot reach a model's second argument: here it is reached."""
    from tests.test_cli_sweep import HOSTILE, _make_hostile

    hostile = _make_hostile(tmp_path / "hostile")
    model = tmp_path / "model"  # a copy: export writes its variants beside the model
    shutil.copytree(trained[0], model)
    for kind in HOSTILE:
        target = ["--", str(hostile[kind])] if kind == "dash" else [str(hostile[kind])]
        args = {"evaluate": ["evaluate", str(model), "-o", str(tmp_path / "e"), "-q", *target],
                "predict": ["predict", str(model), *target],
                "explain": ["explain", str(model), "-o", str(tmp_path / "x"), *target],
                "export": ["export", str(model), "--dataset", *target[-1:]]}[command]
        code = main(args)
        captured = capsys.readouterr()
        assert code == 2 and captured.err.strip(), (kind, code, captured.err)
        assert "Traceback" not in captured.err and "internal error" not in captured.err, (kind, captured.err)


def test_evaluate_and_predict_run_without_torch(trained, appearance, tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "from vidlens.cli import main\n"
            f"a = main(['evaluate', {str(trained[0])!r}, {str(appearance)!r}, '-o', {str(tmp_path / 'e')!r}, '-q'])\n"
            f"b = main(['predict', {str(trained[0])!r}, {str(appearance / 'cat' / 'cat_0002.mp4')!r}, '-f', 'json'])\n"
            f"c = main(['train', {str(appearance)!r}, '-o', {str(tmp_path / 'm')!r}])\n"
            "print('codes', a, b, c)\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "codes 0 0 2" in done.stdout and "needs PyTorch" in done.stderr  # training does need it
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["num_samples"] > 0
