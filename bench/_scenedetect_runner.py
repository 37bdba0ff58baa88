"""Run one PySceneDetect detector on one video and print the result as JSON on stdout.

Executed by ``bench/shots_accuracy.py`` with the Python of the separate PySceneDetect venv
(``bench/.venv-scenedetect``), so PySceneDetect and its OpenCV never load into the project's
environment. Detectors run with their default parameters through ``scenedetect.detect`` (OpenCV
backend, PySceneDetect's default automatic downscaling).

Output keys: ``detector``, ``video``, ``version``, ``starts`` (first frame of every scene, as
PySceneDetect numbers them), ``boundaries`` (``starts[1:]``: the first frames of new shots),
``origin`` (``starts[0]``: the number PySceneDetect gives the first decoded frame; 1 for a file
whose first presented frame has pts 1), ``seconds`` (wall time of ``detect`` alone, without
interpreter start and imports), ``cpu_seconds`` (CPU time of ``detect``, all threads) and
``import_seconds``.

    bench/.venv-scenedetect/bin/python bench/_scenedetect_runner.py content VIDEO
"""

from __future__ import annotations

import argparse
import json
import os
import time

_t0 = time.perf_counter()
import scenedetect  # noqa: E402  (timed import)
from scenedetect import (  # noqa: E402
    AdaptiveDetector,
    ContentDetector,
    HashDetector,
    HistogramDetector,
    detect,
)

IMPORT_SECONDS = time.perf_counter() - _t0

DETECTORS = {
    "content": ContentDetector,
    "adaptive": AdaptiveDetector,
    "hash": HashDetector,
    "histogram": HistogramDetector,
}


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    t = os.times()
    return t.user + t.system


def run(detector: str, video: str) -> dict[str, object]:
    """Detect scenes in ``video`` with a default-configured ``detector``; return the JSON record."""
    instance = DETECTORS[detector]()
    c0, t0 = _cpu_seconds(), time.perf_counter()
    # start_in_scene: always return the first scene, so ``origin`` is known even without cuts.
    scenes = detect(video, instance, start_in_scene=True)
    seconds = time.perf_counter() - t0
    cpu_seconds = _cpu_seconds() - c0
    starts = [int(start.frame_num) for start, _end in scenes]
    return {
        "detector": detector,
        "detector_class": type(instance).__name__,
        "video": video,
        "version": scenedetect.__version__,
        "starts": starts,
        "boundaries": starts[1:],
        "origin": starts[0] if starts else 0,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "import_seconds": IMPORT_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("detector", choices=sorted(DETECTORS))
    parser.add_argument("video")
    args = parser.parse_args()
    print(json.dumps(run(args.detector, args.video)))


if __name__ == "__main__":
    main()
