"""The table encoding: raw rows (words, blanks, dates) -> the float32 rows a network takes.

It is a plain value, fitted on the training split by `prepare csv` (fit.py), stored in
dataset.json and carried by every model file, so `infer`, `evaluate`, `kaggle-submit`, `serve`
and an exported model's metadata answer a raw row exactly as training saw it. `encode_frame` is
the one function that applies it, to a pandas frame of raw cells; prepare applies the same
column encoders to the distinct values of each column, which is what encode_frame does too.

Each raw column becomes one or more encoded features, in the file's column order:

    number    "x"                 the value; a blank is the training median
              "x (missing)"       1 where the cell was blank (only when training had blanks)
    binary    "x"                 0 for the first of its two levels (sorted), 1 for the second;
                                  a blank or an unseen word is the training median + the indicator
    category  "x"                 an integer code: 0 unknown (never seen in training, or folded
                                  away by the level limit), 1 missing, 2 + i for levels[i]
    date      "x year", "x month", "x day", "x weekday", "x day of year", ["x hour"],
              "x days" (since 1970-01-01) and the missing indicator as for numbers

A category's code enters the network through an `embedding` layer, which reads which features
are codes, and how many codes each has, from the encoding (category_levels).
"""
from dataclasses import dataclass, field

import numpy as np

from nnrun.data.table.cells import DEFAULT_MISSING, canonical, canonical_uniques, missing_set, number_of
from nnrun.errors import UserError

VERSION = 1
KINDS = ("number", "binary", "category", "date")
UNKNOWN, MISSING, FIRST_LEVEL = 0, 1, 2
DATE_PARTS = ("year", "month", "day", "weekday", "day of year", "hour", "days")
MISSING_SUFFIX = " (missing)"


@dataclass
class ColumnEncoding:
    name: str
    kind: str
    levels: list = field(default_factory=list)   # category: level names; binary: the two words
    fill: list = field(default_factory=list)     # number and binary: [median]; date: one per part
    indicator: bool = False                      # a "(missing)" feature follows
    parts: list = field(default_factory=list)    # date: which of DATE_PARTS
    date_format: str = None                      # date: "ISO8601" or "mixed" (pandas' to_datetime)
    summary: dict = field(default_factory=dict)  # what prepare saw (shown, never used to encode)

    @property
    def outputs(self):
        """The names of the encoded features this column gives, in order."""
        if self.kind == "date":
            names = [f"{self.name} {part}" for part in self.parts]
        else:
            names = [self.name]
        return names + ([self.name + MISSING_SUFFIX] if self.indicator else [])

    @property
    def codes(self):
        """How many codes a category feature takes (unknown, missing and its levels); 0 otherwise."""
        return FIRST_LEVEL + len(self.levels) if self.kind == "category" else 0

    def to_dict(self):
        value = {"name": self.name, "kind": self.kind}
        if self.kind in ("category", "binary"):
            value["levels"] = list(self.levels)
        if self.kind != "category":
            value["fill"] = [float(f) for f in self.fill]
            value["missing-indicator"] = bool(self.indicator)
        if self.kind == "date":
            value["parts"] = list(self.parts)
            value["format"] = self.date_format
        if self.summary:
            value["summary"] = self.summary
        return value

    @classmethod
    def from_dict(cls, value):
        return cls(name=value["name"], kind=value["kind"], levels=list(value.get("levels") or []),
                   fill=[float(f) for f in value.get("fill") or []],
                   indicator=bool(value.get("missing-indicator", False)), parts=list(value.get("parts") or []),
                   date_format=value.get("format"), summary=dict(value.get("summary") or {}))

    # ---- encoding the distinct values of a column
    def encode_numbers(self, values):
        """float [n] raw numbers (NaN where missing) of a number column -> float32 [n, width]."""
        values = np.asarray(values, dtype=np.float64)
        blank = np.isnan(values)
        out = np.empty((len(values), len(self.outputs)), np.float32)
        out[:, 0] = np.where(blank, self.fill[0] if self.fill else np.nan, values)
        if self.indicator:
            out[:, 1] = blank
        return out

    def encode_levels(self, names):
        """Canonical level names (None: missing) of distinct raw values of a category, two-valued
        or date column -> (float32 [U, width], bool [U] which were words this column never saw).
        A number column's cells are read by encode_frame (_numbers), which names a word's row."""
        count = len(names)
        missing = np.array([n is None for n in names], dtype=bool)
        if self.kind == "category":
            lookup = {level: FIRST_LEVEL + i for i, level in enumerate(self.levels)}
            codes = np.array([MISSING if n is None else lookup.get(n, UNKNOWN) for n in names], np.float32)
            return codes.reshape(-1, 1), (codes == UNKNOWN)
        if self.kind == "binary":
            lookup = {level: float(i) for i, level in enumerate(self.levels)}
            values = np.array([np.nan if n is None else lookup.get(n, np.nan) for n in names])
            unseen = np.isnan(values) & ~missing
            return self.encode_numbers(values), unseen
        return self.encode_dates(names), np.zeros(count, bool)

    def encode_dates(self, names):
        """Canonical cells of a date column -> float32 [U, width]; an unparseable cell is missing."""
        parts = date_parts(names, self.date_format)
        out = np.empty((len(names), len(self.outputs)), np.float32)
        blank = np.isnan(parts["year"])
        for j, part in enumerate(self.parts):
            out[:, j] = np.where(blank, self.fill[j], parts[part])
        if self.indicator:
            out[:, -1] = blank
        return out


def _shown(column, values):
    """One encoded cell group -> the raw value it stands for, as text."""
    if column.kind == "number":
        return f"{values[0]:.6g}"
    if column.kind == "category":
        code = int(round(values[0]))
        if code == MISSING:
            return ""
        return column.levels[code - FIRST_LEVEL] if FIRST_LEVEL <= code < column.codes else "(unknown)"
    if column.kind == "binary":
        return column.levels[1] if values[0] >= 0.5 else column.levels[0]
    # from the calendar parts, exact in float32 (the "days" part is not: minutes at best)
    part = {name: values[j] for j, name in enumerate(column.parts)}
    text = f"{int(part['year']):04d}-{int(part['month']):02d}-{int(part['day']):02d}"
    if "hour" in part:
        minutes = int(round(part["hour"] * 60))
        text += f" {minutes // 60:02d}:{minutes % 60:02d}"
    return text


@dataclass
class TableEncoding:
    columns: list                     # ColumnEncoding, in the file's order
    missing: tuple = DEFAULT_MISSING  # the markers of a missing cell
    dropped: list = field(default_factory=list)  # {"name", "kind", "why"} of columns left out
    headerless: dict = None  # a file without a header: {"columns": N, "label": its position or None}
    label: str = None        # the label column training read (evaluate's default on a raw file)

    @property
    def features(self):
        return [name for column in self.columns for name in column.outputs]

    @property
    def raw_columns(self):
        """The raw columns a row must have."""
        return [column.name for column in self.columns]

    def category_levels(self):
        """Per encoded feature: how many codes it takes if it is a category code, else 0."""
        return [column.codes if j == 0 else 0 for column in self.columns for j in range(len(column.outputs))]

    def to_dict(self):
        value = {"version": VERSION, "missing": list(self.missing),
                 "columns": [column.to_dict() for column in self.columns], "dropped": list(self.dropped)}
        if self.headerless:
            value["headerless"] = dict(self.headerless)
        if self.label is not None:
            value["label"] = self.label
        return value

    @classmethod
    def from_dict(cls, value):
        return cls([ColumnEncoding.from_dict(c) for c in value["columns"]], tuple(value.get("missing", ())),
                   list(value.get("dropped") or []), value.get("headerless"), value.get("label"))

    def decode_rows(self, x):
        """Encoded rows float [N, F] -> [{raw column: the value as a person reads it}] (blank
        for a missing cell, "(unknown)" for a word never seen in training): what the live page
        and the report show of a table row. Free-text columns, left out, are not there."""
        x = np.asarray(x, dtype=np.float64)
        rows = [{} for _ in range(len(x))]
        at = 0
        for column in self.columns:
            width = len(column.outputs)
            values = x[:, at:at + width]
            blank = values[:, -1] > 0.5 if column.indicator else np.zeros(len(x), bool)
            for i, row in enumerate(rows):
                row[column.name] = "" if blank[i] else _shown(column, values[i])
            at += width
        return rows

    @classmethod
    def of_numbers(cls, names):
        """The encoding of an all-number table without blanks (what older datasets hold): no fill,
        so a blank is an error, as it was when such a model was trained."""
        return cls([ColumnEncoding(name, "number") for name in names])


def disagreement(model, stored):
    """Why rows a dataset stored with encoding `stored` would not mean to a model what they meant
    in its training (encoding `model`), or None when they would: columns, kinds and levels must
    match, and a fill must too wherever the stored rows had blanks to fill."""
    if [c.outputs for c in model.columns] != [c.outputs for c in stored.columns]:
        return "its columns are encoded into other features"
    for mine, theirs in zip(model.columns, stored.columns):
        if (mine.kind, mine.levels, mine.parts) != (theirs.kind, theirs.levels, theirs.parts):
            return f'column "{mine.name}" is encoded differently (its kind or levels)'
        if mine.fill != theirs.fill and theirs.summary.get("missing", 1) > 0:
            return f'column "{mine.name}" had its blanks filled with another value'
    return None


@dataclass
class Encoded:
    """encode_frame's answer: the features, and how many cells were words never seen in training."""
    x: np.ndarray
    unknown: dict  # column name -> count, only columns with any


FLOAT32_MAX = float(np.finfo(np.float32).max)


def encode_frame(encoding, frame, where, place=None):
    """Raw rows (a pandas frame with every column the encoding needs, any dtypes) -> Encoded.

    `where` names the source and `place(i)` the frame's row i in messages ("row 3 (line 4)").
    A word, an infinite number or (for a model trained before blanks were allowed) a blank in a
    number column is a UserError naming its row and column."""
    import pandas as pd

    place = place or (lambda i: f"row {i + 1}")
    missing = missing_set(encoding.missing)
    out = np.empty((len(frame), len(encoding.features)), np.float32)
    unknown, at = {}, 0
    for column in encoding.columns:
        width = len(column.outputs)
        series = frame[column.name]
        here = f'column "{column.name}"'
        if column.kind == "number":
            values = _numbers(series, missing, lambda i, cell: UserError(
                f"{where} {place(i)}, {here}: {cell} is not a number (in training this column held numbers; "
                f"a blank is taken as missing)"))
            _check_numbers(values, column, lambda i, what: UserError(f"{where} {place(i)}, {here}: {what}"))
            out[:, at:at + width] = column.encode_numbers(values)
        else:
            codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
            names = canonical_uniques(uniques, missing) + [None]  # code -1 (a NaN) reads the last row
            table, unseen = column.encode_levels(names)
            out[:, at:at + width] = table[codes]
            if unseen.any():
                count = int(np.count_nonzero(unseen[codes]))
                if count:
                    unknown[column.name] = count
        at += width
    return Encoded(out, unknown)


def _numbers(series, missing, word_error):
    """A number column's raw cells -> float64 (NaN where missing); word_error(row, shown cell)
    is raised at the first word."""
    import pandas as pd

    if series.dtype.kind in "biuf":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    names = canonical_uniques(uniques, missing)
    table = np.full(len(names) + 1, np.nan)
    for k, name in enumerate(names):
        if name is not None:
            number = number_of(name)
            if number is None:
                row = int(np.flatnonzero(codes == k)[0])
                from nnrun.data.csv_rows import shown_cell

                raise word_error(row, shown_cell(uniques[k]))
            table[k] = number
    return table[codes]


def _check_numbers(values, column, error):
    """error(row, what) at the first number float32 cannot hold, or a blank the model cannot fill."""
    with np.errstate(invalid="ignore"):
        beyond = np.abs(values) > FLOAT32_MAX  # infinity too
    if beyond.any():
        i = int(np.flatnonzero(beyond)[0])
        raise error(i, f"{values[i]:g} is not a finite number (beyond float32)")
    if not column.fill:
        blank = np.isnan(values)
        if blank.any():
            raise error(int(np.flatnonzero(blank)[0]), "empty cell (the model was trained on a table without "
                                                      "blanks)")


def encode_records(encoding, records, where="the request"):
    """Raw rows as maps of column -> value (JSON instances) -> Encoded; a missing key is a
    UserError naming the instance and the column."""
    import pandas as pd

    names = encoding.raw_columns
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise UserError(f"{where}: instance {i} is not a map of column names to values")
        absent = [n for n in names if n not in record]
        if absent:
            raise UserError(f'{where}: instance {i} lacks column "{absent[0]}"'
                            + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""))
    frame = pd.DataFrame({n: pd.Series([r[n] for r in records], dtype=object) for n in names})
    return encode_frame(encoding, frame, where, place=lambda i: f"instance {i}")


def date_parts(names, date_format):
    """{part: float64 [U]} of canonical cells; NaN where a cell is missing or no date."""
    import pandas as pd

    text = pd.Index([n if n is not None else "" for n in names], dtype=object)
    stamps = pd.to_datetime(text, format=date_format, errors="coerce")
    if getattr(stamps, "tz", None) is not None:  # times with a zone: their UTC clock
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    seconds = stamps.as_unit("s").asi8.astype(np.float64)
    bad = stamps.isna()
    parts = {"year": stamps.year, "month": stamps.month, "day": stamps.day, "weekday": stamps.day_of_week,
             "day of year": stamps.day_of_year, "hour": stamps.hour + stamps.minute / 60.0,
             "days": seconds / 86400.0}
    return {k: np.where(bad, np.nan, np.asarray(v, dtype=np.float64)) for k, v in parts.items()}


def read_cells(names, missing=DEFAULT_MISSING):
    """canonical() of each raw cell: used to show a raw row as the encoding reads it."""
    markers = missing_set(missing)
    return [canonical(n, markers) for n in names]
