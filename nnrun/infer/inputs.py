"""Finding the inputs of `nnrun infer` and turning them into batches of stored values.

An input is one of
  an image file (any extension `nnrun prepare images` reads),
  a folder of images (searched recursively; other files are left alone),
  a CSV/TSV file of feature rows (optionally compressed), with or without its label column,
  a prepared dataset folder (it has a dataset.json); `--split` picks the split (default: test).
Consecutive image inputs are decoded together by one pool of workers. Each source checks that
it fits the checkpoint (images for an image network, of the right size for a prepared split;
the right feature columns for a table network) before anything is computed.

Each source reads the stored form the network's preprocessing expects (uint8 [n, C, S, S]
images or float32 [n, F] rows, as in a prepared dataset) and yields batches of what the work
(predict.Work: the model or models) gives for them.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnrun.data import csv_rows
from nnrun.data.files import csv_separator, is_image_file, natural_key
from nnrun.errors import UserError
from nnrun.infer.images import ImageReader


@dataclass
class Batch:
    names: list                   # what each item is called in the output ("input")
    outputs: dict                 # what the work gave: {output name: array}
    labels: list = None           # true class names, when the input has them


class BadItems:
    """What to do with an unreadable item: raise (default) or note it and go on (--skip-bad)."""

    def __init__(self, skip):
        self.skip = skip
        self.skipped = []         # (name, reason)

    def __call__(self, name, reason):
        if not self.skip:
            raise UserError(f"{name}: {reason} (--skip-bad leaves unreadable images out)")
        self.skipped.append((name, reason))

    def report(self, warn, what):
        """Warn once, at the end, of the items skipped (the first ten named)."""
        if self.skipped:
            shown = "; ".join(f"{name} ({reason})" for name, reason in self.skipped[:10])
            more = f"; and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else ""
            warn(f"skipped {len(self.skipped)} unreadable {what}: {shown}{more}")


def mismatch(where, holds, model):
    return UserError(f"{where} holds {holds}, but {model.path} takes {model.describe_input()}")


# ---- sources ---------------------------------------------------------------------------------

# Inputs per forward pass when --batch-size is not given: a table row costs the network little,
# so a small batch would leave ONNX Runtime's per-call overhead the larger part of the time.
IMAGE_BATCH, TABLE_BATCH = 256, 8192


class ImageSource:
    """Image files, decoded (and, on ONNX Runtime, predicted) by a pool of workers."""

    default_batch = IMAGE_BATCH

    def __init__(self, files, names, where=None):
        self.files, self.names = list(files), list(names)
        self.where = where or (str(self.files[0]) if len(self.files) == 1 else "the images")
        self.jobs = None

    def __len__(self):
        return len(self.files)

    def check(self, model):
        if model.kind != "images":
            raise mismatch(self.where, "images", model)
        self.image_spec = model.image_spec

    def batches(self, batch_size, on_bad, work):
        """Batches of `work`'s outputs: image workers run `work` on the chunks they decode when
        it fits them (images.py); else they decode chunks of up to `batch_size` files for it."""
        size, channels = self.image_spec
        in_workers = work.fits_workers
        with ImageReader(self.files, size, channels, self.jobs, work if in_workers else None,
                         largest=None if in_workers else batch_size) as reader:
            for chunk in reader:
                for i, reason in chunk.problems.items():
                    on_bad(self.files[chunk.start + i], reason)
                readable = [self.names[chunk.start + i] for i in chunk.readable]
                if readable:
                    yield Batch(readable, chunk.result if in_workers else work(chunk.pixels))


class TableSource:
    """A CSV file of raw rows (words, blanks and dates as in training), read in chunks and
    encoded with the model's table encoding (nnrun.data.table.rows)."""

    default_batch = TABLE_BATCH

    def __init__(self, path, id_column=None, label_column=None):
        self.path, self.where = Path(path), str(path)
        self.id_column, self.label_column = id_column, label_column
        self.reader = None

    def __len__(self):
        return 0  # unknown until read

    def check(self, model):
        from nnrun.data.table.rows import RowReader

        if model.kind != "table":
            raise mismatch(self.where, "table rows", model)
        self.reader = RowReader(self.where, model.preprocessing.table_encoding(), self.id_column, self.label_column)
        self.reader.check()

    def batches(self, batch_size, on_bad, work):
        for first, x, ids, labels in self.reader.chunks():
            names = ids if ids is not None else [f"{self.where}:{first + i}" for i in range(len(x))]
            for start in range(0, len(x), batch_size):
                end = start + batch_size
                yield Batch(names[start:end], work(x[start:end]), labels[start:end] if labels else None)

    def notes(self):
        """What the reading noticed for the user (values never seen in training)."""
        note = self.reader.unknown_note() if self.reader is not None else None
        return [note] if note else []


class DatasetSource:
    """A split of a prepared dataset: stored values, ids and labels as prepared."""

    def __init__(self, path, split=None):
        from nnrun.data.dataset import open_dataset

        self.dataset = open_dataset(path)
        names = self.dataset.split_names
        if split is None:
            if "test" in names or len(names) == 1:
                split = "test" if "test" in names else names[0]
            else:
                raise UserError(f"{path} has splits {', '.join(names)}; choose one with --split")
        self.count = self.dataset.count(split)  # a UserError names the splits when it is missing
        self.default_batch = TABLE_BATCH if self.dataset.kind == "table" else IMAGE_BATCH
        self.split = split
        self.where = f"{path} (split {split})"

    def __len__(self):
        return self.count

    def check(self, model):
        ds = self.dataset
        if ds.kind != model.kind:
            holds = "images" if ds.kind == "images" else "table rows"
            raise mismatch(self.where, holds, model)
        if ds.kind == "images":
            image, (size, channels) = ds.image, model.image_spec
            if (image["size"], image["channels"]) != (size, channels):
                raise mismatch(self.where, f"{image['channels']}×{image['size']}×{image['size']} images", model)
        elif list(ds.features) != list(model.preprocessing.features):
            missing = [f for f in model.preprocessing.features if f not in ds.features]
            detail = f"lacks {', '.join(missing[:20])}" if missing else "has them in another order or with others"
            raise UserError(f"{self.where}: its feature columns differ from the checkpoint's ({detail})")
        elif ds.encoding is not None:
            from nnrun.data.table.encoding import disagreement

            why = disagreement(model.preprocessing.table_encoding(), ds.encoding)
            if why:
                raise UserError(f"{self.where}: was prepared with its own encoding, not the model's ({why}); "
                                f"give the raw CSV file instead (with --id-column for its ids)")

    def ids(self):
        """The split's stored ids, or None when it keeps none; a damaged ids file is a UserError
        naming it (rows without their ids, or a submission refused for want of them, would hide it)."""
        return self.dataset.ids_if_kept(self.split)

    def names(self):
        return self.ids() or [f"{self.dataset.path}:{self.split}:{i}" for i in range(self.count)]

    def batches(self, batch_size, on_bad, work):
        ds, split = self.dataset, self.split
        x = ds.x(split)
        names = self.names()
        labels = None
        if ds.labelled:
            classes = ds.classes
            labels = [classes[i] for i in ds.y(split)]
        for start in range(0, self.count, batch_size):
            end = min(start + batch_size, self.count)
            yield Batch(names[start:end], work(np.asarray(x[start:end])), labels[start:end] if labels else None)


# ---- discovery -------------------------------------------------------------------------------

def is_dataset(path):
    return Path(path, "dataset.json").is_file()


def images_in(folder):
    """Image files under `folder`, in natural order of their relative paths; hidden ones left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and is_image_file(name):
                found.append(os.path.join(root, name))
    return sorted(found, key=lambda p: natural_key(os.path.relpath(p, folder).replace(os.sep, "/")))


def discover(inputs, *, split=None, id_column=None, label_column=None):
    """The sources for INPUT arguments, in order; UserError for anything that is none of them."""
    if not inputs:
        raise UserError("give at least one INPUT: image files, folders, CSV files or prepared datasets")
    sources = []
    files, names = [], []

    def flush():
        if files:
            sources.append(ImageSource(files[:], names[:]))
            files.clear()
            names.clear()

    for given in inputs:
        path = Path(given)
        if not path.exists():
            raise UserError(f"{given}: no such file or folder")
        if path.is_dir() and is_dataset(path):
            flush()
            sources.append(DatasetSource(path, split))
        elif path.is_dir():
            found = images_in(path)
            if not found:
                raise UserError(f"{given}: a folder without images (looked for "
                                f"{', '.join(sorted({'.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp'}))} ...)")
            files.extend(found)
            names.extend(found)
        elif csv_separator(path):
            flush()
            sources.append(TableSource(path, id_column, label_column))
        elif is_image_file(path):
            files.append(str(path))
            names.append(str(given))
        else:
            raise UserError(f"{given}: not an image, a CSV/TSV file or a prepared dataset folder "
                            f"(unknown extension \"{path.suffix}\")")
    flush()
    if split is not None and not any(isinstance(s, DatasetSource) for s in sources):
        raise UserError("--split is for prepared dataset inputs, and none was given")
    return sources
