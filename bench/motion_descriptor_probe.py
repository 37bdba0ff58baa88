"""Probe: can a temporal head learn the generated motion classes when it sees motion instead of ImageNet features?

The feature heads over EfficientNet-Lite0's pooled features stay at chance on the seven motion classes
(`train_actions.py`): pooled features barely change with where things are. This probe replaces them by a 9-number
per-frame motion descriptor (phase-correlation shift between consecutive frames, log-polar phase-correlation shift
for zoom, mean change, the row-profile drift and where the change is) and trains mean pooling and a GRU on it with
the same loop. It is an experiment, not a product path: vidlens does not compute this descriptor in its pipeline.

    python bench/motion_descriptor_probe.py --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

import _common  # noqa: F401  (puts the repository root on sys.path: tests.support)
from tests.support.actions import make_action_dataset
from vidlens.train.dataset import load_dataset, split_dataset
from vidlens.train.evaluation import evaluate
from vidlens.train.loop import TrainConfig, seed_everything, train
from vidlens.train.models import build_model
from vidlens.train.sampling import read_frames
from vidlens.train.torch_datasets import FeatureSequenceDataset

WINDOW = cv2.createHanningWindow((64, 64), cv2.CV_64F)


def descriptor(frames: np.ndarray) -> np.ndarray:
    """[T, 9] motion numbers between consecutive frames (the last row repeats)."""
    g = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64)
         for f in frames]
    out = []
    for a, b in pairwise(g):
        (dx, dy), response = cv2.phaseCorrelate(a.copy(), b.copy(), WINDOW)
        pa = cv2.warpPolar(a.astype(np.float32), (64, 64), (32, 32), 32, cv2.WARP_POLAR_LOG).astype(np.float64)
        pb = cv2.warpPolar(b.astype(np.float32), (64, 64), (32, 32), 32, cv2.WARP_POLAR_LOG).astype(np.float64)
        (sx, sy), _ = cv2.phaseCorrelate(pa, pb)
        d = b - a
        rows, cols = np.abs(d).mean(axis=1), np.abs(d).mean(axis=0)
        (_, py), _ = cv2.phaseCorrelate(a.mean(axis=1, keepdims=True).repeat(8, 1).copy(),
                                        b.mean(axis=1, keepdims=True).repeat(8, 1).copy())
        out.append([dx / 8, dy / 8, response, sx / 8, sy / 8, np.abs(d).mean() / 32, py / 8,
                    (rows[:32].mean() - rows[32:].mean()) / 32, (cols[:32].mean() - cols[32:].mean()) / 32])
    out.append(out[-1])
    return np.asarray(out, np.float32)


def run(seed: int, per_class: int, work: Path) -> dict[str, float]:
    root = make_action_dataset(work / f"motion_{seed}", per_class, frames=16, size=(160, 120), seed=seed)
    ds = load_dataset(root)
    feats = {s.path: descriptor(read_frames(s.path, list(range(16)), None)) for s in ds.samples}
    splits = split_dataset(ds, (0.6, 0.2, 0.2), seed=0)

    def make(d, training: bool) -> FeatureSequenceDataset:
        return FeatureSequenceDataset([feats[s.path] for s in d.samples], [d.label_index(s) for s in d.samples],
                                      steps=8, train=training)

    scores = {}
    for arch in ("meanpool", "gru"):
        seed_everything(0)
        model = build_model(arch, len(ds.classes), input_dim=9, steps=8)
        config = TrainConfig(epochs=40, batch_size=16, lr=3e-3, patience=15, seed=0, threads=2)
        train(model, make(splits["train"], True), make(splits["val"], False), config, work / f"{arch}_{seed}",
              progress=False)
        result = evaluate(model, make(splits["test"], False), ds.classes)
        scores[arch] = result["accuracy"]
        scores["test_clips"] = result["num_samples"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, default=18)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidlens-motion-probe-"))
    started = time.perf_counter()
    try:
        results = {seed: run(seed, args.per_class, work) for seed in args.seeds}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for seed, scores in results.items():
        print(f"seed {seed}: meanpool {scores['meanpool']:.3f}, gru {scores['gru']:.3f} "
              f"({int(scores['test_clips'])} test clips, 7 classes, chance 0.143)")
    for arch in ("meanpool", "gru"):
        print(f"{arch}: mean test accuracy {np.mean([s[arch] for s in results.values()]):.3f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
