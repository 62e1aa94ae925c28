"""`nnrun report RUN [-o FILE.html]`: one self-contained HTML file of a run's pictures, and the
pictures themselves in RUN/report/. Thin wrapper over nnrun.report.build."""
import click


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write [default: RUN/report.html].")
def report(run, output):
    """Write a report of the run in folder RUN: learning curves, precision-recall curve, confusion
    matrix, per-class precision and recall, first-layer weights (and their GIF over epochs), the
    most confident mistakes on image datasets. The HTML inlines every picture: it opens offline."""
    from nnrun.report.build import write_report

    page, pictures, warnings = write_report(run, output)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{page} ({len(pictures)} pictures; also in {pictures[0].parent if pictures else run})")
