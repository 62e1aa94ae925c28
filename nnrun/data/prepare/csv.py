"""`nnrun prepare csv`: a table with a label column -> a prepared table dataset.

The file is read in chunks of rows and its features go straight to a float32 scratch file in the
output's build folder, so memory stays bounded by one chunk (plus 4 bytes of label per row)
however long the file is. Every cell is checked on the way: an empty or non-numeric one is an
error naming its row and column. The splits are then copied out of the scratch file.

The reading itself (chunks, cells, damaged files) is nnrun.data.csv_rows, shared with `infer`.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnrun.data.csv_rows import LISTED, chunks, feature_values, read_header, text_cells, text_separator
from nnrun.data.files import check_unique
from nnrun.data.prepare.arrays import block_rows, write_splits
from nnrun.data.prepare.manifest import file_source, manifest
from nnrun.data.prepare.output import prepare_into
from nnrun.data.prepare.split import class_names, require_two_classes, stratified_split
from nnrun.errors import UserError, did_you_mean, os_problem
from nnrun.progress import bar


@dataclass
class CsvOptions:
    label: str = None          # the label column; None for unlabelled sets
    drop: tuple = ()           # columns that are neither features nor label
    id_column: str = None      # a column of item ids (kept in order, not a feature)
    unlabelled: bool = False
    test_size: object = 0.2    # count or fraction (nnrun.data.prepare.split.parse_size)
    validation_size: object = 0
    seed: int = 0

    def as_manifest(self):
        return {"source": "csv", "label": self.label, "drop": list(self.drop), "id": self.id_column,
                "unlabelled": self.unlabelled, "test-size": self.test_size,
                "validation-size": self.validation_size, "seed": self.seed}


@dataclass
class Table:
    scratch: Path          # the features, float32 [rows, width], raw (no header)
    rows: int
    width: int
    labels: np.ndarray     # int64 [rows], or None when unlabelled
    classes: list
    ids: object            # indexable: ids[i] is row i's id

    def blocks(self):
        """The features as consecutive blocks of rows, read from the scratch file."""
        step = block_rows((self.width,), np.float32)
        with open(self.scratch, "rb") as f:
            for start in range(0, self.rows, step):
                count = min(step, self.rows - start)
                yield np.fromfile(f, dtype=np.float32, count=count * self.width).reshape(count, self.width)


def prepare_csv(path, out, options, *, command, force=False, quiet=False):
    """Prepare OUT from the CSV file at `path`; the manifest, or None when OUT was up to date."""
    path = Path(path)
    sep = text_separator(path)
    features = feature_columns(path, read_header(path, sep), options)

    def make(folder):
        table = read_table(path, features, options, folder / "all.x.f32", quiet)
        if options.unlabelled:
            splits = {"test": np.arange(table.rows)}
        else:
            splits = stratified_split(table.labels, table.classes, options.test_size,
                                      options.validation_size, options.seed)
        entries, stats = write_splits(folder, table.blocks(), shape=(table.rows, table.width), dtype=np.float32,
                                      labels=table.labels, ids=table.ids, splits=splits, classes=table.classes,
                                      statistics="table")
        table.scratch.unlink()
        return manifest("table", classes=table.classes, splits=entries, sources=[file_source(path)],
                        options=options.as_manifest(), seed=options.seed, command=command,
                        features=features, normalisation=stats, labelled=not options.unlabelled)

    return prepare_into(out, options=options.as_manifest(), sources=lambda: [file_source(path)],
                        force=force, make=make)


def feature_columns(path, columns, options):
    """Every column but the label, the id and the dropped ones; checks that those exist."""
    def known(name, option):
        if name not in columns:
            listed = ", ".join(columns[:LISTED]) + (f", ... ({len(columns)} in all)" if len(columns) > LISTED else "")
            raise UserError(f'{path} has no column "{name}" ({option}){did_you_mean(name, columns)}; '
                            f"its columns are: {listed}")

    if options.unlabelled:
        if options.label is not None:
            raise UserError("--unlabelled sets have no --label column; "
                            "use --drop to leave a column out")
    else:
        if options.label is None:
            raise UserError("--label COLUMN is required (or --unlabelled for a test set without labels)")
        known(options.label, "--label")
    if options.id_column is not None:
        known(options.id_column, "--id")
    for name in options.drop:
        known(name, "--drop")
    roles = [name for name in (options.label, options.id_column, *set(options.drop)) if name is not None]
    twice = sorted({name for name in roles if roles.count(name) > 1})
    if twice:
        raise UserError(f'column "{twice[0]}" is given to more than one of --label, --id and --drop')
    special = {options.label, options.id_column} - {None}
    features = [c for c in columns if c not in special and c not in options.drop]
    if not features:
        raise UserError(f"{path}: no feature columns are left after --label, --id and --drop")
    return features


def read_table(path, features, options, scratch, quiet=True):
    """Stream the file's rows: features into `scratch` (raw float32), labels and ids in memory."""
    codes, raw_labels, ids = [], {}, []
    rows = 0
    text = [c for c in (options.label, options.id_column) if c is not None]
    with open(scratch, "wb") as sink, bar(None, "reading", quiet, unit="rows") as progress:
        for before, chunk in chunks(path, text):
            values = feature_values(path, chunk, features, before)
            try:
                sink.write(values.tobytes())
            except OSError as problem:  # the output's disk, not the input, is at fault
                raise os_problem(problem, scratch) from None
            if options.label is not None:
                codes.append(_label_codes(path, chunk[options.label], before, raw_labels))
            if options.id_column is not None:
                ids.extend(text_cells(path, chunk[options.id_column], options.id_column, before, "id"))
            progress.update(len(chunk))
            rows = before + len(chunk)
    if rows == 0:
        raise UserError(f"{path} has a header but no rows")
    labels, classes = None, []
    if options.label is not None:
        classes, index = class_names(raw_labels)
        lookup = np.array([index[raw] for raw in raw_labels], dtype=np.int64)  # first-seen order
        labels = lookup[np.concatenate(codes)]
        require_two_classes(classes, f'{path} column "{options.label}"')
    if options.id_column is not None:
        check_unique(ids, f'{path} column "{options.id_column}"', name=lambda i: f"row {i + 1}")
    return Table(scratch=scratch, rows=rows, width=len(features), labels=labels, classes=classes,
                 ids=ids if options.id_column else range(1, rows + 1))


def _label_codes(path, column, first_row, seen):
    """Codes of the chunk's labels in order of first appearance (`seen`: raw label -> code)."""
    labels = text_cells(path, column, column.name, first_row, "label")
    codes = np.empty(len(labels), np.int32)
    for i, label in enumerate(labels):
        code = seen.get(label)
        if code is None:
            code = seen[label] = len(seen)
        codes[i] = code
    return codes
