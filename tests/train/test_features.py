"""The feature cache: computed once with the shipped backbone, then loaded without decoding."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.actions import make_appearance_dataset
from vidlens.errors import InvalidMediaError, UsageError
from vidlens.runtime import load_model
from vidlens.runtime.backbone import FEATURE_DIM, backbone_input
from vidlens.train import features as features_module
from vidlens.train.dataset import Sample, load_dataset
from vidlens.train.features import FeatureCache, feature_steps
from vidlens.train.sampling import read_frames

FRAMES, FPS = 16, 8  # 2 s clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_appearance_dataset(tmp_path_factory.mktemp("clips"), 1, classes=("cat", "rocket"), frames=FRAMES,
                                   size=(128, 96), fps=FPS)


@pytest.fixture
def sample(clips: Path) -> Sample:
    return load_dataset(clips).samples[0]


def test_features_are_the_backbone_on_frames_sampled_at_the_rate(sample: Sample, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    got = cache.features(sample, fps=4.0)
    assert got.features.shape == (8, FEATURE_DIM) and got.features.dtype == np.float16
    assert got.times.tolist() == pytest.approx([k * 0.25 for k in range(8)])
    assert got.indices.tolist() == [2 * k for k in range(8)]
    # the same frames, read independently and run through the model, give the same features
    frames = read_frames(sample.path, got.indices, 224)
    direct = load_model("efficientnet_lite0").run(backbone_input(list(frames)))["features"]
    assert np.abs(got.features.astype(np.float32) - direct).max() < 0.01
    assert (cache.hits, cache.misses) == (0, 1)


def test_a_cache_hit_loads_without_decoding(sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = FeatureCache(tmp_path).features(sample, fps=4.0)
    stored = list(tmp_path.rglob("*.npz"))
    assert len(stored) == 1
    stamp = stored[0].stat().st_mtime_ns

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode")

    monkeypatch.setattr(features_module, "decode_clip", no_decoding)
    monkeypatch.setattr(features_module, "probe", no_decoding)
    fresh = FeatureCache(tmp_path)  # a new process would start like this: no memory of the first
    again = fresh.features(sample, fps=4.0)
    assert (fresh.hits, fresh.misses) == (1, 0)
    assert stored[0].stat().st_mtime_ns == stamp
    for name in ("features", "indices", "times"):
        assert np.array_equal(getattr(again, name), getattr(first, name))


def test_key_follows_content_range_and_rate(sample: Sample, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    cache.features(sample, fps=4.0)
    copy = tmp_path / "renamed.mp4"
    shutil.copy(sample.path, copy)
    cache.features(Sample(copy, "other label"), fps=4.0)  # same bytes under another name: a hit
    assert (cache.hits, cache.misses) == (1, 1)
    clip = cache.features(Sample(sample.path, sample.label, 0.5, 1.5), fps=4.0)
    assert cache.misses == 2 and clip.times.tolist() == pytest.approx([0.5, 0.75, 1.0, 1.25])
    capped = cache.features(sample, fps=8.0, max_frames=3)
    assert cache.misses == 3 and len(capped) == 3
    assert capped.times[-1] >= 1.0  # spread over the clip, not its first three frames


def test_build_skips_cached_and_lists_failures(clips: Path, tmp_path: Path) -> None:
    ds = load_dataset(clips)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    ds = ds.subset([*ds.samples, Sample(broken, "cat"), Sample(ds.samples[0].path, "cat", start=60.0)])
    cache = FeatureCache(tmp_path / "cache")
    seen: list[int] = []
    report = cache.build(ds, fps=2.0, progress=lambda done, total, elapsed: seen.append(done))
    assert (report.computed, report.cached) == (2, 0) and seen == [1, 2, 3, 4]
    assert {s.path.name for s, _ in report.failed} == {"broken.mp4", ds.samples[0].path.name}
    assert all(reason and "\n" not in reason for _, reason in report.failed)
    again = cache.build(ds, fps=2.0)
    assert (again.computed, again.cached, len(again.failed)) == (0, 2, 2)
    assert not list((tmp_path / "cache").rglob("*partial*"))  # atomic writes leave no temporary file


def test_damaged_cache_file_is_recomputed(sample: Sample, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    first = cache.features(sample, fps=2.0)
    (stored,) = tmp_path.rglob("*.npz")
    stored.write_bytes(stored.read_bytes()[:100])
    again = FeatureCache(tmp_path)
    assert np.array_equal(again.features(sample, fps=2.0).features, first.features) and again.misses == 1


def test_feature_steps_pick_one_cached_frame_per_segment(sample: Sample, tmp_path: Path) -> None:
    cached = FeatureCache(tmp_path).features(sample, fps=4.0)
    steps = feature_steps(cached, 4)
    assert steps.shape == (4, FEATURE_DIM) and steps.dtype == np.float32
    assert np.array_equal(steps, cached.features[[1, 3, 5, 7]].astype(np.float32))
    rows = {r.tobytes() for r in cached.features.astype(np.float32)}
    draws = [feature_steps(cached, 4, np.random.default_rng(s)) for s in range(10)]
    assert all(r.tobytes() in rows for d in draws for r in d)
    assert len({d.tobytes() for d in draws}) > 1
    assert feature_steps(cached, 12).shape == (12, FEATURE_DIM)  # more steps than frames: repeats


def test_bad_settings_and_unusable_videos(sample: Sample, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    with pytest.raises(UsageError, match="fps"):
        cache.features(sample, fps=0)
    with pytest.raises(UsageError, match="max_frames"):
        cache.features(sample, max_frames=0)
    with pytest.raises(InvalidMediaError, match="no frame could be sampled"):
        cache.features(Sample(sample.path, sample.label, start=30.0))
