"""The browsable PNG tree of Cortex's examples, written from a prepared dataset's arrays.

    png/training/<label>/N.png     N is the image's position in the split's arrays, so a
    png/validation/<label>/N.png   picture can be matched with predictions on that split
    png/testing/<label>/N.png      (unlabelled sets: png/testing/<id>.png)
"""
import json
import os

import numpy as np

from nnrun.data.decode import stored_image
from nnrun.data.prepare.pool import run_tasks
from nnrun.progress import bar

FOLDERS = {"train": "training", "validation": "validation", "test": "testing"}
BATCH = 256


def write_png_tree(folder, splits, classes, jobs, quiet=False):
    """PNG files for every split written in `folder` (entries as in the manifest's "splits")."""
    tasks = []
    for name, entry in splits.items():
        target = folder / "png" / FOLDERS[name]
        if "y" in entry:
            for label in classes:
                (target / label).mkdir(parents=True, exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
        for start in range(0, entry["count"], BATCH):
            tasks.append((str(folder), name, entry, classes, start, min(entry["count"], start + BATCH)))
    with bar(sum(entry["count"] for entry in splits.values()), "png", quiet) as progress:
        run_tasks(_write_batch, tasks, jobs, progress.update)


def _write_batch(folder, name, entry, classes, start, stop):
    x = np.load(os.path.join(folder, entry["x"]), mmap_mode="r")
    labels = np.load(os.path.join(folder, entry["y"]), mmap_mode="r") if "y" in entry else None
    ids = None
    if labels is None:
        with open(os.path.join(folder, entry["ids"])) as f:
            ids = json.load(f)
    target = os.path.join(folder, "png", FOLDERS[name])
    for i in range(start, stop):
        image = stored_image(x[i])
        if labels is None:
            path = os.path.join(target, f"{ids[i]}.png")
        else:
            path = os.path.join(target, classes[labels[i]], f"{i}.png")
        image.save(path)
    return stop - start
