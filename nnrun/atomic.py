"""Files and folders that appear whole or not at all: written beside their place, renamed into it."""
import errno
import os
import shutil
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


@contextmanager
def atomic_folder(path, option=None):
    """A new folder at `path` (which may exist only as an empty folder): the block fills a
    temporary folder beside it, whose path it gets, and that folder becomes `path` only when the
    block finishes without an error; it is removed otherwise. `option` names the command-line
    option that gave `path`, for the messages."""
    path = os.fspath(path)
    where = f"{option} {path}" if option else path
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise UserError(f"{where}: already exists and is not an empty folder")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"{where}: the folder {parent} does not exist")
    try:
        temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=parent)
    except OSError as problem:
        raise os_problem(problem, path) from None
    try:
        yield temporary
        if os.path.isdir(path):
            os.rmdir(path)
        os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
