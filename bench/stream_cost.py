"""What each input stream costs to compute: feature extraction frames/s on a 720p video with and without the
motion and pose streams, against FFmpeg decoding the same frames alone, in the same run.

    python bench/stream_cost.py [--seconds 30] [--fps 4] [--threads 2] [--json bench/_out/stream_cost.json]

Input: the 720p H.264 benchmark file (``movie-hello.mp4`` looped, see ``_common.hello_720p_long``), its first
``--seconds``. Each row is :func:`vidlens.train.features.compute_features` (one decode pass at ``--fps``
sampled frames a second, shorter side 224 px, what training and the feature cache run) with the streams named:

* ``decode only``: the same sampled decode with no stream at all (the floor: PyAV + swscale to 224 px);
* ``appearance``: the EfficientNet-Lite0 backbone on every sampled frame (today's default before issue 14);
* ``appearance + motion``: plus the motion stream (phase correlation, log-polar, DIS flow at 96x96);
* ``motion``: the motion stream alone;
* ``appearance + motion + pose``: plus the pose stream (NanoDet person detector + tracker + MoveNet).

Reported: sampled frames per second of wall time (median of ``--repeats``) and the ratio to decode only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import finish_run, hello_720p_long, markdown_table, print_machine_info
from vidlens.media import probe
from vidlens.runtime import load_model
from vidlens.runtime.backbone import MODEL
from vidlens.train.dataset import Sample
from vidlens.train.features import compute_features

CONFIGS = (("decode only", False, ()), ("appearance", True, ()), ("motion", False, ("motion",)),
           ("appearance + motion", True, ("motion",)), ("appearance + motion + pose", True, ("motion", "pose")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print_machine_info()
    video = hello_720p_long()
    info = probe(video)
    print(f"\n{video.name}: {info.width}x{info.height}, first {args.seconds:g} s at {args.fps:g} sampled frames/s")
    backbone = load_model(MODEL, threads=args.threads)
    sample = Sample(video, "x", 0.0, args.seconds)
    compute_features(sample, backbone, fps=args.fps, side=("motion", "pose"))  # warm every model up
    results = {}
    for name, appearance, side in CONFIGS:
        times, frames = [], 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            found = compute_features(sample, backbone if appearance else None, fps=args.fps, side=side)
            times.append(time.perf_counter() - t0)
            frames = len(found)
        seconds = statistics.median(times)
        results[name] = {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 2)}
        print(f"  {name:28s} {frames} frames {seconds:6.2f} s  {frames / seconds:7.1f} frames/s", flush=True)
    floor = results["decode only"]["seconds"]
    rows = [(name, r["frames"], f"{r['fps']:.1f}", f"{1000 * r['seconds'] / r['frames']:.1f}",
             f"{r['seconds'] / floor:.2f}x") for name, r in results.items()]
    print()
    print(markdown_table(["streams", "sampled frames", "frames/s", "ms / frame", "time vs decode only"], rows))
    finish_run(args.json, {"video": video.name, "seconds": args.seconds, "fps": args.fps, "threads": args.threads,
                           "results": results})


if __name__ == "__main__":
    main()
