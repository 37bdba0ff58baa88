"""Tracking accuracy on generated videos with exact ground truth: ByteTracker vs IoU tracker vs OpenCV.

    python bench/tracking.py [--every 1 3] [--seed 0] [--detector module:function] [--json bench/_out/tracking.json]

Each scene of :func:`tests.support.tracks.standard_scenes` (walkers crossing, a cat behind a
motorcycle, a motorcycle leaving and coming back, two crowds) is encoded to ``bench/_data/tracks``
and decoded again, so trackers and detectors see compressed frames. All trackers get the *same*
detections per scene and sampling step:

* default: noisy ground truth (:func:`noisy_detections`: jittered boxes, misses, low scores when
  partly hidden, one-frame false positives), seeded;
* ``--detector module:function``: a callable ``(frames: list[RGB ndarray]) -> list[Detections]``
  (boxes in frame pixels), run once per scene on the sampled frames.

The detector runs on every ``--every``-th frame. Scored against the truth on *every* frame:

* ``byte online`` / ``iou online``: the tracker's output at detector frames and ``predict()`` on the
  frames in between (what a live monitor would draw);
* ``byte offline`` / ``iou offline``: the confirmed tracks' records, interpolated between detector
  runs at most ``2 * every`` frames apart (what the timeline stores);
* ``opencv MIL``: one ``cv2.TrackerMIL`` per true object, initialised from its first true box and
  updated on every frame (no detector; it is told the truth once). OpenCV 5's headless wheel has
  no CSRT or KCF (they stayed in contrib); Nano / ViT / DaSiamRPN need model files we do not ship.

Speed: tracker update (and predict) time only, as frames per second of video at that step.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from _common import DATA_DIR, finish_run, markdown_table, print_machine_info
from tests.support.mot import MotScores, evaluate
from tests.support.tracks import GroundTruth, TrackScene, noisy_detections, standard_scenes, write_scene
from vidlens.media import VideoReader
from vidlens.objects.history import detections_by_frame
from vidlens.objects.iou_tracker import IouTracker
from vidlens.objects.tracker import DETECTOR_SCORE, ByteTracker, tracker_for_detector
from vidlens.objects.types import Detections

Detector = Callable[[list[np.ndarray]], list[Detections]]


def load_detector(spec: str | None) -> Detector | None:
    if spec is None:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def decode(path: Path) -> list[np.ndarray]:
    reader = VideoReader(path)
    with contextlib.closing(reader.frames()) as stream:
        return [f.av_frame.to_ndarray(format="rgb24") for f in stream]


def detections_for(scene: TrackScene, truth: GroundTruth, frames: list[np.ndarray], every: int,
                   detector: Detector | None, seed: int) -> dict[int, Detections]:
    sampled = list(range(0, scene.frame_count, every))
    if detector is not None:
        return dict(zip(sampled, detector([frames[f] for f in sampled])))
    rng = np.random.default_rng(seed)
    return {f: noisy_detections(truth, f, rng, scene.size) for f in sampled}


def run_tracker(tracker: ByteTracker | IouTracker, dets: dict[int, Detections], frame_count: int,
                every: int) -> tuple[dict[int, Detections], dict[int, Detections], float]:
    online: dict[int, Detections] = {}
    start = time.perf_counter()
    for f in range(frame_count):
        if f in dets:
            out = tracker.update(dets[f], f)
            online[f] = out[out.track_ids >= 0]
        else:
            online[f] = tracker.predict(f)
    elapsed = time.perf_counter() - start
    offline = detections_by_frame(r.filled(2 * every) for r in tracker.records())
    return online, offline, elapsed


def run_opencv(frames: list[np.ndarray], truth: GroundTruth) -> tuple[dict[int, Detections], float]:
    trackers: dict[int, cv2.Tracker] = {}
    out: dict[int, Detections] = {}
    elapsed = 0.0
    for f, rgb in enumerate(frames):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        start = time.perf_counter()
        rows = []
        for obj, tracker in trackers.items():
            ok, (x, y, w, h) = tracker.update(bgr)
            if ok and w > 0 and h > 0:
                rows.append((obj, [x, y, x + w, y + h], int(truth.classes[truth.ids == obj][0])))
        elapsed += time.perf_counter() - start
        gt = truth.at(f)
        for obj, box in zip(gt.ids, gt.boxes):  # start one tracker per object at its first true box
            if int(obj) not in trackers:
                t = cv2.TrackerMIL.create()
                x0, y0, x1, y1 = (round(float(v)) for v in box)
                start = time.perf_counter()
                t.init(bgr, (x0, y0, x1 - x0, y1 - y0))
                elapsed += time.perf_counter() - start
                trackers[int(obj)] = t
                rows.append((int(obj), box.tolist(), int(gt.classes[gt.ids == obj][0])))
        out[f] = (Detections([r[1] for r in rows], [1.0] * len(rows), [r[2] for r in rows], [r[0] for r in rows])
                  if rows else Detections(track_ids=np.zeros(0, np.int64)))
    return out, elapsed


def score_row(name: str, every: int, method: str, s: MotScores, fps: float) -> list[object]:
    return [name, every, method, f"{s.mota:.3f}", f"{s.idf1:.3f}", f"{s.hota:.3f}", s.id_switches,
            s.false_positives, s.misses, f"{fps:.0f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, nargs="+", default=[1, 3], help="detector runs every N frames")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detector", help="module:function, frames -> list of Detections (default: noisy truth)")
    ap.add_argument("--no-opencv", action="store_true", help="skip the OpenCV MIL trackers (slow)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print_machine_info()
    detector = load_detector(args.detector)
    out_dir = DATA_DIR / "tracks"
    header = ["scene", "every", "method", "MOTA", "IDF1", "HOTA", "IDsw", "FP", "FN", "fps"]
    rows: list[list[object]] = []
    numbers: list[dict] = []
    totals: dict[tuple[int, str], list[MotScores]] = {}
    for scene in standard_scenes(args.seed):
        path, truth = write_scene(scene, out_dir / f"{scene.name}.mp4", seed=args.seed)
        frames = decode(path)
        if len(frames) != scene.frame_count:
            raise SystemExit(f"{path}: decoded {len(frames)} frames, expected {scene.frame_count}")
        gt = {f: truth.detections(f) for f in range(scene.frame_count)}
        results: list[tuple[int, str, MotScores, float]] = []
        for every in args.every:
            dets = detections_for(scene, truth, frames, every, detector, args.seed)
            # a real detector's scores sit lower than the simulated ones: use the analyzer's tracker settings
            byte = tracker_for_detector(scene.fps) if detector is not None else ByteTracker(scene.fps)
            iou = IouTracker(scene.fps, min_score=DETECTOR_SCORE) if detector is not None else IouTracker(scene.fps)
            for label, tracker in (("byte", byte), ("iou", iou)):
                online, offline, elapsed = run_tracker(tracker, dets, scene.frame_count, every)
                fps = scene.frame_count / max(elapsed, 1e-9)
                results.append((every, f"{label} online", evaluate(gt, online), fps))
                results.append((every, f"{label} offline", evaluate(gt, offline), fps))
        if not args.no_opencv:
            hyp, elapsed = run_opencv(frames, truth)
            results.append((1, "opencv MIL", evaluate(gt, hyp), scene.frame_count / elapsed))
        for every, method, s, fps in results:
            rows.append(score_row(scene.name, every, method, s, fps))
            numbers.append({"scene": scene.name, "every": every, "method": method, "fps": fps, **s.to_dict()})
            totals.setdefault((every, method), []).append(s)
        print(markdown_table(header, [r for r in rows if r[0] == scene.name]), flush=True)
    print("\nAll scenes (mean MOTA / IDF1 / HOTA, summed ID switches):")
    summary = [[every, method, f"{np.mean([s.mota for s in ss]):.3f}", f"{np.mean([s.idf1 for s in ss]):.3f}",
                f"{np.mean([s.hota for s in ss]):.3f}", sum(s.id_switches for s in ss)]
               for (every, method), ss in sorted(totals.items())]
    print(markdown_table(["every", "method", "MOTA", "IDF1", "HOTA", "IDsw"], summary))
    finish_run(args.json, {"detector": args.detector or "noisy ground truth", "rows": numbers})


if __name__ == "__main__":
    main()
