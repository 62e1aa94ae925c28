"""Reading run folders: what `nnrun train` leaves behind, for the commands that look at runs
(`nnrun runs`, `nnrun report`, the live page).

    find_runs(folder)        -> [Path]: every run folder at or below `folder`, sorted
    is_run(path)             -> bool: holds run.json or metrics.jsonl
    read_run(path)           -> RunSummary (UserError when `path` is not a run folder)
    read_metrics(path)       -> (records, warnings): damaged lines skipped, each named in a warning
    read_predictions(path, which="best"|"last") -> dict of arrays, or None
    first_layer_epochs(path) -> [(epoch, Path)] of first-layer/epoch-NNNN.npy, in epoch order
    run_dataset(info)        -> (path, problem): the prepared dataset run.json names, and why its
                                examples cannot be drawn from it (None when they can)

Reading never changes anything, and a file being written by a training run at the same moment
is fine: status.json, run.json and the predictions are replaced atomically, and a half-written
last line of metrics.jsonl is skipped like a damaged one (it is complete at the next read).
The file contract is described in nnrun/train/run_folder.py and docs/train.md.
"""
import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nnrun.errors import UserError

STATUS, RUN_INFO, METRICS, CONFIG, TEST, LOG = ("status.json", "run.json", "metrics.jsonl", "config.yaml",
                                                "test.json", "train.log")
PREDICTIONS, FIRST_LAYER = "predictions", "first-layer"
STATES = ("running", "finished", "stopped", "early-stopped", "failed")
LAST = "last.nnrun"
# A run from before status.json whose log moved this recently is taken to be still training.
RECENT_SECONDS = 120


@dataclass
class RunSummary:
    path: Path
    metrics: list                 # one dict per finished epoch, in file order (damaged lines skipped)
    status: dict                  # status.json as the contract says, with "state" checked (see status_of)
    info: dict                    # run.json ({} when missing or damaged)
    config: dict                  # config.yaml ({} when missing or damaged)
    test: object = None           # test.json's dict, or None
    warnings: list = field(default_factory=list)  # one line per damaged or unreadable file/line

    @property
    def name(self):
        return self.path.name

    @property
    def epochs(self):
        return self.metrics[-1]["epoch"] if self.metrics else 0

    @property
    def best(self):
        """The epoch record marked best last (the run's best so far), or None."""
        marked = [r for r in self.metrics if r.get("best")]
        return marked[-1] if marked else None

    @property
    def metric(self):
        """The name of the metric that selects the best epoch ("f-beta", "accuracy", "loss")."""
        chosen = ((self.config.get("train") or {}).get("metric") or {})
        name = chosen.get("name") if isinstance(chosen, dict) else chosen
        if name in (None, "auto"):
            last = self.metrics[-1] if self.metrics else {}
            return "f-beta" if "f-beta" in last else "accuracy" if "accuracy" in last else "loss"
        return name


def is_run(path):
    path = Path(path)
    return path.is_dir() and ((path / RUN_INFO).is_file() or (path / METRICS).is_file())


def find_runs(folder):
    """Every run folder at or below `folder` (a run's own subfolders are not searched), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        hint = " (nnrun train writes runs under runs/ in the folder it is started from; name another folder)" \
            if folder == Path("runs") else ""
        raise UserError(f"{folder}: no such folder{hint}")
    found = []
    for here, dirs, _ in os.walk(folder, followlinks=False):
        if is_run(here):
            found.append(Path(here))
            dirs[:] = []
        else:
            dirs.sort()
    return sorted(found)


def read_metrics(path):
    """(records, warnings) of RUN/metrics.jsonl; a line that is not a JSON object with an integer
    "epoch" is skipped and named in a warning."""
    file = Path(path) / METRICS
    records, warnings = [], []
    try:
        text = file.read_text(errors="replace")
    except FileNotFoundError:
        return records, warnings
    except OSError as problem:
        return records, [f"{file}: cannot read: {problem.strerror or problem}"]
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
            warnings.append(f"{file}:{number}: damaged line skipped")
            continue
        problem = _matrix_problem(record.get("confusion-matrix"))
        if problem:  # the line's other figures stand; the pictures and the page draw no matrix
            record = {k: v for k, v in record.items() if k != "confusion-matrix"}
            warnings.append(f"{file}:{number}: confusion-matrix {problem}; that epoch's matrix is left out")
        records.append(record)
    return records, warnings


def _matrix_problem(matrix):
    """What is wrong with a line's confusion matrix, or None when it is whole counts in a square
    (or absent): a hand-edited 1e300 would overflow the report's drawing and fill the page."""
    if matrix is None:
        return None
    if not isinstance(matrix, list) or not matrix or any(not isinstance(row, list) or len(row) != len(matrix)
                                                         for row in matrix):
        return "is not a square table of counts"
    for row in matrix:
        for count in row:
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 1 << 53:
                return f"holds {count!r}, not a count of examples"
    return None


def _read_json(file, warnings):
    try:
        value = json.loads(Path(file).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        warnings.append(f"{file}: unreadable, ignored")
        return None
    if not isinstance(value, dict):
        warnings.append(f"{file}: not a JSON object, ignored")
        return None
    return value


def _read_config(file, warnings):
    if not Path(file).is_file():
        return {}
    import yaml
    try:
        value = yaml.safe_load(Path(file).read_text())
    except (OSError, yaml.YAMLError):
        warnings.append(f"{file}: unreadable, ignored")
        return {}
    return value if isinstance(value, dict) else {}


def pid_alive(pid):
    """Whether a process with this id exists on this machine."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True


def status_of(path, metrics=None, warnings=None):
    """RUN's status: status.json when there is one (a "running" run whose process is gone is
    "stopped", with "pid-gone": true); for runs from before status.json, inferred from the log."""
    path = Path(path)
    warnings = [] if warnings is None else warnings
    status = _read_json(path / STATUS, warnings)
    if status is not None and status.get("state") in STATES:
        status = dict(status)
        if status["state"] == "running" and not pid_alive(status.get("pid")):
            status.update({"state": "stopped", "pid-gone": True})
        return status
    if metrics is None:
        metrics, _ = read_metrics(path)
    return _inferred_status(path, metrics)


def _inferred_status(path, metrics):
    """What train.log's last lines say (the loop prints them at the end), else the log's age."""
    state = None
    log = path / LOG
    try:
        tail = log.read_text(errors="replace")[-4000:]
        age = time.time() - log.stat().st_mtime
    except OSError:
        tail, age = "", float("inf")
    if "early stopping:" in tail:
        state = "early-stopped"
    elif " stopped (" in tail or "error:" in tail:
        state = "stopped" if " stopped (" in tail else "failed"
    elif "best: epoch" in tail or "no epoch gave a usable score" in tail:
        state = "finished"
    else:
        state = "running" if age < RECENT_SECONDS else "stopped"
    best = [r["epoch"] for r in metrics if r.get("best")]
    return {"state": state, "pid": None, "epoch": metrics[-1]["epoch"] if metrics else 0,
            "epoch-count": None, "best-epoch": best[-1] if best else None, "updated": None,
            "in-progress": None, "inferred": True}


def true_state(path, status, epochs):
    """`status` with the state a person should read: a run that stopped (or was killed) before its
    first epoch finished, leaving no last.nnrun, is "empty": nothing to show and nothing to resume,
    where "stopped" promised `nnrun train --resume`. `epochs`: the finished epochs known."""
    if status.get("state") == "stopped" and not epochs and not (Path(path) / LAST).is_file():
        return {**status, "state": "empty"}
    return status


def next_step(path, status, epoch, shown=None):
    """One line saying what finishes the run at `path` when its state needs a person, or None: a
    stopped run goes on with `nnrun train --resume`, an empty one can only be removed. `status`:
    its status (true_state's), `epoch`: its last finished epoch, `shown`: its path as the person
    gave it (default: `path`)."""
    where = shown or path
    state = status.get("state")
    if state == "empty":
        return (f"{where}: empty: it stopped before its first epoch finished, so there is nothing to "
                f"resume; remove it (rm -r {where}) and train again")
    if state == "stopped" and (Path(path) / LAST).is_file():
        count = status.get("epoch-count")
        return (f"{where}: stopped after epoch {epoch}{f' of {count}' if count else ''}: "
                f"go on with nnrun train --resume {where}")
    return None


def read_run(path):
    """Everything a run folder says, read once. UserError when `path` is not a run folder."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such folder")
    if not is_run(path):
        raise UserError(f"{path}: not a run folder (no {RUN_INFO} or {METRICS})")
    metrics, warnings = read_metrics(path)
    info = _read_json(path / RUN_INFO, warnings) or {}
    config = _read_config(path / CONFIG, warnings)
    status = true_state(path, status_of(path, metrics, warnings), len(metrics))
    if status.get("epoch-count") is None:
        status["epoch-count"] = (config.get("train") or {}).get("epoch-count")
    return RunSummary(path=path, metrics=metrics, status=status, info=info, config=config,
                      test=_read_json(path / TEST, warnings), warnings=warnings)


def read_predictions(path, which="best"):
    """RUN/predictions/<which>.npz as a dict (epoch, split, probabilities, labels, predicted,
    index), or None when there is none (autoencoders, runs before the file existed)."""
    import numpy as np
    file = Path(path) / PREDICTIONS / f"{which}.npz"
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as data:
            loaded = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as problem:
        raise UserError(f"{file}: cannot read: {problem}") from None
    _check_predictions(loaded, file)
    loaded["epoch"] = int(loaded["epoch"])
    loaded["split"] = str(loaded["split"])
    return loaded


def _check_predictions(loaded, file):
    """UserError naming the array, unless `loaded` is what nnrun.train.run_record writes: its
    readers index the dataset and the class columns with these numbers."""
    import numpy as np

    def fail(key, problem):
        raise UserError(f"{file}: {key}: {problem}")

    for key in ("epoch", "split", "probabilities", "labels", "predicted", "index"):
        if key not in loaded:
            fail(key, "is missing")
    if loaded["epoch"].shape != () or loaded["epoch"].dtype.kind not in "iu":
        fail("epoch", f"must be one whole number, got {loaded['epoch'].dtype} {list(loaded['epoch'].shape)}")
    if loaded["split"].shape != () or loaded["split"].dtype.kind != "U":
        fail("split", "must be a split's name")
    p = loaded["probabilities"]
    if p.ndim != 2 or p.dtype.kind != "f":
        fail("probabilities", f"must be numbers [examples, classes], got {p.dtype} {list(p.shape)}")
    for key in ("labels", "predicted", "index"):
        values = loaded[key]
        if values.shape != (len(p),) or values.dtype.kind not in "iu":
            fail(key, f"must be {len(p):,} whole numbers, got {values.dtype} {list(values.shape)}")
        # (one column of probabilities scores the positive of two classes)
        highest = max(p.shape[1], 2) if key != "index" else np.iinfo(np.int64).max
        if len(values) and (values.min() < 0 or values.max() >= highest):
            fail(key, f"holds {values.min() if values.min() < 0 else values.max()}, out of range")


def first_layer_epochs(path):
    """[(epoch, file)] of RUN/first-layer/epoch-NNNN.npy, in epoch order."""
    folder = Path(path) / FIRST_LAYER
    found = []
    if folder.is_dir():
        for file in folder.glob("epoch-*.npy"):
            digits = file.stem[len("epoch-"):]
            if digits.isdigit():
                found.append((int(digits), file))
    return sorted(found)


def run_dataset(info):
    """(path, problem) of the prepared dataset a run trained on (`info`: run.json). `problem` is
    None when the folder still holds that dataset, else one line saying why not: the stored
    predictions name examples by their row in a split, so a dataset prepared again in the same
    place (other rows, other images) would put other examples' pictures under the run's cells."""
    dataset = (info or {}).get("dataset") or {}
    path = dataset.get("path")
    if not path:
        return None, "run.json names no prepared dataset"
    try:
        manifest = (Path(path) / "dataset.json").read_bytes()
    except OSError:
        return Path(path), f"the prepared dataset {path} is not there"
    saved = dataset.get("manifest-sha256")
    if saved and hashlib.sha256(manifest).hexdigest() != saved:
        return Path(path), f"the prepared dataset {path} changed since this run (its dataset.json differs)"
    return Path(path), None
