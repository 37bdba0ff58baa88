"""Epoch time over cached backbone features vs decoding and running the backbone every epoch.

    python bench/feature_cache.py [--per-class 6] [--frames 32] [--steps 8] [--json bench/_out/feature_cache.json]

The data: :func:`tests.support.actions.make_action_dataset` (7 motion classes, real photos),
``per_class`` clips per class of ``frames`` frames at 8 fps, 320x240 H.264, in ``bench/_data/``.

One "epoch" is what a frozen-backbone classifier's data loader does: every sample once, in a
shuffled order, ``T = steps`` TSN steps per sample with temporal jitter, stacked into batches of
``[B, T, 1280]``. Three ways, each timed over whole epochs:

* **decode every epoch** (the anchor): ``read_frames`` at the ``T`` jittered indices (short side
  224, one sequential decode) and EfficientNet-Lite0 on those ``T`` frames: the cheapest loader
  that has no cache, since it runs the backbone on the ``T`` frames only;
* **cache, first epoch of a process**: a new ``FeatureCache`` over the filled cache (content keys
  computed, ``.npz`` files loaded) then ``feature_steps``;
* **cache, later epochs**: the same instance again (content keys memoised).

Filling the cache (decode at 4 frames/s, backbone on every sampled frame) is timed once. The
ratio printed is anchor / cache per epoch; the issue's goal is >= 20x.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from _common import DATA_DIR, finish_run, markdown_table, print_machine_info
from tests.support.actions import make_action_dataset
from vidlens.media import probe
from vidlens.runtime import load_model
from vidlens.runtime.backbone import backbone_input
from vidlens.train.dataset import Dataset, load_dataset
from vidlens.train.features import FeatureCache, feature_steps
from vidlens.train.sampling import estimate_frame_count, read_frames, segment_indices

BATCH = 16


def decode_epoch(ds: Dataset, steps: int, rng: np.random.Generator, model, counts: dict) -> float:
    """Seconds for one epoch that decodes the T frames of each sample and runs the backbone on them."""
    t0 = time.perf_counter()
    batch = []
    for i in rng.permutation(len(ds)):
        sample = ds.samples[i]
        indices = segment_indices(counts[sample.path], steps, rng)
        frames = read_frames(sample.path, indices, 224, sample.start, sample.end)
        batch.append(model.run(backbone_input(list(frames)))["features"])
        if len(batch) == BATCH:
            np.stack(batch)
            batch = []
    if batch:
        np.stack(batch)
    return time.perf_counter() - t0


def cached_epoch(ds: Dataset, steps: int, rng: np.random.Generator, cache: FeatureCache) -> float:
    """Seconds for one epoch over cached features: load, T jittered steps, batches."""
    t0 = time.perf_counter()
    batch = []
    for i in rng.permutation(len(ds)):
        batch.append(feature_steps(cache.features(ds.samples[i]), steps, rng))
        if len(batch) == BATCH:
            np.stack(batch)
            batch = []
    if batch:
        np.stack(batch)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--decode-epochs", type=int, default=2)
    parser.add_argument("--cached-epochs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print_machine_info()

    t0 = time.perf_counter()
    root = make_action_dataset(DATA_DIR / f"actions_{args.per_class}x{args.frames}_320x240", args.per_class,
                               frames=args.frames, size=(320, 240), fps=8)
    ds = load_dataset(root)
    print(f"\ndataset: {len(ds)} clips, {len(ds.classes)} classes, {args.frames} frames at 8 fps, 320x240 "
          f"(made or reused in {time.perf_counter() - t0:.1f} s)")
    counts = {s.path: estimate_frame_count(probe(s.path)) for s in ds.samples}
    cache_dir = DATA_DIR / "feature_cache_bench"
    shutil.rmtree(cache_dir, ignore_errors=True)

    model = load_model("efficientnet_lite0")
    model.run(backbone_input([np.zeros((224, 224, 3), np.uint8)]))  # warm the session up
    cache = FeatureCache(cache_dir)
    t0 = time.perf_counter()
    report = cache.build(ds, fps=4.0)
    build_s = time.perf_counter() - t0
    cached_frames = sum(len(cache.features(s)) for s in ds.samples)
    print(f"cache filled in {build_s:.1f} s: {report.computed} samples, {cached_frames} frames, "
          f"{len(report.failed)} failed; {sum(f.stat().st_size for f in cache_dir.rglob('*.npz')) / 1e6:.1f} MB")

    rng = np.random.default_rng(0)
    decode_s = [decode_epoch(ds, args.steps, rng, model, counts) for _ in range(args.decode_epochs)]
    first_s = [cached_epoch(ds, args.steps, rng, FeatureCache(cache_dir)) for _ in range(args.cached_epochs)]
    warm = FeatureCache(cache_dir)
    cached_epoch(ds, args.steps, rng, warm)
    later_s = [cached_epoch(ds, args.steps, rng, warm) for _ in range(args.cached_epochs)]

    anchor = statistics.median(decode_s)
    first, later = statistics.median(first_s), statistics.median(later_s)

    def row(name: str, epochs: int, seconds: float) -> tuple:
        return name, epochs, f"{seconds:.4f}", f"{seconds / len(ds) * 1000:.3f}", f"{anchor / seconds:.1f}x"

    rows = [row("decode + backbone every epoch (anchor)", args.decode_epochs, anchor),
            row("cache, first epoch of a process", args.cached_epochs, first),
            row("cache, later epochs", args.cached_epochs, later)]
    print()
    print(markdown_table(["epoch", "epochs timed", "median s / epoch", "ms / sample", "speed-up"], rows))
    print(f"\nfilling the cache once: {build_s:.1f} s ({build_s / anchor:.1f} anchor epochs)")
    finish_run(args.json, {
        "clips": len(ds), "frames": args.frames, "steps": args.steps, "cached_frames": cached_frames,
        "build_s": build_s, "decode_epoch_s": decode_s, "cached_first_epoch_s": first_s,
        "cached_later_epoch_s": later_s, "speedup_first": anchor / first, "speedup_later": anchor / later,
    })


if __name__ == "__main__":
    main()
