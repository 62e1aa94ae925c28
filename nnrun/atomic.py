"""Files and folders that appear whole or not at all: written beside their place, renamed into it."""
import errno
import os
import secrets
import shutil
from contextlib import contextmanager

from nnrun.errors import UserError, os_problem

# What writing the output can meet that is no bug: the disk or quota is full, the file system
# is read-only, or the file would be too large for it.
FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation below Python's own


@contextmanager
def atomic_file(path, mode="w", newline=""):
    """Open a temporary file beside `path` for writing (mode "w" text, "wb" bytes); it replaces
    `path` only when the block finishes without an error, and is removed otherwise. The data and
    the rename reach the disk before the block returns (a power cut leaves the old file or the
    new one), and the file's permissions are those of any new file (the umask's)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{path}: the folder {folder} does not exist")
    try:
        temporary, fd = _beside(folder, os.path.basename(path),
                                lambda name: os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o666))
    except OSError as problem:  # a read-only or full folder: nothing was made
        raise os_problem(problem, path) from None
    try:
        text = {"newline": newline, "encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except BaseException as problem:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(problem, OSError) and problem.errno in FULL_OR_READ_ONLY:
            raise os_problem(problem, path) from None
        raise


def save_npy(f, array):
    """np.save into the open binary file `f`, through its own write(): numpy writes to a real file
    with tofile(), which reports a full disk as "N requested and M written", without the error
    number that makes it the one line naming the path and "No space left on device"."""
    import numpy as np

    class Writes:  # not a file to numpy: it writes the array in chunks through write()
        write = f.write

    np.save(Writes(), array)


def refuse_overwriting(path, inputs, option="-o"):
    """UserError when the output `path` is one of `inputs` (the same file by any name): the
    atomic rename would replace the model or the data being read with what was made of it."""
    if path is None or not os.path.exists(path):
        return
    for source in inputs:
        try:
            same = source is not None and os.path.samefile(path, source)
        except OSError:  # an input that is not there is reported by its reader
            continue
        if same:
            raise UserError(f"{option} {path}: is the input {source}; write the output to another file")


def _beside(folder, name, create):
    """(path, create(path)) for a new `.NAME.XXXX.partial` in `folder`; `create` must fail with
    FileExistsError on a taken name. Made with the mode the umask gives any new file or folder:
    tempfile's 0600 files and 0700 folders would stay unreadable to other users and tools once
    renamed into place."""
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.partial")
        try:
            return temporary, create(temporary)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}")


def _fsync_folder(folder):
    """Make a rename in `folder` durable; where folders cannot be opened (Windows) it is skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

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
        temporary, _ = _beside(parent, os.path.basename(path), lambda name: os.mkdir(name, 0o777))
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
