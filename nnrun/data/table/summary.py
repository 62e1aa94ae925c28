"""The table of column kinds `prepare csv` prints at the end (and `nnrun check` can show)."""
from nnrun.data.table.encoding import TableEncoding


def column_table(encoding_value, width=34):
    """One line per raw column: name, kind, levels or range, share missing, what was done."""
    encoding = TableEncoding.from_dict(encoding_value)
    rows = [("column", "kind", "levels or range", "missing", "done")]
    for column in encoding.columns:
        summary = column.summary
        rows.append((column.name, column.kind, _extent(column), _share(summary.get("missing")), _done(column)))
    for dropped in encoding.dropped:
        rows.append((dropped["name"], dropped["kind"], "", "", "left out: " + dropped["why"]))
    widths = [min(width, max(len(str(row[i])) for row in rows)) for i in range(4)]
    lines = []
    for row in rows:
        cells = [_cut(str(cell), widths[i]).ljust(widths[i]) for i, cell in enumerate(row[:4])]
        lines.append("  " + "  ".join(cells) + "  " + row[4])
    return "\n".join(lines)


def _extent(column):
    summary = column.summary
    if column.kind in ("category", "binary"):
        levels = column.levels
        shown = ", ".join(levels[:3]) + (", ..." if len(levels) > 3 else "")
        return f"{len(levels)}: {shown}"
    low, high = (summary.get("range") or [None, None])[:2]
    if low is None:
        return ""
    if column.kind == "date":
        return f"{low} .. {high}"
    return f"{_number(low)} .. {_number(high)}"


def _done(column):
    notes = []
    if column.kind == "number":
        notes.append("as is")
    elif column.kind == "binary":
        notes.append(f"0/1 ({column.levels[1]} = 1)")
    elif column.kind == "category":
        notes.append(f"codes for an embedding ({column.codes} with unknown and missing)")
        if column.summary.get("folded"):
            notes.append(f"{column.summary['folded']:,} rare levels read as unknown")
    else:
        notes.append(", ".join(column.parts))
    if column.indicator:
        notes.append(f"blanks filled ({_number(column.fill[0]) if column.kind != 'date' else 'medians'}) "
                     f"+ a missing indicator")
    if column.summary.get("words-as-missing"):
        notes.append(f"{column.summary['words-as-missing']:,} words read as missing")
    return "; ".join(notes)


def _share(value):
    return "" if value is None else f"{100 * value:.1f}%"


def _number(value):
    value = float(value)
    return f"{value:.6g}"


def _cut(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"
