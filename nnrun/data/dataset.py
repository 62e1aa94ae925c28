"""Reading a prepared dataset (the folder `nnrun prepare` writes; docs/formats.md).

`open_dataset(path)` checks that the folder is complete and consistent before anything trusts
it: the manifest is there and of a format version we read, and every split's files exist with
the dtype, count and shape the manifest promises. It reads only `.npy` headers, so opening is
quick whatever the size; arrays are memory-mapped when asked for, and labels and ids are checked
when first loaded. Every problem is a `UserError` naming the folder or file.
"""
import json
import os
from pathlib import Path

import numpy as np

from nnrun.data.manifest_check import check_ids, check_manifest_fields
from nnrun.errors import UserError, did_you_mean

FORMAT = "nnrun-dataset"
VERSION = 1
MANIFEST = "dataset.json"
SPLIT_NAMES = ("train", "validation", "test")
KINDS = {"table": np.float32, "images": np.uint8}


def open_dataset(path):
    """The prepared dataset in folder `path`, checked; UserError when it is not one."""
    return PreparedDataset(path)


class PreparedDataset:
    """A prepared dataset: its manifest, and its splits' arrays on demand."""

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = _read_manifest(self.path)
        self._label_cache, self._id_cache = {}, {}
        self._finite = set()  # table splits whose features were found finite
        self._check_splits()

    def __repr__(self):
        counts = ", ".join(f"{name} {self.count(name)}" for name in self.split_names)
        return f"<PreparedDataset {self.path} {self.kind}: {counts}>"

    # ---- what the manifest says
    @property
    def kind(self):
        """"table" or "images"."""
        return self.manifest["kind"]

    @property
    def classes(self):
        """Class names in label order: label i means classes[i]. Empty for unlabelled sets."""
        return list(self.manifest["classes"])

    @property
    def labelled(self):
        return bool(self.manifest.get("labelled", True))

    @property
    def synthetic(self):
        return bool(self.manifest.get("synthetic", False))

    @property
    def features(self):
        """Column names of a table's features, in order; None for images."""
        features = self.manifest.get("features")
        return list(features) if features is not None else None

    @property
    def encoding(self):
        """A table's encoding of raw rows (nnrun.data.table.encoding.TableEncoding); None for
        images and for tables prepared before encodings were stored (numbers only)."""
        value = self.manifest.get("encoding")
        if value is None:
            return None
        from nnrun.data.table.encoding import TableEncoding

        return TableEncoding.from_dict(value)

    @property
    def image(self):
        """{"size": S, "channels": C} for images (arrays are [N, C, S, S]); None for tables."""
        image = self.manifest.get("image")
        return dict(image) if image is not None else None

    @property
    def normalisation(self):
        """{"mean": [...], "std": [...]} of the training split (per feature, or per channel in
        0..255 pixel units); None when there is no training split (unlabelled sets)."""
        stats = self.manifest.get("normalisation")
        return {"mean": list(stats["mean"]), "std": list(stats["std"])} if stats else None

    @property
    def split_names(self):
        """The splits present, in the order train, validation, test."""
        return [name for name in SPLIT_NAMES if name in self.manifest["splits"]]

    def has_split(self, name):
        return name in self.manifest["splits"]

    def count(self, split):
        return int(self._split(split)["count"])

    def class_counts(self, split):
        """{class name: examples} of a labelled split."""
        return dict(self._split(split).get("class-counts") or {})

    # ---- the data
    def x(self, split):
        """Features float32 [N, F] or images uint8 [N, C, S, S], memory-mapped read-only."""
        x = self._load(split, "x", mmap=True)
        if self.kind == "table" and split not in self._finite:
            self._check_finite(split, x)
            self._finite.add(split)
        return x

    def y(self, split):
        """Labels int64 [N] (read-only), indices into `classes`."""
        entry = self._split(split)
        if "y" not in entry:
            raise UserError(f'{self.path}: split "{split}" is unlabelled (it has ids, no labels)')
        return self._labels(split)

    def ids(self, split):
        """Each example's id, in order: file names or stems for images, row ids for tables."""
        return list(self._ids(split))

    def keeps_ids(self, split):
        """Whether the split names an ids file: every split nnrun prepares does; a labelled split
        made by hand or by an older nnrun may not (its examples are then named by position)."""
        return "ids" in self._split(split)

    def ids_if_kept(self, split):
        """The split's ids, or None when it keeps none. A split that names an ids file which is
        missing or damaged (not JSON, an id twice, another count than the split's) is a UserError
        naming the file: never read as "no ids", which would put rows out without them."""
        return self.ids(split) if self.keeps_ids(split) else None

    # ---- checks
    def _split(self, name):
        splits = self.manifest["splits"]
        if name not in splits:
            raise UserError(f'{self.path} has no "{name}" split{did_you_mean(name, splits)}; '
                            f"it has {', '.join(self.split_names)}")
        return splits[name]

    def _file(self, split, role):
        name = self._split(split).get(role)
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise UserError(f'{self.path / MANIFEST}: split "{split}" names no valid "{role}" file')
        path = self.path / name
        if not path.is_file():
            raise UserError(f"{path} is missing: {self.path} is not a complete prepared dataset")
        return path

    def _load(self, split, role, mmap):
        path = self._file(split, role)
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as problem:
            raise UserError(f"{path} is not a readable .npy array ({problem})") from None

    def _check_splits(self):
        dtype = np.dtype(KINDS[self.kind])
        if self.kind == "table":
            tail = (len(self.features or []),)
        else:
            tail = (self.image["channels"], self.image["size"], self.image["size"])
        for split in self.split_names:
            entry = self._split(split)
            count = entry.get("count")
            if not isinstance(count, int) or count < 0:
                raise UserError(f'{self.path / MANIFEST}: split "{split}" has no valid count')
            x = self._load(split, "x", mmap=True)
            if x.dtype != dtype or x.shape != (count, *tail):
                raise UserError(
                    f"{self._file(split, 'x')} holds {x.dtype} {list(x.shape)}, but the manifest says "
                    f"{dtype} {[count, *tail]}")
            roles = ["y"] if self.labelled else []
            roles += ["ids"] if "ids" in entry or not self.labelled else []
            for role in roles:
                self._file(split, role)
            if "y" in roles:
                y = self._load(split, "y", mmap=True)
                if y.dtype != np.int64 or y.shape != (count,):
                    raise UserError(f"{self._file(split, 'y')} holds {y.dtype} {list(y.shape)}, "
                                    f"but the manifest says int64 [{count}]")

    def _check_finite(self, split, x):
        """`nnrun prepare` writes finite features only: a NaN or infinity in a table (an edited or
        damaged file) would become a NaN probability, and a class decided silently from it. One
        pass in blocks, once per split (a table of ten million rows by 30 features takes a second)."""
        step = max(1, (1 << 24) // max(1, x.shape[1]))
        for start in range(0, len(x), step):
            bad = ~np.isfinite(x[start:start + step])
            if bad.any():
                row, column = (int(i) for i in np.argwhere(bad)[0])
                features = self.features or []
                name = f'"{features[column]}"' if column < len(features) else str(column + 1)
                raise UserError(f'{self._file(split, "x")}: row {start + row + 1}, feature {name} is '
                                f"{x[start + row, column]}; a prepared table holds finite numbers only")

    def _labels(self, split):
        cache = self._label_cache
        if split not in cache:
            y = np.asarray(self._load(split, "y", mmap=False))
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise UserError(f"{self._file(split, 'y')} has labels outside 0..{len(self.classes) - 1}")
            y.setflags(write=False)  # shared by every caller: nobody may change it
            cache[split] = y
        return cache[split]

    def _ids(self, split):
        cache = self._id_cache
        if split not in cache:
            path = self._file(split, "ids")
            try:
                ids = json.loads(path.read_text())
            except (OSError, ValueError) as problem:
                raise UserError(f"{path} is not readable JSON ({problem})") from None
            cache[split] = check_ids(ids, path, self.count(split))
        return cache[split]


def _read_manifest(folder):
    if not folder.exists():
        raise UserError(f"{folder} does not exist{_partial_hint(folder)}")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a prepared dataset folder")
    path = folder / MANIFEST
    if not path.is_file():
        hint = _partial_hint(folder) or "; make one with `nnrun prepare`"
        raise UserError(f"{folder} is not a prepared dataset (no {MANIFEST}){hint}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as problem:
        raise UserError(f"{path} is not readable JSON ({problem})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f'{path} is not an nnrun dataset manifest (format should be "{FORMAT}")')
    version = manifest.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise UserError(f"{path} is format version {version}; this nnrun reads version {VERSION}"
                        + ("; upgrade nnrun" if newer else ""))
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise UserError(f'{path}: kind "{kind}" should be one of {", ".join(KINDS)}')
    problems = []
    if not isinstance(manifest.get("classes"), list):
        problems.append("classes")
    if not isinstance(manifest.get("splits"), dict) or not manifest["splits"]:
        problems.append("splits")
    elif set(manifest["splits"]) - set(SPLIT_NAMES):
        problems.append("splits (unknown name)")
    if kind == "table" and not isinstance(manifest.get("features"), list):
        problems.append("features")
    image = manifest.get("image")
    if kind == "images" and not (isinstance(image, dict) and isinstance(image.get("size"), int)
                                 and isinstance(image.get("channels"), int)):
        problems.append("image")
    if problems:
        raise UserError(f"{path}: missing or invalid {', '.join(problems)}")
    check_manifest_fields(manifest, path, [name for name in SPLIT_NAMES if name in manifest["splits"]])
    return manifest


def partial_path(out):
    """Where `nnrun prepare` builds OUT until it is complete: the sibling folder OUT.partial."""
    out = Path(os.path.abspath(out))
    return out.with_name(out.name + ".partial")


def _partial_hint(folder):
    partial = partial_path(folder)
    if partial.exists():
        return (f"; {partial} is an unfinished `nnrun prepare` (interrupted?): run the same "
                f"command again to finish it")
    return ""
