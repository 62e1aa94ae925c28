"""CSV feature rows for inference: read in chunks, the checkpoint's feature columns picked out.

The file may have more columns than the network's features (a label, an id, dropped columns):
they are ignored, except an id column (whose values name the rows) and a label column (whose
values are reported beside the prediction). Missing feature columns are an error that lists
them; an empty or non-numeric feature cell is an error naming its row and column. Rows are
numbered from 1 after the header, as `nnrun prepare csv` numbers them.

The CSV reading itself is `nnrun prepare csv`'s, imported only when a table is read: image
inputs (the usual case of a submission) never pay for it.
"""
from nnrun.data.files import csv_separator
from nnrun.errors import UserError, did_you_mean

CHUNK_ROWS = 50_000


def read_columns(path):
    """The header of a CSV file, as strings."""
    from nnrun.data.prepare_csv import read_header

    return read_header(path, csv_separator(path) or ",")


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


def read_rows(path, features, id_column=None, label_column=None, chunk_rows=CHUNK_ROWS):
    """Chunks of (first row number, float32 [n, F] features in `features` order, ids or None,
    labels or None), streamed from the file."""
    from nnrun.data.prepare_csv import longer_first_row_is_an_error

    text = {c: str for c in (id_column, label_column) if c is not None}
    with longer_first_row_is_an_error(path):
        yield from _read_chunks(path, features, id_column, label_column, chunk_rows, text)


def _read_chunks(path, features, id_column, label_column, chunk_rows, text):
    import pandas as pd

    from nnrun.data.prepare_csv import damaged_archive, feature_values, first_line

    try:
        reader = pd.read_csv(path, sep=csv_separator(path) or ",", dtype=text, index_col=False,
                             keep_default_na=False, na_values=[""], chunksize=chunk_rows)
        first = 1
        for chunk in reader:
            x = feature_values(path, chunk, features, first - 1, drop_hint=False)
            ids = _text(path, chunk, id_column, first, "id") if id_column else None
            labels = _text(path, chunk, label_column, first, "label") if label_column else None
            yield first, x, ids, labels
            first += len(chunk)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty (no header line)") from None
    except pd.errors.ParserError as problem:
        raise UserError(f"{path}: {first_line(problem)}") from None
    except (UnicodeDecodeError, OSError, EOFError, *damaged_archive()) as problem:
        raise UserError(f"{path} could not be read ({first_line(problem)})") from None


def _text(path, chunk, column, first_row, what):
    values = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip()
              for v in chunk[column].tolist()]
    for i, value in enumerate(values):
        if not value:
            row = first_row + i
            raise UserError(f'{path} row {row} (line {row + 1}), column "{column}": empty {what}')
    return values
