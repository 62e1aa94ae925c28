"""`nnrun kaggle-submit CHECKPOINT TEST -o submission.csv`: a competition submission.

A thin wrapper: options -> SubmitOptions (one field per option) -> nnrun.infer.submit_run.run_submit.
"""
import click

from nnrun.commands.options import POSITIVE, THRESHOLD, Renamed, run_options
from nnrun.errors import UserError

KINDS = ("class", "probability")  # what a row holds
DEFAULT_FILE = "submission.csv"


@click.command("kaggle-submit")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.argument("test", type=click.Path(path_type=str))
@click.option("-o", "--output", "outputs", cls=Renamed, old=("--out",), multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=str),
              help="The submission file (written atomically) [default: submission.csv].")
@click.option("--predict", type=click.Choice(KINDS), default=None,
              help="class: 1 for the positive class and 0 otherwise (two classes) or the class name; "
                   "probability: P(positive class) [default: class].")
@click.option("--clip", type=(float, float), default=None, metavar="LOW HIGH",
              help="Clip probabilities to [LOW, HIGH] (log-loss competitions: --clip 0.05 0.95).")
@click.option("--column", default=None, metavar="NAME", help="Header of the label column [default: label].")
@click.option("--id-column", default=None, metavar="COLUMN",
              help="A CSV TEST's id column [default: a column named id].")
@click.option("--sample-submission", "sample", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Kaggle's sample file: its header, id column and rows; refuses a submission whose ids differ.")
@click.option("--tta", type=click.Choice(["mirror"]), default=None,
              help="Test-time augmentation: average with the mirrored image's probabilities.")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(dir_okay=False, path_type=str),
              help="Another checkpoint to average with (an ensemble); repeat for more.")
@THRESHOLD
@POSITIVE
@click.option("--split", default=None, help="The split of a prepared dataset TEST [default: test].")
@run_options
def kaggle_submit(checkpoint, test, checkpoints, outputs, predict, **settings):
    """Predict every item of TEST with CHECKPOINT and write id,label rows sorted by id.

    TEST is a flat folder of images named by id (1.jpg ... 12500.jpg), a prepared unlabelled
    dataset, or a CSV file with an id column.
    """
    from nnrun.infer.submit_run import SubmitOptions, run_submit

    out, predict = file_and_kind(outputs, predict)
    run_submit(checkpoint, test, SubmitOptions(checkpoints=list(checkpoints), out=out, output=predict, **settings),
               echo=click.echo, warn=lambda message: click.echo(f"warning: {message}", err=True))


def file_and_kind(outputs, predict):
    """(submission file, class|probability) from the -o/--output values and --predict.

    Before -o/--output named the file everywhere, kaggle-submit spelled the file -o/--out and
    what a row holds --output class|probability; command lines of that time keep working, so an
    --output value of exactly `class` or `probability` is the old option (a file of that name
    is ./class). The option takes several values only to tell the two apart: the last file
    counts, as for any option given twice."""
    files = [value for value in outputs if value not in KINDS]
    kinds = {value for value in outputs if value in KINDS} | ({predict} if predict else set())
    if len(kinds) > 1:
        raise UserError(f"--predict: both {' and '.join(sorted(kinds))} are asked for (--output "
                        f"{'/'.join(KINDS)} is its old spelling); choose one")
    return (files[-1] if files else DEFAULT_FILE), (kinds.pop() if kinds else "class")
