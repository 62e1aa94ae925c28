"""The run folder: what a training run leaves behind.

    runs/<config name>/<time>/     (or --run-dir)
      config.yaml      the resolved config (every default filled in)
      run.json         versions, device, seed, threads, the dataset and its manifest's sha256,
                       the command, start time, and one entry per resume
      metrics.jsonl    one JSON object per epoch
      train.log        everything printed, with the time of each line
      best.nnrun       the best epoch's model (threshold and metrics included)
      last.nnrun       the last epoch's model with the state to resume from
      test.json        the best model's metrics on the test split, when there is one
      status.json      where the run stands, replaced atomically (nnrun.train.run_record):
                         {"state": "running"|"finished"|"stopped"|"early-stopped"|"failed",
                          "pid": int, "epoch": last finished epoch, "epoch-count": int|null,
                          "best-epoch": int|null, "updated": ISO-8601 UTC,
                          "in-progress": {"epoch", "samples", "of", "samples-per-second"} or null}
                       written at the start, every ~2 s during an epoch, after each epoch and at
                       the end (also when the run fails or is stopped)
      predictions/last.npz, best.npz   the selection split's outputs of the last / best epoch
                       (not for autoencoders), replaced atomically: epoch (int), split (str),
                       probabilities float32 [N, K], labels int64 [N], predicted int64 [N] (at the
                       stored threshold for a binary F-beta task, else the most probable class),
                       index int64 [N] (the row within the split of the prepared dataset)
      first-layer/epoch-NNNN.npy   the first trainable layer's weights (float32, torch's layout)
                       after each epoch; first-layer/layer.json names the layer and the input shape
      tensorboard/     TensorBoard event files, with train.tensorboard / --tensorboard

nnrun.runs reads all of this back (`nnrun runs`, `nnrun report`, the live page).
The folder is made only once every check has passed, and removed again if the run ends before
its first epoch's checkpoints are written: a failed start leaves nothing behind.
"""
import datetime
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from nnrun.atomic import FULL_OR_READ_ONLY, atomic_file
from nnrun import __version__
from nnrun.errors import UserError, os_problem

BEST, LAST, CONFIG, RUN, METRICS, LOG, TEST = ("best.nnrun", "last.nnrun", "config.yaml", "run.json",
                                               "metrics.jsonl", "train.log", "test.json")
# What a resume may write before its first checkpoint (last.nnrun itself is replaced whole or not
# at all, and is the commit), and the folders whose files it appends to or adds (TensorBoard's).
# status.json, predictions/ and first-layer/ are nnrun.train.run_record's.
RESUME_WRITES = (CONFIG, RUN, METRICS, LOG, BEST, TEST, "status.json", "first-layer/layer.json",
                 "predictions/last.npz", "predictions/best.npz")
RESUME_FOLDERS = ("first-layer", "predictions", "tensorboard")
UNDO = "undo"  # a kept file's second name: .NAME.undo-XXXX.partial (a killed resume's are cleared at the next lock)


def manifest_sha256(dataset):
    return hashlib.sha256((Path(dataset.path) / "dataset.json").read_bytes()).hexdigest()


def new_run_path(name, run_dir=None, root="runs"):
    """The folder a new run will use (not made yet). An explicit one must be new or empty."""
    if run_dir is not None:
        path = Path(run_dir)
        if path.exists():
            if not path.is_dir():
                raise UserError(f"--run-dir {path}: is a file")
            if (path / LAST).exists() or (path / BEST).exists():
                raise UserError(f"--run-dir {path}: already holds a run; continue it with "
                                f"`nnrun train --resume {path}` or choose another folder")
            if any(path.iterdir()):
                raise UserError(f"--run-dir {path}: is not empty")
        return path
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    path = Path(root) / name / stamp
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / name / f"{stamp}-{n}"
    return path


def _dump_yaml(value):
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=None)


def replace_text(path, text):
    """Write `text` to `path` whole or not at all: a failed write (a full disk) leaves the old file
    and no temporary behind, and is a UserError naming `path`."""
    try:
        with atomic_file(path) as f:
            f.write(text)
    except OSError as problem:
        raise os_problem(problem, path) from None


def replace_bytes(path, data):
    """`replace_text` for bytes."""
    try:
        with atomic_file(path, "wb") as f:
            f.write(data)
    except OSError as problem:
        raise os_problem(problem, path) from None


def write_json_atomic(path, value):
    replace_text(path, json.dumps(value, indent=2) + "\n")


def remove_stale_temporaries(path):
    """Temporary files of writes killed half-way (kill -9, a power cut) in the run folder `path`:
    `.NAME.XXXX.partial` (nnrun.atomic), and the `.tmp` ones of older versions. Called with the
    run's lock held, so no live writer owns them."""
    for folder in (path, path / "predictions", path / "first-layer", path / "tensorboard"):
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if item.name.endswith((".tmp", ".partial")) and item.is_file():
                item.unlink(missing_ok=True)


class RunFolder:
    """Writes the run folder's files. `committed` once the first checkpoints exist."""

    def __init__(self, path, created):
        self.path = Path(path)
        self.created = created        # we made it (so we may remove it on a failed start)
        self.committed = (self.path / LAST).exists()
        self._log = None
        self._lock = None
        self._undo = None             # a resume before its first checkpoint: what to put back (keep_for_undo)

    @classmethod
    def create(cls, path):
        path = Path(path)
        existed = path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            raise UserError(f"cannot make the run folder {path}: {problem.strerror or problem}") from None
        return cls(path, created=not existed)

    @classmethod
    def existing(cls, path):
        folder = cls(path, created=False)
        folder.committed = True
        return folder

    def lock(self):
        """Become the folder's one writer (nnrun.train.run_lock), then clear what killed writes left."""
        from nnrun.train.run_lock import RunLock
        self._lock = RunLock.take(self.path)
        remove_stale_temporaries(self.path)

    def file(self, name):
        return self.path / name

    def write_config(self, resolved):
        replace_text(self.path / CONFIG, _dump_yaml(resolved))

    def write_run_info(self, info):
        write_json_atomic(self.path / RUN, info)

    def read_run_info(self):
        try:
            return json.loads((self.path / RUN).read_text())
        except (OSError, ValueError):
            return {}

    def append_metrics(self, record):
        try:
            with open(self.path / METRICS, "a") as f:
                f.write(json.dumps(record, allow_nan=True) + "\n")
                f.flush()
        except OSError as problem:  # a full disk: the error names the file (a torn line is dropped on resume)
            raise os_problem(problem, self.path / METRICS) from None

    def keep_metrics_through(self, epoch, record=None):
        """Make metrics.jsonl hold epochs 1..`epoch`, once each, in order, as last.nnrun does after a
        kill: drop the lines of an interrupted epoch (and a torn last line), and append `record`,
        epoch `epoch`'s line as last.nnrun stored it, when the process died between writing the
        checkpoint and the line."""
        path = self.path / METRICS
        lines = path.read_text().splitlines() if path.exists() else []
        kept, seen = [], 0
        for line in lines:
            try:
                number = json.loads(line).get("epoch", 0)
            except (ValueError, AttributeError):
                continue
            if isinstance(number, int) and seen < number <= epoch:
                kept.append(line)
                seen = number
        if record is not None and seen < record.get("epoch", 0) == epoch:
            kept.append(json.dumps(record, allow_nan=True))
        if kept != lines:
            replace_text(path, "".join(line + "\n" for line in kept))

    def log(self, text):
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        try:
            if self._log is None:
                self._log = open(self.path / LOG, "a", buffering=1)
            for line in str(text).splitlines() or [""]:
                self._log.write(f"{stamp} {line}\n")
        except OSError as problem:
            raise os_problem(problem, self.path / LOG) from None

    def close(self):
        if self._log is not None:
            self._log.close()
            self._log = None
        self._forget_undo()  # (a stopped resume keeps what it wrote: its log and its "stopped")
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def discard_if_uncommitted(self):
        """Remove a folder this run made and never wrote a checkpoint into."""
        self.close()
        if self.created and not self.committed and self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)

    # ---- a resume that fails before its first checkpoint changes nothing
    def keep_for_undo(self):
        """Before a resume writes anything: keep what each file it may write holds, so that
        `undo_uncommitted_resume` can put the folder back as it was. A replaced file keeps its
        old contents under a second name (a hard link: no copy, so this works on a full disk, and
        putting it back is a rename); a file appended to keeps its length; what is new is removed.
        A folder too full even for the second names refuses the resume before anything changed."""
        self._undo = {"files": {}, "folders": [f for f in RESUME_FOLDERS if (self.path / f).is_dir()]}
        kept = self._undo["files"]
        for name in RESUME_WRITES + self._folder_files():
            path = self.path / name
            if not path.is_file():
                kept[name] = None
                continue
            size = path.stat().st_size
            # a name of its own each time (as nnrun.atomic's temporaries have), never one a killed
            # resume left: those are removed when the lock is taken, and a new one is not theirs
            second = path.with_name(f".{path.name}.{UNDO}-{secrets.token_hex(6)}.partial")
            try:
                os.link(path, second)
                kept[name] = (second, size)
            except OSError as problem:
                if problem.errno not in FULL_OR_READ_ONLY:  # a file system without hard links
                    kept[name] = (path.read_bytes(), size)
                    continue
                self._forget_undo()
                raise os_problem(problem, second) from None

    def _folder_files(self):
        """The files of RESUME_FOLDERS that a resume may append to (TensorBoard's event files)."""
        folder = self.path / "tensorboard"
        return tuple(f"tensorboard/{p.name}" for p in sorted(folder.iterdir()) if p.is_file()) \
            if folder.is_dir() else ()

    def commit(self):
        """The first checkpoint of this run (or of this resume) is written: the folder is the run's
        own from here on, and a resume's kept copies go."""
        self.committed = True
        self._forget_undo()

    def undo_uncommitted_resume(self):
        """A resume failed before its first checkpoint: put back every file it replaced, cut every
        file it appended to back to its length, remove what it added. Renames, truncations and
        removals need no free space; a step that fails is skipped so that the others still happen."""
        if self._undo is None:
            return
        if self._log is not None:
            self._log.close()
            self._log = None
        undo, self._undo = self._undo, None
        added = {name: None for name in self._folder_files() if name not in undo["files"]}  # TensorBoard's
        for name, kept in {**undo["files"], **added}.items():
            path = self.path / name
            try:
                if kept is None:
                    path.unlink(missing_ok=True)
                elif isinstance(kept[0], bytes):
                    if not path.is_file() or path.read_bytes() != kept[0]:
                        replace_bytes(path, kept[0])
                else:
                    os.replace(kept[0], path)
                    kept[0].unlink(missing_ok=True)  # (a rename onto the same file leaves both names)
                    os.truncate(path, kept[1])
            except (OSError, UserError):
                continue
        for name in RESUME_FOLDERS:
            if name not in undo["folders"]:
                try:
                    (self.path / name).rmdir()  # made by the resume, and empty again
                except OSError:
                    pass

    def _forget_undo(self):
        """Drop the kept files' second names (the resume's files stay)."""
        undo, self._undo = self._undo, None
        for kept in (undo or {}).get("files", {}).values():
            if kept is not None and not isinstance(kept[0], bytes):
                try:
                    kept[0].unlink(missing_ok=True)
                except OSError:
                    pass


def environment(device, seed, threads):
    info = {
        "nnrun-version": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
        "numpy": np.__version__, "platform": platform.platform(), "device": str(device),
        "seed": seed, "threads": threads,
    }
    if device.type == "cuda":
        info["device-name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["device-name"] = platform.processor() or platform.machine()
    return info
