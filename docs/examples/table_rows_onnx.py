"""Answer raw table rows with an ONNX file exported by `nnrun export`, without nnrun.

    python table_rows_onnx.py model.onnx rows.csv

Needs only onnxruntime and numpy (and Python's standard library). It applies the table encoding
that the file's metadata property "table-encoding" carries (docs/formats.md, "The table
encoding") to each CSV row, runs the graph, and prints one line per row: the chosen class and the
probability of each class, as `nnrun infer rows.csv --format csv` does (the same numbers to 1e-6).
Dates in ISO 8601 form are parsed here; other date formats ("format": "mixed") follow pandas'
to_datetime(format="mixed"), which this short script does not reimplement.
"""
import csv
import datetime
import json
import math
import sys

import numpy as np
import onnxruntime


def clean(text):
    """Spaces, then one pair of surrounding quotes, then spaces again."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text


def level_name(cell, missing):
    """A cell as a category level or two-valued word: None when missing, numbers named canonically."""
    text = clean(cell)
    if text.lower() in missing:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def date_parts(text):
    """{part: value} of an ISO 8601 date or date-time, or None when it is none."""
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is not None:  # times with a zone: their UTC clock
        stamp = stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    seconds = (stamp - datetime.datetime(1970, 1, 1)).total_seconds()
    return {"year": stamp.year, "month": stamp.month, "day": stamp.day, "weekday": stamp.weekday(),
            "day of year": stamp.timetuple().tm_yday, "hour": stamp.hour + stamp.minute / 60.0,
            "days": seconds / 86400.0}


def encode(row, encoding):
    """One raw row (a dict of column -> cell text) -> the float32 features the graph takes."""
    missing = {clean(m).lower() for m in encoding["missing"]}
    out = []
    for column in encoding["columns"]:
        name = level_name(row[column["name"]], missing)
        kind = column["kind"]
        if kind == "category":
            levels = column["levels"]
            out.append(1.0 if name is None else 2.0 + levels.index(name) if name in levels else 0.0)
            continue
        if kind == "number":
            value = None if name is None else float(name)  # a word here is an error in nnrun
            values = [value]
        elif kind == "binary":
            levels = column["levels"]
            values = [float(levels.index(name)) if name in levels else None]
        else:
            parts = date_parts(clean(row[column["name"]])) if name is not None else None
            values = [parts[p] if parts else None for p in column["parts"]]
        blank = values[0] is None
        out.extend(fill if blank else value for value, fill in zip(values, column["fill"]))
        if column["missing-indicator"]:
            out.append(1.0 if blank else 0.0)
    return out


def main(model_path, rows_path):
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    encoding, classes = json.loads(meta["table-encoding"]), json.loads(meta["classes"])
    positive, threshold = json.loads(meta["positive"]), json.loads(meta["threshold"])
    with open(rows_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    x = np.array([encode(row, encoding) for row in rows], dtype=np.float32)
    (p,) = session.run(["probabilities"], {"input": x})
    for probabilities in p:
        if positive is not None and threshold is not None and len(classes) == 2:
            k = classes.index(positive)
            chosen = classes[k] if probabilities[k] >= threshold else classes[1 - k]
        else:
            chosen = classes[int(np.argmax(probabilities))]
        print(chosen, " ".join(f"{v:.6g}" for v in probabilities))


if __name__ == "__main__":
    main(*sys.argv[1:3])
