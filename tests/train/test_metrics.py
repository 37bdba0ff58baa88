"""Classification metrics: hand-computed cases, scikit-learn agreement (when installed), calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlens.errors import UsageError
from vidlens.train import metrics

# y_true / y_pred of three classes with a worked-out answer:
#   confusion [[1,1,0],[0,2,0],[1,0,1]]; precision 1/2, 2/3, 1; recall 1/2, 1, 1/2; F1 1/2, 4/5, 2/3
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]


def one_hot(pred: list[int], num_classes: int, confidence: float = 0.8) -> np.ndarray:
    probs = np.full((len(pred), num_classes), (1 - confidence) / (num_classes - 1))
    probs[np.arange(len(pred)), pred] = confidence
    return probs


def test_confusion_and_per_class_scores_by_hand():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    scores = metrics.per_class_scores(cm)
    np.testing.assert_allclose(scores["precision"], [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(scores["recall"], [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(scores["f1"], [1 / 2, 4 / 5, 2 / 3])
    assert scores["support"].tolist() == [2, 2, 2]
    averages = metrics.averaged_scores(cm)
    assert averages["macro"]["f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert averages["weighted"]["f1"] == pytest.approx(averages["macro"]["f1"])  # equal supports
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)


def test_weighted_average_follows_support_and_absent_classes_are_left_out():
    # class 0: 3 samples all right; class 1: 1 sample, predicted 0; class 2 never occurs
    cm = metrics.confusion_matrix([0, 0, 0, 1], [0, 0, 0, 0], 3)
    averages = metrics.averaged_scores(cm)
    f1_class0 = 2 * 0.75 * 1.0 / 1.75
    assert averages["macro"]["f1"] == pytest.approx(f1_class0 / 2)  # over classes 0 and 1 only
    assert averages["weighted"]["f1"] == pytest.approx(f1_class0 * 3 / 4)
    assert metrics.per_class_scores(cm)["precision"][1] == 0.0  # never predicted: 0, not NaN


@pytest.mark.parametrize(("probs", "k", "expected"), [
    ([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]], 1, 1 / 3),  # truth 0, 1, 2
    ([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]], 2, 2 / 3),  # 3rd: tie 0 vs 2, index 0 wins
    ([[1 / 3, 1 / 3, 1 / 3]] * 3, 1, 1 / 3),  # ties: only the lowest index counts as top-1
])
def test_top_k_accuracy(probs, k, expected):
    assert metrics.top_k_accuracy([0, 1, 2], np.array(probs), k) == pytest.approx(expected)


def test_expected_calibration_error_by_hand():
    # 10 samples at confidence 0.9 with 8 right (gap 0.1), 5 at 0.6 with 3 right (gap 0)
    truth = [0] * 8 + [1] * 2 + [0] * 3 + [1] * 2
    probs = np.array([[0.9, 0.1]] * 10 + [[0.6, 0.4]] * 5)
    assert metrics.expected_calibration_error(truth, probs) == pytest.approx((10 * 0.1 + 5 * 0.0) / 15)
    bins = metrics.reliability_bins(truth, probs)
    assert len(bins) == metrics.CALIBRATION_BINS
    filled = [b for b in bins if b["count"]]
    assert [(b["count"], b["accuracy"]) for b in filled] == [(5, pytest.approx(0.6)), (10, pytest.approx(0.8))]
    assert all(b["lower"] < b["confidence"] <= b["upper"] for b in filled)


def test_bin_edges_are_upper_inclusive():
    edge = 3 / metrics.CALIBRATION_BINS
    bins = metrics.reliability_bins([0, 0], np.array([[edge, 1 - edge], [1.0, 0.0]]))
    # the first sample's confidence is max(edge, 1 - edge) = 1 - edge = 12/15: the 12th bin (index 11)
    assert bins[11]["count"] == 1 and bins[-1]["count"] == 1


def test_ece_is_small_for_calibrated_and_large_for_overconfident_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(20000, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(4, p=p) for p in probs])  # labels drawn from the predicted distribution
    assert metrics.expected_calibration_error(truth, probs) < 0.02
    sharpened = np.exp(4 * logits) / np.exp(4 * logits).sum(axis=1, keepdims=True)  # same ranking, overconfident
    assert metrics.expected_calibration_error(truth, sharpened) > 0.1


def test_evaluate_predictions_is_json_ready_and_consistent():
    probs = one_hot(Y_PRED, 3)
    report = metrics.evaluate_predictions(Y_TRUE, probs, ["cat", "coffee", "rocket"])
    assert json.loads(json.dumps(report)) == report
    assert report["num_samples"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6) == pytest.approx(report["top_k"]["1"])
    assert set(report["top_k"]) == {"1", "2"}  # k < C only
    assert report["per_class"]["coffee"] == {"precision": pytest.approx(2 / 3), "recall": 1.0,
                                             "f1": pytest.approx(0.8), "support": 2}
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["log_loss"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6)
    assert report["ece"] == pytest.approx(abs(0.8 - 4 / 6))  # one bin at confidence 0.8


@pytest.mark.parametrize(("y_true", "probs", "classes", "message"), [
    ([0, 1], np.full((2, 2), 0.5), ["a", "a"], "distinct"),
    ([0, 2], np.full((2, 2), 0.5), ["a", "b"], r"\[0, 1\]"),
    ([0, 1], np.full((3, 2), 0.5), ["a", "b"], "shape"),
    ([0, 1], np.full((2, 3), 1 / 3), ["a", "b"], "2 classes"),
    ([0.0, 1.0], np.full((2, 2), 0.5), ["a", "b"], "integer"),
    ([0, 1], np.array([[np.nan, 1.0], [0.5, 0.5]]), ["a", "b"], "NaN"),
])
def test_bad_inputs_raise_usage_errors(y_true, probs, classes, message):
    with pytest.raises(UsageError, match=message):
        metrics.evaluate_predictions(y_true, probs, classes)


def test_empty_predictions_give_zeros_not_errors():
    report = metrics.evaluate_predictions([], np.zeros((0, 2)), ["a", "b"])
    assert report["num_samples"] == 0 and report["accuracy"] == 0.0 and report["ece"] == 0.0


def test_agrees_with_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    num_classes = 6
    truth = rng.integers(0, num_classes - 1, 500)  # the last class never occurs in the truth
    logits = rng.normal(size=(500, num_classes))
    logits[np.arange(500), truth] += rng.uniform(0, 2, 500)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = probs.argmax(axis=1)
    report = metrics.evaluate_predictions(truth, probs, [f"c{i}" for i in range(num_classes)])
    assert report["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    for average in ("macro", "weighted"):
        p, r, f, _ = sk.precision_recall_fscore_support(truth, predicted, average=average, zero_division=0)
        assert (report[average]["precision"], report[average]["recall"], report[average]["f1"]) == (
            pytest.approx(p), pytest.approx(r), pytest.approx(f))
    assert report["confusion_matrix"] == sk.confusion_matrix(truth, predicted, labels=range(num_classes)).tolist()
    for k in (2, 3, 5):
        assert report["top_k"][str(k)] == pytest.approx(
            sk.top_k_accuracy_score(truth, probs, k=k, labels=range(num_classes)))
    assert report["log_loss"] == pytest.approx(sk.log_loss(truth, probs, labels=range(num_classes)))
