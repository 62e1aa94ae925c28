"""The output folder's life: refuse to clobber, build aside, finish atomically.

A dataset is built in a sibling folder `OUT.partial/` and becomes `OUT/` by one rename, after its
manifest was written last. So at every instant `OUT/` is either absent, the user's previous
folder untouched, or complete; `train` can never mistake a half-made folder for a dataset.

- A run that fails removes `OUT.partial/` (and never touches a pre-existing `OUT/`).
- A run that is interrupted (Ctrl-C, kill) leaves `OUT.partial/` behind; whatever it holds
  under `cache/` (decoded images) is reused by the next run of a command, the rest is discarded.
- `OUT.partial/lock` is held (flock) while a run builds, so two runs cannot share a folder; the
  kernel drops the lock when its process dies, so a killed run never blocks the next one.
"""
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from nnrun.data.dataset import MANIFEST, partial_path
from nnrun.data.prepare.manifest import manifest_text
from nnrun.errors import UserError, os_problem

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; building aside is still atomic
    fcntl = None

CACHE = "cache"


def existing_manifest(out):
    """The manifest of a prepared dataset already at OUT, None when OUT is free to use.

    Free means absent or an empty folder. A folder with other things in it and no manifest is
    the user's and is refused even with --force: nnrun only ever replaces its own datasets.
    """
    out = Path(out)
    if not out.exists():
        return None
    if not out.is_dir():
        raise UserError(f"{out} exists and is a file; give a folder name for the prepared dataset")
    manifest = out / MANIFEST
    if not manifest.exists():
        if any(out.iterdir()):
            raise UserError(f"{out} exists, is not empty and holds no prepared dataset ({MANIFEST}); "
                            f"choose another folder or remove it")
        return None
    try:
        return json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}  # a broken dataset of ours: different from anything, --force replaces it


def same_recipe(manifest, options, sources):
    """Was the dataset made with these options from sources with these checksums?"""
    def key(entries):
        return sorted((s.get("path"), s.get("sha256")) for s in entries or [])
    return manifest.get("options") == options and key(manifest.get("sources")) == key(sources)


@contextmanager
def building(out, *, force=False):
    """Yield the folder to build in; on success call finish(), on failure it is removed.

    With force, anything a previous interrupted run left (its cache too) is discarded. Otherwise
    `cache/` survives for reuse and everything else in `OUT.partial/` is cleared.
    """
    out = Path(out)
    work = partial_path(out)
    made = _make_parents(out)
    try:
        work.mkdir(exist_ok=True)
    except BaseException:
        _remove_made(made)
        raise
    lock = _lock(work, out)
    try:
        keep = set() if force else {CACHE}
        for entry in work.iterdir():
            if entry.name not in keep and entry.name != "lock":
                _remove(entry)
        (work / CACHE).mkdir(exist_ok=True)
        yield work
    except KeyboardInterrupt:
        # Resumable state: keep decoded images when there are any, otherwise leave nothing.
        cache = work / CACHE
        if cache.is_dir() and any(cache.iterdir()):
            for entry in work.iterdir():
                if entry.name not in (CACHE, "lock"):
                    _remove(entry)
        elif work.exists():
            _remove(work)
        raise
    except BaseException:
        if work.exists():
            _remove(work)
        _remove_made(made)
        raise
    finally:
        if lock is not None:
            lock.close()


def finish(work, out, manifest):
    """Write the manifest last, then move the finished folder into place as OUT."""
    work, out = Path(work), Path(out)
    _remove(work / CACHE)
    tmp = work / (MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        f.write(manifest_text(manifest) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, work / MANIFEST)
    (work / "lock").unlink(missing_ok=True)
    if out.exists():
        # --force: set the old one aside first so the new one lands by a plain rename.
        old = out.with_name(f"{out.name}.replaced-{os.getpid()}")
        os.rename(out, old)
        os.rename(work, out)
        _remove(old)
    else:
        os.rename(work, out)


def _make_parents(out):
    """Create OUT's missing parent folders; the ones created, deepest first, so a failed run
    can take them away again (it leaves nothing behind)."""
    missing, parent = [], out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{out}: {parent} is a file, not a folder")
    for folder in reversed(missing):
        folder.mkdir()
    return missing


def _remove_made(made):
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            break


def _lock(work, out):
    if fcntl is None:
        return None
    handle = open(work / "lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(f"another nnrun prepare is writing {out} right now ({work} is locked)") from None
    return handle


def _remove(path):
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def prepare_into(out, *, options, sources, force, make):
    """The common shape of every `nnrun prepare`: check OUT, build aside, finish.

    `sources()` gives the source entries (with checksums) for telling whether OUT already holds
    this very dataset; it is only called when OUT holds one. `make(folder)` writes the arrays into
    the folder and returns the manifest. Returns the manifest, or None when there was nothing to do.
    """
    existing = existing_manifest(out)
    if existing is not None and not force:
        if same_recipe(existing, options, sources()):
            return None
        made_by = existing.get("command") or "unknown command"
        raise UserError(f"{out} already holds a different prepared dataset (made by: {made_by}); "
                        f"use --force to replace it, or choose another folder")
    try:
        with building(out, force=force) as work:
            manifest = make(work)
            finish(work, out, manifest)
    except OSError as problem:  # a full disk, a read-only folder: building() took its work away
        raise os_problem(problem, out) from None
    return manifest
