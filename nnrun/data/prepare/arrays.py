"""Writing the splits' arrays, and the training split's normalisation statistics, in one pass.

Every source (CSV, image folder, MNIST, demo) hands over its examples as consecutive blocks of
rows, in order, plus labels, ids and the split indices. Each block is cut up among the splits and
appended to their `.npy` files, whose headers are written first (the counts are known), and the
training rows update the statistics on the way. Nothing is memory-mapped and nothing is read
twice, so memory stays at one block whatever the size of the data.
"""
import json

import numpy as np
from numpy.lib import format as npy

from nnrun.atomic import save_npy

BLOCK_BYTES = 2 << 20


def blocks_of(array, block_bytes=BLOCK_BYTES):
    """Consecutive row blocks of an in-memory (or memory-mapped) array."""
    step = block_rows(array.shape[1:], array.dtype, block_bytes)
    for start in range(0, len(array), step):
        yield array[start:start + step]


def block_rows(row_shape, dtype, block_bytes=BLOCK_BYTES):
    row = max(1, int(np.prod(row_shape)) * np.dtype(dtype).itemsize)
    return max(1, block_bytes // row)


def write_splits(folder, blocks, *, shape, dtype, labels, ids, splits, classes, statistics=None):
    """Write NAME.x.npy, NAME.y.npy (when labelled) and NAME.ids.json for each split.

    `blocks` yields all `shape[0]` examples' rows in order; `splits` maps a split name to the
    sorted indices of its examples (examples in no split, like unreadable images, are dropped);
    `statistics` ("table" or "images") says which normalisation to compute on the train split.
    Returns ({name: manifest entry}, statistics or None).
    """
    total = shape[0]
    owner = np.full(total, -1, np.int16)
    names = list(splits)
    for k, name in enumerate(names):
        owner[np.asarray(splits[name], dtype=np.int64)] = k
    stats = {"table": TableStatistics, "images": ImageStatistics}[statistics]() if statistics else None
    files = []
    try:
        for name in names:
            f = open(folder / f"{name}.x.npy", "wb")
            files.append(f)
            npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                                           "shape": (len(splits[name]), *shape[1:])})
        start = 0
        for block in blocks:
            block = np.asarray(block, dtype=dtype)
            who = owner[start:start + len(block)]
            for k, name in enumerate(names):
                rows = np.ascontiguousarray(block[who == k])
                files[k].write(rows.tobytes())
                if stats is not None and name == "train":
                    stats.add(rows)
            start += len(block)
        if start != total:
            raise RuntimeError(f"expected {total} rows, got {start}")
    finally:
        for f in files:
            f.close()
    entries = {name: _finish_split(folder, name, splits[name], labels, ids, classes) for name in names}
    return entries, (stats.result() if stats is not None and "train" in splits else None)


def _finish_split(folder, name, index, labels, ids, classes):
    index = np.asarray(index, dtype=np.int64)
    entry = {"count": int(len(index)), "x": f"{name}.x.npy"}
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)[index]
        with open(folder / f"{name}.y.npy", "wb") as f:
            save_npy(f, y)
        entry["y"] = f"{name}.y.npy"
        counts = np.bincount(y, minlength=len(classes))
        entry["class-counts"] = {c: int(k) for c, k in zip(classes, counts)}
    with open(folder / f"{name}.ids.json", "w") as f:
        json.dump([str(ids[i]) for i in index], f)
    entry["ids"] = f"{name}.ids.json"
    return entry


class TableStatistics:
    """Per-feature mean and population std, merged block by block in float64 (Chan et al.), so
    the result is as accurate as two passes over the data."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, rows):
        if len(rows) == 0:
            return
        rows = rows.astype(np.float64)
        n, mean = len(rows), rows.mean(axis=0)
        m2 = np.square(rows - mean).sum(axis=0)
        if self.n == 0:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        delta = mean - self.mean
        total = self.n + n
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.n * n / total)
        self.n = total

    def result(self):
        if self.n == 0:
            return None
        return {"mean": self.mean.tolist(), "std": np.sqrt(self.m2 / self.n).tolist()}


class ImageStatistics:
    """Per-channel mean and std of uint8 [N, C, H, W] images, in 0..255 pixel units, from exact
    integer sums of pixels and of their squares (independent of block size and order)."""

    def __init__(self):
        self.n, self.sums, self.squares = 0, None, None

    def add(self, rows):
        if len(rows) == 0:
            return
        if self.sums is None:
            self.sums, self.squares = [0] * rows.shape[1], [0] * rows.shape[1]
        step = max(1, (1 << 18) // max(1, rows[0].size))  # int64 temporaries of ~2 MB
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            for c in range(rows.shape[1]):
                plane = part[:, c].astype(np.int64)
                self.sums[c] += int(plane.sum())
                self.squares[c] += int(np.square(plane).sum())
            self.n += part[:, 0].size

    def result(self):
        if not self.n:
            return None
        n = self.n
        mean = [s / n for s in self.sums]
        std = [((q * n - s * s) / (n * n)) ** 0.5 for s, q in zip(self.sums, self.squares)]
        return {"mean": mean, "std": std}
