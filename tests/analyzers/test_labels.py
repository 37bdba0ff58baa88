"""ImageNet labels and categories per shot, on videos made from real photos with known content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.photos import list_photos
from tests.support.synth import ShotSpec, TransitionSpec, render_video
from vidlens import outputs, pipeline
from vidlens.analyzers.labels import LabelsAnalyzer
from vidlens.analyzers.shots import ShotsAnalyzer

PHOTOS = {p.name: p for p in list_photos()}


def photo(name: str) -> Path:
    if name not in PHOTOS:
        pytest.skip(f"{name} is not installed")
    return PHOTOS[name]


@pytest.fixture(scope="module")
def four_shots(tmp_path_factory) -> Path:
    shots = [ShotSpec(photo("chelsea.png"), 40, motion="pan"), ShotSpec(photo("coffee.png"), 40),
             ShotSpec(photo("rocket.jpg"), 40, motion="zoom"), ShotSpec(photo("motorcycle_left.png"), 40)]
    path = tmp_path_factory.mktemp("labels") / "four.mp4"
    return render_video(path, shots, [TransitionSpec.cut()] * 3, size=(480, 270)).path


def test_shots_get_their_labels_and_categories(four_shots: Path) -> None:
    timeline = pipeline.run(four_shots, ["shots", "labels"]).timeline
    assert not timeline.warnings
    shots = timeline.shots
    assert [s["start"]["frame"] for s in shots] == [0, 40, 80, 120]
    names = [{label["name"] for label in s["labels"]} for s in shots]
    categories = [{c["name"] for c in s["categories"]} for s in shots]
    assert names[0] & {"Egyptian cat", "tabby", "tiger cat"} and "cat" in categories[0]
    assert "espresso" in names[1] and "food" in categories[1]
    assert names[2] & {"missile", "projectile", "space shuttle"}
    assert "vehicle" in categories[3]
    by_name = {(entry["name"], entry["source"]): entry for entry in timeline["labels"]}
    cat = by_name[("cat", "category")]["segments"]
    assert [(s["start"]["frame"], s["end"]["frame"]) for s in cat] == [(0, 40)]
    assert 0 < cat[0]["confidence"] <= 1


def test_embeddings_sidecar(four_shots: Path, tmp_path: Path) -> None:
    analysis = pipeline.run(four_shots, ["shots", "labels"])
    info = analysis.timeline.sections["embeddings"]
    held = analysis.arrays(info["file"])  # in memory: what ingest and query by clip read
    outputs.write(analysis, tmp_path, report=False)
    data = np.load(tmp_path / info["file"])
    assert sorted(data.files) == sorted(held) and all(np.array_equal(data[k], held[k]) for k in held)
    assert data["shot_features"].shape == (4, 1280) and data["frame_features"].shape[1] == 1280
    shots = data["shot_features"].astype(np.float32)
    assert np.allclose(np.linalg.norm(shots, axis=1), 1, atol=1e-2)
    similarity = shots @ shots.T
    assert (similarity[np.triu_indices(4, 1)] < 0.9).all()  # different photos, different embeddings


def test_a_one_frame_flicker_is_not_a_label(tmp_path: Path) -> None:
    frames_coffee = ShotSpec(photo("coffee.png"), 50)
    path = render_video(tmp_path / "coffee.mp4", [frames_coffee], [], size=(320, 180)).path
    labels = LabelsAnalyzer(fps=25)
    timeline = pipeline.run(path, [ShotsAnalyzer(), labels], hash_file=False).timeline
    assert "espresso" in {entry["name"] for entry in timeline["labels"]}
    # the same analysis over the frames, with one frame of a cat spliced in, must not say "cat"
    frames = np.stack(labels._probs)
    assert frames.shape[0] == 50
    labels._probs[25] = np.eye(1000, dtype=np.float32)[285]  # a single "Egyptian cat" frame
    mean = np.stack(labels._probs).mean(axis=0)
    found = {name for name, _, _ in labels._shot_labels(mean, np.stack(labels._probs))}
    assert "Egyptian cat" not in found and "cat" not in found


def test_side_crops_cover_a_wide_frame_and_bad_crops_are_refused() -> None:
    from vidlens.errors import UsageError
    from vidlens.runtime.backbone import _squares

    frame = np.arange(224 * 398 * 3, dtype=np.uint32).reshape(224, 398, 3)
    left, right = _squares(frame, 224, "sides")
    assert left.shape == right.shape == (224, 224, 3)
    assert (left[:, 0] == frame[:, 0]).all() and (right[:, -1] == frame[:, -1]).all()
    (centre,) = _squares(frame, 224, "centre")
    assert (centre == frame[:, 87:311]).all()
    with pytest.raises(UsageError, match="crops"):
        LabelsAnalyzer(crops="everywhere")
