"""`nnrun kaggle-submit CHECKPOINT TEST -o submission.csv`: a competition submission.

A thin wrapper: options -> SubmitOptions (one field per option) -> nnrun.infer.submit_run.run_submit.
"""
import click

from nnrun.commands.options import POSITIVE, THRESHOLD, run_options


@click.command("kaggle-submit")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.argument("test", type=click.Path(path_type=str))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=str), default="submission.csv",
              show_default=True, help="The submission file (written atomically).")
@click.option("--output", type=click.Choice(["class", "probability"]), default="class", show_default=True,
              help="class: 1 for the positive class and 0 otherwise (two classes) or the class name; "
                   "probability: P(positive class).")
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
def kaggle_submit(checkpoint, test, checkpoints, **settings):
    """Predict every item of TEST with CHECKPOINT and write id,label rows sorted by id.

    TEST is a flat folder of images named by id (1.jpg ... 12500.jpg), a prepared unlabelled
    dataset, or a CSV file with an id column.
    """
    from nnrun.infer.submit_run import SubmitOptions, run_submit

    run_submit(checkpoint, test, SubmitOptions(checkpoints=list(checkpoints), **settings), echo=click.echo,
               warn=lambda message: click.echo(f"warning: {message}", err=True))
