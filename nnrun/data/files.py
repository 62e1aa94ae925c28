"""Rules about input files that `prepare`, `infer` and `kaggle-submit` share: which files are
CSV tables and which images, and the natural order of names and ids."""
import errno
import os
import re
import stat

from nnrun.errors import UserError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
# the image files nnrun reads: what Pillow decodes that photo and scan folders hold
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
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


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def not_regular(path):
    """None for a regular file (or a link to one); else what the path is instead, in words
    ("a broken symbolic link", "a named pipe (FIFO)", ...), for a skip list or a message."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "no such file"
    except OSError as problem:
        if problem.errno == errno.ELOOP:  # a link to itself, or links in a circle
            return "a loop of symbolic links"
        return f"cannot be read ({problem.strerror or problem})"
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular(path):
    """`path` opened for reading bytes, if it is a regular file; OSError (its strerror says what
    the path is) otherwise. Opened non-blocking, so a named pipe can never make a reader wait for
    a writer that does not come; a device is never read endlessly."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as problem:
        raise OSError(problem.errno, not_regular(path) or problem.strerror, os.fspath(path)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, not_regular(path) or "not a regular file", os.fspath(path))
    return os.fdopen(fd, "rb")


def read_regular(path):
    """The bytes of the regular file `path` (see open_regular)."""
    with open_regular(path) as f:
        return f.read()
