"""CSV feature rows for inference: read in chunks, the checkpoint's feature columns picked out.

The file may have more columns than the network's features (a label, an id, dropped columns):
they are ignored, except an id column (whose values name the rows) and a label column (whose
values are reported beside the prediction). Missing feature columns are an error that lists
them; an empty or non-numeric feature cell is an error naming its row and column. Rows are
numbered from 1 after the header, as `nnrun prepare csv` numbers them.
"""
import numpy as np

from nnrun.errors import UserError, did_you_mean

CHUNK_ROWS = 50_000


def csv_separator(path):
    """',' or '\\t' for a .csv/.tsv file (optionally compressed); None for other files."""
    name = str(path).lower()
    for compression in ("", ".gz", ".bz2", ".xz", ".zip"):
        for suffix, sep in ((".csv", ","), (".tsv", "\t"), (".txt", ",")):
            if name.endswith(suffix + compression):
                return sep
    return None


def read_columns(path):
    """The header of a CSV file, as strings."""
    import pandas as pd

    try:
        header = pd.read_csv(path, sep=csv_separator(path) or ",", nrows=0)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty (no header line)") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as problem:
        raise UserError(f"{path} is not a readable CSV file ({_first_line(problem)})") from None
    return [str(c) for c in header.columns]


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
    import pandas as pd

    text = {c: str for c in (id_column, label_column) if c is not None}
    try:
        reader = pd.read_csv(path, sep=csv_separator(path) or ",", dtype=text, index_col=False,
                             keep_default_na=False, na_values=[""], chunksize=chunk_rows)
        first = 1
        for chunk in reader:
            x = _features(path, chunk, features, first)
            ids = _text(path, chunk, id_column, first, "id") if id_column else None
            labels = _text(path, chunk, label_column, first, "label") if label_column else None
            yield first, x, ids, labels
            first += len(chunk)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty (no header line)") from None
    except pd.errors.ParserError as problem:
        raise UserError(f"{path}: {_first_line(problem)}") from None
    except (UnicodeDecodeError, OSError, EOFError) as problem:
        raise UserError(f"{path} could not be read ({_first_line(problem)})") from None


def _features(path, chunk, features, first_row):
    import pandas as pd

    frame = chunk[features]
    if all(dt.kind in "biuf" for dt in frame.dtypes):
        values = frame.to_numpy(dtype=np.float32, na_value=np.nan)
    else:
        values = np.empty((len(frame), len(features)), np.float32)
        for j, column in enumerate(features):
            values[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float32,
                                                                                   na_value=np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raw = frame.iloc[i, j]
        what = "empty cell" if pd.isna(raw) else f'"{raw}" is not a finite number'
        row = first_row + int(i)
        raise UserError(f'{path} row {row} (line {row + 1}), column "{features[j]}": {what}')
    return np.ascontiguousarray(values)


def _text(path, chunk, column, first_row, what):
    values = [None if v is None or (isinstance(v, float) and v != v) else str(v).strip()
              for v in chunk[column].tolist()]
    for i, value in enumerate(values):
        if not value:
            row = first_row + i
            raise UserError(f'{path} row {row} (line {row + 1}), column "{column}": empty {what}')
    return values


def _first_line(problem):
    text = str(problem).strip().splitlines()
    return text[0] if text else type(problem).__name__
