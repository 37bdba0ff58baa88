"""The demo of issue 7, measured: which classifier learns motion-defined classes, and appearance classes
from a handful of examples, trained the way ``vidlens train`` trains them.

    python bench/train_actions.py [--per-class 30] [--threads 2] [--seeds 3] [--only motion|appearance] [--no-cnn]
                                  [--json bench/_out/train_actions.json]

**Motion** (``make_action_dataset``): 7 classes (pan left / right, zoom in / out, static, an object moving up
/ down), ``--per-class`` clips each of 16 frames at 8 fps, 112 x 112, from one shared pool of real photos, so
a single frame says nothing about the class. Split 60/20/20 per class (seeded). Models, each through
``vidlens.api.train_classifier`` (checked videos, splits, training, bundle, ONNX export, test-set evaluation
through ONNX Runtime):

* feature heads over EfficientNet-Lite0 features at 4 frames/s (8 steps = the 2-s clip): ``meanpool``
  (order-blind), ``gru``, ``lstm``, ``tcn``, ``transformer``, each with ``--seeds`` seeds (the seed also
  draws the split, so the spread covers both); the features are computed once into a fresh cache and that
  time is reported apart;
* ``r2plus1d`` on raw clips (8 frames at 8 fps, 112 px, width 16), one seed (it costs minutes);
* a mean ensemble of the seed-0 ``gru`` and ``r2plus1d``.

**Appearance** (``make_appearance_dataset``): cat, coffee, rocket, astronaut, motorcycle, fruit, texture (the
installed ones), 9 clips per class from different photos and camera moves, split 5 train / 1 val / 3 test
per class: ``meanpool`` and ``gru`` (features) and ``r2plus1d`` (from scratch).

Reported per model: test accuracy, macro-F1, ECE, per-class F1, epochs run / best, seconds of training
(the loop) and of the whole call (split, training, export, evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from _common import DATA_DIR, cpu_model, source_state
from tests.support.actions import ACTION_CLASSES, make_action_dataset, make_appearance_dataset
from vidlens import api
from vidlens.predict.bundle import read_meta

HEADS = ("meanpool", "gru", "lstm", "tcn", "transformer")


def run(name: str, dataset: Path, out: Path, cache: Path, **settings) -> dict:
    started = time.perf_counter()
    summary = api.train_classifier(dataset, out / name, cache=cache, progress=False, **settings)
    metrics = read_meta(out / name)["metrics"]
    row = {"model": name, "arch": settings.get("arch", "gru"), "seed": settings.get("seed", 0),
           "test_clips": metrics["num_samples"], "accuracy": metrics["accuracy"], "macro_f1": metrics["macro"]["f1"],
           "ece": metrics["ece"], "onnx_accuracy": summary["test_onnx"]["accuracy"],
           "per_class_f1": {c: round(v["f1"], 3) for c, v in metrics["per_class"].items()},
           "epochs_run": summary["epochs_run"], "best_epoch": summary["best_epoch"],
           "train_s": summary["train_seconds"], "total_s": round(time.perf_counter() - started, 1)}
    print(f"{name:22s} acc {row['accuracy']:.3f}  macro-F1 {row['macro_f1']:.3f}  ECE {row['ece']:.3f}  "
          f"epochs {row['epochs_run']:>2} (best {row['best_epoch']:>2})  train {row['train_s']:6.1f}s  "
          f"total {row['total_s']:6.1f}s", flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and range over seeds per model name prefix (``gru-s0``, ``gru-s1`` -> ``gru``)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["model"].rsplit("-s", 1)[0], []).append(row)
    out = []
    for name, group in groups.items():
        acc = [r["accuracy"] for r in group]
        f1 = [r["macro_f1"] for r in group]
        out.append({"model": name, "runs": len(group), "accuracy_mean": statistics.mean(acc), "accuracy_min": min(acc),
                    "accuracy_max": max(acc), "macro_f1_mean": statistics.mean(f1), "macro_f1_min": min(f1),
                    "macro_f1_max": max(f1),
                    "train_s_mean": statistics.mean(r.get("train_s") or 0.0 for r in group)})
    return out


def motion(args, work: Path, cache: Path) -> dict:
    t0 = time.perf_counter()
    data = make_action_dataset(DATA_DIR / f"actions_{args.per_class}", args.per_class)
    generated = time.perf_counter() - t0
    split = (0.6, 0.2, 0.2)
    common = {"threads": args.threads, "split": split, "epochs": args.epochs, "patience": args.patience}
    t0 = time.perf_counter()
    rows = [run("meanpool-s0", data, work, cache, arch="meanpool", seed=0, **common)]
    features_first = time.perf_counter() - t0  # includes computing every clip's features once
    for arch in HEADS:
        for seed in range(args.seeds):
            if (arch, seed) != ("meanpool", 0):
                rows.append(run(f"{arch}-s{seed}", data, work, cache, arch=arch, seed=seed, **common))
    rows.append(run("r2plus1d-s0", data, work, cache, arch="r2plus1d", seed=0, size=112, frames=8,
                    **{**common, "epochs": args.cnn_epochs, "patience": 6}))
    started = time.perf_counter()
    fused = api.fuse_classifiers([work / "gru-s0", work / "r2plus1d-s0"], work / "gru+r2plus1d", cache=cache,
                                 threads=args.threads, progress=False)
    metrics = read_meta(work / "gru+r2plus1d")["metrics"]
    rows.append({"model": "ensemble gru+r2plus1d (mean)", "seed": 0, "test_clips": metrics["num_samples"],
                 "accuracy": metrics["accuracy"], "macro_f1": metrics["macro"]["f1"], "ece": metrics["ece"],
                 "onnx_accuracy": fused["test_onnx"]["accuracy"],
                 "per_class_f1": {c: round(v["f1"], 3) for c, v in metrics["per_class"].items()},
                 "total_s": round(time.perf_counter() - started, 1)})
    print(f"{'ensemble gru+r2plus1d':22s} acc {metrics['accuracy']:.3f}  macro-F1 {metrics['macro']['f1']:.3f}",
          flush=True)
    return {"clips": args.per_class * len(ACTION_CLASSES), "generate_s": round(generated, 1),
            "first_run_with_feature_extraction_s": round(features_first, 1), "runs": rows,
            "summary": summarise(rows)}


def appearance(args, work: Path, cache: Path) -> dict:
    data = make_appearance_dataset(DATA_DIR / "appearance_9", 9)
    common = {"threads": args.threads, "split": (5 / 9, 1 / 9, 3 / 9), "epochs": args.epochs,
              "patience": args.patience}
    rows = [run(f"app-{arch}-s{seed}", data, work, cache, arch=arch, seed=seed, **common)
            for arch in ("meanpool", "gru") for seed in range(args.seeds)]
    if not args.no_cnn:
        rows.append(run("app-r2plus1d-s0", data, work, cache, arch="r2plus1d", seed=0, size=112, frames=8,
                        **{**common, "epochs": args.cnn_epochs, "patience": 6}))
    return {"classes": sorted(rows[0]["per_class_f1"]), "runs": rows, "summary": summarise(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cnn-epochs", type=int, default=15)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--only", choices=("motion", "appearance"), help="run one of the two parts")
    parser.add_argument("--no-cnn", action="store_true", help="appearance: skip r2plus1d (minutes)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("VIDLENS_THREADS", str(args.threads))
    print(f"cpu: {cpu_model()}  threads: {args.threads}  torch {torch.__version__}  source: {source_state()}  "
          f"load average: {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vidlens_train_actions_") as tmp:
        work, cache = Path(tmp) / "models", Path(tmp) / "features"  # a fresh cache: extraction time is honest
        report = {"command": " ".join(["python", *sys.argv]), "source": source_state(), "cpu": cpu_model(),
                  "threads": args.threads, "torch": torch.__version__,
                  "settings": vars(args) | {"json": str(args.json)},
                  "motion": None if args.only == "appearance" else motion(args, work, cache),
                  "appearance": None if args.only == "motion" else appearance(args, work, cache)}
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["load_average_end"] = os.getloadavg()
    print(json.dumps({part: report[part]["summary"] for part in ("motion", "appearance") if report[part]}, indent=1))
    print(f"total {report['elapsed_s']} s; load average at the end (1, 5, 15 min): {report['load_average_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
