"""`nnrun prepare demo`: small synthetic datasets, the same for the same seed on any machine.

They exist so the README's first commands and the tests run without downloading anything, and
their manifests say `"synthetic": true`.

- fraud: a table shaped like the credit-card fraud data (V1..V28 with decreasing spreads like
  principal components, and a skewed Amount), 1% positives: 200 of the default 20,000 rows, so
  the validation and test splits hold 40 each, enough for an F1 one can believe. Positives are
  shifted in a handful of features (as real frauds are in V10, V12, V14, V17), so a small MLP
  learns them.
- shapes: circles, squares and triangles drawn at random places, sizes and angles on a noisy
  background, grayscale or colour.
"""
import numpy as np
from PIL import Image, ImageDraw

from nnrun.data.prepare.arrays import blocks_of, write_splits
from nnrun.data.prepare.manifest import manifest
from nnrun.data.prepare.output import prepare_into
from nnrun.data.prepare.png import write_png_tree
from nnrun.data.prepare.split import stratified_split
from nnrun.errors import UserError
from nnrun.network.memory import machine_memory, size_text

FRAUD_RATE = 0.01
# feature -> shift of the positives' mean, in units of that feature's spread
FRAUD_SHIFTS = {"V3": -2.5, "V4": 2.0, "V10": -3.0, "V11": 2.0, "V12": -3.0, "V14": -3.5, "V16": -2.0,
                "V17": -3.0}
SHAPES = ["circle", "square", "triangle"]
SUPERSAMPLE = 4  # shapes are drawn this many times larger, then scaled down: smooth edges


def fraud_table(rows, seed):
    """(features float32 [rows, 29], labels int64 [rows] with 1 = fraud, feature names)."""
    rng = np.random.default_rng(seed)
    names = [f"V{i}" for i in range(1, 29)] + ["Amount"]
    spread = np.linspace(2.0, 0.3, 28)
    positives = max(6, int(round(rows * FRAUD_RATE)))
    labels = np.zeros(rows, np.int64)
    labels[:positives] = 1
    labels = rng.permutation(labels)
    x = rng.standard_normal((rows, 28)) * spread
    fraud = labels == 1
    shift = np.array([FRAUD_SHIFTS.get(name, 0.0) for name in names[:28]]) * spread
    x[fraud] = x[fraud] * 1.5 + shift
    amount = np.where(fraud, rng.lognormal(2.5, 1.5, rows), rng.lognormal(3.5, 1.2, rows))
    features = np.column_stack([x, np.round(amount, 2)]).astype(np.float32)
    return features, labels, names


def shape_images(count, size, channels, seed):
    """(images uint8 [count, channels, size, size], labels int64 [count]): shape i % 3."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % len(SHAPES)
    images = np.empty((count, channels, size, size), np.uint8)
    big = size * SUPERSAMPLE
    mode = "L" if channels == 1 else "RGB"
    for i, label in enumerate(labels):
        background, foreground = _colours(rng, channels)
        canvas = Image.new(mode, (big, big), background)
        radius = rng.uniform(0.22, 0.4) * big
        centre = rng.uniform(radius, big - radius, 2)
        angle = rng.uniform(0, 360)
        draw = ImageDraw.Draw(canvas)
        if SHAPES[label] == "circle":
            squash = rng.uniform(0.85, 1.0)
            draw.ellipse([centre[0] - radius, centre[1] - radius * squash,
                          centre[0] + radius, centre[1] + radius * squash], fill=foreground)
        else:
            sides = 4 if SHAPES[label] == "square" else 3
            draw.regular_polygon((float(centre[0]), float(centre[1]), float(radius)), sides,
                                 rotation=float(angle), fill=foreground)
        small = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float64)
        noisy = small + rng.normal(0, 12, small.shape)
        pixels = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        images[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return images, labels


def prepare_demo_fraud(out, *, rows=20_000, test_size=0.2, validation_size=0.2, seed=0, command, force=False):
    options = {"source": "demo fraud", "rows": rows, "test-size": test_size,
               "validation-size": validation_size, "seed": seed}

    def make(folder):
        x, y, names = fraud_table(rows, seed)
        classes = ["0", "1"]
        splits = stratified_split(y, classes, test_size, validation_size, seed)
        entries, stats = write_splits(folder, blocks_of(x), shape=x.shape, dtype=np.float32, labels=y,
                                      ids=range(1, rows + 1), splits=splits, classes=classes, statistics="table")
        return manifest("table", classes=classes, splits=entries, sources=[], options=options, seed=seed,
                        command=command, features=names, normalisation=stats, synthetic=True)

    return prepare_into(out, options=options, sources=list, force=force, make=make)


def prepare_demo_shapes(out, *, count=3000, size=28, channels=1, test_size=0.2, validation_size=0.2, png=False,
                        seed=0, command, force=False, jobs=1, quiet=False):
    options = {"source": "demo shapes", "count": count, "size": size, "channels": channels,
               "test-size": test_size, "validation-size": validation_size, "png": png, "seed": seed}
    # the images are drawn into one array: refused now, not by numpy's MemoryError half way
    need, memory = count * channels * size * size, machine_memory()
    if memory and need > memory:
        raise UserError(f"--count {count} --size {size} --channels {channels}: the images need {size_text(need)} "
                        f"of memory; this machine has {size_text(memory)}")

    def make(folder):
        x, y = shape_images(count, size, channels, seed)
        splits = stratified_split(y, SHAPES, test_size, validation_size, seed)
        ids = [f"{SHAPES[label]}-{i}" for i, label in enumerate(y)]
        entries, stats = write_splits(folder, blocks_of(x), shape=x.shape, dtype=np.uint8, labels=y, ids=ids,
                                      splits=splits, classes=SHAPES, statistics="images")
        if png:
            write_png_tree(folder, entries, SHAPES, jobs, quiet)
        return manifest("images", classes=SHAPES, splits=entries, sources=[], options=options, seed=seed,
                        command=command, image={"size": size, "channels": channels}, normalisation=stats,
                        synthetic=True)

    return prepare_into(out, options=options, sources=list, force=force, make=make)


def _colours(rng, channels):
    """Background and foreground that contrast: dark on light or light on dark."""
    dark = rng.integers(0, 90, channels)
    light = rng.integers(165, 256, channels)
    if rng.random() < 0.5:
        dark, light = light, dark
    as_colour = (lambda c: int(c[0])) if channels == 1 else (lambda c: tuple(int(v) for v in c))
    return as_colour(dark), as_colour(light)
