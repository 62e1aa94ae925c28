"""Synthetic run folders for the live page's tests, written as `nnrun train` writes them
(metrics.jsonl, run.json, config.yaml, status.json, predictions/*.npz), so the tests need no
training."""
import json
from pathlib import Path

import numpy as np
import yaml


def epoch_record(epoch, matrix, classes, best, positive=None):
    matrix = np.asarray(matrix)
    total = int(matrix.sum())
    rows, cols = matrix.sum(1), matrix.sum(0)
    per_class = {name: {"precision": float(matrix[i, i] / cols[i]) if cols[i] else 0.0,
                        "recall": float(matrix[i, i] / rows[i]) if rows[i] else 0.0, "count": int(rows[i])}
                 for i, name in enumerate(classes)}
    record = {"epoch": epoch, "train-loss": 1.0 / epoch, "train-seconds": 1.0, "samples": 1000,
              "samples-per-second": 1000.0, "eval-seconds": 0.1, "split": "validation",
              "loss": 1.2 / epoch, "count": total, "accuracy": float(np.trace(matrix) / total),
              "per-class": per_class, "confusion-matrix": matrix.tolist(), "best": best,
              "threshold": None, "learning-rate": 0.001}
    if positive is not None:
        p = per_class[classes[positive]]
        f = 2 * p["precision"] * p["recall"] / (p["precision"] + p["recall"] or 1)
        record.update({"positive": classes[positive], "precision": p["precision"], "recall": p["recall"],
                       "f1": f, "f-beta": f, "beta": 1.0, "average-precision": 0.5, "threshold": 0.5})
    return record


def predictions_for(matrix, epoch, seed=0):
    """Predictions whose confusion matrix is `matrix`, with the example at `index` k being row k."""
    rng = np.random.default_rng(seed)
    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    labels, predicted = [], []
    for a in range(k):
        for p in range(k):
            labels += [a] * int(matrix[a, p])
            predicted += [p] * int(matrix[a, p])
    labels, predicted = np.array(labels, np.int64), np.array(predicted, np.int64)
    probabilities = rng.random((len(labels), k)).astype(np.float32) * 0.5
    probabilities[np.arange(len(labels)), predicted] += 0.5
    probabilities /= probabilities.sum(1, keepdims=True)
    return {"epoch": np.array(epoch), "split": np.array("validation"), "probabilities": probabilities,
            "labels": labels, "predicted": predicted, "index": np.arange(len(labels), dtype=np.int64)}


def write_predictions(run, which, arrays):
    folder = Path(run) / "predictions"
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{which}.npz", **arrays)


def make_run(run, dataset, classes, matrices, *, positive=None, state="finished", epoch_count=None):
    """A run folder with one metrics line per matrix (each epoch a new best)."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(json.dumps({
        "nnrun-version": "0.1.0", "device": "cpu", "seed": 1, "started": "2026-01-01T00:00:00Z",
        "dataset": {"path": str(dataset), "train-split": "train", "selection-split": "validation",
                    "test-split": "test"}}))
    (run / "config.yaml").write_text(yaml.safe_dump({"name": run.name, "train": {"epoch-count": epoch_count}}))
    for epoch, matrix in enumerate(matrices, 1):
        append_epoch(run, epoch, matrix, classes, positive=positive)
    write_status(run, state, len(matrices), epoch_count)
    return run


def append_epoch(run, epoch, matrix, classes, positive=None, best=True):
    with open(Path(run) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(epoch_record(epoch, matrix, classes, best, positive)) + "\n")
    arrays = predictions_for(matrix, epoch)
    write_predictions(run, "last", arrays)
    if best:
        write_predictions(run, "best", arrays)


def write_status(run, state, epoch, epoch_count, pid=None):
    import os
    (Path(run) / "status.json").write_text(json.dumps({
        "state": state, "pid": pid or os.getpid(), "epoch": epoch, "epoch-count": epoch_count,
        "best-epoch": epoch or None, "updated": "2026-01-01T00:00:00Z", "in-progress": None}))
