"""The examples behind one confusion-matrix cell, and their thumbnails.

The run folder's `predictions/last.npz` / `best.npz` hold, for every example of the selection
split, its probabilities, label, predicted class and `index` (its row in that split of the
prepared dataset named in run.json). A cell (actual a, predicted p) lists the examples with
label a and prediction p, most confident first (highest P(p)). Images and table rows are drawn
from the prepared dataset's own arrays, so the run folder needs no copies of them, and only while
that folder holds the dataset the run trained on (nnrun.runs.run_dataset). A table row is shown
with its raw values (words, blanks, dates), decoded by the dataset's encoding (nnrun.report.rows).
"""
import io
import threading
import zipfile
from pathlib import Path

import numpy as np

from nnrun import runs as run_files
from nnrun.errors import UserError
from nnrun.live.run_view import read_json, stamp

LIMIT = 100
THUMB_MIN = 64  # small images (MNIST's 28 px) are enlarged, pixel for pixel, to at least this

_datasets = {}
_datasets_lock = threading.Lock()


def run_dataset(folder):
    """(the run's prepared dataset, or None; and why not, when not): only the dataset the run
    trained on, since a stored row index names a different example in any other."""
    path, problem = run_files.run_dataset(read_json(Path(folder) / run_files.RUN_INFO))
    if problem is not None:
        return None, problem
    dataset = open_dataset_cached(path)
    return dataset, None if dataset is not None else _why_unreadable(path)


def _why_unreadable(path):
    """The one line open_dataset gives for a dataset that cannot be read (a damaged manifest
    names its field), or a general one when it gives none."""
    from nnrun.data.dataset import open_dataset

    try:
        open_dataset(path)
    except UserError as mistake:
        return str(mistake)
    return f"the prepared dataset {path} is not readable here"


def open_dataset_cached(path):
    """The prepared dataset at `path` (opened once per change of its manifest), or None."""
    from nnrun.data.dataset import open_dataset

    key = str(path)
    key_stamp = stamp(Path(path) / "dataset.json")
    if key_stamp is None:
        return None
    with _datasets_lock:
        cached = _datasets.get(key)
        if cached and cached[0] == key_stamp:
            return cached[1]
    try:
        dataset = open_dataset(path)
    except UserError:
        return None
    with _datasets_lock:
        _datasets[key] = (key_stamp, dataset)
    return dataset


def cell_examples(folder, which, actual, predicted, run_id):
    """{"examples": [...], ...} for cell (actual, predicted) of predictions/<which>.npz."""
    from nnrun.report.rows import shown_ids

    try:
        arrays = run_files.read_predictions(folder, which)
    except (UserError, KeyError, zipfile.BadZipFile):  # being replaced, or damaged
        arrays = None
    if arrays is None or any(k not in arrays for k in ("probabilities", "labels", "predicted", "index")):
        return {"error": f"this run has no readable {run_files.PREDICTIONS}/{which}.npz, so its examples "
                         f"cannot be listed (a run from an older nnrun, or an autoencoder)"}
    probabilities, labels, chosen = arrays["probabilities"], arrays["labels"], arrays["predicted"]
    if not (0 <= predicted < probabilities.shape[1]):
        return {"error": f"no class {predicted}"}
    mask = (labels == actual) & (chosen == predicted)
    rows = np.flatnonzero(mask)
    confidence = probabilities[rows, predicted].astype(np.float64)
    order = rows[np.argsort(-confidence, kind="stable")][:LIMIT]
    split = str(arrays["split"]) if "split" in arrays else None
    epoch = int(arrays["epoch"]) if "epoch" in arrays else None
    result = {"which": which, "epoch": epoch, "split": split, "total": int(mask.sum()),
              "actual": actual, "predicted": predicted, "examples": []}
    dataset, problem = run_dataset(folder)
    if dataset is not None and (split is None or not dataset.has_split(split)):
        dataset, problem = None, f"the prepared dataset {dataset.path} has no {split} split"
    if dataset is None:
        result["note"] = f"{problem}: no pictures or feature values"
    result["kind"] = dataset.kind if dataset is not None else None
    ids, damaged = shown_ids(dataset, split) if dataset is not None else (None, None)
    x = dataset.x(split) if dataset is not None else None
    for row in order:
        index = int(arrays["index"][row])
        item = {"index": index, "probability": float(probabilities[row, predicted]),
                "id": ids[index] if ids and 0 <= index < len(ids) else f"row {index}"}
        if x is not None and 0 <= index < len(x) and dataset.kind == "images":
            item["thumb"] = f"/api/thumb?run={_quote(run_id)}&split={_quote(split)}&index={index}"
        result["examples"].append(item)
    if x is not None and dataset.kind == "table":
        _add_rows(result, dataset, x)
    if damaged:
        result["note"] = "; ".join(n for n in (result.get("note"), damaged) if n)
    return result


def _add_rows(result, dataset, x):
    """Each example's row: its raw values under "values" with the raw column names as "columns"
    (a table with an encoding), else its feature values under "features" with their names."""
    from nnrun.report.rows import readable_rows

    shown = [item for item in result["examples"] if 0 <= item["index"] < len(x)]
    rows = readable_rows(dataset, x, [item["index"] for item in shown])
    result["columns" if rows.decoded else "features"] = rows.columns
    if rows.decoded:
        result["numeric"] = rows.numeric
    for item, values in zip(shown, rows.values):
        item["values" if rows.decoded else "features"] = values


def _quote(text):
    from urllib.parse import quote
    return quote(text, safe="")


def thumbnail_png(folder, split, index):
    """PNG bytes of image `index` of `split` of the run's prepared dataset, or None."""
    from PIL import Image

    from nnrun.data.decode import stored_image

    dataset, _ = run_dataset(folder)
    if dataset is None or dataset.kind != "images" or not dataset.has_split(split):
        return None
    x = dataset.x(split)
    if not (0 <= index < len(x)):
        return None
    image = stored_image(x[index])
    if image.width < THUMB_MIN:
        scale = -(-THUMB_MIN // image.width)
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
