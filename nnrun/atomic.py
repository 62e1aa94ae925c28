"""Files that appear whole or not at all: written beside their place, renamed into it."""
import errno
import os
import tempfile
from contextlib import contextmanager

from nnrun.errors import UserError, os_problem

# What writing the output can meet that is no bug: the disk or quota is full, the file system
# is read-only, or the file would be too large for it.
FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


@contextmanager
def atomic_file(path, mode="w", newline=""):
    """Open a temporary file beside `path` for writing (mode "w" text, "wb" bytes); it replaces
    `path` only when the block finishes without an error, and is removed otherwise."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{path}: the folder {folder} does not exist")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    except OSError as problem:  # a read-only or full folder: nothing was made
        raise os_problem(problem, path) from None
    try:
        text = {"newline": newline, "encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException as problem:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(problem, OSError) and problem.errno in FULL_OR_READ_ONLY:
            raise os_problem(problem, path) from None
        raise
