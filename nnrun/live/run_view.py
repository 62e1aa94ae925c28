"""What the page shows of one run, as one JSON-ready dict built from the run folder's files.

Plain values in, plain values out: the server caches the result by the files' (mtime, size) and
the page redraws when the dict's `signature` changes.
"""
import datetime
import json
import os
import sys
import threading
from pathlib import Path

from nnrun import runs
from nnrun.errors import UserError

# The per-epoch numbers the page draws as curves (key in metrics.jsonl).
SERIES = ("train-loss", "loss", "accuracy", "precision", "recall", "f-beta", "average-precision",
          "threshold", "learning-rate", "samples-per-second")
# The files whose change means an epoch ended (or the run's facts changed). status.json is kept
# apart: it changes every ~2 s during an epoch, and only the header follows it.
CONTENT = (runs.METRICS, runs.RUN_INFO, runs.CONFIG, runs.TEST,
           f"{runs.PREDICTIONS}/last.npz", f"{runs.PREDICTIONS}/best.npz")

_warned = set()
_warned_lock = threading.Lock()


def warn_once(message):
    """Print a warning about a file once per server, however often the page asks."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)


def stamp(path):
    """(mtime_ns, size) of a file, or None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def signatures(folder):
    """(content, status): each changes when its files change; a few `stat` calls."""
    folder = Path(folder)
    content = [folder.is_dir()] + [stamp(folder / name) for name in CONTENT]
    return _short(tuple(content)), _short(stamp(folder / runs.STATUS))


def _short(value):
    return format(hash(value) & 0xFFFFFFFFFFFF, "x")


def with_status(view, folder, status_signature):
    """`view` with only status.json read again: mid-epoch, the in-progress line moves on."""
    status = runs.true_state(folder, runs.status_of(folder, []), view.get("epochs"))
    if status.get("inferred"):  # status.json gone: the files decide, the next full build says
        return None
    if status.get("epoch-count") is None:
        status["epoch-count"] = view.get("epoch_count")
    return {**view, **_status_part(status), "status_signature": status_signature,
            "message": runs.next_step(folder, status, view.get("epoch")),
            "signature": f"{view['content']}-{status_signature}"}


def _status_part(status):
    return {"state": status.get("state"), "status": status, "epoch_count": status.get("epoch-count"),
            "in_progress": status.get("in-progress") if status.get("state") == "running" else None}


def read_text(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def read_json(path):
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def metric_label(metric, record):
    if metric == "f-beta":
        return f"F{float((record or {}).get('beta', 1)):g}"
    return metric


def class_names(record, manifest):
    per_class = (record or {}).get("per-class")
    if isinstance(per_class, dict) and per_class:
        return [str(name) for name in per_class]
    return [str(c) for c in (manifest or {}).get("classes", [])]


def dataset_manifest(info):
    path = ((info or {}).get("dataset") or {}).get("path")
    return read_json(Path(path) / "dataset.json") if path else None


def build(folder, run_id):
    """The page's view of the run in `folder`."""
    folder = Path(folder)
    content, status_signature = signatures(folder)
    view = {"id": run_id, "name": folder.name, "content": content, "status_signature": status_signature,
            "signature": f"{content}-{status_signature}", "started": _started(folder, None)}
    try:
        run = runs.read_run(folder)
    except UserError:
        gone = not folder.is_dir()
        view.update(state="gone" if gone else "waiting", waiting=not gone, epochs=0,
                    message=f"the run folder {folder} is gone (deleted or moved)" if gone else
                    "the run folder holds no run.json or metrics.jsonl yet")
        return view
    unfinished = _unfinished_line(folder / runs.METRICS)
    if unfinished:  # an epoch's line being appended this instant is not damaged
        run.warnings = [w for w in run.warnings if not w.endswith(f":{unfinished}: damaged line skipped")]
    for warning in run.warnings:
        warn_once(warning)
    records, status = run.metrics, run.status
    manifest = dataset_manifest(run.info)
    last = records[-1] if records else None
    best = run.best
    metric = run.metric
    view.update(
        **_status_part(status), started=_started(folder, run.info),
        warnings=[w.replace(str(folder) + os.sep, "") for w in run.warnings], waiting=not records,
        epochs=len(records), epoch=run.epochs,
        classes=class_names(last, manifest), kind=(manifest or {}).get("kind"),
        metric=metric, metric_label=metric_label(metric, last),
        message=runs.next_step(folder, status, run.epochs),  # the folder's whole path: a command to paste
        best_value=best.get(metric) if best else None, best_epoch=best["epoch"] if best else None,
        current=_matrix_part(last), best=_matrix_part(best),
        series={"epoch": [r["epoch"] for r in records],
                **{key: [_number(r.get(key)) for r in records] for key in SERIES}},
        run_info=run.info, config=read_text(folder / runs.CONFIG), test=_test_part(run.test),
        predictions={which: (folder / runs.PREDICTIONS / f"{which}.npz").is_file() for which in ("last", "best")},
        files=_listing(folder),
    )
    return view


def _started(folder, info):
    """When the run started, in seconds since 1970 (the page opens the newest run): run.json's
    "started", else the time its folder was made or last changed, else None."""
    text = (info or {}).get("started")
    if isinstance(text, str):
        try:
            stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=datetime.timezone.utc)
            return stamp.timestamp()
        except ValueError:
            pass
    try:
        return os.stat(folder).st_mtime
    except OSError:
        return None


def _unfinished_line(path):
    """The number of the last line of `path` when it has no newline yet, else None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return data.count(b"\n") + 1 if data and not data.endswith(b"\n") else None


def _listing(folder):
    try:
        return sorted(p.name for p in Path(folder).iterdir() if p.is_file())
    except OSError:  # deleted this instant: the next poll says so
        return []


def summary(view):
    """One row of the list of runs."""
    keys = ("id", "name", "started", "state", "epochs", "epoch_count", "metric", "metric_label", "best_value",
            "best_epoch", "signature", "message")
    return {key: view.get(key) for key in keys}


def _matrix_part(record):
    if record is None:
        return None
    keys = ("epoch", "split", "confusion-matrix", "per-class", "accuracy", "loss", "precision",
            "recall", "f-beta", "beta", "positive", "threshold", "average-precision", "count")
    return {key: record.get(key) for key in keys if key in record}


def _test_part(test):
    if not test:
        return None
    return {key: value for key, value in test.items() if not isinstance(value, (dict, list))}


def _number(value):
    """JSON has no NaN or infinity: such values become null (a gap in the curve)."""
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return value
    return None


def to_json(value):
    """JSON text without NaN/Infinity (which browsers' JSON.parse rejects)."""
    return json.dumps(_clean(value), separators=(",", ":"))


def _clean(value):
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
