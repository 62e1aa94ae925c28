"""A raw CSV file with a label column, read as a one-split dataset: what `nnrun evaluate` measures
when it is given the file itself instead of a prepared dataset.

The rows go through the model's table encoding (rows.RowReader), the labels through the same
cleaning and number naming as `prepare csv` gave them (so "1.0" is class "1"). A row with a blank
label is left out (counted in `blank_labels`); a label that is not one of the model's classes is
an error naming its row. The object answers the questions evaluation asks of a prepared dataset.
"""
from pathlib import Path

import numpy as np

from nnrun.data.table.cells import canonical, missing_set
from nnrun.data.table.rows import RowReader
from nnrun.errors import UserError

SPLIT = "file"


def read_labelled_rows(path, encoding, classes, label_column=None):
    """A RawTableSplit of the CSV at `path`, labelled by `label_column` (default: the column the
    model's training read its labels from)."""
    label_column = label_column or encoding.label
    if label_column is None:
        raise UserError(f"{path}: which column holds the labels? Name it with --label-column")
    if encoding.headerless and label_column == encoding.label:
        label_column = str(encoding.headerless.get("label") or label_column)
    reader = RowReader(str(path), encoding, label_column=label_column, blank_labels=True)
    reader.check()
    markers = missing_set(encoding.missing)
    index = {name: i for i, name in enumerate(classes)}
    xs, ys = [], []
    blank = 0
    for first, x, _, labels in reader.chunks():
        codes = np.empty(len(labels), np.int64)
        for i, raw in enumerate(labels):
            name = canonical(raw, markers)  # as prepare names a label: trimmed, numbers canonical
            if name is None:
                codes[i] = -1
                continue
            if name not in index:
                shown = ", ".join(classes[:10])
                raise UserError(f'{path} row {first + i}, column "{label_column}": "{name}" is not one of the '
                                f"model's classes ({shown})")
            codes[i] = index[name]
        keep = codes >= 0
        blank += int(np.count_nonzero(~keep))
        xs.append(x[keep])
        ys.append(codes[keep])
    x = np.concatenate(xs) if xs else np.zeros((0, len(encoding.features)), np.float32)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    if len(y) == 0:
        raise UserError(f"{path} has no row with a label to measure against")
    return RawTableSplit(Path(path), x, y, list(classes), list(encoding.features), encoding, blank, reader)


class RawTableSplit:
    """The answers a prepared dataset gives evaluation, for rows read from one file."""

    kind = "table"
    labelled = True
    image = None

    def __init__(self, path, x, y, classes, features, encoding, blank_labels, reader):
        self.path, self._x, self._y, self.classes = path, x, y, classes
        self.features, self.encoding, self.blank_labels, self.reader = features, encoding, blank_labels, reader
        self.manifest = {"splits": {SPLIT: {"count": len(y), "y": "(in memory)"}}}
        self.split_names = [SPLIT]

    def has_split(self, name):
        return name == SPLIT

    def count(self, split):
        return len(self._y)

    def x(self, split):
        return self._x

    def y(self, split):
        return self._y
