"""`nnrun prepare csv`: a table with a label column -> a prepared table dataset.

The file is read in chunks of rows and its features go straight to a float32 scratch file in the
output's build folder, so memory stays bounded by one chunk (plus 4 bytes of label per row)
however long the file is. Every cell is checked on the way: an empty or non-numeric one is an
error naming its row and column. The splits are then copied out of the scratch file.

Rows are numbered from 1 after the header, so "row 2 (line 3)" is the third line of the file.
"""
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnrun.data.files import check_unique, csv_separator, not_regular
from nnrun.data.prepare_arrays import block_rows, write_splits
from nnrun.data.prepare_manifest import file_source, manifest
from nnrun.data.prepare_output import prepare_into
from nnrun.data.prepare_progress import bar
from nnrun.data.prepare_split import class_names, require_two_classes, stratified_split
from nnrun.errors import UserError, did_you_mean, os_problem

CHUNK_ROWS = 50_000
LISTED = 60  # columns named in a "no such column" message


@dataclass
class CsvOptions:
    label: str = None          # the label column; None for unlabelled sets
    drop: tuple = ()           # columns that are neither features nor label
    id_column: str = None      # a column of item ids (kept in order, not a feature)
    unlabelled: bool = False
    test_size: object = 0.2    # count or fraction (prepare_split.parse_size)
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
        table = read_table(path, sep, features, options, folder / "all.x.f32", quiet)
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


def text_separator(path):
    """The field separator for a .csv/.tsv file, optionally compressed; else a UserError."""
    sep = csv_separator(path)
    if sep is not None:
        return sep
    suffix = "".join(path.suffixes[-2:]) or "(none)"
    raise UserError(f'{path}: unknown extension "{suffix}"; give a .csv or .tsv file '
                    f"(optionally .gz, .bz2, .xz or .zip)")


# What reading a damaged compressed file raises besides OSError: lzma's own error type, and
# zipfile's for a .zip that is not one (both are plain Exceptions).
def damaged_archive():
    import lzma
    import zipfile

    return (lzma.LZMAError, zipfile.BadZipFile)


def read_header(path, sep):
    import pandas as pd

    kind = not_regular(path)
    if kind:  # a pipe would be read up to the header here and be empty for the rows
        raise UserError(f"{path} is {kind}, not a CSV file")
    check_zip(path)
    try:
        header = pd.read_csv(path, sep=sep, nrows=0)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty (no header line)") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError, *damaged_archive()) as problem:
        raise UserError(f"{path} is not a readable CSV file ({first_line(problem)})") from None
    columns = [str(c) for c in header.columns]
    mangled = [c for c in columns if "." in c and c.rsplit(".", 1)[0] in columns]
    if mangled:
        raise UserError(f'{path}: column "{mangled[0].rsplit(".", 1)[0]}" appears more than once in the header')
    return columns


@contextmanager
def longer_first_row_is_an_error(path):
    """pandas only warns, and drops the field, when the first row has one field more than the
    header (later rows are its ParserError): make that an error naming the row too."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            yield
        except pd.errors.ParserWarning:
            raise UserError(f"{path} row 1 (line 2) has more fields than the header") from None


def check_zip(path):
    """A .zip must hold exactly one file, the table (pandas reads no other); else a UserError
    that lists what it holds. Damage is left to the reader, which reports it."""
    import zipfile

    if not str(path).lower().endswith(".zip"):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info.filename for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as problem:
        raise UserError(f"{path} is not a readable zip file ({first_line(problem)})") from None
    if len(members) != 1:
        listed = ", ".join(members[:LISTED]) + (f", ... ({len(members)} in all)" if len(members) > LISTED else "")
        raise UserError(f"{path}: a zip must hold exactly one CSV file, this one holds {len(members)}"
                        + (f": {listed}" if members else ""))


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


def read_table(path, sep, features, options, scratch, quiet=True):
    """Stream the file's rows: features into `scratch` (raw float32), labels and ids in memory."""
    import pandas as pd

    text_columns = {c: str for c in (options.label, options.id_column) if c is not None}
    # No usecols: with it pandas silently ignores extra fields in a row; index_col=False stops it
    # from taking a first column as the index when rows are one field longer than the header.
    reader = pd.read_csv(path, sep=sep, dtype=text_columns, index_col=False, keep_default_na=False,
                         na_values=[""], chunksize=CHUNK_ROWS)
    codes, raw_labels, ids = [], {}, []
    rows = 0
    with open(scratch, "wb") as sink, bar(None, "reading", quiet, unit="rows") as progress, \
            longer_first_row_is_an_error(path):
        try:
            for chunk in reader:
                values = feature_values(path, chunk, features, rows)
                try:
                    sink.write(values.tobytes())
                except OSError as problem:  # the output's disk, not the input, is at fault
                    raise os_problem(problem, scratch) from None
                if options.label is not None:
                    codes.append(_label_codes(path, chunk[options.label], rows, raw_labels))
                if options.id_column is not None:
                    ids.extend(_text(path, chunk[options.id_column], options.id_column, rows, "id"))
                rows += len(chunk)
                progress.update(len(chunk))
        except pd.errors.ParserError as problem:
            raise UserError(f"{path}: {first_line(problem)}") from None
        except (UnicodeDecodeError, OSError, EOFError, *damaged_archive()) as problem:
            raise UserError(f"{path} could not be read after row {rows} ({first_line(problem)})") from None
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


def feature_values(path, chunk, features, first_row, drop_hint=True):
    """The chunk's features as float32 [rows, F]; a UserError at the first cell that is not a
    finite number. `first_row`: how many data rows came before this chunk. Inference reads
    CSV rows through this too, so a bad cell reads the same from either command."""
    import pandas as pd

    frame = chunk[features]
    # a cell beyond float32 (1e39) overflows to inf, found below and named by row and column;
    # numpy's overflow warning would only add lines of noise before that message
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if all(kind in "biuf" for kind in (dt.kind for dt in frame.dtypes)):
            values = frame.to_numpy(dtype=np.float32, na_value=np.nan)
        else:
            values = np.empty((len(frame), len(features)), np.float32)
            for j, column in enumerate(features):
                values[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float32,
                                                                                     na_value=np.nan)
        bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raw = frame.iloc[i, j]
        row = first_row + i + 1
        column = features[j]
        if pd.isna(raw):
            what = "empty cell"
        else:
            what = f"{shown_cell(raw)} is not a finite number"
            if drop_hint and not _is_number(raw):
                what = f"{shown_cell(raw)} is not a number (use --drop {column} if it is not a feature)"
        raise UserError(f'{path} row {row} (line {row + 1}), column "{column}": {what}')
    return np.ascontiguousarray(values)


def _label_codes(path, column, first_row, seen):
    """Codes of the chunk's labels in order of first appearance (`seen`: raw label -> code)."""
    labels = _text(path, column, column.name, first_row, "label")
    codes = np.empty(len(labels), np.int32)
    for i, label in enumerate(labels):
        code = seen.get(label)
        if code is None:
            code = seen[label] = len(seen)
        codes[i] = code
    return codes


def _text(path, column, name, first_row, what):
    values = column.to_numpy(dtype=object, na_value=None)
    stripped = [v.strip() if isinstance(v, str) else v for v in values]
    for i, value in enumerate(stripped):
        if not value:
            row = first_row + i + 1
            raise UserError(f'{path} row {row} (line {row + 1}), column "{name}": empty {what}')
    return stripped


def shown_cell(raw, limit=40):
    """A cell as a message shows it: quoted, control characters escaped, long ones cut short."""
    text = str(raw)
    cut = f"... ({len(text):,} characters)" if len(text) > limit else ""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return f'"{shown}"{cut}'


def _is_number(text):
    try:
        float(str(text))
        return True
    except ValueError:
        return False


def first_line(problem):
    return str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
