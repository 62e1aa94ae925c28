"""`nnrun prepare csv`: a table as it comes (words, blanks, dates) -> a prepared table dataset.

One streaming pass reads the file into a compact float32 scratch file in the output's build
folder (nnrun.data.table.reading), so memory stays at one chunk plus the columns' dictionaries
however long the file is. The splits are then drawn from the labelled rows; each column's kind
and encoding are fitted on the training rows (nnrun.data.table.fit); and the encoded splits are
written from the scratch file, with the encoding in the manifest for every later command.
Rows whose label is blank are in no split.

The reading itself (chunks, damaged files) is nnrun.data.csv_rows, shared with `infer`.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnrun.data.csv_rows import LISTED, read_header, text_separator
from nnrun.data.files import check_unique
from nnrun.data.prepare.arrays import write_splits
from nnrun.data.prepare.manifest import file_source, manifest
from nnrun.data.prepare.output import prepare_into
from nnrun.data.prepare.split import require_two_classes, stratified_split
from nnrun.data.table.cells import DEFAULT_MISSING
from nnrun.data.table.fit import encoded_blocks, fit_encoding
from nnrun.data.table.reading import read_raw
from nnrun.errors import UserError, did_you_mean

MAX_LEVELS = 10_000


@dataclass
class CsvOptions:
    label: str = None          # the label column; None for unlabelled sets
    drop: tuple = ()           # columns that are neither features nor label
    id_column: str = None      # a column of item ids (kept in order, not a feature)
    unlabelled: bool = False
    test_size: object = 0.2    # count or fraction (nnrun.data.prepare.split.parse_size)
    validation_size: object = 0
    seed: int = 0
    header: bool = True        # False: no header line, columns named "1", "2", ... by position
    category: tuple = ()       # columns taken as categories whatever they hold
    number: tuple = ()         # columns taken as numbers (a word in one is missing)
    missing: tuple = ()        # markers of a missing cell besides DEFAULT_MISSING
    max_levels: int = MAX_LEVELS

    @property
    def missing_markers(self):
        return tuple(dict.fromkeys((*DEFAULT_MISSING, *self.missing)))

    def as_manifest(self):
        value = {"source": "csv", "label": self.label, "drop": list(self.drop), "id": self.id_column,
                 "unlabelled": self.unlabelled, "test-size": self.test_size,
                 "validation-size": self.validation_size, "seed": self.seed}
        if not self.header:
            value["header"] = False
        for key, given in (("category", self.category), ("number", self.number), ("missing", self.missing)):
            if given:
                value[key] = list(given)
        if self.max_levels != MAX_LEVELS:
            value["max-levels"] = self.max_levels
        return value


def prepare_csv(path, out, options, *, command, force=False, quiet=False, note=None):
    """Prepare OUT from the CSV file at `path`; the manifest, or None when OUT was up to date.
    `note(line)` is told what was left out and why."""
    path = Path(path)
    sep = text_separator(path)
    options = resolve_positions(options, read_header(path, sep, options.header))
    features = feature_columns(path, read_header(path, sep, options.header), options)
    forced = {**{c: "number" for c in options.number}, **{c: "category" for c in options.category}}

    def make(folder):
        table = read_raw(path, features, label=options.label, id_column=options.id_column, forced=forced,
                         missing=options.missing_markers, scratch=folder / "all.raw.f32",
                         header=options.header, quiet=quiet)
        if options.id_column is not None:
            check_unique(table.ids, f'{path} column "{options.id_column}"', name=lambda i: f"row {i + 1}")
        if options.unlabelled:
            splits = {"test": np.arange(table.rows)}
            fit_rows = splits["test"]
        else:
            require_two_classes(table.classes, f'{path} column "{options.label}"')
            labelled = np.flatnonzero(table.labels >= 0)
            drawn = stratified_split(table.labels[labelled], table.classes, options.test_size,
                                     options.validation_size, options.seed)
            splits = {name: labelled[index] for name, index in drawn.items()}
            fit_rows = splits["train"]
        encoding = fit_encoding(table, fit_rows, options.missing_markers, options.max_levels)
        encoding.label = options.label
        if not options.header:  # later files are read by position too: say how many columns, which the label
            columns = read_header(path, sep, header=False)
            encoding.headerless = {"columns": len(columns),
                                   "label": columns.index(options.label) + 1 if options.label else None}
        if note is not None:
            _tell(note, path, options, table, encoding)
        entries, stats = write_splits(folder, encoded_blocks(table, encoding), shape=(table.rows, len(encoding.features)),
                                      dtype=np.float32, labels=table.labels, ids=table.ids, splits=splits,
                                      classes=table.classes, statistics="table")
        table.scratch.unlink()
        return manifest("table", classes=table.classes, splits=entries, sources=[file_source(path)],
                        options=options.as_manifest(), seed=options.seed, command=command,
                        features=encoding.features, normalisation=codes_unscaled(stats, encoding),
                        labelled=not options.unlabelled, encoding=encoding.to_dict())

    return prepare_into(out, options=options.as_manifest(), sources=lambda: [file_source(path)],
                        force=force, make=make)


def codes_unscaled(stats, encoding):
    """The training statistics with category codes left as they are (mean 0, std 1): an
    embedding reads them as indices."""
    if stats is None:
        return None
    for j, codes in enumerate(encoding.category_levels()):
        if codes:
            stats["mean"][j], stats["std"][j] = 0.0, 1.0
    return stats


def _tell(note, path, options, table, encoding):
    if table.blank_labels:
        note(f'{table.blank_labels:,} row{"s" if table.blank_labels != 1 else ""} with a blank label '
             f'("{options.label}") left out of the splits')


def resolve_positions(options, columns):
    """--label-column, --id-column, --drop, --category and --number given as a 1-based position (23) where no
    column has that name: the name of the column at that position."""
    def named(name):
        if name is None or name in columns:
            return name
        text = str(name).strip()
        if text.isdigit() and 1 <= int(text) <= len(columns):
            return columns[int(text) - 1]
        return name

    from dataclasses import replace

    return replace(options, label=named(options.label), id_column=named(options.id_column),
                   drop=tuple(named(c) for c in options.drop), category=tuple(named(c) for c in options.category),
                   number=tuple(named(c) for c in options.number))


def feature_columns(path, columns, options):
    """Every column but the label, the id and the dropped ones; checks that those exist."""
    def known(name, option):
        if name not in columns:
            listed = ", ".join(columns[:LISTED]) + (f", ... ({len(columns)} in all)" if len(columns) > LISTED else "")
            raise UserError(f'{path} has no column "{name}" ({option}){did_you_mean(name, columns)}; '
                            f"its columns are: {listed}")

    if options.unlabelled:
        if options.label is not None:
            raise UserError("--unlabelled sets have no --label-column; "
                            "use --drop to leave a column out")
    else:
        if options.label is None:
            raise UserError("--label-column COLUMN is required (or --unlabelled for a test set without labels)")
        known(options.label, "--label-column")
    if options.id_column is not None:
        known(options.id_column, "--id-column")
    for name in options.drop:
        known(name, "--drop")
    for name in options.category:
        known(name, "--category")
    for name in options.number:
        known(name, "--number")
    both = sorted(set(options.category) & set(options.number))
    if both:
        raise UserError(f'column "{both[0]}" is given to both --category and --number')
    roles = [name for name in (options.label, options.id_column, *set(options.drop)) if name is not None]
    twice = sorted({name for name in roles if roles.count(name) > 1})
    if twice:
        raise UserError(f'column "{twice[0]}" is given to more than one of --label-column, --id-column and --drop')
    special = {options.label, options.id_column} - {None}
    features = [c for c in columns if c not in special and c not in options.drop]
    if not features:
        raise UserError(f"{path}: no feature columns are left after --label-column, --id-column and --drop")
    return features
