"""Training cost on a CPU at realistic sizes, and what each head learns on a task defined by temporal order.

    python bench/train_speed.py [--clips 300] [--threads 2] [--epochs 15] [--json bench/_out/train_speed.json]

Feature heads (``meanpool``, ``lstm``, ``gru``, bidirectional ``gru``, ``tcn``, ``transformer``) at their
default sizes train on ``--clips`` sequences of 1280-d per-frame features (EfficientNet-Lite0's size),
20-40 frames each, 8 TSN steps, batch 16: ``tests.support.temporal_toys.order_sequences`` (per-frame
noise 0.1), where the class is whether a direction rises or falls over time, every frame value is equally
likely in both classes, and each sequence has its own random "appearance" that a model can memorise.
Heads use their defaults (temporal heads see frame deltas); ``gru-nodelta`` is the GRU without them.
For each head: seconds per epoch (training pass + validation of ``clips // 3`` sequences,
median over epochs), parameters, and accuracy on a separate test set of ``2 * clips // 3`` sequences
after ``--epochs`` epochs (best epoch by validation macro-F1).

The 3D-CNN (``r2plus1d``, width 16) trains end to end on ``--clips`` moving-square clips over real photos
(8 frames) at 64 and at 112 px: seconds per epoch only (``--cnn-epochs`` epochs, median), since the
tests already show it learns the task.

Both are the ``vidlens.train`` loop as the CLI runs it (checkpoint and history written every epoch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _common import cpu_model, source_state
from tests.support.temporal_toys import moving_square_clips, order_sequences
from vidlens.train.evaluation import evaluate
from vidlens.train.loop import TrainConfig, seed_everything, train
from vidlens.train.models import build_model, count_parameters
from vidlens.train.torch_datasets import ClipDataset, FeatureSequenceDataset

HEADS = [("meanpool", {}), ("lstm", {}), ("gru", {}), ("gru", {"deltas": False}), ("gru", {"bidirectional": True}),
         ("tcn", {}), ("transformer", {})]
DIM, STEPS = 1280, 8


def feature_heads(clips: int, epochs: int) -> list[dict]:
    def sequences(n: int, seed: int):
        return order_sequences(n, dim=DIM, seed=seed, min_len=20, max_len=40, noise=0.1)

    train_set = FeatureSequenceDataset(*sequences(clips, 0), steps=STEPS)
    val_set = FeatureSequenceDataset(*sequences(clips // 3, 1), steps=STEPS, train=False)
    test_set = FeatureSequenceDataset(*sequences(2 * clips // 3, 2), steps=STEPS, train=False)
    rows = []
    for arch, hp in HEADS:
        seed_everything(0)
        model = build_model(arch, 2, input_dim=DIM, steps=STEPS, **hp)
        with tempfile.TemporaryDirectory() as out:
            result = train(model, train_set, val_set, TrainConfig(epochs=epochs, batch_size=16, patience=0), out,
                           progress=False)
        accuracy = evaluate(model, test_set, ["rising", "falling"])["accuracy"]
        name = arch + ("-bi" if hp.get("bidirectional") else "") + ("-nodelta" if hp.get("deltas") is False else "")
        rows.append({"model": name, "parameters": count_parameters(model),
                     "epoch_s": statistics.median(r["seconds"] for r in result.history),
                     "best_epoch": result.best_epoch, "test_accuracy": accuracy})
        print(f"{name:14s} {rows[-1]['parameters']:>9,d} params  {rows[-1]['epoch_s']:6.2f} s/epoch  "
              f"best epoch {result.best_epoch:>2}  test accuracy {accuracy:.3f}", flush=True)
    return rows


def clip_model(clips: int, epochs: int) -> list[dict]:
    rows = []
    for size in (64, 112):
        square, speed = size // 4, size // 16
        train_set = ClipDataset(*moving_square_clips(clips, frames=8, size=size, square=square, speed=speed, seed=0),
                                size=size)
        val_set = ClipDataset(*moving_square_clips(clips // 3, frames=8, size=size, square=square, speed=speed,
                                                   seed=1), size=size, train=False)
        seed_everything(0)
        model = build_model("r2plus1d", 2, frames=8, size=size, width=16)
        with tempfile.TemporaryDirectory() as out:
            result = train(model, train_set, val_set, TrainConfig(epochs=epochs, batch_size=16, patience=0), out,
                           progress=False)
        rows.append({"model": f"r2plus1d {size}px x 8", "parameters": count_parameters(model),
                     "epoch_s": statistics.median(r["seconds"] for r in result.history),
                     "val_accuracy_last": result.history[-1]["val_accuracy"]})
        print(f"r2plus1d {size:>3}px {rows[-1]['parameters']:>9,d} params  {rows[-1]['epoch_s']:6.2f} s/epoch  "
              f"val accuracy after {epochs} epochs {rows[-1]['val_accuracy_last']:.3f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cnn-epochs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"cpu: {cpu_model()}  threads: {args.threads}  torch {torch.__version__}  source: {source_state()}  "
          f"load average: {os.getloadavg()}")
    started = time.perf_counter()
    report = {"clips": args.clips, "threads": args.threads, "epochs": args.epochs, "torch": torch.__version__,
              "source": source_state(), "feature_heads": feature_heads(args.clips, args.epochs),
              "clip_model": clip_model(args.clips, args.cnn_epochs)}
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["load_average_end"] = os.getloadavg()
    print(f"total {report['elapsed_s']} s; load average at the end (1, 5, 15 min): {report['load_average_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
