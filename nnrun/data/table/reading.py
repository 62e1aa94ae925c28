"""`prepare csv`'s one pass over the file: every raw column into a compact float32 scratch file.

The splits, and so the rows the encoding may be fitted on, are known only once every label has
been read. Rather than read the file twice, each cell goes to a float32 scratch file
[rows, columns] in a form the fit and the encoding can both use later:

    a column of numbers   the number (NaN when missing)
    a column of words     the word's id in the column's dictionary (its distinct canonical
                          values in order of first appearance), NaN when missing

A column is taken as numbers until a cell in it reads as a word. Within the first chunk it then
simply becomes a column of words; after that, the numbers already written would need their
text back, so the pass starts again with the column known to hold words (rare: a word first
met after 50,000 rows of numbers). Memory is one chunk plus the dictionaries, whose size is
bounded (MAX_DISTINCT) for columns that are not asked to be categories: a column that exceeds
it is free text or an identifier, and is not kept.
"""
from dataclasses import dataclass, field

import numpy as np

from nnrun.data import csv_rows
from nnrun.data.csv_rows import chunks, shown_cell, text_cells
from nnrun.data.table.cells import canonical_uniques, clean, missing_set, number_of
from nnrun.errors import UserError, os_problem
from nnrun.progress import bar

FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_DISTINCT = 200_000       # a column of words with more distinct values is text or ids
FORCED_MAX_DISTINCT = 1 << 23  # dictionary ids stay exact in float32 below 2**24


class _Restart(Exception):
    """A column first showed words after numbers were written for it."""


@dataclass
class RawColumn:
    name: str
    forced: str = None           # "category" or "number" when the user said so
    words: bool = False          # a dictionary column (see the module's docstring)
    names: list = field(default_factory=list)   # dictionary: id -> canonical value
    ids: dict = field(default_factory=dict)     # dictionary: canonical value -> id
    overflow: bool = False       # more distinct values than MAX_DISTINCT
    words_as_missing: int = 0    # --number: cells that were words

    def take(self, series, first_row, missing, where, place):
        """The chunk's cells as float32 [n] (see above); `place(row)` names a row in messages."""
        if not self.words and series.dtype.kind in "biuf":
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                beyond = np.flatnonzero(np.abs(values) > FLOAT32_MAX)  # infinity too
            if len(beyond):
                row = first_row + int(beyond[0]) + 1
                raise UserError(f'{where} {place(row)}, column "{self.name}": {values[beyond[0]]:g} is not a '
                                f"finite number (beyond float32)")
            return values.astype(np.float32)
        import pandas as pd

        codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
        names = canonical_uniques(uniques, missing)
        for k, name in enumerate(names):
            if name is not None and "\x00" in name:  # binary junk, not a table: say so, not a "level"
                row = first_row + int(np.flatnonzero(codes == k)[0]) + 1
                raise UserError(f'{where} {place(row)}, column "{self.name}": {shown_cell(uniques[k])} holds a '
                                f"NUL byte; is this a text table?")
        if not self.words:
            for k, name in enumerate(names):
                if name is not None and _infinite(name):  # "inf", "1e999", a thousand digits
                    row = first_row + int(np.flatnonzero(codes == k)[0]) + 1
                    raise UserError(f'{where} {place(row)}, column "{self.name}": {shown_cell(uniques[k])} is not '
                                    f"a finite number")
            values = [None if n is None else number_of(n) for n in names]
            words = np.array([n is not None and v is None for n, v in zip(names, values)] + [False])
            numbers = np.array([np.nan if v is None else v for v in values] + [np.nan])
            if words.any():
                if self.forced == "number":
                    self.words_as_missing += int(np.count_nonzero(words[codes]))  # already NaN in numbers
                elif first_row == 0:
                    self.words = True
                    return self._dictionary_ids(names, codes)
                else:
                    raise _Restart(self.name)
            return numbers[codes].astype(np.float32)
        return self._dictionary_ids(names, codes)

    def _dictionary_ids(self, names, codes):
        limit = FORCED_MAX_DISTINCT if self.forced == "category" else MAX_DISTINCT
        ids = np.empty(len(names) + 1, np.float32)
        for i, name in enumerate(names):
            if name is None:
                ids[i] = np.nan
                continue
            known = self.ids.get(name)
            if known is None:
                if len(self.names) >= limit:
                    self.overflow = True
                    ids[i] = np.nan
                    continue
                known = self.ids[name] = len(self.names)
                self.names.append(name)
            ids[i] = known
        ids[-1] = np.nan  # code -1: pandas' missing
        return ids[codes]


def _infinite(name):
    """Does a cleaned cell read as a number too large for a float (or as infinity)?"""
    try:
        return not np.isfinite(float(name))
    except ValueError:
        return False


@dataclass
class RawTable:
    scratch: object         # Path of the float32 [rows, len(columns)] file
    rows: int
    columns: list           # RawColumn
    labels: np.ndarray      # int64 [rows], -1 where the label is blank; None when unlabelled
    classes: list
    ids: object             # ids[i] is row i's id
    blank_labels: int = 0

    def blocks(self, rows=None):
        """(first row, float32 [n, columns]) blocks of the scratch file."""
        width = len(self.columns)
        step = max(1, (4 << 20) // (4 * max(1, width)))
        with open(self.scratch, "rb") as f:
            for start in range(0, self.rows, step):
                count = min(step, self.rows - start)
                yield start, np.fromfile(f, dtype=np.float32, count=count * width).reshape(count, width)

    def column(self, j, index):
        """Column j's scratch values at rows `index` (a memory map, read column by column)."""
        table = np.memmap(self.scratch, dtype=np.float32, mode="r", shape=(self.rows, len(self.columns)))
        return np.asarray(table[index, j])


def read_raw(path, features, *, label, id_column, forced, missing, scratch, header=True, quiet=True):
    """Stream the file once (again from the start if a late word forces it): RawTable."""
    words = set()
    while True:
        try:
            return _read_once(path, features, label, id_column, forced, missing, scratch, header, quiet, words)
        except _Restart as late:
            words.add(late.args[0])


def _read_once(path, features, label, id_column, forced, missing, scratch, header, quiet, words):
    markers = missing_set(missing)
    place = (lambda row: f"row {row} (line {row + 1})") if header else (lambda row: f"row {row}")
    columns = [RawColumn(name, forced.get(name), words=name in words) for name in features]
    codes, raw_labels, ids, rows = [], {}, [], 0
    text = [c for c in (label, id_column) if c is not None]
    with open(scratch, "wb") as sink, bar(None, "reading", quiet, unit="rows") as progress:
        for before, chunk in chunks(path, text, csv_rows.CHUNK_ROWS, header=header):
            block = np.empty((len(chunk), len(columns)), np.float32)
            for j, column in enumerate(columns):
                block[:, j] = column.take(chunk[column.name], before, markers, path, place)
            try:
                sink.write(block.tobytes())
            except OSError as problem:  # the output's disk, not the input, is at fault
                raise os_problem(problem, scratch) from None
            if label is not None:
                codes.append(_label_codes(chunk[label], raw_labels, markers))
            if id_column is not None:
                ids.extend(text_cells(path, chunk[id_column], id_column, before, "id"))
            progress.update(len(chunk))
            rows = before + len(chunk)
    if rows == 0:
        raise UserError(f"{path} has a header but no rows" if header else f"{path} has no rows")
    labels, classes, blank = None, [], 0
    if label is not None:
        from nnrun.data.prepare.split import class_names

        present = [raw for raw in raw_labels if raw is not None]
        classes, index = class_names(present)
        lookup = np.array([index[raw] if raw is not None else -1 for raw in raw_labels], dtype=np.int64)
        labels = lookup[np.concatenate(codes)] if codes else np.zeros(0, np.int64)
        blank = int(np.count_nonzero(labels < 0))
        if blank == rows:
            raise UserError(f'{path} column "{label}": every label is blank')
    return RawTable(scratch=scratch, rows=rows, columns=columns, labels=labels, classes=classes,
                    ids=ids if id_column else range(1, rows + 1), blank_labels=blank)


def _label_codes(column, seen, markers):
    """Codes of the chunk's labels in order of first appearance (`seen`: cleaned label -> code;
    a blank label is the key None)."""
    import pandas as pd

    codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    lookup = np.empty(len(uniques) + 1, np.int32)
    for i, raw in enumerate(list(uniques) + [None]):
        name = clean(str(raw)) if raw is not None else ""
        key = None if name.lower() in markers else name
        code = seen.get(key)
        if code is None:
            code = seen[key] = len(seen)
        lookup[i] = code
    return lookup[codes]
