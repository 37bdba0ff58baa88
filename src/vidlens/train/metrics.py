"""Classification metrics for trained models, in NumPy only (no torch), so evaluation reports can be
computed and re-read anywhere, including from ONNX Runtime predictions.

Conventions (the same as scikit-learn's defaults, so numbers can be compared with other tools):

- labels are class indices ``0..C-1``; ``probs`` is ``[N, C]`` with rows summing to 1;
- the confusion matrix has the true class in rows and the predicted class in columns;
- a precision or recall whose denominator is 0 is 0 (a class never predicted has precision 0);
- macro and weighted averages run over the classes that occur in the truth *or* in the predictions,
  so a class absent from a small validation split neither helps nor hurts the average;
- calibration bins split the top-1 confidence into 15 equal-width bins over ``(0, 1]`` (Guo et al.,
  2017); ECE is the count-weighted mean gap between a bin's accuracy and its mean confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError

#: Number of equal-width confidence bins for ECE and the reliability diagram.
CALIBRATION_BINS = 15
#: Top-k accuracies reported by :func:`evaluate_predictions` (those with ``k < C``).
TOP_K = (1, 2, 3, 5)


def _labels(y_true: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise UsageError(f"labels must be a 1-D array, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise UsageError(f"labels must be integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise UsageError(f"labels must lie in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
    return y.astype(np.int64)


def _probs(probs: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != n or p.shape[1] < 1:
        raise UsageError(f"probabilities must have shape [{n}, C], got {p.shape}")
    if not np.isfinite(p).all():
        raise UsageError("probabilities contain NaN or infinity")
    return p


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     num_classes: int) -> np.ndarray:
    """``[C, C]`` int64 counts: entry ``[i, j]`` is the number of samples of class ``i`` predicted as ``j``."""
    t = _labels(y_true, num_classes)
    p = _labels(y_pred, num_classes)
    if t.shape != p.shape:
        raise UsageError(f"{t.size} labels but {p.size} predictions")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Fraction of exact matches (0.0 for no samples)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise UsageError(f"{t.size} labels but {p.size} predictions")
    return float((t == p).mean()) if t.size else 0.0


def top_k_accuracy(y_true: Sequence[int] | np.ndarray, probs: np.ndarray, k: int) -> float:
    """Fraction of samples whose true class is among the ``k`` most probable.

    Ties are broken by class index (a stable sort), so a uniform prediction is not counted as a hit
    for every class at once.
    """
    p = np.asarray(probs)
    t = _labels(y_true, p.shape[1] if p.ndim == 2 else 1)
    p = _probs(p, t.size)
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    if not t.size:
        return 0.0
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return float((top == t[:, None]).any(axis=1).mean())


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def per_class_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (float arrays) and support (int array) of each class, from a confusion matrix."""
    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def averaged_scores(confusion: np.ndarray) -> dict[str, dict[str, float]]:
    """Macro (unweighted) and weighted-by-support means of precision, recall and F1.

    Only classes seen in the truth or in the predictions take part (scikit-learn's default label set).
    """
    cm = np.asarray(confusion)
    scores = per_class_scores(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    support = scores["support"][present].astype(np.float64)
    out: dict[str, dict[str, float]] = {"macro": {}, "weighted": {}}
    for name in ("precision", "recall", "f1"):
        values = scores[name][present]
        out["macro"][name] = float(values.mean()) if values.size else 0.0
        out["weighted"][name] = float((values * support).sum() / support.sum()) if support.sum() > 0 else 0.0
    return out


def macro_f1(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> float:
    """Macro-averaged F1: the model-selection metric of the training loop (robust to class imbalance)."""
    return averaged_scores(confusion_matrix(y_true, y_pred, num_classes))["macro"]["f1"]


def reliability_bins(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                     bins: int = CALIBRATION_BINS) -> list[dict[str, float | int | None]]:
    """Per confidence bin: its bounds, sample count, mean top-1 confidence and accuracy (``None`` if empty).

    A sample with top-1 confidence ``c`` falls in bin ``ceil(c * bins) - 1`` (bins are ``(lo, hi]``;
    a confidence of exactly 0 goes to the first bin).
    """
    p = np.asarray(probs)
    t = _labels(y_true, p.shape[1] if p.ndim == 2 else 1)
    p = _probs(p, t.size)
    confidence = p.max(axis=1) if t.size else np.zeros(0)
    correct = (p.argmax(axis=1) == t) if t.size else np.zeros(0, dtype=bool)
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    out: list[dict[str, float | int | None]] = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        out.append({"lower": b / bins, "upper": (b + 1) / bins, "count": n,
                    "confidence": float(confidence[mask].mean()) if n else None,
                    "accuracy": float(correct[mask].mean()) if n else None})
    return out


def expected_calibration_error(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> float:
    """ECE: sum over bins of ``count / N * |accuracy - mean confidence|`` (0 = perfectly calibrated)."""
    table = reliability_bins(y_true, probs, bins)
    total = sum(int(b["count"]) for b in table)
    if not total:
        return 0.0
    return float(sum(int(b["count"]) / total * abs(float(b["accuracy"]) - float(b["confidence"]))
                     for b in table if b["count"]))


def log_loss(y_true: Sequence[int] | np.ndarray, probs: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-probability of the true class (probabilities clipped at ``eps``)."""
    p = np.asarray(probs)
    t = _labels(y_true, p.shape[1] if p.ndim == 2 else 1)
    p = _probs(p, t.size)
    if not t.size:
        return 0.0
    return float(-np.log(np.clip(p[np.arange(t.size), t], eps, 1.0)).mean())


def evaluate_predictions(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                         classes: Sequence[str]) -> dict[str, Any]:
    """Every metric of a set of predictions as one JSON-ready dict (plain floats, ints, lists and ``None``).

    Keys: ``num_samples``, ``classes``, ``accuracy``, ``top_k`` (``{"1": .., "2": ..}`` for ``k < C``),
    ``macro`` / ``weighted`` (precision, recall, f1), ``per_class`` (name -> precision, recall, f1,
    support), ``confusion_matrix`` (rows = truth), ``log_loss``, ``ece``, ``reliability`` (15 bins).
    """
    names = [str(c) for c in classes]
    if len(set(names)) != len(names) or not names:
        raise UsageError("classes must be a non-empty list of distinct names")
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[1] != len(names):
        raise UsageError(f"probabilities have shape {p.shape} but there are {len(names)} classes")
    t = _labels(y_true, len(names))
    p = _probs(p, t.size)
    pred = p.argmax(axis=1) if t.size else np.zeros(0, dtype=np.int64)
    cm = confusion_matrix(t, pred, len(names))
    scores = per_class_scores(cm)
    averages = averaged_scores(cm)
    return {
        "num_samples": int(t.size),
        "classes": names,
        "accuracy": accuracy(t, pred),
        "top_k": {str(k): top_k_accuracy(t, p, k) for k in TOP_K if k < len(names) or k == 1},
        "macro": averages["macro"],
        "weighted": averages["weighted"],
        "per_class": {name: {"precision": float(scores["precision"][i]), "recall": float(scores["recall"][i]),
                             "f1": float(scores["f1"][i]), "support": int(scores["support"][i])}
                      for i, name in enumerate(names)},
        "confusion_matrix": cm.tolist(),
        "log_loss": log_loss(t, p),
        "ece": expected_calibration_error(t, p),
        "reliability": reliability_bins(t, p),
    }
