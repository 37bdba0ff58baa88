"""Multi-object tracking metrics: CLEAR MOT (MOTA, ID switches), IDF1, HOTA.

CLEAR MOT and IDF1 come from ``motmetrics`` (test/bench extra, imported only here). We build its
accumulator ourselves from IoU matrices computed with :func:`vidlens.objects.types.box_iou_matrix`,
which also sidesteps motmetrics 1.4.0's call of ``np.asfarray`` (gone in NumPy 2: it lives only in
its own distance helpers, which we do not use, so no shim is needed). The numbers are checked
against the TUD-Campus / TUD-Stadtmitte results motmetrics ships and publishes in its tests.

HOTA (Luiten et al., 2021) is not in motmetrics 1.4.0; :func:`hota` follows the paper and
TrackEval's definition: averaged over IoU thresholds 0.05…0.95, a per-frame matching that prefers
pairs with a strong whole-sequence alignment, then ``HOTA = sqrt(DetA · AssA)``.

Inputs are per-frame :class:`Detections` whose ``track_ids`` hold the object / hypothesis ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlens.boxes import box_iou_matrix
from vidlens.objects.types import Detections

Frames = Mapping[int, Detections]

#: The motmetrics metric names we report, in its own naming.
_METRICS = ("mota", "motp", "idf1", "idp", "idr", "recall", "precision", "num_switches", "num_false_positives",
            "num_misses", "num_fragmentations", "num_unique_objects", "mostly_tracked", "mostly_lost",
            "num_frames")


@dataclass(frozen=True)
class MotScores:
    mota: float
    motp: float  # mean (1 - IoU) of matched pairs, motmetrics' convention (lower is better)
    idf1: float
    idp: float
    idr: float
    recall: float
    precision: float
    id_switches: int
    false_positives: int
    misses: int
    fragmentations: int
    objects: int
    mostly_tracked: int
    mostly_lost: int
    frames: int
    hota: float | None = None
    deta: float | None = None
    assa: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _ids(d: Detections) -> np.ndarray:
    if d.track_ids is None:
        raise ValueError("metrics need Detections with track_ids (object / hypothesis ids)")
    return d.track_ids


def accumulate(truth: Frames, hypotheses: Frames, iou_threshold: float = 0.5):
    """A motmetrics ``MOTAccumulator`` over every frame present in either input.

    Pairs with IoU below ``iou_threshold`` may not match (motmetrics' ``distth`` on ``1 - IoU``).
    """
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    empty = Detections(track_ids=np.zeros(0, np.int64))
    for f in sorted(set(truth) | set(hypotheses)):
        gt, hyp = truth.get(f, empty), hypotheses.get(f, empty)
        dist = 1.0 - box_iou_matrix(gt.boxes, hyp.boxes).astype(np.float64)
        dist[dist > 1.0 - iou_threshold] = np.nan
        acc.update(_ids(gt), _ids(hyp), dist, frameid=int(f))
    return acc


def evaluate(truth: Frames, hypotheses: Frames, iou_threshold: float = 0.5, with_hota: bool = True) -> MotScores:
    """CLEAR MOT + IDF1 (+ HOTA) of ``hypotheses`` against ``truth``."""
    import motmetrics as mm

    acc = accumulate(truth, hypotheses, iou_threshold)
    m = mm.metrics.create().compute(acc, metrics=list(_METRICS), return_dataframe=False)
    h = hota(truth, hypotheses) if with_hota else None
    return MotScores(
        mota=float(m["mota"]), motp=float(m["motp"]), idf1=float(m["idf1"]), idp=float(m["idp"]),
        idr=float(m["idr"]), recall=float(m["recall"]), precision=float(m["precision"]),
        id_switches=int(m["num_switches"]), false_positives=int(m["num_false_positives"]),
        misses=int(m["num_misses"]), fragmentations=int(m["num_fragmentations"]),
        objects=int(m["num_unique_objects"]), mostly_tracked=int(m["mostly_tracked"]),
        mostly_lost=int(m["mostly_lost"]), frames=int(m["num_frames"]),
        hota=None if h is None else h["hota"], deta=None if h is None else h["deta"],
        assa=None if h is None else h["assa"])


HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)


def hota(truth: Frames, hypotheses: Frames) -> dict[str, float]:
    """HOTA, DetA and AssA (each averaged over :data:`HOTA_ALPHAS`) and LocA."""
    frames = sorted(set(truth) | set(hypotheses))
    empty = Detections(track_ids=np.zeros(0, np.int64))
    gt_index = {int(i): k for k, i in enumerate(np.unique(np.concatenate(
        [_ids(truth[f]) for f in truth] or [np.zeros(0, np.int64)])))}
    tr_index = {int(i): k for k, i in enumerate(np.unique(np.concatenate(
        [_ids(hypotheses[f]) for f in hypotheses] or [np.zeros(0, np.int64)])))}
    per_frame = []
    potential = np.zeros((len(gt_index), len(tr_index)))
    gt_count, tr_count = np.zeros(len(gt_index)), np.zeros(len(tr_index))
    for f in frames:
        gt, hyp = truth.get(f, empty), hypotheses.get(f, empty)
        g = np.array([gt_index[int(i)] for i in _ids(gt)], np.int64)
        t = np.array([tr_index[int(i)] for i in _ids(hyp)], np.int64)
        sim = box_iou_matrix(gt.boxes, hyp.boxes).astype(np.float64)
        per_frame.append((g, t, sim))
        if len(g) and len(t):
            denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            potential[g[:, None], t[None, :]] += np.divide(sim, denom, out=np.zeros_like(sim), where=denom > 1e-10)
        gt_count[g] += 1
        tr_count[t] += 1
    alignment = potential / np.maximum(gt_count[:, None] + tr_count[None, :] - potential, 1e-10)

    n_alpha = len(HOTA_ALPHAS)
    tp, fn, fp, loc = np.zeros(n_alpha), np.zeros(n_alpha), np.zeros(n_alpha), np.zeros(n_alpha)
    matches = np.zeros((n_alpha, len(gt_index), len(tr_index)))
    for g, t, sim in per_frame:
        if len(g) == 0 or len(t) == 0:
            fn += len(g)
            fp += len(t)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], t[None, :]] * sim))
        for a, alpha in enumerate(HOTA_ALPHAS):
            ok = sim[rows, cols] >= alpha - np.finfo(float).eps
            r, c = rows[ok], cols[ok]
            tp[a] += len(r)
            fn[a] += len(g) - len(r)
            fp[a] += len(t) - len(r)
            loc[a] += sim[r, c].sum()
            matches[a, g[r], t[c]] += 1
    deta = tp / np.maximum(1, tp + fn + fp)
    assa = np.zeros(n_alpha)
    for a in range(n_alpha):
        m = matches[a]
        ass = m / np.maximum(1, gt_count[:, None] + tr_count[None, :] - m)
        assa[a] = (m * ass).sum() / max(1.0, tp[a])
    return {"hota": float(np.sqrt(deta * assa).mean()), "deta": float(deta.mean()), "assa": float(assa.mean()),
            "loca": float((loc / np.maximum(1e-10, tp)).mean())}


def read_mot_txt(path: str | Path) -> dict[int, Detections]:
    """A MOTChallenge text file (``frame, id, x, y, w, h, conf, ...``) as per-frame Detections."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    out: dict[int, Detections] = {}
    for f in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == f]
        boxes = np.concatenate([r[:, 2:4], r[:, 2:4] + r[:, 4:6]], axis=1)
        out[int(f)] = Detections(boxes, np.clip(r[:, 6], 0, 1), np.zeros(len(r)), r[:, 1].astype(np.int64))
    return out


def frames_of(parts: Iterable[tuple[int, Detections]], confirmed_only: bool = True) -> dict[int, Detections]:
    """Per-frame tracker outputs keyed by frame, keeping only rows with a confirmed id by default."""
    out = {}
    for f, d in parts:
        out[int(f)] = d[_ids(d) >= 0] if confirmed_only else d
    return out
