"""Cross-check of tests.support.mot on motmetrics' TUD sequences with TrackEval (run in its own venv).

TrackEval is not a vidlens dependency; this script only imports it and NumPy, so it runs in a
throwaway venv (see bench/RESULTS.md, "Tracking"). It prints HOTA / DetA / AssA / MOTA / IDF1 per
sequence, computed by TrackEval's own metric classes on the raw files (no preprocessing), which
tests/objects/test_mot_metrics.py compares with vidlens' numbers.

    python bench/_trackeval_tud.py <motmetrics package dir>/data
"""

from __future__ import annotations

import sys

import numpy as np
from trackeval.metrics import CLEAR, HOTA, Identity


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.copy(), b.copy()
    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def sequence_data(gt: np.ndarray, test: np.ndarray) -> dict:
    frames = sorted(set(gt[:, 0]) | set(test[:, 0]))
    gids = {v: k for k, v in enumerate(np.unique(gt[:, 1]))}
    tids = {v: k for k, v in enumerate(np.unique(test[:, 1]))}
    data: dict = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_gt_dets": len(gt),
                  "num_tracker_dets": len(test), "num_gt_ids": len(gids), "num_tracker_ids": len(tids),
                  "num_timesteps": len(frames)}
    for f in frames:
        g, t = gt[gt[:, 0] == f], test[test[:, 0] == f]
        data["gt_ids"].append(np.array([gids[v] for v in g[:, 1]], int))
        data["tracker_ids"].append(np.array([tids[v] for v in t[:, 1]], int))
        data["similarity_scores"].append(iou_xywh(g[:, 2:6], t[:, 2:6]))
    return data


def main(data_dir: str) -> None:
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        gt = np.loadtxt(f"{data_dir}/{name}/gt.txt", delimiter=",", ndmin=2)
        test = np.loadtxt(f"{data_dir}/{name}/test.txt", delimiter=",", ndmin=2)
        data = sequence_data(gt, test)
        h = HOTA().eval_sequence(data)
        c = CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
        i = Identity({"PRINT_CONFIG": False}).eval_sequence(data)
        print(f"{name}: HOTA {h['HOTA'].mean():.6f} DetA {h['DetA'].mean():.6f} AssA {h['AssA'].mean():.6f} "
              f"MOTA {c['MOTA']:.6f} IDSW {c['IDSW']} IDF1 {i['IDF1']:.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
