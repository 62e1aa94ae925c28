"""`nnrun prepare images`: a folder of images -> a prepared image dataset.

SRC is read in one of three layouts:
- class folders: SRC/<class>/**/<image>; the classes are the folder names;
- flat and labelled: SRC/<image>, the label taken from the file name by a regular expression
  (default: the text before the first dot, as in Kaggle's cat.123.jpg);
- flat and unlabelled (--unlabelled): every image kept with its id (the file stem), in order.
Items are taken in natural order of their paths (cat.2.jpg before cat.10.jpg; 2.jpg before
10.jpg), so ids of an unlabelled set come out in numeric order, as Kaggle submissions want.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnrun.data.files import IMAGE_EXTENSIONS, check_unique, natural_key
from nnrun.data.prepare.arrays import write_splits
from nnrun.data.prepare.image_cache import decode_all
from nnrun.data.prepare.manifest import file_sha256, folder_source, manifest
from nnrun.data.prepare.output import CACHE, prepare_into
from nnrun.data.prepare.png import write_png_tree
from nnrun.data.prepare.split import class_names, require_two_classes, stratified_split
from nnrun.errors import UserError

DEFAULT_LABEL_PATTERN = r"^([^.]+)\."
IGNORED = {"thumbs.db", "desktop.ini"}
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHOWN = 10  # unreadable files named in a message; the manifest lists them all


@dataclass
class ImageOptions:
    size: int
    channels: int = 3
    label_pattern: str = None
    unlabelled: bool = False
    test_size: object = 0.2
    validation_size: object = 0
    png: bool = False
    seed: int = 0

    def as_manifest(self, layout):
        return {"source": "images", "layout": layout, "size": self.size, "channels": self.channels,
                "label-pattern": self.label_pattern, "unlabelled": self.unlabelled,
                "test-size": self.test_size, "validation-size": self.validation_size,
                "png": self.png, "seed": self.seed}


@dataclass
class Item:
    path: Path    # the file
    name: str     # its path relative to SRC, with "/"
    label: str    # None when unlabelled
    id: str       # what ids.json records: the relative path, or the file stem when unlabelled


def prepare_images(src, out, options, *, command, warn, note=None, force=False, strict=False, jobs=1,
                   quiet=False):
    """Prepare OUT from the images in SRC; the manifest, or None when OUT was up to date.

    `warn(message)` hears about skipped images, `note(message)` about resuming."""
    src = Path(src)
    if Path(out).resolve().is_relative_to(src.resolve()):
        raise UserError(f"{out} is inside {src}: put the prepared dataset somewhere else")
    items, layout = scan(src, options)
    recipe = options.as_manifest(layout)

    def sources():
        return [folder_source(src, {item.name: _sha256_or_none(item.path) for item in items}, _sizes(items))]

    def make(folder):
        decoded = decode_all([item.path for item in items], options.size, options.channels,
                             folder / CACHE, jobs, quiet, note)
        skipped = _skipped(src, items, decoded.problems, strict, warn)
        readable = np.array([i for i in range(len(items)) if i not in decoded.problems], dtype=np.int64)
        classes, labels, splits = _splits(src, items, readable, options)
        entries, stats = write_splits(
            folder, decoded.blocks(), shape=(len(items), options.channels, options.size, options.size),
            dtype=np.uint8, labels=labels, ids=[item.id for item in items], splits=splits, classes=classes,
            statistics="images")
        if options.png:
            write_png_tree(folder, entries, classes, jobs, quiet)
        source = folder_source(src, dict(zip((item.name for item in items), decoded.sha256)), _sizes(items))
        return manifest("images", classes=classes, splits=entries, sources=[source], options=recipe,
                        seed=options.seed, command=command, normalisation=stats,
                        image={"size": options.size, "channels": options.channels},
                        labelled=not options.unlabelled, skipped=skipped)

    return prepare_into(out, options=recipe, sources=sources, force=force, make=make)


def _skipped(src, items, problems, strict, warn):
    """The manifest's list of unreadable files; a warning naming them, or an error if strict."""
    skipped = [{"path": items[i].name, "reason": reason} for i, reason in sorted(problems.items())]
    if skipped:
        shown = "; ".join(f"{s['path']} ({s['reason']})" for s in skipped[:SHOWN])
        more = f"; and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
        if strict:
            raise UserError(f"{src}: {len(skipped)} unreadable image(s) (--strict): {shown}{more}")
        warn(f"skipped {len(skipped)} unreadable image(s) in {src} (listed in the manifest): {shown}{more}")
    return skipped


def _splits(src, items, readable, options):
    """(classes, labels of all items or None, {split: item indices}) for the readable items."""
    if len(readable) == 0:
        raise UserError(f"{src}: none of the {len(items)} images could be read")
    if options.unlabelled:
        return [], None, {"test": readable}
    classes, index = class_names({items[i].label for i in readable})
    require_two_classes(classes, str(src))
    labels = np.array([index.get(item.label, -1) for item in items], dtype=np.int64)
    within = stratified_split(labels[readable], classes, options.test_size, options.validation_size, options.seed)
    return classes, labels, {name: readable[positions] for name, positions in within.items()}


def scan(src, options):
    """The items of SRC in natural order, and the layout's name; UserError for anything odd."""
    entries = sorted((e for e in src.iterdir() if _visible(e.name)), key=lambda e: natural_key(e.name))
    folders = [e for e in entries if e.is_dir()]
    files = [e for e in entries if not e.is_dir()]
    if not entries:
        raise UserError(f"{src} is empty: no images to prepare")
    if options.unlabelled:
        if folders:
            raise UserError(f"{src} has folders ({folders[0].name}/ ...); --unlabelled expects the images "
                            f"themselves, flat, named by their ids (1.jpg, 2.jpg, ...)")
        _check_extensions(src, files)
        items = [Item(f, f.name, None, f.stem) for f in files]
        check_unique([item.id for item in items], str(src), name=lambda i: items[i].name)
        return items, "flat, unlabelled"
    if folders:
        if options.label_pattern is not None:
            raise UserError(f"--label-pattern is for flat folders, but {src} has class folders "
                            f"({folders[0].name}/ ...); the folder names are the labels")
        if files:
            raise UserError(f"{src} mixes class folders ({folders[0].name}/ ...) and loose files "
                            f"({files[0].name} ...); put every image in its class's folder")
        items = []
        for folder in folders:
            found = _files_under(folder)
            if not found:
                raise UserError(f"{folder} holds no images: every class folder needs some")
            _check_extensions(src, found)
            for f in found:
                name = f.relative_to(src).as_posix()
                items.append(Item(f, name, folder.name, name))
        return items, "class folders"
    _check_extensions(src, files)
    pattern = LabelPattern(options.label_pattern)
    items = []
    for f in files:
        label = pattern.label(f.name)
        if not label:
            raise UserError(f'{src / f.name}: no label in the file name by --label-pattern "{pattern.text}"'
                            + ("" if options.label_pattern else " (the text before the first dot)"))
        items.append(Item(f, f.name, label, f.name))
    if len({item.label for item in items}) == len(items) > 2:
        raise UserError(f"{src}: every file has a label of its own ({items[0].label}, {items[1].label}, ...); "
                        f"an unlabelled test set needs --unlabelled")
    return items, "flat, label from file name"


def _visible(name):
    return not name.startswith(".") and name.lower() not in IGNORED


def _files_under(folder):
    # not only regular files: a FIFO, socket or broken link among the images is listed as skipped
    found = [p for p in folder.rglob("*") if not p.is_dir()
             and all(_visible(part) for part in p.relative_to(folder).parts)]
    return sorted(found, key=lambda p: natural_key(p.relative_to(folder).as_posix()))


def _check_extensions(src, files):
    wrong = [f for f in files if f.suffix.lower() not in IMAGE_EXTENSIONS]
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        what = f'unknown extension "{wrong[0].suffix}"' if wrong[0].suffix else "no extension"
        raise UserError(f"{wrong[0]}: {what}{more}; images must be one of {' '.join(IMAGE_EXTENSIONS)}")


class LabelPattern:
    """A file name -> its label: the pattern's first group (or whole match) where it first matches.

    A user's --label-pattern runs on RE2, whose matching time is linear in the name's length
    whatever the pattern: on Python's re, '^(a+)+$' takes time exponential in the length of a
    name of a's that does not match, and `prepare images` hung. RE2's syntax is Python's less
    backreferences and lookaround (refused when compiled, in one line); its \\w, \\d and \\s
    are ASCII (\\pL is any letter). The default pattern is ours and stays on re."""

    def __init__(self, text=None):
        self.text = text or DEFAULT_LABEL_PATTERN
        if text is None:
            self.compiled = re.compile(DEFAULT_LABEL_PATTERN)
            return
        import re2

        options = re2.Options()
        options.log_errors = False  # RE2 would log the error on stderr too: it is said once, below
        try:
            self.compiled = re2.compile(text, options)
        except re2.error as problem:
            reason = problem.args[0] if problem.args else problem
            reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
            raise UserError(f'--label-pattern "{text}" is not a regular expression RE2 takes ({reason}); '
                            f"its syntax is Python's without backreferences and lookaround") from None

    def label(self, name):
        """The label in file name `name`, or None. A name with bytes that are not UTF-8 (held as
        lone surrogates) is matched with each such byte read as U+FFFD, one character for one,
        so the label's place in the name, and its bytes, are the name's own."""
        readable = _SURROGATES.sub("\ufffd", name)
        match = self.compiled.search(readable)
        if match is None:
            return None
        group = 1 if self.compiled.groups else 0
        start, end = match.span(group)
        return name[start:end] if start >= 0 else None


_SURROGATES = re.compile("[\ud800-\udfff]")


def _sizes(items):
    return {item.name: _size(item.path) for item in items}


def _size(path):
    try:
        return path.stat().st_size
    except OSError:  # a broken link: skipped when decoded, nothing read from it
        return 0


def _sha256_or_none(path):
    try:
        return file_sha256(path)
    except OSError:  # not a regular file, never opened in a blocking way; the decoder records
        return EMPTY_SHA256  # the digest of no bytes for it, so a rerun finds the same recipe
