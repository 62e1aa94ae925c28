"""Each column's kind, decided from the training rows only, and its fitted encoding.

    number    a column of numbers (the default for numbers, even with few distinct values:
              --category COL makes one a category)
    binary    words with exactly two distinct values (yes/no, M/F, true/false)
    date      words of which nine in ten read as dates or date-times
    category  other words, up to `max_levels` levels (the most frequent; the rest read as
              unknown, code 0, like a word never seen in training)
    text      words with almost one distinct value per row (names, tickets, ids: more than
              half as many distinct values as filled cells, and more than 20): left out,
              unless --category keeps it
    empty, constant: left out

Every statistic (medians, levels, date fills) comes from the training rows, so nothing of the
validation or test rows leaks into what the network is trained on.
"""
import re

import numpy as np

from nnrun.data.table.cells import canonical_number
from nnrun.data.table.encoding import DATE_PARTS, ColumnEncoding, TableEncoding, date_parts
from nnrun.errors import UserError

TEXT_SHARE = 0.5
TEXT_MIN_DISTINCT = 20
DATE_SHARE = 0.9
DATE_SAMPLE = 2000
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[AaPp][Mm]|[+-]\d{2}:?\d{2})?)?$")


def fit_encoding(table, train, missing, max_levels):
    """The TableEncoding of `table` (reading.RawTable) fitted on the row indices `train`."""
    columns, dropped = [], []
    for j, raw in enumerate(table.columns):
        values = table.column(j, train)
        encoding, why = _fit_column(raw, values, max_levels)
        if encoding is None:
            dropped.append({"name": raw.name, "kind": why[0], "why": why[1]})
        else:
            columns.append(encoding)
    if not columns:
        raise UserError("no feature column is left: " + "; ".join(f'"{d["name"]}" {d["why"]}' for d in dropped))
    return TableEncoding(columns, tuple(missing), dropped)


def _fit_column(raw, values, max_levels):
    blank = np.isnan(values)
    filled = int(np.count_nonzero(~blank))
    summary = {"missing": round(float(blank.mean()) if len(values) else 0.0, 4)}
    if raw.words_as_missing:
        summary["words-as-missing"] = raw.words_as_missing
    if filled == 0:
        return None, ("empty", "has no value in the training rows")
    if not raw.words:
        present = values[~blank]
        low, high = float(present.min()), float(present.max())
        if raw.forced == "category":  # numbers taken as categories: levels by their canonical names
            values, counts = np.unique(present, return_counts=True)
            return _category(raw.name, [canonical_number(v) for v in values], counts, summary, max_levels), None
        if low == high:
            return None, ("constant", f"holds only {canonical_number(low)}")
        summary["range"] = [low, high]
        return ColumnEncoding(raw.name, "number", fill=[float(np.median(present))], indicator=bool(blank.any()),
                              summary=summary), None
    counts = np.bincount(values[~blank].astype(np.int64), minlength=len(raw.names))
    seen = np.flatnonzero(counts)
    names = [raw.names[i] for i in seen]
    if raw.overflow and raw.forced != "category":
        return None, ("text", f"has more than {len(raw.names):,} distinct values (free text or ids); "
                              f"--category {raw.name} keeps it")
    if raw.forced == "category":
        return _category(raw.name, names, counts[seen], summary, max_levels), None
    if len(names) == 1:
        return None, ("constant", f'holds only "{names[0]}"')
    if len(names) == 2:
        levels = sorted(names)
        summary["levels"] = 2
        share = counts[raw.ids[levels[1]]] / filled
        return ColumnEncoding(raw.name, "binary", levels=levels, fill=[float(share >= 0.5)],
                              indicator=bool(blank.any()), summary=summary), None
    date_format = date_format_of(names)
    if date_format is not None:
        return _date(raw, values, blank, date_format, summary), None
    if len(names) > max(TEXT_MIN_DISTINCT, TEXT_SHARE * filled):
        return None, ("text", f"has {len(names):,} distinct values in {filled:,} training rows (free text or "
                              f"ids); --category {raw.name} keeps it")
    return _category(raw.name, names, counts[seen], summary, max_levels), None


def _category(name, names, counts, summary, max_levels):
    """The most frequent `max_levels` levels, sorted by name (ties of frequency by name too)."""
    order = sorted(range(len(names)), key=lambda i: (-int(counts[i]), names[i]))
    kept = sorted(names[i] for i in order[:max_levels])
    summary["levels"] = len(kept)
    if len(names) > max_levels:
        summary["folded"] = len(names) - max_levels
    return ColumnEncoding(name, "category", levels=kept, summary=summary)


def date_format_of(names):
    """"ISO8601" or "mixed" when nine in ten of a sample of the distinct values read as dates;
    else None. Only values shaped like dates count (a column of years or codes is not one)."""
    import pandas as pd

    sample = names if len(names) <= DATE_SAMPLE else [names[i] for i in
                                                      np.linspace(0, len(names) - 1, DATE_SAMPLE).astype(int)]
    shaped = [n for n in sample if _DATE_LIKE.match(n)]
    if len(shaped) < DATE_SHARE * len(sample):
        return None
    for date_format in ("ISO8601", "mixed"):
        parsed = pd.to_datetime(pd.Index(sample, dtype=object), format=date_format, errors="coerce")
        if np.count_nonzero(~parsed.isna()) >= DATE_SHARE * len(sample):
            return date_format
    return None


def _date(raw, values, blank, date_format, summary):
    parts = date_parts(raw.names, date_format)
    rows = values[~blank].astype(np.int64)
    chosen = [p for p in DATE_PARTS if p != "hour" or np.nanmax(np.abs(parts["hour"][rows]), initial=0) > 0]
    fill = []
    for part in chosen:
        column = parts[part][rows]
        column = column[~np.isnan(column)]
        fill.append(float(np.median(column)) if len(column) else 0.0)
    unreadable = np.isnan(parts["year"][rows])
    indicator = bool(blank.any() or unreadable.any())
    summary["range"] = [raw.names[int(rows[np.nanargmin(parts["days"][rows])])],
                        raw.names[int(rows[np.nanargmax(parts["days"][rows])])]]
    return ColumnEncoding(raw.name, "date", fill=fill, indicator=indicator, parts=chosen, date_format=date_format,
                          summary=summary)


def encoded_blocks(table, encoding):
    """The whole table encoded, as (float32 [n, F]) blocks in row order: each kept raw column
    through its ColumnEncoding, applied to its dictionary once (columns of words) or to the
    block's values (columns of numbers)."""
    import pandas as pd

    kept = {column.name: column for column in encoding.columns}
    plan = []
    for j, raw in enumerate(table.columns):
        column = kept.get(raw.name)
        if column is None:
            continue
        lookup = column.encode_levels(raw.names + [None])[0] if raw.words else None
        plan.append((j, raw, column, lookup))
    width = len(encoding.features)
    for _, block in table.blocks():
        out = np.empty((len(block), width), np.float32)
        at = 0
        for j, raw, column, lookup in plan:
            size = len(column.outputs)
            values = block[:, j]
            if lookup is not None:
                codes = np.where(np.isnan(values), -1, values).astype(np.int64)
                out[:, at:at + size] = lookup[codes]
            elif column.kind == "number":
                out[:, at:at + size] = column.encode_numbers(values)
            else:  # numbers taken as categories (--category): by their canonical names
                codes, uniques = pd.factorize(values, use_na_sentinel=True)
                names = [canonical_number(u) for u in uniques] + [None]
                out[:, at:at + size] = column.encode_levels(names)[0][codes]
            at += size
        yield out
