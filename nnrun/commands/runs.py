"""`nnrun runs [FOLDER]`: one line per run below FOLDER; `--diff RUN_A RUN_B` compares two runs.

Thin wrapper over nnrun.runs (reading run folders) and nnrun.runs_table (rows and their text).
"""
from pathlib import Path

import click


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False), default="runs")
@click.option("--sort", "sort_key", metavar="METRIC", default=None,
              help="Order by a column or a metric of the best epoch (f-beta, accuracy, loss, wall, ...).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--diff", nargs=2, metavar="RUN_A RUN_B", type=click.Path(file_okay=False), default=None,
              help="Show the config keys two runs differ in, and their best metrics side by side.")
def runs(folder, sort_key, fmt, diff):
    """List the runs found below FOLDER (default runs/): name, start, status, epochs, best metric
    and its epoch, threshold, test figure, wall seconds."""
    from nnrun.errors import UserError
    from nnrun.runs import find_runs, next_step, read_run
    from nnrun import runs_table

    if diff:
        a, b = (read_run(path) for path in diff)
        for warning in a.warnings + b.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(runs_table.diff_text(a, b))
        return
    root = Path(folder)
    paths = find_runs(root)
    if not paths:
        raise UserError(f"{root}: no run folders below it (a run folder holds run.json or metrics.jsonl)")
    rows, steps = [], []
    for path in paths:
        summary = read_run(path)
        for warning in summary.warnings:
            click.echo(f"warning: {warning}", err=True)
        rows.append(runs_table.run_row(summary, root))
        steps.append(next_step(path, summary.status, summary.epochs))
    from nnrun.sweep.folder import is_sweep

    view = None
    if is_sweep(root):  # a sweep's trials: their swept values too, best first by the metric that judged them
        from nnrun.sweep.listing import TrialsView

        view = TrialsView(root, rows)
    closing = view is not None and sort_key is None
    rows = view.sort(rows, sort_key) if view is not None else runs_table.sort_rows(rows, sort_key)
    columns = view.columns if view is not None else runs_table.COLUMNS
    if fmt == "table":
        click.echo(runs_table.as_table(view.cells(rows) if view is not None else rows, columns))
    else:
        click.echo({"csv": runs_table.as_csv, "json": runs_table.as_json}[fmt](rows, columns))
    if closing and fmt == "table":
        for line in view.closing(rows):
            click.echo(line)
    elif view is None and fmt == "table":  # what finishes each run left stopped or empty
        for line in filter(None, steps):
            click.echo(line)
