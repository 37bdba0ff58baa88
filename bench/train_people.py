"""Issue 14 on real people: ``vidlens train`` on opencv-doc's vtest.avi person-track clips (walking left,
walking right, standing), each input stream and the default's automatic choice, split by track.

    python bench/train_people.py [--seeds 0 1 2] [--threads 1] [--json bench/_out/train_people.json]

Data: ``tests/support/people_clips.make_people_dataset`` (vidlens' own person tracks, labels from the track's
horizontal speed in box widths per second, ambiguous windows dropped; 2-s clips every 1 s at 160 px). Each seed
writes split files that keep every clip of a track in one split (60/20/20 of the tracks), so no person seen in
training is in the test split. Models, through ``vidlens.api.train_classifier`` with its defaults except what is
named: ``gru`` with ``inputs`` auto (the default), appearance, motion, pose, and appearance + motion + pose;
``meanpool`` on pose. Reported: test accuracy and macro-F1 (mean and range over seeds), per-class F1 (mean over
the seeds whose test split holds the class), what auto chose.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _common import DATA_DIR, cpu_model, source_state
from tests.support.people_clips import make_people_dataset, write_track_splits
from vidlens import api
from vidlens.predict.bundle import read_meta

MODELS = (("gru auto (default)", {}), ("gru appearance", {"inputs": "appearance"}),
          ("gru motion", {"inputs": "motion"}), ("gru pose", {"inputs": "pose"}),
          ("gru appearance+motion+pose", {"inputs": "appearance,motion,pose"}),
          ("meanpool pose", {"arch": "meanpool", "inputs": "pose"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = make_people_dataset(DATA_DIR / "vtest_people")
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidlens-bench-people-") as tmp:
        cache = Path(tmp) / "cache"  # shared by the seeds: a clip's streams do not depend on the split
        for seed in args.seeds:
            splits = write_track_splits(root, (0.6, 0.2, 0.2), seed=seed)
            for label, settings in MODELS:
                out = Path(tmp) / f"s{seed}_{label.replace(' ', '_')}"
                summary = api.train_classifier(root, out, cache=cache, progress=False, seed=seed,
                                               threads=args.threads,
                                               splits=[splits[n] for n in ("train", "val", "test")], **settings)
                metrics = read_meta(out)["metrics"]
                row = {"label": label, "seed": seed, "accuracy": metrics["accuracy"],
                       "macro_f1": metrics["macro"]["f1"], "inputs": summary["inputs"],
                       "per_class_f1": {c: v["f1"] for c, v in metrics["per_class"].items() if v.get("support")},
                       "test_clips": metrics["num_samples"], "train_s": summary["train_seconds"],
                       "auto_inputs": summary.get("auto_inputs")}
                rows.append(row)
                print(f"  s{seed} {label:28s} acc {row['accuracy']:.3f} F1 {row['macro_f1']:.3f} "
                      f"inputs {'+'.join(row['inputs'])} ({row['test_clips']} test clips)", flush=True)
    print("\n| model | accuracy mean (range) | macro-F1 mean (range) | per-class F1 | auto chose |")
    print("|---|---|---|---|---|")
    summary_rows = []
    for label, _ in MODELS:
        group = [r for r in rows if r["label"] == label]
        acc, f1 = [r["accuracy"] for r in group], [r["macro_f1"] for r in group]
        classes = sorted({c for r in group for c in r["per_class_f1"]})
        per_class = {c: round(statistics.mean(r["per_class_f1"][c] for r in group if c in r["per_class_f1"]), 3)
                     for c in classes}
        chose = sorted({"+".join(r["inputs"]) for r in group}) if label.endswith("(default)") else "-"
        summary_rows.append({"label": label, "accuracy": acc, "macro_f1": f1, "per_class_f1": per_class})
        print(f"| {label} | {statistics.mean(acc):.3f} ({min(acc):.3f}-{max(acc):.3f}) | {statistics.mean(f1):.3f} "
              f"({min(f1):.3f}-{max(f1):.3f}) | {', '.join(f'{c} {v:.2f}' for c, v in per_class.items())} | "
              f"{chose} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "cpu": cpu_model(), "source": source_state(),
                                         "runs": rows, "summary": summary_rows}, indent=1))


if __name__ == "__main__":
    main()
