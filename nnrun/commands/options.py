"""Options shared by several commands (infer and kaggle-submit share how they run)."""
import click

set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a config value (the value is read as YAML), e.g. --set train.batch-size=64.")

DEVICE = click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
                      help="Where the network runs: auto takes the GPU when there is one.")
ENGINE = click.option("--engine", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
                      help="onnx: ONNX Runtime on the CPU, from the graph the checkpoint carries. torch: the "
                           "network's torch modules, CPU or GPU. auto: torch on a GPU, ONNX Runtime otherwise.")
BATCH = click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=None,
                     help="Inputs per forward pass (any number of inputs works) [default: 256 images, "
                          "8192 table rows].")
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
    kaggle-submit run (nnrun.infer.model.PredictOptions)."""
    for option in reversed((BATCH, DEVICE, ENGINE, JOBS, SKIP_BAD, QUIET)):
        command = option(command)
    return command
