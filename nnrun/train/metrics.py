"""Classification metrics over a whole split: plain numpy in, plain data out.

Everything here works on the complete set of predictions of a split (never averages of
per-batch figures): a confusion matrix (rows actual, columns predicted), per-class precision
and recall, accuracy, and for a positive class its precision, recall and F-beta at a decision
threshold, average precision (the area under the precision-recall curve, as scikit-learn
computes it) and the threshold that maximises F-beta.

The decision rule for a positive class with threshold t: an example is predicted positive when
P(positive) >= t; otherwise it gets the most probable of the other classes. With no threshold
(None) every example gets its most probable class.
"""
import numpy as np


def confusion_matrix(actual, predicted, classes):
    """[classes, classes] int64 counts: rows are the actual class, columns the predicted one."""
    actual = np.asarray(actual, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    return np.bincount(actual * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def per_class(matrix):
    """(precision, recall) arrays per class from a confusion matrix; 0 where undefined."""
    matrix = np.asarray(matrix, dtype=np.float64)
    hits = np.diag(matrix)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return precision, recall


def f_beta(precision, recall, beta):
    """F-beta from precision and recall (arrays or numbers); 0 where both are 0."""
    precision, recall = np.asarray(precision, np.float64), np.asarray(recall, np.float64)
    b2 = beta * beta
    top = (1 + b2) * precision * recall
    bottom = b2 * precision + recall
    result = np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)
    return result if result.ndim else float(result)


def predict(probabilities, positive=None, threshold=None):
    """Class index per row of [N, K] probabilities, by the module's decision rule."""
    probabilities = np.asarray(probabilities)
    if positive is None or threshold is None:
        return probabilities.argmax(1)
    others = probabilities.copy()
    others[:, positive] = -np.inf
    return np.where(probabilities[:, positive] >= threshold, positive, others.argmax(1))


def _ranked(is_positive, scores):
    """Cumulative true and false positives at each distinct score, highest first, and those scores."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked = np.asarray(scores, dtype=np.float64)[order]
    hits = np.asarray(is_positive, dtype=bool)[order]
    last = np.r_[np.nonzero(np.diff(ranked))[0], len(ranked) - 1]  # last index of each distinct score
    tp = np.cumsum(hits)[last].astype(np.float64)
    fp = (last + 1) - tp
    return tp, fp, ranked[last]


def best_threshold(is_positive, scores, beta=1.0, objective="f-beta"):
    """(threshold, value): the cut on `scores` that maximises F-beta (or accuracy) of the positive class.

    The threshold lies halfway between the lowest score kept positive and the next lower score, so
    it decides the split's examples exactly as the best cut does and leaves a margin either side.
    With no positive examples it is 0.5 (F-beta 0).
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    if len(is_positive) == 0 or (objective == "f-beta" and not is_positive.any()):
        return 0.5, 0.0
    tp, fp, cuts = _ranked(is_positive, scores)
    positives = is_positive.sum()
    if objective == "accuracy":
        values = (tp + (len(is_positive) - positives - fp)) / len(is_positive)
        nothing = (len(is_positive) - positives) / len(is_positive)  # no example predicted positive
        if nothing > values.max():  # just above the highest score (a probability stays <= 1)
            return float(min(np.nextafter(cuts[0], np.inf), 1.0)), float(nothing)
    else:
        values = f_beta(tp / (tp + fp), tp / positives, beta)
    best = int(np.argmax(values))
    threshold = cuts[best]
    if best + 1 < len(cuts):
        middle = (cuts[best] + cuts[best + 1]) / 2
        if middle > cuts[best + 1]:  # neighbouring floats have nothing between them
            threshold = middle
    return float(threshold), float(values[best])


def calibrated_threshold(is_positive, scores, beta=1.0, odds_ratio=1.0):
    """The F-beta-optimal threshold for calibrated probabilities: F*/(1 + β²), where F* is the best
    F-beta reached on this split (Lipton, Elkan & Naryanaswamy 2014: for calibrated P(positive) the
    optimal F1 threshold is F*/2). It depends on the split only through F*, so it moves far less
    from split to split than the best cut itself does.

    `odds_ratio` maps it to scores trained under another class prior: a class-balanced stream shows
    the positive class more often than the data holds it, which multiplies its odds by
    (sampled odds / natural odds); the threshold's odds are multiplied the same way.
    """
    _, best = best_threshold(is_positive, scores, beta)
    if best <= 0:
        return 0.5
    t = best / (1 + beta * beta)
    odds = t / (1 - t) * odds_ratio
    return float(odds / (1 + odds))


def average_precision(is_positive, scores):
    """Area under the precision-recall curve: Σ (R_n − R_{n−1}) · P_n over the distinct scores."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if not is_positive.any():
        return 0.0
    tp, fp, _ = _ranked(is_positive, scores)
    precision = tp / (tp + fp)
    recall = tp / is_positive.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_curve(is_positive, scores):
    """(precision, recall, thresholds) at each distinct score, highest score first: the points of
    the precision-recall curve (for pictures; average_precision is its area)."""
    is_positive = np.asarray(is_positive, dtype=bool)
    tp, fp, cuts = _ranked(is_positive, scores)
    return tp / (tp + fp), tp / max(int(is_positive.sum()), 1), cuts


def binary_scores(is_positive, predicted_positive, beta=1.0):
    """Precision, recall and F-beta of the positive class, with the counts behind them."""
    is_positive = np.asarray(is_positive, dtype=bool)
    predicted_positive = np.asarray(predicted_positive, dtype=bool)
    tp = int(np.sum(is_positive & predicted_positive))
    fp = int(np.sum(~is_positive & predicted_positive))
    fn = int(np.sum(is_positive & ~predicted_positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "f-beta": f_beta(precision, recall, beta),
            "true-positives": tp, "false-positives": fp, "false-negatives": fn}


def classification_metrics(probabilities, labels, classes, *, positive=None, beta=1.0, threshold=None,
                           tune_threshold=None, odds_ratio=1.0):
    """Every metric of a labelled split, as plain data.

    probabilities: [N, K] (float64 is best: thresholds near 1 need the resolution); labels: [N]
    class indices; classes: the class names; positive: the positive class index or None;
    threshold: the decision threshold on P(positive) (None: most probable class);
    tune_threshold: None, or "f-beta" / "accuracy": choose the threshold that maximises that
    here, or "calibrated": calibrated_threshold (it is returned as "threshold");
    odds_ratio: for "calibrated", the sampled / natural odds of the positive class in training.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(classes)
    result = {"count": int(len(labels))}
    if positive is not None:
        is_positive = labels == positive
        scores = probabilities[:, positive]
        if tune_threshold == "calibrated":
            threshold = calibrated_threshold(is_positive, scores, beta, odds_ratio)
        elif tune_threshold:
            threshold, _ = best_threshold(is_positive, scores, beta, tune_threshold)
    else:
        threshold = None
    predicted = predict(probabilities, positive, threshold)
    matrix = confusion_matrix(labels, predicted, k)
    precision, recall = per_class(matrix)
    result["accuracy"] = float(np.trace(matrix) / max(len(labels), 1))
    if positive is not None:
        binary = binary_scores(is_positive, predicted == positive, beta)
        result.update({"positive": classes[positive], "threshold": threshold,
                       "precision": binary["precision"], "recall": binary["recall"]})
        if beta == 1:
            result["f1"] = binary["f-beta"]
        result["f-beta"] = binary["f-beta"]
        result["beta"] = beta
        result["average-precision"] = average_precision(is_positive, scores)
    result["per-class"] = {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                                  "count": int(matrix[i].sum())}
                           for i, name in enumerate(classes)}
    result["confusion-matrix"] = matrix.tolist()
    return result


def score(metrics, name):
    """The number that selects the best epoch, larger is better (loss is negated)."""
    if name == "loss":
        return -metrics["loss"]
    return metrics[name]


def f_label(beta):
    """How the write-up names F-beta: F1, F0.5, F2."""
    return f"F{beta:g}"
