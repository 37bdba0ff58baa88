"""Retrieval benchmark for `vidlens search`: Recall@1, Recall@5 and mAP per ranking signal and for their fusion.

The library is made of reels of real photos (scikit-image and opencv-doc), four 3-s shots each, every photo in
two reels at different positions, captions on some shots. Queries have known answers (the shots showing the
photos they mean), in four families: literal label words, synonyms and paraphrases no label says, COCO object
words, and on-screen words. A returned moment counts as a hit for a relevant shot when they overlap by at least
half the moment.

    python bench/library_retrieval.py [--work DIR] [--seed 0]

Recall@k: share of queries with a relevant moment in the top k. mAP: mean over queries of the average precision
over the top 20 moments (relevant shots not found count as misses).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _common  # noqa: F401  (puts the repository root on sys.path: tests.support)
from tests.support.library import ReelShot, make_reel, photo_path
from vidlens.library.ingest import ingest
from vidlens.library.library import Library
from vidlens.library.search import SIGNALS, search

# query -> (family, photos that answer it)
QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # literal words a label or category says
    "cat": ("label", ("chelsea.png",)),
    "espresso": ("label", ("coffee.png",)),
    "rocket": ("label", ("rocket.jpg",)),
    "orange": ("label", ("orange.jpg", "fruits.jpg")),
    "butterfly": ("label", ("butterfly.jpg",)),
    "baboon": ("label", ("baboon.jpg",)),
    "squirrel": ("label", ("squirrel_cls.jpg",)),
    "fish": ("label", ("HappyFish.jpg",)),
    "moped": ("label", ("motorcycle_left.png",)),
    "apple": ("label", ("apple.jpg",)),
    # synonyms and paraphrases that no label says
    "feline": ("synonym", ("chelsea.png",)),
    "kitty": ("synonym", ("chelsea.png",)),
    "hot drink": ("synonym", ("coffee.png",)),
    "spacecraft": ("synonym", ("rocket.jpg",)),
    "citrus": ("synonym", ("orange.jpg", "fruits.jpg")),
    "monkey": ("synonym", ("baboon.jpg",)),
    "rodent": ("synonym", ("squirrel_cls.jpg",)),
    "motorbike": ("synonym", ("motorcycle_left.png",)),
    "insect with wings": ("synonym", ("butterfly.jpg",)),
    "money": ("synonym", ("coins.png",)),
    # COCO object words (objects analyzer)
    "person": ("object", ("astronaut.png", "messi5.jpg")),
    "motorcycle": ("object", ("motorcycle_left.png",)),
    "cup": ("object", ("coffee.png",)),
    "sports ball": ("object", ("messi5.jpg",)),
}
CAPTIONS = ("OPEN LATE", "SALE TODAY", "EMERGENCY EXIT", "WELCOME HOME", "BREAKING NEWS", "FREE PARKING",
            "LAST CHANCE", "GRAND OPENING")
SHOTS_PER_REEL = 4
SECONDS = 3.0
ANALYZERS = ("shots", "labels", "segments", "objects", "text")


def build(work: Path, seed: int) -> tuple[list[Path], dict[str, list[tuple[str, int, int]]]]:
    """Reels and, per photo and per caption, the (video, start, end) frames where it shows."""
    rng = random.Random(seed)
    photos = sorted({p for _, ps in QUERIES.values() for p in ps} | {
        "astronaut.png", "hubble_deep_field.jpg", "starry_night.jpg", "building.jpg", "home.jpg", "board.jpg",
        "aero1.jpg", "smarties.png", "camera.png", "brick.png", "grass.png", "page.png"})
    photos = [p for p in photos if photo_path(p) is not None]
    pool = photos * 2
    rng.shuffle(pool)
    reels, where = [], {}
    captions = list(CAPTIONS)
    for r in range(0, len(pool), SHOTS_PER_REEL):
        chunk = pool[r: r + SHOTS_PER_REEL]
        shots = []
        for photo in chunk:
            caption = captions.pop() if captions and rng.random() < 0.4 else None
            shots.append(ReelShot(photo, SECONDS, caption))
        path = work / f"reel{r // SHOTS_PER_REEL:02d}.mp4"
        truth = make_reel(path, shots)
        reels.append(path)
        for shot in truth.shots:
            where.setdefault(shot["photo"], []).append((path.name, shot["start"], shot["end"]))
            if shot["caption"]:
                where.setdefault(shot["caption"], []).append((path.name, shot["start"], shot["end"]))
    return reels, where


def evaluate(moments: list, relevant: list[tuple[str, int, int]], depth: int = 20) -> tuple[bool, bool, float]:
    hits, found, precisions = [], set(), []
    for rank, m in enumerate(moments[:depth], 1):
        a, b = m.start["frame"], m.end["frame"]
        match = next((i for i, (v, s, e) in enumerate(relevant) if v == Path(m.path).name
                      and min(b, e) - max(a, s) >= 0.5 * (b - a) and i not in found), None)
        hits.append(match is not None)
        if match is not None:
            found.add(match)
            precisions.append(len(found) / rank)
    ap = sum(precisions) / len(relevant) if relevant else 0.0
    return bool(hits[:1] and hits[0]), any(hits[:5]), ap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vidlens-retrieval-"))
    videos = work / "videos"
    if videos.exists():
        shutil.rmtree(videos)
    videos.mkdir(parents=True)
    reels, where = build(videos, args.seed)
    started = time.monotonic()
    with Library(work / "library") as lib:
        report = ingest(lib, [videos], analyzers=ANALYZERS)
    print(f"library: {len(reels)} reels, {report.video_seconds:.0f} s of video, indexed in "
          f"{time.monotonic() - started:.0f} s; failed: {report.failed}")
    queries = dict(QUERIES)
    for caption in CAPTIONS:
        if caption in where:
            queries[caption.lower()] = ("on-screen", (caption,))
    configs = [(s,) for s in SIGNALS] + [SIGNALS]
    rows = {}
    latencies = []
    with Library(work / "library", create=False) as lib:
        for config in configs:
            name = "+".join(config) if len(config) > 1 else config[0]
            per_family: dict[str, list[tuple[bool, bool, float]]] = {}
            for query, (family, answers) in queries.items():
                relevant = [w for a in answers for w in where.get(a, [])]
                if not relevant:
                    continue
                t0 = time.perf_counter()
                moments = search(lib, query, limit=20, signals=config)
                latencies.append(time.perf_counter() - t0)
                per_family.setdefault(family, []).append(evaluate(moments, relevant))
                per_family.setdefault("all", []).append(per_family[family][-1])
            rows[name] = {f: (np.mean([r[0] for r in v]), np.mean([r[1] for r in v]), np.mean([r[2] for r in v]),
                              len(v)) for f, v in per_family.items()}
    families = ["label", "synonym", "object", "on-screen", "all"]
    print(f"\n{'signal':<16}" + "".join(f"{f + ' R@1/R@5/mAP':>28}" for f in families))
    for name, result in rows.items():
        cells = "".join(f"{' / '.join(f'{x:.2f}' for x in result[f][:3]) if f in result else '-':>28}"
                        for f in families)
        print(f"{name:<16}{cells}")
    counts = {f: rows[next(iter(rows))][f][3] for f in families if f in rows[next(iter(rows))]}
    print(f"queries per family: {counts}")
    print(f"search latency over {len(latencies)} queries: p50 {np.percentile(latencies, 50) * 1000:.1f} ms, "
          f"p95 {np.percentile(latencies, 95) * 1000:.1f} ms")
    (work / "retrieval.json").write_text(json.dumps({k: {f: list(v) for f, v in r.items()} for k, r in rows.items()},
                                                    indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
