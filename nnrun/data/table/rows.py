"""Raw rows of a CSV file, encoded for a model: what `infer`, `evaluate` and `kaggle-submit` read.

The file is read in chunks (nnrun.data.csv_rows) and each chunk goes through the model's table
encoding (encoding.encode_frame), so a row gets exactly the features it got in training. A file
the model was trained on without a header is read by position as well: with all its columns, or
with the label's column left out.
"""
from dataclasses import dataclass, field

from nnrun.data import csv_rows
from nnrun.data.table.encoding import encode_frame
from nnrun.errors import UserError


@dataclass
class RowReader:
    path: str
    encoding: object                 # TableEncoding
    id_column: str = None
    label_column: str = None
    unknown: dict = field(default_factory=dict)   # column -> cells never seen in training
    blank_labels: bool = False       # True: a blank label is None (evaluate leaves such rows out)
    _names: list = None              # the columns' names by position (headerless), set by check()

    def columns(self):
        """The file's column names (by position for a model trained without a header)."""
        layout = self.encoding.headerless
        if not layout:
            return csv_rows.read_columns(self.path)
        count = len(csv_rows.headerless_names(self.path))
        names = [str(i + 1) for i in range(layout["columns"])]
        if count == len(names):
            return names
        label = layout.get("label")
        if label and count == len(names) - 1:
            return [n for n in names if n != str(label)]
        expected = f"{len(names)}" + (f" (or {len(names) - 1} without the label's column {label})" if label else "")
        raise UserError(f"{self.path} has {count} columns; the model was trained on a file without a header of "
                        f"{expected}, and reads columns by position")

    def check(self):
        columns = self.columns()
        csv_rows.check_columns(self.path, columns, self.encoding.raw_columns, self.id_column, self.label_column)
        self._names = None if not self.encoding.headerless else columns

    def chunks(self, chunk_rows=csv_rows.CHUNK_ROWS):
        """(first row number, Encoded, ids or None, labels or None) for each chunk of the file."""
        needed = self.encoding.raw_columns
        text = [c for c in (self.id_column, self.label_column) if c is not None]
        for before, chunk in csv_rows.chunks(self.path, text, chunk_rows, header=self._names is None,
                                             names=self._names):
            shift = 1 if self._names is None else 0  # the header line
            encoded = encode_frame(self.encoding, chunk[needed], self.path,
                                   place=lambda i: _place(before + 1 + i, shift))
            for name, count in encoded.unknown.items():
                self.unknown[name] = self.unknown.get(name, 0) + count
            ids = csv_rows.text_cells(self.path, chunk[self.id_column], self.id_column, before, "id") \
                if self.id_column else None
            labels = None
            if self.label_column and self.blank_labels:
                labels = list(chunk[self.label_column].to_numpy(dtype=object, na_value=None))
            elif self.label_column:
                labels = csv_rows.text_cells(self.path, chunk[self.label_column], self.label_column, before, "label")
            yield before + 1, encoded.x, ids, labels

    def unknown_note(self):
        """One line on the cells that were words never seen in training, or None."""
        if not self.unknown:
            return None
        total = sum(self.unknown.values())
        listed = ", ".join(f'"{name}" {count:,}' for name, count in sorted(self.unknown.items(), key=lambda kv: -kv[1]))
        return (f"{self.path}: {total:,} cell{'s' if total != 1 else ''} held a value never seen in training, "
                f"read as unknown ({listed})")


def _place(row, shift):
    """"row 3 (line 4)" below a header; "row 3" in a file without one, where rows are lines."""
    return f"row {row} (line {row + shift})" if shift else f"row {row}"
