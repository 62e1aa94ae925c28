"""`nnrun prepare`: CSV tables, image folders, MNIST files and demo data -> prepared datasets.

Thin wrappers: each subcommand turns its options into plain values and calls one function in
nnrun/data/prepare/. Nothing here imports torch, and pandas only loads for `prepare csv`.
"""
import shlex

import click

from nnrun.commands.options import CommandGroup, Renamed
from nnrun.cores import available_cores

SEED = click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
                    help="Random seed of the split (and of demo data); the same seed gives the same split.")
FORCE = click.option("--force", is_flag=True,
                     help="Replace a different dataset already in OUT, and redo work a previous run left.")
QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
OUT = click.argument("out", type=click.Path(file_okay=False, path_type=str))


class SplitSize(click.ParamType):
    """A split size: a count (50000) or a fraction (0.2), parsed by nnrun.data.prepare.split.parse_size."""

    name = "COUNT|FRACTION"

    def convert(self, value, param, ctx):
        from nnrun.data.prepare.split import parse_size

        return parse_size(value, param.opts[0] if param else "size")


def split_sizes(test="0.2", validation="0"):
    """The --test-size and --validation-size options, with these defaults."""
    def decorate(command):
        command = click.option(
            "--validation-size", type=SplitSize(), default=validation, show_default=True,
            help="Examples for validation, taken from what the test split leaves: a count or a fraction; "
                 "0 for none.")(command)
        return click.option(
            "--test-size", type=SplitSize(), default=test, show_default=True,
            help="Examples held out for testing: a count (50000) or a fraction (0.2); 0 for none.")(command)
    return decorate


@click.group(cls=CommandGroup)
def prepare():
    """Turn raw data into a prepared dataset folder (docs/formats.md) for train and kaggle-submit."""


@prepare.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=str))
@OUT
@click.option("--label-column", "label", cls=Renamed, old=("--label",), metavar="COLUMN",
              help="The label column (a name, or a position from 1 with --no-header).")
@click.option("--drop", metavar="COLUMN", multiple=True,
              help="A column that is neither feature nor label (repeat, or separate with commas).")
@click.option("--id-column", "id_column", cls=Renamed, old=("--id",), metavar="COLUMN",
              help="A column of item ids, kept in order (not a feature).")
@click.option("--category", metavar="COLUMN", multiple=True,
              help="Take a column as a category whatever it holds (numbers as codes, or text with many "
                   "values); repeat, or separate with commas.")
@click.option("--number", metavar="COLUMN", multiple=True,
              help="Take a column as numbers; a word in it is read as missing (repeat, or separate with commas).")
@click.option("--missing", metavar="MARKER", multiple=True,
              help='Another marker of a missing cell, besides blank, NA, NaN, null and "?" (repeat).')
@click.option("--no-header", is_flag=True, help='The file has no header line: columns are named "1", "2", ...')
@click.option("--max-levels", type=click.IntRange(2, 1_000_000), default=10_000, show_default=True,
              help="A category keeps its most frequent levels up to this many; the rest read as unknown.")
@click.option("--unlabelled", is_flag=True, help="A test set without labels: keep every row, in order.")
@split_sizes()
@SEED
@FORCE
@QUIET
def csv_command(file, out, label, drop, id_column, category, number, missing, no_header, max_levels, unlabelled,
                test_size, validation_size, seed, force, quiet):
    """A CSV table (.csv, .csv.gz, .tsv, ...) -> stratified train/validation/test splits.

    Each column's kind (number, category, two-valued, date, free text) is decided from the
    training rows and shown at the end; blanks and words are encoded as docs/prepare.md says.
    Example: nnrun prepare csv adult.csv data/adult --label-column income --validation-size 0.2
    """
    from nnrun.data.prepare.csv import CsvOptions, prepare_csv

    options = CsvOptions(
        label=label, drop=_names(drop), id_column=id_column, unlabelled=unlabelled, seed=seed,
        test_size=0 if unlabelled else test_size, validation_size=0 if unlabelled else validation_size,
        header=not no_header, category=_names(category), number=_names(number), missing=tuple(missing),
        max_levels=max_levels)
    result = prepare_csv(file, out, options, command=command_line(), force=force, quiet=quiet,
                         note=None if quiet else _note)
    report(out, result, quiet)


def _names(values):
    """Repeated options whose values may also be comma-separated lists."""
    return tuple(c.strip() for d in values for c in d.split(",") if c.strip())


@prepare.command("images")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=str))
@OUT
@click.option("--size", type=click.IntRange(1, 4096), required=True,
              help="Images are resized to SIZE x SIZE pixels (Cortex's cats vs dogs: 52).")
@click.option("--channels", type=click.Choice(["1", "3"]), default="3", show_default=True,
              help="1: grayscale, 3: RGB.")
@click.option("--label-pattern", metavar="REGEX",
              help="Flat folders: the label is REGEX's first group in the file name "
                   "(default: the text before the first dot, cat.123.jpg -> cat).")
@click.option("--unlabelled", is_flag=True,
              help="A flat test set without labels: keep every image with its id (the file stem), in order.")
@split_sizes()
@click.option("--png", is_flag=True, help="Also write the browsable PNG tree png/training/<label>/N.png ...")
@click.option("--strict", is_flag=True, help="An unreadable image is an error (by default it is skipped).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Worker processes [default: all cores].")
@SEED
@FORCE
@QUIET
def images_command(src, out, size, channels, label_pattern, unlabelled, test_size, validation_size, png,
                   strict, jobs, seed, force, quiet):
    """A folder of images -> uint8 [N, C, SIZE, SIZE] splits.

    SRC holds one folder per class (cat/, dog/), or the images themselves with the label in the
    file name (cat.1.jpg). Each image is decoded once, on all cores; an interrupted run resumes.
    """
    from nnrun.data.prepare.images import ImageOptions, prepare_images

    options = ImageOptions(
        size=size, channels=int(channels), label_pattern=label_pattern, unlabelled=unlabelled,
        test_size=0 if unlabelled else test_size, validation_size=0 if unlabelled else validation_size,
        png=png, seed=seed)
    result = prepare_images(src, out, options, command=command_line(), force=force, strict=strict,
                            jobs=jobs or available_cores(), quiet=quiet, warn=_warn,
                            note=None if quiet else _note)
    report(out, result, quiet)


@prepare.command("mnist")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=str))
@OUT
@click.option("--validation-size", type=SplitSize(), default="0", show_default=True,
              help="Take the LAST N training images (a count, or a fraction) as the validation split.")
@click.option("--png", is_flag=True, help="Also write the browsable PNG tree png/training/<label>/N.png ...")
@SEED
@FORCE
@QUIET
def mnist_command(directory, out, validation_size, png, seed, force, quiet):
    """The four MNIST IDX files (gzipped or raw) in DIR -> train/test (and validation) splits."""
    from nnrun.data.prepare.mnist import prepare_mnist

    result = prepare_mnist(directory, out, validation_size=validation_size,
                           png=png, seed=seed, command=command_line(), force=force, jobs=available_cores(), quiet=quiet)
    report(out, result, quiet)


@prepare.group("demo")
def demo():
    """Small deterministic synthetic datasets, for a first run on a fresh machine."""


@demo.command("fraud")
@OUT
@click.option("--rows", type=click.IntRange(100, 10_000_000), default=20_000, show_default=True)
@split_sizes(validation="0.2")
@SEED
@FORCE
@QUIET
def demo_fraud(out, rows, test_size, validation_size, seed, force, quiet):
    """A fraud-like table: 29 features (V1..V28, Amount), 0.25% positives that can be learnt."""
    from nnrun.data.prepare.demo import prepare_demo_fraud

    result = prepare_demo_fraud(out, rows=rows, test_size=test_size, validation_size=validation_size, seed=seed,
                                command=command_line(), force=force)
    report(out, result, quiet)


@demo.command("shapes")
@OUT
@click.option("--count", type=click.IntRange(30, 1_000_000), default=3000, show_default=True,
              help="Images in all (a third of each shape).")
@click.option("--size", type=click.IntRange(8, 1024), default=28, show_default=True)
@click.option("--channels", type=click.Choice(["1", "3"]), default="1", show_default=True)
@split_sizes(validation="0.2")
@click.option("--png", is_flag=True, help="Also write the browsable PNG tree png/training/<label>/N.png ...")
@SEED
@FORCE
@QUIET
def demo_shapes(out, count, size, channels, test_size, validation_size, png, seed, force, quiet):
    """Drawn circles, squares and triangles at random places, sizes and angles, with noise."""
    from nnrun.data.prepare.demo import prepare_demo_shapes

    result = prepare_demo_shapes(out, count=count, size=size, channels=int(channels), test_size=test_size,
                                 validation_size=validation_size, png=png, seed=seed, command=command_line(),
                                 force=force, jobs=available_cores(), quiet=quiet)
    report(out, result, quiet)


def command_line():
    """The command as typed (options in a fixed order), from the parameters click parsed.

    Rebuilt rather than taken from sys.argv so it is right however nnrun was started
    (console script, python -m nnrun, or in-process from a test).
    """
    ctx = click.get_current_context()
    words = []
    for level in reversed(list(_chain(ctx))):
        words.append(level.info_name)
        for param in level.command.params:
            value = level.params.get(param.name)
            source = level.get_parameter_source(param.name)
            if isinstance(param, click.Argument):
                words.append(str(value))
            elif source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
                flag = max(param.opts, key=len)
                if param.is_flag:
                    words.append(flag)
                else:
                    for item in value if param.multiple else [value]:
                        words += [flag, str(item)]
    return shlex.join(words)


def _chain(ctx):
    while ctx is not None:
        yield ctx
        ctx = ctx.parent


def report(out, manifest, quiet):
    """One line per split, or a note that OUT was already up to date."""
    if manifest is None:
        if not quiet:
            click.echo(f"{out} already holds this dataset (same options, same sources): nothing to do; "
                       f"--force rebuilds it")
        return
    if quiet:
        return
    shape = (f"{len(manifest['features'])} features" if manifest["kind"] == "table"
             else "{channels}x{size}x{size} images".format(**manifest["image"]))
    click.echo(f"prepared {out}: {shape}, classes {', '.join(manifest['classes']) or '(unlabelled)'}")
    for name, split in manifest["splits"].items():
        counts = split.get("class-counts")
        per_class = f" ({', '.join(f'{c} {k}' for c, k in counts.items())})" if counts else ""
        click.echo(f"  {name:<10} {split['count']:>8}{per_class}")
    if manifest.get("encoding"):
        from nnrun.data.table.summary import column_table

        click.echo(column_table(manifest["encoding"]))


def _warn(message):
    click.echo(f"warning: {message}", err=True)


def _note(message):
    click.echo(message, err=True)
