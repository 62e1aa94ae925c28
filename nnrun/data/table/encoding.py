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
        out[:, 0] = np.where(blank, self.fill[0], values)
        if self.indicator:
            out[:, 1] = blank
        return out

    def encode_levels(self, names):
        """Canonical level names (None: missing) of distinct raw values -> (float32 [U, width],
        bool [U] which were words this column never saw). A word in a number column is the
        index of the first such value, raised as NotANumber for the caller to name its row."""
        count = len(names)
        missing = np.array([n is None for n in names], dtype=bool)
        if self.kind == "number":
            values = np.full(count, np.nan)
            for i, name in enumerate(names):
                if name is not None:
                    number = number_of(name)
                    if number is None:
                        raise NotANumber(i)
                    values[i] = number
            return self.encode_numbers(values), np.zeros(count, bool)
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


class NotANumber(Exception):
    """A word among a number column's values: args[0] is its index among the values given."""


@dataclass
class TableEncoding:
    columns: list                     # ColumnEncoding, in the file's order
    missing: tuple = DEFAULT_MISSING  # the markers of a missing cell
    dropped: list = field(default_factory=list)  # {"name", "kind", "why"} of columns left out
    headerless: dict = None  # a file without a header: {"columns": N, "label": its position or None}

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
        return value

    @classmethod
    def from_dict(cls, value):
        return cls([ColumnEncoding.from_dict(c) for c in value["columns"]], tuple(value.get("missing", ())),
                   list(value.get("dropped") or []), value.get("headerless"))

    @classmethod
    def of_numbers(cls, names):
        """The encoding of an all-number table without blanks (what older datasets hold)."""
        return cls([ColumnEncoding(name, "number", fill=[0.0]) for name in names])


@dataclass
class Encoded:
    """encode_frame's answer: the features, and how many cells were words never seen in training."""
    x: np.ndarray
    unknown: dict  # column name -> count, only columns with any


def encode_frame(encoding, frame, where, first_row=1, strict_numbers=True):
    """Raw rows (a pandas frame with every column the encoding needs, any dtypes) -> Encoded.

    `where` names the source in messages, `first_row` is the number of the frame's first row.
    A word in a number column is a UserError naming its row and column."""
    import pandas as pd

    missing = missing_set(encoding.missing)
    out = np.empty((len(frame), len(encoding.features)), np.float32)
    unknown, at = {}, 0
    for column in encoding.columns:
        width = len(column.outputs)
        series = frame[column.name]
        if column.kind == "number" and series.dtype.kind in "biuf":
            out[:, at:at + width] = column.encode_numbers(series.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
            names = canonical_uniques(uniques, missing) + [None]  # code -1 (a NaN) reads the last row
            try:
                table, unseen = column.encode_levels(names)
            except NotANumber as word:
                row = int(np.flatnonzero(codes == word.args[0])[0])
                cell = str(uniques[word.args[0]])[:40]
                raise UserError(f'{where} row {first_row + row}, column "{column.name}": "{cell}" is not a '
                                f"number (in training this column held numbers; a blank is taken as "
                                f"missing)") from None
            out[:, at:at + width] = table[codes]
            if unseen.any():
                count = int(np.count_nonzero(unseen[codes]))
                if count:
                    unknown[column.name] = count
        at += width
    return Encoded(out, unknown)


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
    return encode_frame(encoding, frame, where, first_row=0)


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
