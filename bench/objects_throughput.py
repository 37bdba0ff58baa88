"""What the ``objects`` analyzer costs: detect + track throughput as a ratio to raw decode, same run.

    python bench/objects_throughput.py [--runs 2] [--json bench/_out/objects_throughput.json]

Files: opencv-doc's ``vtest.avi`` (768x576, 10 fps, people walking the whole time: the detector runs
at its "moving" rate throughout) and the 720p H.264 file (forensics-samples' movie-hello looped 8
times, ~2000 frames: a person at a desk, little motion). Per file and round, interleaved:

* raw decode: every frame decoded and converted to RGB at the analyzer's size (VideoReader, one
  swscale context) — the floor any analysis stands on;
* ``objects`` alone (with ``shots``, which it uses for per-shot chips), at the default schedule
  (detector every 0.3 s while something moves or tracks are alive, every 2 s on still scenes);
* the same with the detector forced on every 3rd frame (``--min-interval`` small), for comparison;

Ratios are frames/s of the analysis over frames/s of raw decode (1.0 = as fast as decoding).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import finish_run, hello_720p_long, markdown_table, print_machine_info
from tests.support import samples
from vidlens import pipeline
from vidlens.analyzers.objects import ObjectsAnalyzer
from vidlens.analyzers.shots import ShotsAnalyzer
from vidlens.media import FrameSpec, VideoReader, probe
from vidlens.media.reader import FrameConverter


def raw_decode(path: Path, max_side: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    with VideoReader(path, audio=False) as reader:
        convert = FrameConverter(FrameSpec(max_side=max_side, pixel_format="rgb24"))
        for frame in reader:
            convert(frame.av_frame, frame.rotation)
            n += 1
    return n, time.perf_counter() - t0


def analysis(path: Path, **kwargs) -> tuple[int, float, dict]:
    t0 = time.perf_counter()
    timeline = pipeline.run(path, [ShotsAnalyzer(), ObjectsAnalyzer(**kwargs)], hash_file=False).timeline
    seconds = time.perf_counter() - t0
    return timeline.video["frame_count"], seconds, timeline["object_summary"]["frames"] | {
        "tracks": len(timeline["objects"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print_machine_info()
    files = {"vtest.avi": samples.vtest(), "720p movie-hello x8": hello_720p_long()}
    rows, numbers = [], []
    for run in range(args.runs):
        for name, path in files.items():
            if path is None:
                print(f"skipping {name}: not installed")
                continue
            n, raw_s = raw_decode(path, 640)
            raw_fps = n / raw_s
            video_fps = float(probe(path).fps)
            every_third = {"min_interval_s": 3 / video_fps, "max_interval_s": 3 / video_fps}
            for mode, kwargs in (("objects (default schedule)", {}),
                                 ("objects, detector every 3rd frame", every_third)):
                frames, seconds, stats = analysis(path, **kwargs)
                fps_a = frames / seconds
                rows.append([run + 1, name, mode, f"{raw_fps:.0f}", f"{fps_a:.0f}", f"{fps_a / raw_fps:.2f}",
                             f"{stats['frames_detected']}/{stats['frames_seen']}", stats["tracks"]])
                numbers.append({"run": run + 1, "file": name, "mode": mode, "raw_fps": raw_fps, "fps": fps_a,
                                "ratio": fps_a / raw_fps, **stats})
    print(markdown_table(["run", "file", "analysis", "raw decode fps", "analysis fps", "ratio", "detector frames",
                          "tracks"], rows))
    finish_run(args.json, numbers)


if __name__ == "__main__":
    main()
