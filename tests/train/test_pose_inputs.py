"""The pose stream as a training input: auto adds the pose candidates for clips of people, and prediction
without torch computes a window's pose rows as training computed the clip's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support import samples
from tests.support.people_clips import make_people_dataset, write_track_splits
from vidlens.predict.inputs import prepare_features
from vidlens.predict.pose_stream import POSE_DIM, PRESENT
from vidlens.predict.streams import PoseRows
from vidlens.train.dataset import load_dataset
from vidlens.train.features import FeatureCache, compute_features


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if samples.vtest() is None:
        pytest.skip("opencv-doc's vtest.avi is not installed")
    # the first 20 s of vtest: people walking both ways, some standing; 2-s clips every second
    root = make_people_dataset(tmp_path_factory.mktemp("people"), start_frame=0, end_frame=200, size=96)
    write_track_splits(root, (0.6, 0.2, 0.2), seed=0)
    return root


def _splits(root: Path) -> list[Path]:
    return [root / f"split_{n}.txt" for n in ("train", "val", "test")]


def test_the_pose_stream_is_cached_beside_the_features(people: Path, tmp_path: Path) -> None:
    sample = load_dataset(people).samples[0]
    cache = FeatureCache(tmp_path / "cache")
    first = cache.features(sample, streams=("appearance", "pose"))
    assert first.side["pose"].shape == (len(first), POSE_DIM)
    assert first.side["pose"][:, PRESENT].mean() >= 0.5  # a person-track clip shows its person
    again = FeatureCache(tmp_path / "cache").features(sample, streams=("pose",))
    np.testing.assert_array_equal(again.side["pose"], first.side["pose"])
    # the same rows as computing the stream straight from the decoded frames, without the backbone
    alone = compute_features(sample, None, side=("pose",))
    np.testing.assert_allclose(alone.side["pose"], first.side["pose"], atol=1e-6)


def test_auto_tries_pose_on_people_and_predicts_without_torch(people: Path, tmp_path: Path) -> None:
    from vidlens import api

    summary = api.train_classifier(people, tmp_path / "model", cache=tmp_path / "cache", progress=False,
                                   splits=_splits(people), epochs=4, patience=0, threads=1, seed=0)
    tried = [tuple(c["streams"]) for c in summary["auto_inputs"]["candidates"]]
    assert ("pose",) in tried and ("appearance", "motion", "pose") in tried  # most clips hold a person track
    assert tuple(summary["auto_inputs"]["chosen"]) in tried
    meta = json.loads((tmp_path / "model" / "vidlens_model.json").read_text())
    assert meta["inputs"][0]["streams"] == summary["inputs"]

    # a bundle on pose: the prediction window (one clip long) gets the clip's pose rows, as training did
    api.train_classifier(people, tmp_path / "pose", cache=tmp_path / "cache", progress=False, inputs="pose",
                         splits=_splits(people), epochs=4, patience=0, threads=1, seed=0)
    clip = load_dataset(people).samples[0]
    cached = FeatureCache(tmp_path / "cache").features(clip, streams=("pose",))
    from vidlens.predict.predictor import OnnxPredictor

    predictor = OnnxPredictor(tmp_path / "pose", threads=1)
    expected = predictor.predict_arrays([prepare_features(cached.side["pose"], 8)[None]])[0]
    code = ("import sys, json; sys.modules['torch'] = None; from vidlens import api; "
            f"r = api.predict_video({str(tmp_path / 'pose')!r}, {str(clip.path)!r}, window_s=2.0, top_k=9); "
            "print(json.dumps({t['label']: t['confidence'] for t in r['windows'][0]['top']}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(found) == len(predictor.classes)
    np.testing.assert_allclose([found[c] for c in predictor.classes], expected, atol=2e-4)  # rounded to 4 places

    # explain: the keypoints that mattered, placed on each step's frame, ranked over the clip
    from vidlens.train.explain import explain_video, write_explanation

    explanation = explain_video(tmp_path / "pose", clip.path)
    ranked = explanation.methods["pose"]["keypoints"]
    assert len(ranked) == 17 and len({k["name"] for k in ranked}) == 17
    placed = [step.keypoints for step in explanation.steps if step.keypoints is not None]
    assert placed and all(k.shape == (17, 3) for k in placed)
    inside = np.mean([((k[:, :2] >= 0) & (k[:, :2] <= 1)).all(axis=1).mean() for k in placed])
    assert inside > 0.8  # keypoints of the person in the clip land on the frame
    files = write_explanation(explanation, tmp_path / "why")
    assert (tmp_path / "why" / "explain.json").is_file() and files


def test_pose_rows_of_a_window_need_its_frames() -> None:
    from vidlens.errors import UsageError

    with pytest.raises(UsageError):
        PoseRows(4.0).rows([], [])
