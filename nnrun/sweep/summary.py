"""The end of a sweep: its trials as a table sorted by the metric (best first; then pruned,
failed, interrupted, running), the best trial's config as SWEEP/best.yaml (ready for
`nnrun train`) and the best checkpoint's path.

Rows come from the study, so a study shared by several machines shows every machine's trials;
a trial's run folder is named when it is on this machine (in this sweep folder, or in another
that shares the study).
"""
import json
from pathlib import Path

from nnrun import runs_table
from nnrun.sweep import study as studies
from nnrun.sweep.space import decoded, shown

ORDER = ("complete", "pruned", "failed", "interrupted", "running", "waiting")


def _state(trial):
    name = trial.state.name.lower()
    if name == "fail":
        return "interrupted" if trial.user_attrs.get("interrupted") else "failed"
    return name


def trial_rows(study, folder, parameters):
    """One dict per trial: trial, state, the metric, epoch (best), wall, each parameter, where,
    run (its run folder on this machine, or None)."""
    metric = folder.info["metric"]
    rows = []
    for trial in study.get_trials(deepcopy=False):
        run = run_folder(trial, folder)
        best = _best_epoch(run)
        figure = trial.value
        if figure is None:  # pruned or stopped: shown, like a complete one, at its best epoch
            figure = best.get(metric) if best.get(metric) is not None else _last_reported(trial)
        wall = None
        if trial.datetime_start and trial.datetime_complete:
            wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        row = {"trial": f"{trial.number:04d}", "number": trial.number, "state": _state(trial),
               metric: figure, "epoch": best.get("epoch"), "wall": wall,
               "values": decoded(parameters, _params(trial)), "where": _where(trial, run, folder), "run": run}
        row.update({key: shown(value) for key, value in row["values"].items()})
        rows.append(row)
    return sort_trials(rows, metric, folder.info["direction"])


def run_folder(trial, folder):
    """The trial's run folder on this machine: in this sweep folder, or, in a study shared with
    another sweep folder here, where the job that ran it said; None when there is none here."""
    path = folder.trial_path(trial.number)
    if path.is_dir():
        return path
    recorded = trial.user_attrs.get("run")
    if recorded and trial.user_attrs.get("host") == studies.HOST and Path(recorded).is_dir():
        return Path(recorded)
    return None


def _params(trial):
    """A trial's values; a waiting one (queued again after an interruption) has them as fixed params."""
    return trial.params or trial.system_attrs.get("fixed_params") or {}


def _where(trial, run, folder):
    """The trial's run folder (its name when in this sweep folder) and, when it did not complete,
    why; a trial of another machine sharing the study says which."""
    attrs = trial.user_attrs
    where = []
    if run is not None:
        where.append(run.name if run.parent == folder.path else str(run))
    elif attrs.get("host") not in (None, studies.HOST):
        where.append(f"on {attrs['host']}")
    reason = attrs.get("reason") or attrs.get("interrupted")
    if reason:
        where.append(reason)
    return ": ".join(where) or None


def _last_reported(trial):
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None


def _best_epoch(run):
    """The run's best epoch record ({} when there is no run folder or no epoch yet)."""
    from nnrun.runs import is_run, read_run

    if run is None or not is_run(run):  # killed before the run wrote its first file
        return {}
    return read_run(run).best or {}


def sort_trials(rows, metric, direction):
    def key(row):
        value = row.get(metric)
        judged = studies.finite(value)
        signed = (-value if direction == "maximize" else value) if judged else 0.0
        return ORDER.index(row["state"]) if row["state"] in ORDER else len(ORDER), not judged, signed, row["number"]
    return sorted(rows, key=key)


def table(rows, metric, parameters):
    columns = ("trial", "state", metric, "epoch", "wall", *parameters, "where")
    shown = [{**row, "where": row.get("where") or ""} for row in rows]
    return runs_table.as_table(shown, columns)


def best_row(rows):
    return next((row for row in rows if row["state"] == "complete"), None)


def write_best(folder, row):
    """SWEEP/best.yaml: the best trial's resolved config (exactly what its run trained)."""
    from nnrun.sweep.trial import trial_spec

    spec = trial_spec(folder.info["config"], row["values"], folder.info, row["number"])
    metric = folder.info["metric"]
    checkpoint = (row["run"] or folder.trial_path(row["number"])) / "best.nnrun"
    header = [f"The best trial of the sweep in {folder.path}: trial {row['number']}, "
              f"{metric} {row[metric]:.6g}" + (f" at epoch {row['epoch']}" if row.get("epoch") else ""),
              "Its values: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in row["values"].items())]
    if checkpoint.is_file():
        header.append(f"Its checkpoint: {checkpoint}")
    header.append(f"Train it again: nnrun train {folder.path / 'best.yaml'}")
    return folder.write_best(spec.resolved(), header), checkpoint


def report(study, folder, parameters):
    """(table text, closing lines) for the end of a sweep; writes best.yaml when a trial completed."""
    metric = folder.info["metric"]
    rows = trial_rows(study, folder, parameters)
    lines = []
    best = best_row(rows)
    counts = {state: sum(r["state"] == state for r in rows) for state in ORDER}
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no trials")
    if best is None:
        lines.append("no trial completed: no best.yaml")
    else:
        path, checkpoint = write_best(folder, best)
        lines.append(f"best: trial {best['number']} ({metric} {best[metric]:.6g})")
        if checkpoint.is_file():
            lines.append(f"best checkpoint: {checkpoint}")
        elif best.get("where"):
            lines.append(f"best checkpoint: in trial {best['number']}'s run folder {best['where']}")
        lines.append(f"best config: {path}  (nnrun train {path})")
    return (table(rows, metric, parameters) if rows else ""), lines
