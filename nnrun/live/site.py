"""What the live page may serve: the runs it was given, and nothing outside them.

A `Site` is a root folder: one run, or a folder of runs found below it. Every path a request
names is resolved (symlinks included) and must lie inside one of those runs; anything else is
"not found", whatever its spelling (`..`, `%2e%2e`, an absolute path, a symlink out).
"""
import os
import threading
import time
from pathlib import Path

from nnrun import runs as run_files
from nnrun.errors import UserError
from nnrun.live import run_view

RESCAN_SECONDS = 2.0  # a folder of runs is searched again at most this often


def contained(base, path):
    """True when `path`, symlinks resolved, is `base` or lies inside it."""
    try:
        base_real = os.path.realpath(base)
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return real == base_real or real.startswith(base_real.rstrip(os.sep) + os.sep)


def check_watch_path(path):
    """The folder `nnrun watch PATH` serves, or a UserError saying why it cannot."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give a run folder or a folder of runs")
    if not run_files.find_runs(path):
        raise UserError(f"{path} is not a run folder and holds none (no {run_files.RUN_INFO} or {run_files.METRICS} "
                        f"in it or below it)")
    return path


class Site:
    def __init__(self, root=None):
        self._lock = threading.Lock()
        self._views = {}
        self._runs, self._scanned = {}, 0.0
        self._seen = {}  # every run id ever listed: a deleted run is then reported gone, not unknown
        self.root = None
        if root is not None:
            self.set_root(root)

    def set_root(self, root):
        """Serve `root` from now on (`nnrun train --live` learns its run folder once it is made)."""
        with self._lock:
            self.root = Path(root).absolute()
            self.single = run_files.is_run(self.root)
            self._scanned = 0.0

    # ---- which runs
    def runs(self):
        """{run id: folder}: "." for a single run, else paths relative to the root."""
        root = self.root
        if root is None:
            return {}
        if self.single or run_files.is_run(root):
            self.single = True
            return {".": root}
        with self._lock:
            if time.monotonic() - self._scanned > RESCAN_SECONDS:
                try:
                    found = run_files.find_runs(root)
                except UserError:  # the folder itself is gone
                    found = []
                self._runs = {p.relative_to(root).as_posix(): p for p in found}
                self._seen.update(self._runs)
                self._scanned = time.monotonic()
            return dict(self._runs)

    def run_folder(self, run_id):
        """The folder of run `run_id`, or None for anything that is not one of our runs."""
        if not isinstance(run_id, str) or "\x00" in run_id:
            return None
        folder = self.runs().get(run_id)
        if folder is None:
            with self._lock:
                folder = self._seen.get(run_id)
            if folder is not None and folder.exists():  # still there but no longer a run: not ours
                folder = None
        if folder is None or not contained(self.root, folder):
            return None
        return folder

    def file(self, relative):
        """The regular file at `relative` (below the root) when it lies inside one of our runs."""
        if self.root is None or not relative or "\x00" in relative or relative.startswith(("/", "\\")):
            return None
        parts = relative.split("/")
        if any(part in ("", ".", "..") for part in parts):
            return None
        path = self.root.joinpath(*parts)
        if not any(contained(folder, path) for folder in self.runs().values()):
            return None
        try:
            return path if path.is_file() else None
        except OSError:
            return None

    # ---- what the page shows
    def view(self, run_id):
        folder = self.run_folder(run_id)
        if folder is None:
            return None
        content, status = run_view.signatures(folder)
        with self._lock:
            cached = self._views.get(run_id)
        view = None
        if cached is not None and cached["content"] == content:
            # a killed trainer changes no file: a "running" run whose process is gone is read again
            pid = (cached.get("status") or {}).get("pid")
            killed = cached.get("state") == "running" and isinstance(pid, int) and not run_files.pid_alive(pid)
            if cached["status_signature"] == status and not killed:
                return cached
            view = run_view.with_status(cached, folder, status)  # mid-epoch: the cheap way
        if view is None:
            view = run_view.build(folder, run_id)
        with self._lock:
            self._views[run_id] = view
        return view

    def overview(self):
        """The page's first question: one run or many, and the list of runs."""
        if self.root is None:
            return {"mode": "starting", "root": None, "runs": [],
                    "message": "the run is starting: waiting for its run folder"}
        runs = self.runs()
        summaries = [run_view.summary(self.view(run_id)) for run_id in runs]
        result = {"mode": "run" if self.single else "folder", "root": self.root.name, "runs": summaries}
        if not self.root.is_dir():
            result["message"] = f"the folder {self.root} is gone (deleted or moved)"
        elif not runs:
            result["message"] = f"no runs in {self.root} (any more)"
        return result
