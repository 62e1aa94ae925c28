"""`nnrun infer CHECKPOINT INPUT...`: probability map and class (or reconstruction error) per input.

A thin wrapper: options -> InferOptions (one field per option) -> nnrun.infer.run.run_infer. Imports stay light here
(no torch, no numpy) so start-up is quick; on the CPU the network runs on ONNX Runtime, without torch.
"""
import click

DEVICE = click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
                      help="Where the network runs: auto takes the GPU when there is one.")
ENGINE = click.option("--engine", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
                      help="onnx: ONNX Runtime on the CPU, from the graph the checkpoint carries. torch: the "
                           "network's torch modules, CPU or GPU. auto: torch on a GPU, ONNX Runtime otherwise.")
BATCH = click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=256, show_default=True,
                     help="Inputs per forward pass (any number of inputs works).")
JOBS = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
                    help="Image worker processes (they decode, and with ONNX Runtime also predict) [default: all cores].")
SKIP_BAD = click.option("--skip-bad", is_flag=True,
                        help="Leave unreadable images out (and list them) instead of stopping.")
THRESHOLD = click.option("--threshold", type=float, default=None,
                         help="Decision threshold on P(positive class) [default: the checkpoint's].")
POSITIVE = click.option("--positive", metavar="CLASS", default=None,
                        help="The positive class for the threshold [default: the checkpoint's].")
QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def run_options(command):
    """--batch-size, --device, --engine, --jobs, --skip-bad and --quiet: how infer and
    kaggle-submit run (nnrun.infer.pipeline.PredictOptions)."""
    for option in reversed((BATCH, DEVICE, ENGINE, JOBS, SKIP_BAD, QUIET)):
        command = option(command)
    return command


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "table"]), default="jsonl",
              show_default=True, help="JSON lines (json is the same), CSV, or an aligned table.")
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

    run_infer(checkpoint, list(inputs), InferOptions(**settings),
              warn=lambda message: click.echo(f"warning: {message}", err=True))
