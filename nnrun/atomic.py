"""Files that appear whole or not at all: written beside their place, renamed into it."""
import os
import tempfile
from contextlib import contextmanager

from nnrun.errors import UserError


@contextmanager
def atomic_file(path, mode="w", newline=""):
    """Open a temporary file beside `path` for writing (mode "w" text, "wb" bytes); it replaces
    `path` only when the block finishes without an error, and is removed otherwise."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{path}: the folder {folder} does not exist")
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    try:
        text = {"newline": newline, "encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
