"""Label quality of the ``labels`` analyzer on real photos with known content, made into videos.

    python bench/labels_quality.py [--size 640x360] [--shot-frames 50] [--json bench/_out/labels_quality.json]

Each photo below has a known subject. The classes and categories that count as right were written
down here *before* the analyzer's outputs on these videos were looked at (the conversion study's
top-3 on five scikit-image photos, in MANIFEST.json, was known). ImageNet-1k often has no class for
the subject (no astronaut, no red apple, no swallowtail, no mandrill): the closest classes are
accepted and the note says so. Photos with no ImageNet subject at all (textures, microscopy, a
painting, a colour wheel, coins, text pages, an aerial view, a circuit board, sweets) are left out.

Four videos, one per camera motion (static, pan, zoom, shake; ``tests.support.synth``), each
with every photo as one shot (hard cuts between different photos, shot order rotated per video, view
and centre varied). They run through ``pipeline.run(path, ["shots", "labels"]).timeline`` with the default
labels analyzer (EfficientNet-Lite0 fp32, 2 frames/s, top-k 5, min confidence 0.15, category 0.35).

Per shot (the true shot; the detected shot holding its middle frame is what the analyzer labelled):

* reported hit: an accepted class is among the shot's reported labels (what the timeline shows);
* top-5 hit: an accepted class is among the 5 highest mean probabilities over the shot's sampled
  frames (the analyzer's own per-frame softmax, before its thresholds);
* top-1 hit: the highest mean probability is an accepted class;
* category hit: an accepted category is among the shot's reported categories.

A photo with no accepted class (or no accepted category) is left out of that rate.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _common import DATA_DIR, finish_run, markdown_table, print_machine_info
from tests.support.photos import list_photos
from tests.support.synth import ShotSpec, TransitionSpec, render_video
from vidlens import pipeline
from vidlens.analyzers.labels import LabelsAnalyzer
from vidlens.analyzers.shots import ShotsAnalyzer
from vidlens.runtime import model_entry
from vidlens.runtime.backbone import class_names as _class_names

CATS = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
BUTTERFLIES = ("admiral", "ringlet", "monarch", "cabbage butterfly", "sulphur butterfly", "lycaenid")
EDIBLE_FRUIT = ("Granny Smith", "strawberry", "orange", "lemon", "fig", "pineapple", "banana", "jackfruit",
                "custard apple", "pomegranate")
PERSON = ("ballplayer", "groom", "scuba diver")  # the only ImageNet-1k classes that are people
FISH = ("tench", "goldfish", "great white shark", "tiger shark", "hammerhead", "electric ray", "stingray",
        "barracouta", "eel", "coho", "rock beauty", "anemone fish", "sturgeon", "gar", "lionfish", "puffer")
SACRED_OR_GRAND = ("palace", "mosque", "monastery", "dome", "castle", "church", "stupa", "bell cote")


@dataclass(frozen=True)
class Truth:
    """What counts as a right label for one photo (first lemmas of ImageNet classes; our categories)."""

    subject: str
    classes: tuple[str, ...]
    categories: tuple[str, ...]
    note: str = ""


TRUTH: dict[str, Truth] = {
    "chelsea.png": Truth("a tabby cat's face", CATS, ("cat",)),
    "coffee.png": Truth("a cup of espresso on a saucer", ("espresso", "cup", "coffee mug"), ("food", "tableware")),
    "rocket.jpg": Truth("a rocket on its launch pad at dusk", ("missile", "projectile", "space shuttle"),
                        ("vehicle", "aircraft", "weapon"),
                        "no rocket class: missile / projectile are the closest ('weapon' accepted only through them)"),
    "motorcycle_left.png": Truth("a red motorcycle in a workshop", ("moped", "motor scooter"), ("vehicle",),
                                 "no motorcycle class: moped and motor scooter are the closest"),
    "astronaut.png": Truth(
        "an astronaut (a person in a spacesuit, holding a helmet; a shuttle model and a flag behind)",
        (*PERSON, "space shuttle"), ("person", "clothing"),
        "no astronaut or generic person class: the 3 person classes count, and 'space shuttle' (a model of one "
        "is in the photo); helmets (crash / football) do not, but the clothing category (suits, helmets) does"),
    "camera.png": Truth("a photographer with a camera on a tripod (greyscale)",
                        ("tripod", "reflex camera", "Polaroid camera", *PERSON), ("person",)),
    "messi5.jpg": Truth("a footballer kicking a ball on a pitch", ("soccer ball", "jersey", *PERSON),
                        ("person", "clothing"), "no footballer class: the ball, the jersey or a person class"),
    "fruits.jpg": Truth("cut orange, lemon, lime, kiwi and red cabbage", (*EDIBLE_FRUIT, "head cabbage"),
                        ("fruit", "food", "vegetable"), "any edible-fruit class (lime and kiwi have none)"),
    "apple.jpg": Truth("a red apple", ("Granny Smith", "pomegranate"), ("fruit",),
                       "ImageNet's only apple is Granny Smith (green); pomegranate accepted as the closest red fruit"),
    "orange.jpg": Truth("an orange", ("orange",), ("fruit",)),
    "butterfly.jpg": Truth("a lime swallowtail butterfly on a leaf", BUTTERFLIES, ("insect",),
                           "no swallowtail class: any of the 6 butterfly classes"),
    "squirrel_cls.jpg": Truth("a red squirrel on a branch", ("fox squirrel",), ("mammal",),
                              "the only squirrel class is fox squirrel"),
    "baboon.jpg": Truth("a mandrill's face", ("baboon",), ("primate",), "no mandrill class: baboon is the closest"),
    "HappyFish.jpg": Truth("a cartoon fish (drawing)", FISH, ("fish",), "any fish class; it is a drawing"),
    "home.jpg": Truth("a domed palace-like building under a blue sky", SACRED_OR_GRAND, ("building", "structure")),
    "building.jpg": Truth("a modern hotel / office block", (), ("building", "structure"),
                          "no class for a modern block: category only"),
    "stuff.jpg": Truth("a pen, a lighter, a cap and a ball on a table", ("ballpoint", "fountain pen", "lighter"), (),
                       "no fitting category: classes only"),
}

MOTIONS = (("static", {}), ("pan", {"direction": 30.0}), ("zoom", {"zoom": 1.5}), ("shake", {"shake": 5.0}))
VIEWS = (0.8, 0.7, 0.9, 0.75)
CENTRES = ((0.5, 0.5), (0.4, 0.55), (0.6, 0.45), (0.5, 0.4))


def check_truth(names: list[str]) -> None:
    """Every accepted class must be a real ImageNet class name (catches typos before any scoring)."""
    known = set(names)
    bad = [c for t in TRUTH.values() for c in t.classes if c not in known]
    if bad:
        raise SystemExit(f"accepted classes not in the ImageNet list: {bad}")


def make_videos(photos: dict[str, Path], size: tuple[int, int], shot_frames: int) -> list[tuple[str, Path, list[str],
                                                                                                 list[int]]]:
    """One video per motion; returns (motion, path, photo per shot, shot start frames)."""
    out_dir = DATA_DIR / "labels_quality"
    order = list(photos)
    videos = []
    for k, (motion, extra) in enumerate(MOTIONS):
        names = order[k:] + order[:k]  # rotate so no photo always opens a video
        shots = [ShotSpec(photos[n], shot_frames, motion=motion, view=VIEWS[k], center=CENTRES[(k + i) % 4], **extra)
                 for i, n in enumerate(names)]
        path = out_dir / f"labels_{motion}_{size[0]}x{size[1]}_{shot_frames}f.mp4"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            render_video(path, shots, [TransitionSpec.cut()] * (len(shots) - 1), size=size, seed=k)
        videos.append((motion, path, names, [i * shot_frames for i in range(len(names))]))
    return videos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--shot-frames", type=int, default=50)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--crops", default="centre", help="the labels analyzer's crops: centre (default) or sides")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print_machine_info()
    entry = model_entry("efficientnet_lite0")
    names = _class_names(entry.labels_path())
    check_truth(names)
    available = {p.name: p for p in list_photos()}
    photos = {n: available[n] for n in TRUTH if n in available}
    missing = sorted(set(TRUTH) - set(photos))
    print(f"photos: {len(photos)} ({', '.join(photos)}); not installed: {missing or 'none'}")

    videos = make_videos(photos, size, args.shot_frames)  # type: ignore[arg-type]
    records = []
    for motion, path, order, starts in videos:
        labels = LabelsAnalyzer(crops=args.crops)
        timeline = pipeline.run(path, [ShotsAnalyzer(), labels], hash_file=False).timeline
        detected = timeline.shots
        exact = [s["start"]["frame"] for s in detected] == starts
        print(f"{motion}: {path.name}, {len(starts)} true shots, {len(detected)} detected, "
              f"starts {'identical' if exact else 'DIFFER'}", flush=True)
        indices = np.asarray(labels._indices)
        probs = np.stack(labels._probs)
        for i, photo in enumerate(order):
            start = starts[i]
            end = starts[i + 1] if i + 1 < len(starts) else timeline.video["frame_count"]
            middle = (start + end) // 2
            shot = next(s for s in detected if s["start"]["frame"] <= middle < s["end"]["frame"])
            members = (indices >= start) & (indices < end)
            mean = probs[members].mean(axis=0)
            top5 = [names[j] for j in np.argsort(-mean)[:5]]
            truth = TRUTH[photo]
            reported = [lab["name"] for lab in shot["labels"]]
            categories = [c["name"] for c in shot["categories"]]
            records.append({
                "motion": motion, "photo": photo, "samples": int(members.sum()),
                "shot_exact": shot["start"]["frame"] == start and shot["end"]["frame"] == end,
                "reported": reported, "categories": categories,
                "top5": [(n, round(float(mean[names.index(n)]), 3)) for n in top5],
                "reported_hit": bool(set(reported) & set(truth.classes)) if truth.classes else None,
                "top5_hit": bool(set(top5) & set(truth.classes)) if truth.classes else None,
                "top1_hit": top5[0] in truth.classes if truth.classes else None,
                "category_hit": bool(set(categories) & set(truth.categories)) if truth.categories else None,
            })

    def rate(rs: list[dict], key: str) -> str:
        counted = [r[key] for r in rs if r[key] is not None]
        return f"{sum(counted)}/{len(counted)}" if counted else "n/a"

    print("\n## Accepted classes and categories (fixed before the run)\n")
    print(markdown_table(["photo", "subject", "accepted classes", "accepted categories", "note"],
                         [[p, t.subject, ", ".join(t.classes) or "—", ", ".join(t.categories) or "—", t.note]
                          for p, t in TRUTH.items() if p in photos]))
    print("\n## Per photo (4 shots each: static, pan, zoom, shake)\n")
    rows = []
    for photo in photos:
        rs = [r for r in records if r["photo"] == photo]
        rows.append([photo, rate(rs, "top1_hit"), rate(rs, "top5_hit"), rate(rs, "reported_hit"),
                     rate(rs, "category_hit"), "; ".join(dict.fromkeys(r["top5"][0][0] for r in rs))])
    print(markdown_table(["photo", "top-1 hit", "top-5 hit", "reported-label hit", "category hit", "top-1 classes"],
                         rows))
    print("\n## Per motion\n")
    print(markdown_table(["motion", "top-1 hit", "top-5 hit", "reported-label hit", "category hit"],
                         [[m, *(rate([r for r in records if r["motion"] == m], k)
                                for k in ("top1_hit", "top5_hit", "reported_hit", "category_hit"))]
                          for m, *_ in MOTIONS]))
    totals = {k: rate(records, k) for k in ("top1_hit", "top5_hit", "reported_hit", "category_hit")}
    print(f"\n**overall** ({len(records)} shots; a photo without accepted classes or categories is left out of "
          f"that rate): top-1 {totals['top1_hit']}, top-5 {totals['top5_hit']}, "
          f"reported labels {totals['reported_hit']}, categories {totals['category_hit']}")
    print("\n## Misses (any shot where the top-5, the reported labels or the categories miss)\n")
    misses = [r for r in records if False in (r["top5_hit"], r["reported_hit"], r["category_hit"])]
    print(markdown_table(["photo", "motion", "top-5 (mean prob)", "reported labels", "reported categories", "missed"],
                         [[r["photo"], r["motion"], ", ".join(f"{n} {p:.2f}" for n, p in r["top5"]),
                           ", ".join(r["reported"]) or "—", ", ".join(r["categories"]) or "—",
                           ", ".join(k for k in ("top5_hit", "reported_hit", "category_hit") if r[k] is False)]
                          for r in misses]))
    finish_run(args.json, {"truth": {p: t.__dict__ for p, t in TRUTH.items()}, "shots": records, "totals": totals})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
