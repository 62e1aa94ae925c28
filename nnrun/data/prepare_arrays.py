"""Writing the splits' arrays, and the training split's normalisation statistics.

Each source (CSV, image folder, MNIST, demo) hands over all its examples as one indexable array
(`x_all[index_array]` gives rows in that order), their labels and ids, and the split indices.
The splits are copied out block by block, so memory stays bounded by one block whatever the size.
"""
import json

import numpy as np
from numpy.lib.format import open_memmap

BLOCK_BYTES = 32 << 20


def write_split(folder, name, x_all, index, labels, ids, classes):
    """Write NAME.x.npy, NAME.y.npy (labelled) and NAME.ids.json; return the manifest entry."""
    index = np.asarray(index, dtype=np.int64)
    x = open_memmap(folder / f"{name}.x.npy", mode="w+", dtype=x_all.dtype,
                    shape=(len(index), *x_all.shape[1:]))
    for start, stop in _blocks(len(index), x_all):
        x[start:stop] = x_all[index[start:stop]]
    x.flush()
    del x
    entry = {"count": int(len(index)), "x": f"{name}.x.npy"}
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)[index]
        np.save(folder / f"{name}.y.npy", y)
        entry["y"] = f"{name}.y.npy"
        counts = np.bincount(y, minlength=len(classes))
        entry["class-counts"] = {c: int(k) for c, k in zip(classes, counts)}
    with open(folder / f"{name}.ids.json", "w") as f:
        json.dump([str(ids[i]) for i in index], f)
    entry["ids"] = f"{name}.ids.json"
    return entry


def write_splits(folder, x_all, labels, ids, splits, classes):
    """write_split for each of {name: indices}; returns {name: manifest entry}."""
    return {name: write_split(folder, name, x_all, index, labels, ids, classes)
            for name, index in splits.items()}


def table_statistics(x):
    """Per-feature mean and (population) standard deviation, in float64, two passes in blocks."""
    n = len(x)
    total = np.zeros(x.shape[1], np.float64)
    for start, stop in _blocks(n, x):
        total += x[start:stop].sum(axis=0, dtype=np.float64)
    mean = total / max(n, 1)
    squares = np.zeros_like(mean)
    for start, stop in _blocks(n, x):
        squares += np.square(x[start:stop].astype(np.float64) - mean).sum(axis=0)
    std = np.sqrt(squares / max(n, 1))
    return {"mean": mean.tolist(), "std": std.tolist()}


def image_statistics(x):
    """Per-channel mean and std of uint8 [N, C, H, W] images, in 0..255 pixel units.

    Sums of pixels and of their squares are kept as exact integers, so the result does not
    depend on the block size or on the order of the images.
    """
    channels = x.shape[1]
    total = [0] * channels
    squares = [0] * channels
    for start, stop in _blocks(len(x), x):
        block = np.asarray(x[start:stop])
        for c in range(channels):
            plane = block[:, c].astype(np.int64)
            total[c] += int(plane.sum())
            squares[c] += int(np.square(plane).sum())
    n = len(x) * x.shape[2] * x.shape[3]
    if n == 0:
        return {"mean": [0.0] * channels, "std": [0.0] * channels}
    mean = [t / n for t in total]
    std = [((s * n - t * t) / (n * n)) ** 0.5 for t, s in zip(total, squares)]
    return {"mean": mean, "std": std}


def _blocks(n, like):
    row = max(1, int(np.prod(like.shape[1:])) * np.dtype(like.dtype).itemsize)
    step = max(1, BLOCK_BYTES // row)
    for start in range(0, n, step):
        yield start, min(n, start + step)
