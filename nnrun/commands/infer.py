"""`nnrun infer CHECKPOINT INPUT...`: probability map and class (or reconstruction error) per input.

A thin wrapper: options -> InferOptions (one field per option) -> nnrun.infer.run.run_infer. Imports stay light here
(no torch, no numpy) so start-up is quick; on the CPU the network runs on ONNX Runtime, without torch.
"""
from pathlib import PurePath

import click

from nnrun.commands.options import POSITIVE, THRESHOLD, run_options


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "table"]), default=None,
              help="JSON lines (json is the same), CSV, or an aligned table [default: from the -o file's "
                   "suffix (.csv, .json, .jsonl), else jsonl].")
@click.option("--output", "-o", "out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to FILE (atomically) instead of standard output.")
@THRESHOLD
@POSITIVE
@click.option("--top-k", type=click.IntRange(1, None), default=None,
              help="Only the K most probable classes in each probability map, most probable first.")
@click.option("--split", default=None, help="The split of a prepared dataset INPUT [default: test].")
@click.option("--id-column", default=None, metavar="COLUMN", help="CSV inputs: the column naming each row.")
@click.option("--label-column", default=None, metavar="COLUMN",
              help="CSV inputs: a column of true labels, reported beside each prediction.")
@click.option("--save-reconstructions", "reconstructions", type=click.Path(file_okay=False, path_type=str),
              default=None, metavar="DIR", help="Autoencoders: write each reconstruction to DIR (PNG per image, or one CSV).")
@run_options
def infer(checkpoint, inputs, **settings):
    """Predict with CHECKPOINT on each INPUT: image files, folders of images, CSV files of
    feature rows, or prepared dataset folders (--split). Raw images get the checkpoint's own
    preprocessing, so a photo straight from a camera works.

    \b
    Each input gives, as in Cortex:
      {"input": "cat.jpg", "probability-map": {"cat": 0.9996, "dog": 0.0004}, "classification": "cat"}
    and an autoencoder gives {"input": ..., "reconstruction-error": ...}.
    """
    from nnrun.infer.run import InferOptions, run_infer

    if settings["fmt"] is None:
        settings["fmt"] = format_of(settings["out"])
    run_infer(checkpoint, list(inputs), InferOptions(**settings),
              warn=lambda message: click.echo(f"warning: {message}", err=True))


def format_of(out):
    """The format an output file's name asks for: `-o predictions.csv` means CSV."""
    suffix = PurePath(out).suffix.lower().lstrip(".") if out else ""
    return suffix if suffix in ("csv", "json", "jsonl") else "jsonl"
