"""The table of runs (`nnrun runs`) and the difference of two runs (`nnrun runs --diff`), as
plain data and as text: rows from nnrun.runs's summaries, sorted, shown as an aligned table,
CSV or JSON.
"""
import csv
import datetime
import io
import json
import math

from nnrun.errors import UserError

COLUMNS = ("name", "start", "status", "epochs", "metric", "best", "best-epoch", "threshold", "test", "wall")
# Metrics where smaller is better: sorted ascending.
SMALLER_BETTER = {"loss", "train-loss", "denoising-mse", "identity-mse", "wall", "train-seconds", "eval-seconds"}
BEST_SHOWN = ("loss", "accuracy", "precision", "recall", "f-beta", "average-precision", "threshold")


def _time(text):
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def wall_seconds(summary):
    """Start to last update for a run trained in one go; a resumed run (or one from before
    status.json) counts its epochs' training and evaluation seconds instead of its pauses."""
    started, updated = _time(summary.info.get("started", "")), _time(summary.status.get("updated") or "")
    if started and updated and not summary.info.get("resumed"):
        return (updated - started).total_seconds()
    return sum((r.get("train-seconds") or 0) + (r.get("eval-seconds") or 0) for r in summary.metrics)


def run_row(summary, root):
    """One run's line of the table, as a dict of COLUMNS (plus every scalar of its best epoch)."""
    try:
        name = summary.path.relative_to(root).as_posix() or "."
    except ValueError:
        name = str(summary.path)
    best = summary.best or {}
    metric = summary.metric
    test = summary.test or {}
    row = {"name": name if name != "." else summary.path.name, "start": summary.info.get("started"),
           "status": summary.status.get("state"), "epochs": summary.epochs, "metric": metric,
           "best": best.get(metric), "best-epoch": best.get("epoch"), "threshold": best.get("threshold"),
           "test": test.get(metric), "wall": round(wall_seconds(summary), 1)}
    for key, value in best.items():  # so --sort can use any metric of the best epoch
        if key not in row and isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = value
    return row


def sort_rows(rows, key, smaller_better=None):
    """Rows by `key`, best first: a metric descending unless smaller is better (SMALLER_BETTER, or
    `smaller_better` when given: a sweep's direction), other columns ascending; rows without it last."""
    if key is None:
        return rows
    known = set(COLUMNS).union(*(row.keys() for row in rows)) if rows else set(COLUMNS)
    if key not in known:
        raise UserError(f"--sort {key}: not a column or metric of these runs; try one of "
                        f"{', '.join(sorted(k for k in known if k not in ('metric',)))}")
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    numeric = all(isinstance(r[key], (int, float)) for r in present)
    descending = numeric and key not in SMALLER_BETTER and key not in ("epochs", "best-epoch")
    if smaller_better is not None and numeric:
        descending = not smaller_better
    present.sort(key=lambda r: r[key] if numeric else str(r[key]), reverse=descending)
    return present + missing


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def as_table(rows, columns=COLUMNS):
    """Aligned text; `columns` other than the runs' own serve other tables (nnrun sweep's trials)."""
    header = list(columns)
    cells = [header] + [[f"{r['wall']:.1f}" if c == "wall" and r.get(c) is not None else _cell(r.get(c))
                         for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in cells)


def as_csv(rows, columns=COLUMNS):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return out.getvalue().rstrip("\n")


def as_json(rows, columns=COLUMNS):
    return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2)


def flatten(value, prefix=""):
    """{"train": {"batch-size": 100}} -> {"train.batch-size": 100}. A list of layers (maps, and
    names such as "relu") is opened by position, "network.9.linear->relu", so two networks
    differ in the layers that differ rather than in one line holding both whole networks; other
    lists ([5, 0, 1, 20], [28, 28, 1, {id: data}]) stay one value."""
    if isinstance(value, list) and any(isinstance(item, dict) for item in value) \
            and all(isinstance(item, (dict, str)) for item in value):
        value = {str(n): item for n, item in enumerate(value)}
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _key_order(key):
    """network.2 before network.10: positions compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in key.split(".")]


def _shown(value):
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def diff_text(a, b):
    """The config keys where runs a and b differ, then their best epochs' metrics side by side."""
    left, right = flatten(a.config), flatten(b.config)
    names = (str(a.path), str(b.path))
    rows = [("config key", *names)]
    for key in sorted(set(left) | set(right), key=_key_order):
        if left.get(key, "<absent>") != right.get(key, "<absent>"):
            rows.append((key, _shown(left.get(key, "<absent>")), _shown(right.get(key, "<absent>"))))
    if len(rows) == 1:
        rows.append(("(the configs are the same)", "", ""))
    rows.append(("", "", ""))
    rows.append(("best", *names))
    best_a, best_b = a.best or {}, b.best or {}
    for key in ("epoch",) + BEST_SHOWN:
        if key in best_a or key in best_b:
            rows.append((key, _cell(best_a.get(key)), _cell(best_b.get(key))))
    rows.append(("epochs", str(a.epochs), str(b.epochs)))
    metric = a.metric
    if a.test or b.test:
        rows.append((f"test {metric}", _cell((a.test or {}).get(metric)), _cell((b.test or {}).get(metric))))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
