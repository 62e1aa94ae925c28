"""Rules about input files that `prepare`, `infer` and `kaggle-submit` share: which files are
CSV tables and which images, and the natural order of names and ids."""
import os
import re

from nnrun.data.prepare_decode import EXTENSIONS as IMAGE_EXTENSIONS
from nnrun.errors import UserError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
COMPRESSED = ("", ".gz", ".bz2", ".xz", ".zip")


def csv_separator(path):
    """',' or '\\t' for a .csv/.tsv file, optionally compressed (.gz .bz2 .xz .zip); else None."""
    name = os.fspath(path).lower()
    for compression in COMPRESSED:
        for suffix, sep in CSV_SUFFIXES.items():
            if name.endswith(suffix + compression):
                return sep
    return None


def is_image_file(path):
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS

_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_DIGITS = re.compile(r"(\d+)", flags=re.ASCII)


def id_order(ids):
    """Sort key for a list of ids: all numeric ids sort by value ("2" < "10" < "10.5"); otherwise
    natural order, numbers inside text by value ("img2" < "img10"), then the text itself."""
    if ids and all(_NUMBER.fullmatch(i.strip()) for i in ids):
        return lambda i: (float(i), i)
    return natural_key


def natural_key(text):
    """'img10' -> ['img', 10, ''], so embedded numbers compare by value; ties by the text."""
    parts = _DIGITS.split(text)
    return [int(p) if k % 2 else p.lower() for k, p in enumerate(parts)], text


def sort_ids(ids):
    """The ids in their natural order (see id_order)."""
    ids = list(ids)
    return sorted(ids, key=id_order(ids))


def check_unique(ids, where, name=lambda i: i):
    """UserError naming the first id that appears twice; `name(position)` says where each came from."""
    seen = {}
    for position, value in enumerate(ids):
        if value in seen:
            raise UserError(f'{where}: id "{value}" is not unique ({name(seen[value])} and {name(position)})')
        seen[value] = position
