"""`nnrun prepare mnist`: the four IDX files of MNIST -> a prepared image dataset.

IDX (LeCun's format): a big-endian header (two zero bytes, a type byte 0x08 = uint8, the number
of dimensions, then each dimension as a big-endian int32) followed by the data. Files may be
gzipped or raw, and named with a dot or a dash (train-images.idx3-ubyte, train-images-idx3-ubyte).

The splits are MNIST's own: train from the training files and test from t10k. The validation
split is the LAST N training images, not a random sample, as in the from-scratch network
(train = first 50,000, validation = last 10,000).
"""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from nnrun.data.prepare.arrays import blocks_of, write_splits
from nnrun.data.prepare.manifest import file_source, manifest
from nnrun.data.prepare.output import prepare_into
from nnrun.data.prepare.png import write_png_tree
from nnrun.data.prepare.split import size_to_count
from nnrun.errors import UserError
from nnrun.network.memory import machine_memory, size_text

FILES = {
    "train-images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train-labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test-images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test-labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
CLASSES = [str(digit) for digit in range(10)]


def find_files(directory):
    """{role: path} of the four files in DIR (gzipped or raw); UserError naming what is missing."""
    directory = Path(directory)
    found, missing = {}, []
    for role, names in FILES.items():
        candidates = [directory / (name + ext) for name in names for ext in (".gz", "")]
        present = [path for path in candidates if path.is_file()]
        if present:
            found[role] = present[0]
        else:
            missing.append(names[0] + "[.gz]")
    if missing:
        raise UserError(f"{directory} lacks the MNIST file{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return found


def read_idx(path, dimensions):
    """The array in an IDX file of uint8 data with `dimensions` dimensions. The header is read
    first and the data only as far as it says, so a file whose header (or a gzip "bomb" behind
    it) claims more than this machine's memory is refused before anything that size is read."""
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as f:
            header = f.read(4)
            if len(header) < 4:
                raise UserError(f"{path} is too short for an IDX header ({len(header)} bytes)")
            magic = int.from_bytes(header, "big")
            expected = 0x0800 | dimensions
            if magic != expected:
                raise UserError(f"{path} is not an IDX file of {dimensions}-d uint8 data "
                                f"(magic number 0x{magic:08x}, want 0x{expected:08x})")
            sizes = f.read(4 * dimensions)
            if len(sizes) < 4 * dimensions:
                raise UserError(f"{path} is too short for an IDX header ({4 + len(sizes)} bytes)")
            shape = tuple(int.from_bytes(sizes[4 * i:4 * i + 4], "big") for i in range(dimensions))
            size = math.prod(shape)  # Python's integers: four dimensions of 2**32 do not wrap
            memory = machine_memory()
            if memory and size > memory:
                raise UserError(f"{path}: its header says {' x '.join(map(str, shape))} = {size:,} bytes, "
                                f"more than this machine's {size_text(memory)} of memory")
            data = f.read(size)
            extra = len(f.read(1))
    except (OSError, EOFError, zlib.error) as problem:
        raise UserError(f"{path} cannot be read ({problem})") from None
    if len(data) != size or extra:
        raise UserError(f"{path} holds {'more than ' if extra else ''}{len(data):,} data bytes, but its header says "
                        f"{' x '.join(map(str, shape))} = {size:,}" + ("" if extra else " (truncated?)"))
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def prepare_mnist(directory, out, *, validation_size=0, png=False, seed=0, command, force=False, jobs=1,
                  quiet=False):
    """Prepare OUT from MNIST's files in DIR; the manifest, or None when OUT was up to date."""
    files = find_files(directory)
    options = {"source": "mnist", "validation-size": validation_size, "png": png, "seed": seed}

    def make(folder):
        images, labels = {}, {}
        for split in ("train", "test"):
            pixels = read_idx(files[f"{split}-images"], 3)
            digits = read_idx(files[f"{split}-labels"], 1)
            if len(pixels) != len(digits):
                raise UserError(f"{files[f'{split}-images']} has {len(pixels)} images but "
                                f"{files[f'{split}-labels']} has {len(digits)} labels")
            if digits.size and digits.max() > 9:
                raise UserError(f"{files[f'{split}-labels']} has a label {digits.max()}, not a digit")
            if pixels.shape[1] != pixels.shape[2] or pixels.shape[1] == 0:
                raise UserError(f"{files[f'{split}-images']} holds {pixels.shape[1]}x{pixels.shape[2]} images; "
                                f"prepared images are square, of at least 1x1 pixels")
            if split == "test" and pixels.shape[1:] != images["train"].shape[1:]:
                raise UserError(f"{files['test-images']} holds {pixels.shape[1]}x{pixels.shape[2]} images, but "
                                f"{files['train-images']} holds {images['train'].shape[1]}x"
                                f"{images['train'].shape[2]}: one dataset has one image size")
            images[split], labels[split] = pixels, digits
        n_train = len(images["train"])
        n_val = size_to_count(validation_size, n_train, "--validation-size")
        if n_val >= n_train:
            raise UserError(f"--validation-size {validation_size} leaves no training images of {n_train}")
        everything = np.concatenate([images["train"], images["test"]])[:, None, :, :]
        y = np.concatenate([labels["train"], labels["test"]]).astype(np.int64)
        ids = [f"train:{i}" for i in range(n_train)] + [f"test:{i}" for i in range(len(images["test"]))]
        splits = {"train": np.arange(n_train - n_val)}
        if n_val:
            splits["validation"] = np.arange(n_train - n_val, n_train)
        splits["test"] = np.arange(n_train, len(y))
        entries, stats = write_splits(folder, blocks_of(everything), shape=everything.shape, dtype=np.uint8,
                                      labels=y, ids=ids, splits=splits, classes=CLASSES, statistics="images")
        if png:
            write_png_tree(folder, entries, CLASSES, jobs, quiet)
        return manifest("images", classes=CLASSES, splits=entries, sources=_sources(files), options=options,
                        seed=seed, command=command, normalisation=stats,
                        image={"size": everything.shape[2], "channels": 1})

    return prepare_into(out, options=options, sources=lambda: _sources(files), force=force, make=make)


def _sources(files):
    return [file_source(files[role]) for role in FILES]
