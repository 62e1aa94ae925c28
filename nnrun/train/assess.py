"""Measuring a saved model on a prepared split (what `nnrun evaluate` prints)."""
import dataclasses

import torch

from nnrun.data.dataset import open_dataset
from nnrun.errors import UserError
from nnrun.model_io import load_model, select_device
from nnrun.train.data import Inputs, SplitData
from nnrun.train.evaluation import evaluate, needs_one_hot
from nnrun.train.task import model_task
from nnrun.train.tta import MirrorAverage


def evaluate_checkpoint(checkpoint, dataset_path, *, split="test", threshold=None, batch_size=1024,
                        device="auto", tta=None, label_column=None):
    """{checkpoint, dataset, split, epoch, classes, beta, threshold, metrics} for `split`;
    `tta="mirror"` averages each image's probabilities with its mirror image's."""
    if threshold is not None and not 0 <= threshold <= 1:  # click's range lets NaN through
        raise UserError(f"--threshold {threshold}: a probability threshold is between 0 and 1")
    device = select_device(device)
    loaded = load_model(checkpoint, device=device)
    dataset = _dataset_or_file(dataset_path, loaded, label_column, checkpoint)
    if getattr(dataset, "split_names", None) == ["file"]:
        split = "file"
    task = model_task(loaded, dataset, split)
    if threshold is not None and task.positive is not None:
        task = dataclasses.replace(task, threshold=float(threshold))
    dtype = next(loaded.network.parameters(), torch.zeros(())).dtype
    data = SplitData(dataset, split, Inputs(loaded.preprocessing, device, dtype), device,
                     input_dims=loaded.plan.inputs[0].out_shape.batch_dims(),
                     one_hot=any(needs_one_hot(leaf) for leaf in task.leaves))
    network = loaded.network
    if tta == "mirror":
        network = MirrorAverage(network, task, loaded.plan.inputs[0].out_shape.image)
    metrics = evaluate(network, task, data, batch_size, task.threshold)
    return {"checkpoint": str(checkpoint), "dataset": str(dataset.path), "split": split,
            "epoch": loaded.payload.get("epoch"), "classes": list(task.classes), "metric": task.metric,
            "beta": task.beta, "threshold": task.threshold, "tta": tta, **_headline(metrics), "metrics": metrics,
            **_reading_notes(dataset)}


def _dataset_or_file(path, loaded, label_column, checkpoint):
    """A prepared dataset folder, or a raw CSV file of labelled rows for a table model."""
    from pathlib import Path

    from nnrun.data.files import csv_separator

    if Path(path).is_file() and csv_separator(path):
        preprocessing = loaded.preprocessing
        if preprocessing.kind != "table":
            raise UserError(f"{path}: a CSV file of table rows, but {checkpoint} takes images")
        from nnrun.data.table.labelled_rows import read_labelled_rows

        return read_labelled_rows(path, preprocessing.table_encoding(), list(loaded.classes), label_column)
    if label_column is not None:
        raise UserError("--label-column is for a raw CSV file; a prepared dataset knows its labels")
    return open_dataset(path)


def _reading_notes(dataset):
    """For a raw file: {"notes": [...]} on rows left out and values never seen in training."""
    if not hasattr(dataset, "blank_labels"):
        return {}
    notes = []
    if dataset.blank_labels:
        notes.append(f"{dataset.blank_labels:,} row(s) with a blank label left out")
    unknown = dataset.reader.unknown_note()
    if unknown:
        notes.append(unknown)
    return {"notes": notes}


def _headline(metrics):
    """The main figures again at the top level, for scripts: f1 (beta 1), f-beta, accuracy, loss."""
    keys = ("loss", "accuracy", "precision", "recall", "f1", "f-beta", "average-precision")
    return {key: metrics[key] for key in keys if key in metrics}
