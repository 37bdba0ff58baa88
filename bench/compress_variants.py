"""fp32 vs INT8 (dynamic, static) vs pruned (30 %, 50 %) versions of trained classifiers: size, latency, accuracy.

    python bench/compress_variants.py [--task motion7|learnable] [--threads 2] [--runs 50] [--json FILE]

Datasets are generated from real photos (``tests.support.actions``, reused when they exist under
``bench/_data/compress/``) and models trained with ``vidlens train``'s code (``api.train_classifier``, split
60/15/25, seed 0):

* ``--task motion7``: the seven motion classes (pan_left, pan_right, zoom_in, zoom_out, static, object_up,
  object_down), ``--per-class`` clips (default 30) of 16 frames at 112 px, 8 fps; a GRU head over cached
  EfficientNet-Lite0 features (8 steps at 4 fps, 30 epochs) and the R(2+1)D 3D-CNN (8 frames at 8 fps,
  64 px, width 16, 20 epochs);
* ``--task learnable``: tasks these small models learn in a few epochs, so that accuracy losses can show: the
  GRU head on the seven appearance classes (cat, coffee, rocket, astronaut, motorcycle, fruit, texture; 12
  clips each) and R(2+1)D (48 px, width 16, 40 epochs at lr 3e-3) on object_up / object_down / static (50 clips
  each).

Then ``vidlens export``'s code (``api.compress_model``) makes the INT8 dynamic and static variants and the
pruned 30 % / 50 % ones (fine-tuned 3 epochs each) and measures all of them on the SAME test clips: file
size, gzip size, median latency of one clip over ``--runs`` runs at 1 and 2 ONNX Runtime threads, accuracy,
macro-F1 and agreement with fp32. Finally ``vidlens explain``'s code (``api.explain_prediction``) explains
the first test clip (time, the explained class and whether integrated gradients and the occlusion check
rank steps alike).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import DATA_DIR, cpu_model, finish_run, markdown_table, source_state
from tests.support.actions import make_action_dataset, make_appearance_dataset
from vidlens import api

GRU = {"arch": "gru", "epochs": 30, "fps": 4.0, "steps": 8}
R2PLUS1D = {"arch": "r2plus1d", "epochs": 20, "fps": 8.0, "frames": 8}
OBJECTS = ("object_up", "object_down", "static")


def task_models(task: str, per_class: int, work: Path) -> list[tuple[str, Path, dict]]:
    """(model name, dataset folder, training settings) of a task; datasets are made (or reused) here."""
    if task == "motion7":
        data = make_action_dataset(work / f"actions_{per_class}", per_class, frames=16, size=(112, 112), fps=8)
        return [("gru", data, GRU), ("r2plus1d", data, {**R2PLUS1D, "size": 64})]
    appearance = make_appearance_dataset(work / "appearance_12", 12, frames=16, size=(112, 112), fps=8)
    objects = make_action_dataset(work / "objects_50", 50, classes=OBJECTS, frames=16, size=(112, 112), fps=8)
    return [("gru", appearance, GRU), ("r2plus1d", objects, {**R2PLUS1D, "size": 48, "epochs": 40, "lr": 3e-3})]


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("motion7", "learnable"), default="motion7")
    parser.add_argument("--per-class", type=int, default=30, help="motion7: clips per class")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training and fine-tuning")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"cpu: {cpu_model()}  source: {source_state()}  load average: {os.getloadavg()}")
    work = DATA_DIR / "compress"
    started = time.perf_counter()
    models = task_models(args.task, args.per_class, work)
    print(f"datasets: {sorted({str(m[1]) for m in models})} ({time.perf_counter() - started:.1f}s)")
    results = {"task": args.task, "per_class": args.per_class, "threads": args.threads, "runs": args.runs,
               "source": source_state(), "load_average_start": os.getloadavg(), "models": {}}
    for name, dataset, settings in models:
        begun = time.perf_counter()
        suffix = f"_{args.per_class}" if args.task == "motion7" else ""
        out = work / f"model_{args.task}_{name}{suffix}"
        summary = api.train_classifier(dataset, out, cache=work / "cache", progress=False, split=(0.6, 0.15, 0.25),
                                       threads=args.threads, **settings)
        trained_s = time.perf_counter() - begun
        report = api.compress_model(out, int8=["dynamic", "static"], prune=[0.3, 0.5], dataset=dataset,
                                    cache=work / "cache", runs=args.runs)
        rows = []
        for v in report["variants"]:
            rows.append([v["name"], f"{v['size_bytes'] / 1e6:.2f}", f"{v['gzip_bytes'] / 1e6:.2f}",
                         "-" if v["sparsity"] is None else f"{100 * v['sparsity']:.0f}%",
                         f"{v['latency_ms']['1']:.3f}", f"{v['latency_ms']['2']:.3f}",
                         pct(v["accuracy"]), pct(v["macro_f1"]), pct(v["agreement"])])
        print(f"\n{name} on {dataset.name}: trained in {trained_s:.0f}s "
              f"(test accuracy {summary['test']['accuracy']:.3f} in torch), "
              f"variants made and measured in {report['elapsed_s']:.0f}s; {report['test_set']['samples']} test clips; "
              f"backbone per clip (ms, 1T/2T): {report['backbone_ms_per_clip']}")
        print(markdown_table(["variant", "MB", "gzip MB", "zeros", "ms/clip 1T", "ms/clip 2T", "accuracy %",
                              "macro-F1 %", "agrees with fp32 %"], rows))
        for warning in report["warnings"]:
            print(f"warning: {warning}")
        clip = dataset / (out / "splits" / "test.txt").read_text().splitlines()[0]
        begun = time.perf_counter()
        explanation = api.explain_prediction(out, clip, output_dir=out / "explained", mp4=True)
        explained = explanation.to_dict()
        explain_s = time.perf_counter() - begun
        print(f"explain {clip.relative_to(dataset)}: {explain_s:.1f}s, predicted {explained['prediction']['class']} "
              f"({explained['prediction']['probability']:.2f}), check {explained['check']}")
        results["models"][name] = {"dataset": str(dataset), "settings": settings, "train_summary": summary,
                                   "train_s": round(trained_s, 1), "compress": report,
                                   "explain": {"clip": str(clip), "seconds": round(explain_s, 2),
                                               "prediction": explained["prediction"], "check": explained["check"]}}
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["load_average_end"] = os.getloadavg()
    print(f"\ntotal {results['elapsed_s']} s; load average at the end (1, 5, 15 min): {results['load_average_end']}")
    finish_run(args.json, results)


if __name__ == "__main__":
    main()
