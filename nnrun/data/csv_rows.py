"""Reading CSV/TSV tables (optionally compressed): the one reader of `nnrun prepare csv` and of
the CSV inputs of `infer` and `kaggle-submit`, so a bad file or cell reads the same from each.

Files are read in chunks of rows by pandas. An empty or non-numeric feature cell is an error
naming its row and column; rows are numbered from 1 after the header, so "row 2 (line 3)" is the
third line of the file. The file may have more columns than the features asked for: they are
ignored, except an id column (whose values name the rows) and a label column.
"""
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from nnrun.data.files import csv_separator, not_regular
from nnrun.errors import UserError, did_you_mean

CHUNK_ROWS = 50_000
LISTED = 60  # columns named in a "no such column" message


def read_columns(path):
    """The header of a CSV file, as strings."""
    return read_header(path, text_separator(path))


def check_columns(path, columns, features, id_column=None, label_column=None):
    """UserError unless `columns` hold every feature and the named id/label columns."""
    missing = [f for f in features if f not in columns]
    if missing:
        shown = ", ".join(missing[:20]) + (f" (and {len(missing) - 20} more)" if len(missing) > 20 else "")
        raise UserError(f"{path} lacks {len(missing)} of the checkpoint's {len(features)} feature columns: {shown}")
    for name, option in ((id_column, "--id-column"), (label_column, "--label-column")):
        if name is not None and name not in columns:
            raise UserError(f'{path} has no column "{name}" ({option}){did_you_mean(name, columns)}; '
                            f"its columns are: {', '.join(columns[:30])}")
        if name is not None and name in features:
            raise UserError(f'{path}: "{name}" ({option}) is one of the network\'s feature columns')


def chunks(path, text_columns=(), chunk_rows=CHUNK_ROWS, header=True, names=None):
    """(rows before it, pandas chunk) for each chunk of the file; `text_columns` are read as text.
    Without a header line the columns are named `names`, by default by position: "1", "2", ...
    A file pandas cannot parse is a UserError naming it."""
    import pandas as pd

    if not header and names is None:
        names = headerless_names(path)

    # No usecols: with it pandas silently ignores extra fields in a row; index_col=False stops it
    # from taking a first column as the index when rows are one field longer than the header.
    rows = 0
    with longer_first_row_is_an_error(path):
        try:
            for chunk in pd.read_csv(path, sep=text_separator(path), dtype={c: str for c in text_columns},
                                     index_col=False, keep_default_na=False, na_values=[""], chunksize=chunk_rows,
                                     header=0 if header else None, names=names):
                yield rows, chunk
                rows += len(chunk)
        except pd.errors.EmptyDataError:
            raise UserError(f"{path} is empty (no header line)") from None
        except pd.errors.ParserError as problem:
            raise UserError(f"{path}: {first_line(problem)}") from None
        except (UnicodeDecodeError, OSError, EOFError, *damaged_archive()) as problem:
            raise UserError(f"{path} could not be read after row {rows} ({first_line(problem)})") from None


def read_rows(path, features, id_column=None, label_column=None, chunk_rows=CHUNK_ROWS):
    """For inference: chunks of (first row number, float32 [n, F] features in `features` order,
    ids or None, labels or None), streamed from the file."""
    text = [c for c in (id_column, label_column) if c is not None]
    for before, chunk in chunks(path, text, chunk_rows):
        x = feature_values(path, chunk, features, before, drop_hint=False)
        ids = text_cells(path, chunk[id_column], id_column, before, "id") if id_column else None
        labels = text_cells(path, chunk[label_column], label_column, before, "label") if label_column else None
        yield before + 1, x, ids, labels


def text_separator(path):
    """The field separator for a .csv/.tsv file, optionally compressed; else a UserError."""
    sep = csv_separator(path)
    if sep is not None:
        return sep
    suffix = "".join(Path(path).suffixes[-2:]) or "(none)"
    raise UserError(f'{path}: unknown extension "{suffix}"; give a .csv or .tsv file '
                    f"(optionally .gz, .bz2, .xz or .zip)")


# What reading a damaged compressed file raises besides OSError: lzma's own error type,
# zipfile's for a .zip that is not one, and zlib's for deflated data damaged inside a .gz or a
# .zip (all plain Exceptions).
def damaged_archive():
    import lzma
    import zipfile
    import zlib

    return (lzma.LZMAError, zipfile.BadZipFile, zlib.error)


def headerless_names(path):
    """A file without a header line: its columns named by position, "1" to the first row's count."""
    import pandas as pd

    try:
        first = pd.read_csv(path, sep=text_separator(path), header=None, nrows=1, dtype=str,
                            keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError, *damaged_archive()) as problem:
        raise UserError(f"{path} is not a readable CSV file ({first_line(problem)})") from None
    return [str(i + 1) for i in range(first.shape[1])]


def read_header(path, sep, header=True):
    """The column names: the header line's, or by position for a file without one."""
    import pandas as pd

    if not header:
        kind = not_regular(path)
        if kind:
            raise UserError(f"{path} is {kind}, not a CSV file")
        check_zip(path)
        return headerless_names(path)

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
    """A .zip must hold exactly one entry, the table (pandas reads no other, and counts a
    folder's entry as one: `sub/` beside `sub/t.csv` is two); else a UserError that lists what
    it holds. Damage is left to the reader, which reports it."""
    import zipfile

    if not str(path).lower().endswith(".zip"):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            locked = [info.filename for info in archive.infolist() if info.flag_bits & 0x1]
    except (zipfile.BadZipFile, OSError, EOFError) as problem:
        raise UserError(f"{path} is not a readable zip file ({first_line(problem)})") from None
    if locked:  # zipfile would ask for a password half way through reading
        raise UserError(f"{path}: {locked[0]} is encrypted; unzip it with its password and give the CSV file")
    if len(members) != 1:
        listed = ", ".join(members[:LISTED]) + (f", ... ({len(members)} in all)" if len(members) > LISTED else "")
        raise UserError(f"{path}: a zip must hold exactly one CSV file, this one holds {len(members)}"
                        + (f": {listed}" if members else ""))


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


def text_cells(path, column, name, first_row, what):
    """A chunk's text column (ids, labels), stripped; a UserError at its first empty cell."""
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
