"""`nnrun runs SWEEP`: a sweep folder's trials listed as the runs they are, plus what makes them
trials: the values each was given (its trial.json), a column per swept key; sorted by the metric
that judged them unless --sort says otherwise; and closing lines naming the best trial that
trained to its end, its checkpoint and best.yaml.
"""
import json
from pathlib import Path

from nnrun.runs_table import COLUMNS, sort_rows
from nnrun.sweep.folder import BEST_CONFIG, SWEEP, TRIAL_INFO
from nnrun.sweep.space import shown


def _read(path):
    """A JSON file's map, or {} (a trial killed before its trial.json, a damaged file: the
    listing shows what it can, as `nnrun runs` does)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class TrialsView:
    def __init__(self, root, rows):
        """Adds each trial's values to its row of `rows` (nnrun.runs_table.run_row's)."""
        self.root = Path(root)
        info = _read(self.root / SWEEP)
        metric = info.get("metric")
        self.metric = metric if any(row.get(metric) is not None for row in rows) else rows[0]["metric"]
        # what the sweep judged by: f-beta minimized is best low, whatever the metric usually wants
        self.direction = info.get("direction") if metric == self.metric else None
        swept = ((info.get("config") or {}).get("sweep") or {}).get("parameters")
        self.parameters = list(swept) if isinstance(swept, dict) else []
        for row in rows:
            values = _read(self.root / row["name"] / TRIAL_INFO).get("parameters")
            if isinstance(values, dict):
                row.update({path: values[path] for path in self.parameters if path in values})

    def sort(self, rows, key=None):
        """Rows by `key` (default: the sweep's metric), the sweep's metric in the sweep's direction."""
        key = key or self.metric
        if key == self.metric and self.direction in ("maximize", "minimize"):
            return sort_rows(rows, key, smaller_better=self.direction == "minimize")
        return sort_rows(rows, key)

    @property
    def columns(self):
        return COLUMNS + tuple(self.parameters)

    def cells(self, rows):
        """Rows for the text table: values as the sweep shows them (a learning rate of 0.0001535
        keeps its digits, where a metric's cell would round it to 0.0002)."""
        return [{**row, **{p: shown(row[p]) for p in self.parameters if row.get(p) is not None}} for row in rows]

    def closing(self, sorted_rows):
        """The best trial that trained to its end (a pruned or interrupted one stopped early),
        its checkpoint, and best.yaml."""
        metric = self.metric
        top = next((row for row in sorted_rows if row.get("status") in ("finished", "early-stopped")
                    and row.get(metric) is not None), None)
        if top is None:
            return []
        lines = [f"best trial: {top['name']} ({metric} {top[metric]:.6g}); checkpoint: "
                 f"{self.root / top['name'] / 'best.nnrun'}"]
        if (self.root / BEST_CONFIG).is_file():
            lines.append(f"best config: {self.root / BEST_CONFIG}")
        elif any(row.get("status") == "running" for row in sorted_rows):
            lines.append(f"no {BEST_CONFIG} yet: the sweep writes it when its trials are done")
        else:  # killed after its trials, before its summary (or before its last trials)
            lines.append(f"no {BEST_CONFIG}: the sweep stopped before its summary; nnrun sweep --resume "
                         f"{self.root} writes it (after any trials still to run)")
        return lines
