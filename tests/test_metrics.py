"""Metrics over a whole split: confusion matrix, precision/recall, F-beta, thresholds, average precision."""
import numpy as np
import pytest

from nnrun.train import metrics as m


def brute_f(is_pos, scores, t, beta=1.0):
    pred = scores >= t
    tp = np.sum(pred & is_pos)
    fp = np.sum(pred & ~is_pos)
    fn = np.sum(~pred & is_pos)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0


def test_confusion_matrix_rows_are_actual_columns_predicted():
    cm = m.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    precision, recall = m.per_class(cm)
    assert precision.tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert recall.tolist() == pytest.approx([0.5, 1.0, 2 / 3])


def test_per_class_is_zero_where_undefined():
    precision, recall = m.per_class(np.array([[3, 0], [0, 0]]))
    assert precision.tolist() == [1.0, 0.0] and recall.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_best_threshold_matches_brute_force(beta):
    rng = np.random.default_rng(3)
    is_pos = rng.random(400) < 0.2
    scores = np.clip(rng.normal(0.3 + 0.4 * is_pos, 0.2), 0, 1).round(3)  # ties included
    threshold, best = m.best_threshold(is_pos, scores, beta)
    candidates = np.unique(scores)
    brute = max(brute_f(is_pos, scores, t, beta) for t in candidates)
    assert best == pytest.approx(brute)
    assert brute_f(is_pos, scores, threshold, beta) == pytest.approx(brute)  # the threshold achieves it
    # halfway between neighbouring scores: nothing of the split sits on it
    assert threshold not in set(scores) or threshold == scores.min()


def test_best_threshold_for_accuracy():
    is_pos = np.array([0, 0, 0, 1, 1, 0, 1], dtype=bool)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9])
    threshold, value = m.best_threshold(is_pos, scores, objective="accuracy")
    acc = np.mean((scores >= threshold) == is_pos)
    assert value == pytest.approx(acc) == pytest.approx(max(np.mean((scores >= t) == is_pos) for t in scores))


def test_best_threshold_without_positives():
    assert m.best_threshold(np.zeros(5, bool), np.linspace(0, 1, 5)) == (0.5, 0.0)


def test_average_precision_is_the_step_area():
    # ranked: P N P N  -> precision at the two recall steps: 1, 2/3
    is_pos = np.array([1, 0, 1, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert m.average_precision(is_pos, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m.average_precision(is_pos, np.array([0.9, 0.1, 0.8, 0.05])) == pytest.approx(1.0)


def test_predict_rule_with_a_threshold():
    p = np.array([[0.7, 0.3], [0.4, 0.6], [0.95, 0.05]])
    assert m.predict(p).tolist() == [0, 1, 0]
    assert m.predict(p, positive=1, threshold=0.25).tolist() == [1, 1, 0]
    three = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    assert m.predict(three, positive=0, threshold=0.05).tolist() == [0, 0]
    assert m.predict(three, positive=0, threshold=0.9).tolist() == [1, 2]


def test_classification_metrics_binary_keys_and_values():
    y = np.array([0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.2, 0.8, 0.7, 0.9])
    probs = np.stack([1 - p1, p1], 1)
    out = m.classification_metrics(probs, y, ["neg", "pos"], positive=1, beta=1.0, threshold=0.75)
    assert out["f1"] == out["f-beta"]
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(0.5)
    assert out["confusion-matrix"] == [[2, 1], [1, 1]]
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert out["per-class"]["pos"] == {"precision": 0.5, "recall": 0.5, "count": 2}
    tuned = m.classification_metrics(probs, y, ["neg", "pos"], positive=1, tune_threshold="f-beta")
    assert tuned["f1"] == pytest.approx(0.8) and 0.2 < tuned["threshold"] <= 0.7
    half = m.classification_metrics(probs, y, ["neg", "pos"], positive=1, beta=0.5, threshold=0.75)
    assert "f1" not in half and half["beta"] == 0.5


def test_classification_metrics_multiclass_has_no_threshold():
    probs = np.eye(3)[[0, 1, 2, 2]]
    out = m.classification_metrics(probs, np.array([0, 1, 2, 1]), ["a", "b", "c"])
    assert out["accuracy"] == 0.75 and "threshold" not in out and "f1" not in out


def test_score_negates_loss():
    assert m.score({"loss": 0.5}, "loss") == -0.5
    assert m.score({"accuracy": 0.9}, "accuracy") == 0.9
    assert m.f_label(1.0) == "F1" and m.f_label(0.5) == "F0.5"


def test_calibrated_threshold_is_half_the_best_f1():
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    is_pos = rng.random(5000) < p  # calibrated scores: P(positive | p) = p
    _, best = m.best_threshold(is_pos, p)
    assert m.calibrated_threshold(is_pos, p) == pytest.approx(best / 2)
    assert m.calibrated_threshold(is_pos, p, beta=2.0) == pytest.approx(m.best_threshold(is_pos, p, 2.0)[1] / 5)
    # scores trained with the positive odds multiplied by 9: the threshold's odds move the same way
    t = best / 2
    corrected = m.calibrated_threshold(is_pos, p, odds_ratio=9.0)
    assert corrected / (1 - corrected) == pytest.approx(9 * t / (1 - t))
    # and on calibrated scores the F*/2 cut is close to the best cut's F1
    assert brute_f(is_pos, p, t) >= best - 0.01
