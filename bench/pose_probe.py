"""Probe: what the GRU head learns about real people from the pose stream vs the appearance features.

Data: opencv-doc's ``vtest.avi`` pedestrians cut into 2-s person-track clips labelled ``standing`` /
``walking_left`` / ``walking_right`` (``tests/support/people_clips.py``: vidlens' own person tracks, labels from
the track's horizontal speed in box widths per second, ambiguous windows dropped). Each seed splits the
*tracks* 60/20/20 (stratified by each track's majority label), so no person is seen in both training and test,
then trains the existing heads with the training loop (:func:`vidlens.train.loop.train`, like
``motion_descriptor_probe.py``) on one input at a time:

* ``pose``: :func:`vidlens.predict.pose_stream.pose_rows` of the clip's frames sampled at ``--fps`` (the same
  frames the feature cache samples: shorter side 224 px, every ``1/fps`` s of presentation time);
* ``appearance``: EfficientNet-Lite0 features of those frames (:class:`vidlens.train.features.FeatureCache`);
* ``appearance+pose``: both rows concatenated per frame (early fusion; the product's fusion is issue 14's
  motion part).

Standing is rare in vtest (about a tenth of the walking clips), so by default each class's training clips are
repeated up to the largest class's count (``--no-balance`` trains on them as they come).

Reported per head and input: test accuracy and macro-F1 (mean and range over seeds) and per-class F1, and the
pose stream's cost per frame (detector + tracker + MoveNet, 1 ONNX Runtime thread; wall time, so only
trustworthy on a quiet machine).

    python bench/pose_probe.py --seeds 0 1 2 --fps 4 [--no-balance] [--json bench/_out/pose_probe.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from _common import DATA_DIR, cpu_model, source_state
from tests.support.people_clips import PEOPLE_CLASSES, make_people_dataset, read_clips, track_splits
from vidlens.media import FrameSpec, Sampler
from vidlens.predict.pose_stream import PoseStream, contains_person_track
from vidlens.runtime.backbone import INPUT
from vidlens.train.dataset import Sample
from vidlens.train.evaluation import evaluate
from vidlens.train.features import FeatureCache
from vidlens.train.loop import TrainConfig, seed_everything, train
from vidlens.train.models import build_model
from vidlens.train.sampling import decode_clip
from vidlens.train.torch_datasets import FeatureSequenceDataset

HEADS = ("meanpool", "gru")
INPUTS = ("pose", "appearance", "appearance+pose")


def sampled_frames(path: Path, fps: float) -> list[np.ndarray]:
    """The frames the feature cache samples at ``fps`` (shorter side 224 px)."""
    sampler = Sampler(FrameSpec(fps=Fraction(fps).limit_denominator(10_000)))
    return [f.image for f in decode_clip(path, FrameSpec(min_side=INPUT, pixel_format="rgb24"), select=sampler.wants)
            if f.image is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fps", type=float, default=4.0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-balance", dest="balance", action="store_false",
                        help="train on the clips as they come (default: repeat each class's training clips up to "
                             "the largest class's count; standing has a tenth of the walking clips)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"cpu: {cpu_model()}  threads: {args.threads}  source: {source_state()}  load: {os.getloadavg()}",
          flush=True)
    root = make_people_dataset(DATA_DIR / "vtest_people")
    clips = read_clips(root)
    counts = {c: sum(x.label == c for x in clips) for c in PEOPLE_CLASSES}
    print(f"{len(clips)} clips from {len({c.track for c in clips})} tracks: {counts}", flush=True)
    steps = max(2, round(2.0 * args.fps))  # the 2-s clip
    stream = PoseStream(fps=args.fps, threads=args.threads)
    pose, frames_seen, pose_s = {}, 0, 0.0
    for clip in clips:
        frames = sampled_frames(root / clip.path, args.fps)
        started = time.perf_counter()
        pose[clip.path] = stream.rows(frames)
        pose_s += time.perf_counter() - started
        frames_seen += len(frames)
    with_person = sum(contains_person_track(r) for r in pose.values())
    print(f"pose stream: {1000 * pose_s / frames_seen:.1f} ms/frame over {frames_seen} frames at {args.fps:g} fps; "
          f"{with_person}/{len(clips)} clips contain a person track", flush=True)
    with tempfile.TemporaryDirectory(prefix="vidlens_pose_probe_") as tmp:
        cache = FeatureCache(Path(tmp) / "features", threads=args.threads)
        started = time.perf_counter()
        appearance = {c.path: cache.features(Sample(root / c.path, c.label), fps=args.fps).features.astype(np.float32)
                      for c in clips}
        appearance_ms = 1000 * (time.perf_counter() - started) / sum(len(a) for a in appearance.values())
        inputs = {"pose": pose, "appearance": appearance,
                  "appearance+pose": {k: np.concatenate([appearance[k], _same_length(pose[k], len(appearance[k]))],
                                                        axis=1) for k in pose}}
        index = {c: i for i, c in enumerate(PEOPLE_CLASSES)}
        runs = []
        for seed in args.seeds:
            parts = track_splits(clips, (0.6, 0.2, 0.2), seed=seed)
            for name in INPUTS:
                rows = inputs[name]

                def data(split: str, training: bool, rows=rows, parts=parts) -> FeatureSequenceDataset:
                    items = balanced(parts[split]) if training and args.balance else parts[split]
                    return FeatureSequenceDataset([rows[c.path] for c in items], [index[c.label] for c in items],
                                                  steps=steps, train=training)

                for arch in HEADS:
                    seed_everything(seed)
                    model = build_model(arch, len(PEOPLE_CLASSES), input_dim=data("train", False).dim, steps=steps)
                    config = TrainConfig(epochs=args.epochs, batch_size=16, lr=3e-3, patience=15, seed=seed,
                                         threads=args.threads)
                    train(model, data("train", True), data("val", False), config, Path(tmp) / f"{name}_{arch}_{seed}",
                          progress=False)
                    result = evaluate(model, data("test", False), list(PEOPLE_CLASSES))
                    run = {"seed": seed, "input": name, "head": arch, "accuracy": result["accuracy"],
                           "macro_f1": result["macro"]["f1"], "test_clips": result["num_samples"],
                           "test_counts": {c: sum(x.label == c for x in parts["test"]) for c in PEOPLE_CLASSES},
                           "per_class_f1": {c: round(v["f1"], 3) for c, v in result["per_class"].items()}}
                    runs.append(run)
                    print(f"seed {seed} {name:16s} {arch:9s} acc {run['accuracy']:.3f} macro-F1 {run['macro_f1']:.3f} "
                          f"per class {run['per_class_f1']} test {run['test_counts']}", flush=True)
    summary = []
    for name in INPUTS:
        for arch in HEADS:
            mine = [r for r in runs if r["input"] == name and r["head"] == arch]
            acc, f1 = [r["accuracy"] for r in mine], [r["macro_f1"] for r in mine]
            # a class's mean F1 over the seeds whose test split has clips of it (a track split may have none)
            per_class = {c: round(statistics.mean(f), 3) if (f := [r["per_class_f1"][c] for r in mine
                                                                   if r["test_counts"][c]]) else None
                         for c in PEOPLE_CLASSES}
            summary.append({"input": name, "head": arch, "accuracy_mean": round(statistics.mean(acc), 3),
                            "accuracy_range": [round(min(acc), 3), round(max(acc), 3)],
                            "macro_f1_mean": round(statistics.mean(f1), 3),
                            "macro_f1_range": [round(min(f1), 3), round(max(f1), 3)], "per_class_f1_mean": per_class})
    for row in summary:
        print(f"{row['input']:16s} {row['head']:9s} acc {row['accuracy_mean']:.3f} {row['accuracy_range']}  "
              f"macro-F1 {row['macro_f1_mean']:.3f} {row['macro_f1_range']}  per class {row['per_class_f1_mean']}")
    report = {"command": " ".join(["python", *sys.argv]), "source": source_state(), "cpu": cpu_model(),
              "balanced": args.balance, "clips": len(clips), "counts": counts,
              "pose_ms_per_frame": round(1000 * pose_s / frames_seen, 1),
              "appearance_ms_per_frame": round(appearance_ms, 1), "clips_with_person_track": with_person,
              "runs": runs, "summary": summary, "load_average_end": os.getloadavg()}
    print(f"appearance features: {appearance_ms:.1f} ms/frame; load average at the end: {report['load_average_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


def balanced(items: list) -> list:
    """Training clips with each class's repeated (cyclically) up to the largest class's count: the temporal
    jitter of the training dataset makes the repeats differ."""
    groups = {label: [c for c in items if c.label == label] for label in PEOPLE_CLASSES}
    largest = max(len(g) for g in groups.values())
    return [g[i % len(g)] for g in groups.values() if g for i in range(largest)]


def _same_length(rows: np.ndarray, n: int) -> np.ndarray:
    """Pose rows padded (last row repeated) or cut to ``n``: both streams sample the same frames, so this only
    guards against an off-by-one at a clip's end."""
    if len(rows) >= n:
        return rows[:n]
    return np.concatenate([rows, np.repeat(rows[-1:], n - len(rows), axis=0)])


if __name__ == "__main__":
    main()
