"""A stored table encoding (in dataset.json or a model file), checked before anything trusts it.

`prepare csv` writes sound encodings; these checks are for a damaged or edited one, which must
give one line naming the field (`encoding.columns[2].levels: ...`) rather than a traceback when a
row is encoded, or rows silently encoded wrong.
"""
import math
import numbers

from nnrun.data.table.encoding import DATE_PARTS, KINDS, TableEncoding

FORMATS = ("ISO8601", "mixed")


def check_encoding(value, features, fail, field="encoding"):
    """fail(field, problem) unless `value` is a sound encoding whose features are `features`."""
    if not isinstance(value, dict):
        fail(field, "must be a map")
    missing = value.get("missing", [])
    if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
        fail(f"{field}.missing", "must be a list of markers")
    columns = value.get("columns")
    if not isinstance(columns, list) or not columns:
        fail(f"{field}.columns", "must be a non-empty list")
    names = set()
    for i, column in enumerate(columns):
        _check_column(column, f"{field}.columns[{i}]", fail)
        if column["name"] in names:
            fail(f"{field}.columns[{i}].name", f'"{column["name"]}" is named twice')
        names.add(column["name"])
    headerless = value.get("headerless")
    if headerless is not None and not (isinstance(headerless, dict) and _whole(headerless.get("columns"))):
        fail(f"{field}.headerless", "must be a map with the file's column count")
    made = TableEncoding.from_dict(value).features
    if made != list(features):
        fail(field, f"makes {len(made)} features ({', '.join(made[:5])}...), not the {len(features)} stored")


def _check_column(column, field, fail):
    if not isinstance(column, dict) or not isinstance(column.get("name"), str) or not column["name"]:
        fail(field, "must be a map with a name")
    kind = column.get("kind")
    if kind not in KINDS:
        fail(f"{field}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    levels = column.get("levels", [])
    if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels) or len(set(levels)) != len(levels):
        fail(f"{field}.levels", "must be a list of distinct words")
    if kind == "binary" and len(levels) != 2:
        fail(f"{field}.levels", f"a two-valued column has 2 levels, got {len(levels)}")
    if kind == "category" and len(levels) > (1 << 23):
        fail(f"{field}.levels", "has more levels than a code can tell apart")
    if kind == "category":
        return
    parts = column.get("parts", [])
    if kind == "date":
        if not isinstance(parts, list) or not parts or not all(p in DATE_PARTS for p in parts) \
                or len(set(parts)) != len(parts):
            fail(f"{field}.parts", f"must be distinct names among {', '.join(DATE_PARTS)}")
        if column.get("format") not in FORMATS:
            fail(f"{field}.format", f"must be one of {', '.join(FORMATS)}")
    fill = column.get("fill")
    wanted = len(parts) if kind == "date" else 1
    sizes = (0, 1) if kind == "number" else (wanted,)  # a number column of an older model has no fill
    if not isinstance(fill, list) or len(fill) not in sizes or not all(_finite(f) for f in fill):
        fail(f"{field}.fill", f"must be a list of {wanted} finite number{'s' if wanted != 1 else ''}")
    if not isinstance(column.get("missing-indicator", False), bool):
        fail(f"{field}.missing-indicator", "must be true or false")


def _finite(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0
