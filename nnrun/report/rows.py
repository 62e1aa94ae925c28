"""A table's examples as a person reads them, for the pages that list examples (the live page's
cell examples, the report's mistakes). A prepared table stores encoded rows (category codes, 0/1
"missing" indicators, date parts), which say little on their own; the dataset's encoding turns
them back into the raw values of its columns. A table prepared before encodings were stored
holds its raw numbers as they are, so its features are shown.

No matplotlib here: the live page imports this module too.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class ReadableRows:
    columns: list       # column names: the raw columns, or the features of a table without an encoding
    numeric: list       # per column: a number (shown right-aligned) rather than a word or a date
    values: list        # per row: one value per column (text when decoded, floats when features)
    decoded: bool       # values are the raw values (text), not feature numbers


def shown_ids(dataset, split):
    """(the split's ids, or None; a note, or None) for a page that names examples. A split without
    ids names its rows by position; so does one whose ids file is damaged, but the page says which
    file and what is wrong with it (the run is still worth its page, and the rows are its rows)."""
    from nnrun.errors import UserError

    try:
        return dataset.ids_if_kept(split), None
    except UserError as problem:
        return None, f"{problem}: examples named by their position instead"


def readable_rows(dataset, x, rows):
    """ReadableRows of rows `rows` (positions in `x`, a split's stored features) of a table dataset."""
    rows = [int(r) for r in rows]
    features = np.asarray(x[rows] if rows else np.zeros((0, x.shape[1])), dtype=np.float64)
    # open_dataset checked the encoding against the stored features (encoding_check): a damaged
    # one never gets here, the dataset is refused with the field named
    encoding = dataset.encoding
    if encoding is not None:
        decoded = encoding.decode_rows(features)
        columns = encoding.raw_columns
        return ReadableRows(columns, [c.kind == "number" for c in encoding.columns],
                            [[row[name] for name in columns] for row in decoded], True)
    names = list(dataset.features or [])
    if len(names) != features.shape[1]:
        names = [f"feature {j + 1}" for j in range(features.shape[1])]
    return ReadableRows(names, [True] * len(names), features.tolist(), False)
