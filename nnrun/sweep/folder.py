"""The sweep folder: everything one `nnrun sweep` leaves behind.

    runs/<config name>/sweep-<time>/     (or --sweep-dir)
      sweep.json        what the sweep runs: the config as data (--set applied), its source, the
                        storage URL (null: study.db here) and study name, the metric and
                        direction; what --resume reads
      study.db          the Optuna study (SQLite), unless --storage named another database
      trial-0007/       trial 7's run folder, an ordinary `nnrun train` run (plus trial.json)
      best.yaml         the best trial's resolved config, ready for `nnrun train`
      .ask.lock         held while a job asks the study for its next trial

Trial folders are named by the study's trial number, which the database hands out once, so two
jobs (or two machines) never write the same folder.
"""
import datetime
import fcntl
import json
from contextlib import contextmanager
from pathlib import Path

import yaml

from nnrun.atomic import atomic_file
from nnrun.errors import UserError

SWEEP, STUDY, BEST_CONFIG, LOCK, TRIAL_INFO = "sweep.json", "study.db", "best.yaml", ".ask.lock", "trial.json"
FORMAT = "nnrun-sweep"


def write_atomic(path, text):
    """Write `text` to `path` through a temporary file, so readers never see half of it."""
    with atomic_file(path) as f:
        f.write(text)


def new_sweep_path(name, sweep_dir=None, root="runs"):
    """The folder a new sweep will use (not made yet); an explicit one must be new or empty."""
    if sweep_dir is not None:
        path = Path(sweep_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            held = " (it holds a sweep: continue it with --resume)" if (path / SWEEP).is_file() else ""
            raise UserError(f"--sweep-dir {path}: is not an empty folder{held}")
        return path
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    path, n = Path(root) / name / f"sweep-{stamp}", 1
    while path.exists():
        n += 1
        path = Path(root) / name / f"sweep-{stamp}-{n}"
    return path


class SweepFolder:
    def __init__(self, path, info):
        self.path = Path(path)
        self.info = info

    @classmethod
    def create(cls, path, info):
        path = Path(path).resolve()
        path.mkdir(parents=True, exist_ok=True)
        folder = cls(path, {"format": FORMAT, "version": 1, **info})
        folder.save()
        return folder

    @classmethod
    def open(cls, path):
        path = Path(path)
        try:
            info = json.loads((path / SWEEP).read_text())
        except FileNotFoundError:
            raise UserError(f"--resume {path}: not a sweep folder (no {SWEEP})") from None
        except (OSError, ValueError) as problem:
            raise UserError(f"--resume {path}: {SWEEP} is unreadable: {problem}") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise UserError(f"--resume {path}: {SWEEP} is not an nnrun sweep's")
        return cls(path.resolve(), info)

    def save(self):
        write_atomic(self.path / SWEEP, json.dumps(self.info, indent=2) + "\n")

    @property
    def own_study(self):
        """The study is SWEEP/study.db (sweep.json's storage is null): it moves with the folder."""
        return self.info.get("storage") is None

    @property
    def storage_url(self):
        return f"sqlite:///{self.path / STUDY}" if self.own_study else self.info["storage"]

    def trial_path(self, number):
        return self.path / f"trial-{number:04d}"

    @contextmanager
    def ask_lock(self):
        """One job at a time counts the study's trials and asks for the next one, so J jobs on one
        machine never start more than the sweep's trials between them."""
        with open(self.path / LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_trial_info(self, run_path, number, values):
        write_atomic(Path(run_path) / TRIAL_INFO, json.dumps(
            {"sweep": str(self.path), "study": self.info["study"], "trial": number, "parameters": values},
            indent=2) + "\n")

    def write_best(self, resolved, header):
        text = "".join(f"# {line}\n" for line in header)
        text += yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, default_flow_style=None)
        write_atomic(self.path / BEST_CONFIG, text)
        return self.path / BEST_CONFIG


def is_sweep(path):
    return (Path(path) / SWEEP).is_file()
