"""Gather a run's pictures and write the report: RUN/report/*.png (+ weights.gif) and the HTML.

Everything is drawn in memory first; the folder and the HTML are then replaced in one go each
(a temporary name, then a rename), so a failure leaves no half-written report.
"""
import os
import shutil
from pathlib import Path

import numpy as np

from nnrun.atomic import FULL_OR_READ_ONLY, refuse_overwriting
from nnrun.errors import UserError, os_problem
from nnrun.runs import first_layer_epochs, read_predictions, read_run, run_dataset

FOLDER = "report"


def _classes(record):
    return list(record.get("per-class") or {})


def _image_shape(summary, layer):
    """(channels, h, w) of the network's image input, or None for a table."""
    shape = layer.get("input-shape") or []
    if len(shape) == 3:
        return tuple(shape)
    dataset, _ = _dataset(summary)
    if dataset is not None and dataset.image:
        size, channels = dataset.image["size"], dataset.image["channels"]
        return channels, size, size
    return None


def _dataset(summary):
    """(the prepared dataset the run trained on, or None; and why not, when not)."""
    path, problem = run_dataset(summary.info)
    if problem is not None:
        return None, problem
    from nnrun.data.dataset import open_dataset
    try:
        return open_dataset(path), None
    except UserError as mistake:
        return None, str(mistake)


def gather(summary):
    """[(title, file name, bytes, mime)], notes, and the table rows of the most confident
    mistakes (mistakes.MistakeRows, for a table run; else None) for the run's report."""
    from nnrun.report import confusion, curves, mistakes, weights
    from nnrun.report.confusion import plain_label
    from nnrun.report.figures import png_bytes

    best = summary.best or summary.metrics[-1]
    split = best.get("split", "selection")
    pictures, notes, rows = [], [], None

    def add(title, name, fig):
        if fig is not None:
            pictures.append((title, name, png_bytes(fig), "image/png"))

    add("learning curves", "curves.png", curves.curves_figure(summary.metrics, (summary.best or {}).get("epoch"), split))
    predictions = read_predictions(summary.path, "best")
    classes = _classes(best)
    positive = classes.index(best["positive"]) if best.get("positive") in classes else None
    if predictions is not None and positive is not None:
        add(f"precision-recall, epoch {predictions['epoch']} on {predictions['split']}", "precision-recall.png",
            curves.pr_figure(predictions["labels"] == positive, predictions["probabilities"][:, positive],
                             best.get("threshold"), f"class {plain_label(classes[positive], 40)}"))
    if "confusion-matrix" in best:
        add(f"confusion matrix, epoch {best['epoch']} on {split}", "confusion-matrix.png",
            confusion.confusion_figure(best["confusion-matrix"], classes, f"epoch {best['epoch']} on {split}"))
    if best.get("per-class"):
        add("per-class precision and recall", "per-class.png", confusion.per_class_figure(best["per-class"]))
    _weights(summary, pictures, notes, weights)
    if predictions is not None:
        dataset, problem = _dataset(summary)
        if dataset is not None and dataset.kind == "table":
            rows = _mistake_rows(dataset, predictions, classes, notes, mistakes)
        else:
            images = _split_images(dataset, predictions) if dataset is not None else None
            if dataset is not None and images is None:
                problem = f"the prepared dataset {dataset.path} does not hold the run's {predictions['split']} examples"
            if images is not None:
                found = mistakes.confident_mistakes(predictions)
                figure = mistakes.mistakes_figure(found, images, classes, positive, best.get("threshold"))
                if figure is None:
                    notes.append("no mistakes on the selection split: nothing to show")
                add("most confident mistakes", "mistakes.png", figure)
            elif problem is not None:
                notes.append(f"{problem}: no thumbnails of mistakes")
    return pictures, notes, rows


def _mistake_rows(dataset, predictions, classes, notes, mistakes):
    """The most confident mistakes of a table run as rows of its table (mistakes.MistakeRows), or
    None with a note saying why there are none."""
    split = predictions["split"]
    if not _holds_split(dataset, predictions):
        notes.append(f"the prepared dataset {dataset.path} does not hold the run's {split} examples: "
                     f"no rows of mistakes")
        return None
    rows = mistakes.mistake_rows(mistakes.confident_mistakes(predictions), dataset, split, classes)
    if rows is None:
        notes.append("no mistakes on the selection split: nothing to show")
    elif rows.note:
        notes.append(rows.note)
    return rows


def _holds_split(dataset, predictions):
    """Whether the dataset's split can be the one the run saw: there, and long enough for the
    stored row numbers."""
    split = predictions["split"]
    if not dataset.has_split(split):
        return False
    index = predictions["index"]
    return len(index) == 0 or int(index.max()) < len(dataset.x(split))


def _split_images(dataset, predictions):
    """The stored images of the predictions' split, or None (a split that cannot be the one the
    run saw: missing, or too short for the stored row numbers)."""
    if not _holds_split(dataset, predictions):
        return None
    return dataset.x(predictions["split"])


def _weights(summary, pictures, notes, weights):
    """The first layer's weights: a picture of the last epoch and a GIF over the epochs. A file
    damaged by hand (layer.json, an epoch's array) is left out with a warning, never a traceback."""
    import io
    epochs = first_layer_epochs(summary.path)
    if not epochs:
        return

    def damaged(text):  # the command prints the summary's warnings, and the page shows them
        summary.warnings.append(text)

    layer, problem = _layer_facts(summary.path / "first-layer" / "layer.json")
    if problem:
        damaged(problem)
    readable = []
    for epoch, file in epochs:
        array, problem = _weight_array(file)
        if problem:
            damaged(f"{file}: {problem}; left out of the first-layer pictures")
        else:
            readable.append((epoch, array))
    # the epochs drawn are those shaped as the last readable one (a weight file swapped for
    # another run's, or cut short, cannot join an animation of this one)
    shape = readable[-1][1].shape if readable else None
    for epoch, array in readable:
        if array.shape != shape:
            damaged(f"{summary.path / 'first-layer'}: epoch {epoch} holds weights of shape {list(array.shape)}, "
                    f"the last epoch {list(shape)}; left out of the first-layer pictures")
    epochs = [(epoch, array) for epoch, array in readable if array.shape == shape]
    if not epochs:
        return
    arrays = [array for _, array in epochs]
    image_shape = _image_shape(summary, layer)
    last_epoch = epochs[-1][0]
    picture = weights.weight_picture(arrays[-1], image_shape)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    name = layer.get("layer", "first layer")
    if weights.tiles_of(arrays[-1], image_shape) is None:
        name += "; units in rows, inputs in columns, red positive, blue negative"
    pictures.append((f"first-layer weights ({name}, epoch {last_epoch})", "first-layer.png", out.getvalue(), "image/png"))
    if len(arrays) > 1:
        pictures.append((f"first-layer weights over epochs {epochs[0][0]}-{last_epoch}", "first-layer.gif",
                         weights.animation(arrays, image_shape), "image/gif"))
    if weights.tiles_of(arrays[-1], image_shape) is not None and len(arrays[-1]) > weights.MAX_TILES:
        notes.append(f"the first layer has {len(arrays[-1])} units; the first {weights.MAX_TILES} are drawn")


def _layer_facts(file):
    """({layer, input-shape, ...} of first-layer/layer.json, or {}; a problem line or None). Only
    what the pictures use is kept: a name, and an input shape of three whole numbers."""
    import json
    if not file.is_file():
        return {}, None
    try:
        value = json.loads(file.read_text())
    except (OSError, ValueError) as problem:
        return {}, f"{file}: unreadable ({type(problem).__name__}), ignored: the weights are drawn without it"
    if not isinstance(value, dict):
        return {}, f"{file}: not a JSON object, ignored: the weights are drawn without it"
    facts, wrong = {}, []
    if isinstance(value.get("layer"), str):
        facts["layer"] = value["layer"]
    elif "layer" in value:
        wrong.append("layer")
    shape = value.get("input-shape")
    if isinstance(shape, list) and len(shape) in (1, 3) and all(
            isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1 << 16 for n in shape):
        facts["input-shape"] = shape
    elif "input-shape" in value:
        wrong.append("input-shape")
    problem = f"{file}: {' and '.join(wrong)} damaged, ignored" if wrong else None
    return facts, problem


def _weight_array(file):
    """(a first-layer epoch's weights as float32 [units, ...], None), or (None, what is wrong):
    a file cut short, not an array, not numbers, or of one dimension has no picture."""
    try:
        array = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as problem:
        return None, f"unreadable ({str(problem).splitlines()[0][:120] or type(problem).__name__})"
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        return None, "not an array of numbers"
    if array.ndim < 2 or array.size == 0:
        return None, f"weights of shape {list(array.shape)}, not a layer's [units, inputs, ...]"
    return array.astype(np.float32), None


def write_report(run, output=None):
    """Write RUN/report/ and the HTML (default RUN/report.html); returns (html path, picture paths)."""
    summary = read_run(run)
    if not summary.metrics:
        raise UserError(f"{summary.path}: no finished epoch yet; nothing to report")
    from nnrun.report.page import render
    pictures, notes, mistake_rows = gather(summary)
    page = render(summary, pictures, notes, mistake_rows)
    output = Path(output) if output is not None else summary.path / "report.html"
    if output.is_dir():
        raise UserError(f"-o {output}: is a folder; give a file name such as report.html")
    if not output.parent.is_dir():
        raise UserError(f"-o {output}: the folder {output.parent} does not exist")
    # -o naming the run's checkpoint or metrics would replace it with the page
    refuse_overwriting(output, [p for p in summary.path.iterdir() if p.suffix != ".html"])
    folder = summary.path / FOLDER
    fresh = summary.path / f".{FOLDER}.tmp"
    tmp = output.with_name(f".{output.name}.tmp")
    writing = folder  # what a failure's message names: the file as it would have been called
    try:
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        for _, name, data, _ in pictures:
            writing = folder / name
            (fresh / name).write_bytes(data)
        writing = output
        tmp.write_text(page, encoding="utf-8")
        writing = folder
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(fresh, folder)
        writing = output
        os.replace(tmp, output)
    except BaseException as problem:
        # a full disk or a read-only folder half way: neither temporary stays, and the one line
        # names the file (a failed write does not say which)
        shutil.rmtree(fresh, ignore_errors=True)
        tmp.unlink(missing_ok=True)
        if isinstance(problem, OSError) and problem.errno in FULL_OR_READ_ONLY:
            raise os_problem(problem, writing) from None
        raise
    # a damaged ids file of the dataset is said on the page and on stderr alike
    damaged = [mistake_rows.note] if mistake_rows is not None and mistake_rows.note else []
    return output, [folder / name for _, name, _, _ in pictures], summary.warnings + damaged
