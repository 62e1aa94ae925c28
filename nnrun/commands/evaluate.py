"""`nnrun evaluate CHECKPOINT DATASET`: a model's metrics on a prepared split, at its stored threshold."""
import json

import click

from nnrun.commands.options import DEVICE


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("dataset", type=click.Path())
@click.option("--split", default="test", show_default=True, help="The split to measure (train, validation, test).")
@click.option("--label-column", metavar="COLUMN", default=None,
              help="DATASET is a raw CSV file: its label column [default: the one training read].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Decide P(positive) >= THRESHOLD instead of the checkpoint's stored threshold.")
@click.option("--batch-size", type=click.IntRange(1), default=1024, show_default=True)
@DEVICE
@click.option("--tta", type=click.Choice(["mirror"]), default=None,
              help="Test-time augmentation: average with the mirrored image's probabilities (as kaggle-submit).")
def evaluate(checkpoint, dataset, split, label_column, fmt, threshold, batch_size, device, tta):
    """Loss, accuracy, precision, recall, F-beta, average precision, per-class table and confusion
    matrix of CHECKPOINT on a split of the prepared DATASET (the whole split, in one pass), or on
    a raw CSV file of labelled table rows (encoded as the model's training encoded them)."""
    from nnrun.train.assess import evaluate_checkpoint
    from nnrun.train.report import metrics_table

    result = evaluate_checkpoint(checkpoint, dataset, split=split, threshold=threshold,
                                 batch_size=batch_size, device=device, tta=tta, label_column=label_column)
    for note in result.get("notes", []):
        click.echo(note, err=True)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{checkpoint} (epoch {result['epoch']}) on {dataset} [{result['split']}]"
               + (" with mirror test-time augmentation" if tta else ""))
    click.echo(metrics_table(result["metrics"], result["classes"], result["beta"]))
