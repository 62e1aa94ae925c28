"""Kaggle submissions: the test set's ids, their order, the sample-submission check, the file.

TEST is a flat folder of images named by id (Kaggle's 1.jpg … 12500.jpg), a prepared dataset
(its split's ids), or a CSV file with an id column. Rows come out sorted by id: numerically when
every id is a number, in natural order otherwise (img2 before img10); with --sample-submission,
in the sample's order, under its header, and only when its ids are exactly the test set's.

What a row holds (`--predict`):
  class        two classes: 1 for the positive class, 0 otherwise; more: the class name
  probability  P(positive class), optionally clipped (--clip 0.05 0.95, for log-loss); with more
               than two classes and no positive class, one column of probabilities per class

Probabilities are clipped to [EPSILON, 1 − EPSILON] unless --clip says otherwise, and written
with six significant digits of their distance to the nearer of 0 and 1 (0.9999999871 stays
that, not 1): one confident mistake written as exactly 0 or 1 makes a log-loss infinite.
"""
import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnrun.atomic import atomic_file
from nnrun.data import csv_rows
from nnrun.data.files import check_unique, csv_separator, id_order, is_image_file, sort_ids
from nnrun.errors import UserError
from nnrun.infer.inputs import DatasetSource, ImageSource, TableSource, is_dataset

SHOWN = 5
EPSILON = 1e-15   # the default clip of probabilities: [EPSILON, 1 - EPSILON]


@dataclass
class TestSet:
    where: str
    ids: list                      # every item's id, in the order the source yields them
    source: object                 # an inputs.*Source whose batch names are the ids
    id_header: str = "id"


def open_test_set(test, *, id_column=None, split=None):
    """The test set at `test` (see the module's docstring); its ids checked unique."""
    path = Path(test)
    if not path.exists():
        raise UserError(f"{test}: no such file or folder")
    if path.is_dir() and is_dataset(path):
        return _dataset_test_set(path, split)
    if split is not None:
        raise UserError("--split is for a prepared dataset TEST, and this is not one")
    if path.is_dir():
        return _image_test_set(path)
    if csv_separator(path):
        return _csv_test_set(path, id_column)
    raise UserError(f"{test}: TEST is a folder of images, a prepared dataset or a CSV file with an id column")


def _image_test_set(folder):
    # os.scandir knows most entries' types without a stat call each: Kaggle test folders hold
    # tens of thousands of files, and this runs before any image can be decoded.
    with os.scandir(folder) as found:
        listed = [(entry.name, entry.is_dir()) for entry in found if not entry.name.startswith(".")]
    listed.sort()
    entries = [name for name, _ in listed]
    subfolders = [name for name, is_dir in listed if is_dir]
    if subfolders:
        raise UserError(f"{folder} has folders ({subfolders[0]}/ ...); a test folder holds the images "
                        f"themselves, flat, named by their ids (1.jpg, 2.jpg, ...)")
    others = [e for e in entries if not is_image_file(e)]
    if others:
        more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
        raise UserError(f"{folder / others[0]}: not an image file{more}; a test folder holds only images")
    if not entries:
        raise UserError(f"{folder} holds no images")
    ids = [os.path.splitext(e)[0] for e in entries]
    check_unique(ids, str(folder), name=lambda i: entries[i])
    key = id_order(ids)
    order = sorted(range(len(ids)), key=lambda i: key(ids[i]))
    files = [os.path.join(folder, entries[i]) for i in order]
    ordered = [ids[i] for i in order]
    return TestSet(str(folder), ordered, ImageSource(files, ordered, where=str(folder)))


def _dataset_test_set(path, split):
    source = DatasetSource(path, split)
    ids = source.ids()
    if ids is None:
        raise UserError(f"{source.where} keeps no ids; prepare the test set with --unlabelled (images) "
                        f"or --id-column COLUMN (CSV)")
    check_unique(ids, source.where, name=lambda i: f"item {i + 1}")
    return TestSet(source.where, sort_ids(ids), source)  # rows sorted by id, whatever the stored order


def _csv_test_set(path, id_column):
    columns = csv_rows.read_columns(path)
    if id_column is None:
        found = [c for c in columns if c.lower() == "id"]
        if not found:
            raise UserError(f"{path}: which column holds the ids? Name it with --id-column "
                            f"(its columns: {', '.join(columns[:20])})")
        id_column = found[0]
    source = TableSource(path, id_column=id_column)
    return TestSet(str(path), None, source, id_header=id_column)


# ---- the sample submission ------------------------------------------------------------------

@dataclass
class Sample:
    path: str
    header: list
    ids: list = field(default_factory=list)


def read_sample(path):
    """Kaggle's sample submission (a CSV file, optionally compressed): its header and its ids
    (first column), in order."""
    header = csv_rows.read_columns(path)
    if len(header) < 2:
        raise UserError(f"{path}: a sample submission has a header with an id column and a label column")
    ids = []
    for before, chunk in csv_rows.chunks(path, header[:1]):
        ids += csv_rows.text_cells(path, chunk[header[0]], header[0], before, "id")
    if not ids:
        raise UserError(f"{path}: the sample submission has no rows")
    check_unique(ids, path, name=lambda i: f"row {i + 1}")
    return Sample(str(path), header, ids)


def check_sample(sample, ids, where):
    """UserError unless the sample lists exactly `ids` (the test set's)."""
    wanted, have = set(sample.ids), set(ids)
    missing = [i for i in sample.ids if i not in have]
    extra = [i for i in ids if i not in wanted]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of its ids are not in the test set ({', '.join(missing[:SHOWN])}"
                         + (" ..." if len(missing) > SHOWN else "") + ")")
        if extra:
            parts.append(f"{len(extra)} test items are not in it ({', '.join(extra[:SHOWN])}"
                         + (" ..." if len(extra) > SHOWN else "") + ")")
        raise UserError(f"sample submission {sample.path} does not match the test set {where}: "
                        + "; ".join(parts) + "; no submission written")


# ---- rows -------------------------------------------------------------------------------------

@dataclass
class Labeller:
    """Turns class probabilities into a submission's label cells."""
    output: str                    # "class" or "probability"
    decision: object               # predict.Decision
    clip: tuple = None
    per_class: bool = False        # probability output, several classes, no positive class
    order: list = None             # per-class columns: class indices in column order

    @classmethod
    def make(cls, output, decision, clip=None):
        classes = decision.classes
        if output == "probability" and decision.positive is None and len(classes) == 2:
            decision.positive = 1  # P(second class), as a binary submission wants
        per_class = output == "probability" and decision.positive is None
        if output == "probability" and not clip:
            clip = (EPSILON, 1 - EPSILON)
        return cls(output, decision, tuple(clip) if clip else None, per_class)

    def describe(self):
        """What the label cells hold, for the summary line."""
        if self.output == "class":
            rule = self.decision.describe()
            return "classes" + (f": {rule}" if rule else "")
        what = "one probability per class" if self.per_class else \
            f"P({self.decision.classes[self.decision.positive]})"
        low, high = self.clip
        return f"{what} clipped to [{_fmt(low)}, {_fmt(high)}], six significant digits of the distance to 0 or 1"

    def columns(self, column):
        if self.per_class:
            return [self.decision.classes[i] for i in self.order] if self.order else list(self.decision.classes)
        return [column]

    def cells(self, p):
        """[[cell, ...] per row] for probabilities [N, K]."""
        if self.output == "class":
            chosen = self.decision.decide(p)
            if len(self.decision.classes) == 2:
                positive = self.decision.positive if self.decision.positive is not None else 1
                return [["1" if c == positive else "0"] for c in chosen]
            return [[self.decision.classes[c]] for c in chosen]
        if self.per_class:
            values = p[:, self.order] if self.order else p
        else:
            values = p[:, [self.decision.positive]]
        if self.clip:
            values = np.clip(values, *self.clip)
        return [[_fmt(v) for v in row] for row in values]


def _fmt(value):
    """Six significant digits of the value's distance to the nearer of 0 and 1."""
    value = float(value)
    if value <= 0.5 or value >= 1.0:
        return f"{value:.6g}"
    decimals = min(5 - math.floor(math.log10(1.0 - value)), 16)  # 16: float64's last digit below 1
    return f"{value:.{decimals}f}".rstrip("0")


def write_submission(path, header, rows):
    """Write `header` and `rows` ([id, cells...]) to `path` atomically."""
    with atomic_file(path) as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
