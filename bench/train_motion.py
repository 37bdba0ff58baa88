"""Issue 14, measured: which head and which input streams learn motion-defined classes on photos never seen
in training, trained the way ``vidlens train`` trains them.

    python bench/train_motion.py [--seeds 0 1 2] [--per-class 20] [--held-out 6] [--threads 1]
                                 [--parts motion7 camera4] [--no-cnn] [--json bench/_out/train_motion.json]

**Data** (``tests/support/actions.make_action_dataset`` with ``held_out``): per seed, the installed real photos
are split into a training pool and a held-out pool (the seed draws the split); ``--per-class`` clips per class
come from the training pool (the last 4 of each class are the validation split), ``--held-out`` clips per class
from the held-out pool are the test split, so no test photo was ever seen in training. Clips are 16 frames at
8 fps (2 s), 112 x 112. Two class sets: ``motion7`` (pan left / right, zoom in / out, static, an object moving
up / down) and ``camera4`` (pan left / right, zoom in / out: order decides zoom in vs out).

**Models**, each through ``vidlens.api.train_classifier`` with its defaults except what is named (``gru``
with ``inputs=auto`` is what ``vidlens train FOLDER`` does): the feature heads ``meanpool`` (order-blind),
``gru``, ``lstm``, ``tcn``, ``transformer``, each on ``appearance`` only, ``motion`` only, and both with
``late`` (default) and ``early`` fusion; ``gru`` with ``inputs=auto`` (the default: a head per candidate
stream set, the one the validation clips favour kept; the choice is reported); and ``r2plus1d`` on pixels
(learning-rate finder and a time budget, ``--cnn-budget`` seconds). One fresh feature cache per dataset, so
extraction is paid once (reported apart).

Reported per model and input: test accuracy and macro-F1 (mean and range over seeds), per-class F1 (mean), and
seconds of training per epoch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA_DIR, cpu_model, source_state
from tests.support.actions import make_action_dataset
from vidlens import api
from vidlens.predict.bundle import read_meta

HEADS = ("meanpool", "gru", "lstm", "tcn", "transformer")
INPUTS = (("appearance", "late"), ("motion", "late"), ("appearance,motion", "late"), ("appearance,motion", "early"))
PARTS = {"motion7": ("pan_left", "pan_right", "zoom_in", "zoom_out", "static", "object_up", "object_down"),
         "camera4": ("pan_left", "pan_right", "zoom_in", "zoom_out")}


def run(dataset: Path, out: Path, cache: Path, label: str, **settings) -> dict:
    started = time.perf_counter()
    splits = [dataset / "splits" / f"{n}.txt" for n in ("train", "val", "test")]
    summary = api.train_classifier(dataset, out / label.replace(" ", "_").replace(",", "+"), cache=cache,
                                   progress=False, splits=splits, **settings)
    metrics = read_meta(out / label.replace(" ", "_").replace(",", "+"))["metrics"]
    epochs = max(1, summary["epochs_run"])
    row = {"label": label, "seed": settings["seed"], "accuracy": metrics["accuracy"],
           "macro_f1": metrics["macro"]["f1"], "onnx_accuracy": summary["test_onnx"]["accuracy"],
           "per_class_f1": {c: round(v["f1"], 3) for c, v in metrics["per_class"].items()},
           "epochs_run": summary["epochs_run"], "train_s": summary["train_seconds"],
           "s_per_epoch": round(summary["train_seconds"] / epochs, 2),
           "total_s": round(time.perf_counter() - started, 1), "test_clips": metrics["num_samples"],
           "inputs": summary["inputs"], "auto_inputs": summary.get("auto_inputs")}
    print(f"  {label:34s} s{row['seed']} acc {row['accuracy']:.3f} F1 {row['macro_f1']:.3f} "
          f"epochs {row['epochs_run']:>2} {row['s_per_epoch']:5.2f}s/epoch total {row['total_s']:6.1f}s "
          f"inputs {'+'.join(row['inputs'])}", flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["label"], []).append(row)
    out = []
    for label, group in groups.items():
        acc = [r["accuracy"] for r in group]
        f1 = [r["macro_f1"] for r in group]
        classes = sorted(group[0]["per_class_f1"])
        out.append({"label": label, "seeds": len(group), "accuracy_mean": round(statistics.mean(acc), 3),
                    "accuracy_min": round(min(acc), 3), "accuracy_max": round(max(acc), 3),
                    "macro_f1_mean": round(statistics.mean(f1), 3), "macro_f1_min": round(min(f1), 3),
                    "macro_f1_max": round(max(f1), 3),
                    "per_class_f1": {c: round(statistics.mean(r["per_class_f1"].get(c, 0.0) for r in group), 3)
                                     for c in classes},
                    "s_per_epoch": round(statistics.mean(r["s_per_epoch"] for r in group), 2)})
    return out


def part(name: str, args, work: Path) -> dict:
    rows: list[dict] = []
    extraction: list[float] = []
    for seed in args.seeds:
        data = make_action_dataset(DATA_DIR / f"heldout_{name}_{args.per_class}_{args.held_out}_s{seed}",
                                   args.per_class, classes=PARTS[name], held_out=args.held_out, val=4, seed=seed)
        cache = work / f"cache_{name}_s{seed}"
        out = work / f"{name}_s{seed}"
        print(f"{name} seed {seed}: {data}", flush=True)
        common = {"seed": seed, "threads": args.threads}
        if not args.cnn_only:
            t0 = time.perf_counter()
            first = run(data, out, cache, "gru auto (default)", **common)  # vidlens train's defaults
            extraction.append(time.perf_counter() - t0 - first["train_s"])
            rows.append(first)
            for arch in HEADS:
                for inputs, fusion in INPUTS:
                    label = f"{arch} {inputs} {fusion}" if "," in inputs else f"{arch} {inputs}"
                    rows.append(run(data, out, cache, label, arch=arch, inputs=inputs, fusion=fusion, **common))
        if not args.no_cnn:
            size = {"size": args.cnn_size} if args.cnn_size else {}
            rows.append(run(data, out, cache, f"r2plus1d pixels{f' {args.cnn_size}px' if size else ''}",
                            arch="r2plus1d", lr_find=True, budget=args.cnn_budget, **size, **common))
    return {"classes": list(PARTS[name]), "per_class": args.per_class, "held_out": args.held_out,
            "first_run_extraction_s": [round(x, 1) for x in extraction], "runs": rows, "summary": summarise(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--held-out", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", nargs="+", choices=tuple(PARTS), default=list(PARTS))
    parser.add_argument("--no-cnn", action="store_true", help="skip r2plus1d")
    parser.add_argument("--cnn-budget", type=float, default=120.0, help="r2plus1d: seconds of training")
    parser.add_argument("--cnn-only", action="store_true", help="only r2plus1d")
    parser.add_argument("--cnn-size", type=int, help="r2plus1d: clip side in pixels (default: vidlens train's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {"command": " ".join(sys.argv), "cpu": cpu_model(), "source": source_state(), "parts": {}}
    with tempfile.TemporaryDirectory(prefix="vidlens-bench-motion-") as tmp:
        for name in args.parts:
            result["parts"][name] = part(name, args, Path(tmp))
    for name, found in result["parts"].items():
        print(f"\n## {name} ({len(found['classes'])} classes, held-out photos, seeds {args.seeds})")
        print("| model | inputs | accuracy mean (range) | macro-F1 mean (range) | s/epoch |")
        print("|---|---|---|---|---|")
        for s in found["summary"]:
            model, _, inputs = s["label"].partition(" ")
            print(f"| {model} | {inputs} | {s['accuracy_mean']:.3f} ({s['accuracy_min']:.3f}-{s['accuracy_max']:.3f}) "
                  f"| {s['macro_f1_mean']:.3f} ({s['macro_f1_min']:.3f}-{s['macro_f1_max']:.3f}) "
                  f"| {s['s_per_epoch']:.2f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
