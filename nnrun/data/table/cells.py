"""What a raw table cell means, the same for every reader (prepare, infer, kaggle-submit, serve).

A cell is cleaned before it is looked at: surrounding spaces go, then one pair of surrounding
quotes (published tables quote words with ' as often as with "), then spaces again. A cleaned
cell that is one of the missing markers (compared without regard to case) is missing. A cell
that reads as a finite number is named canonically, so "4", "4.0" and " 4 " are one category
level, whether the number came from a CSV file, a JSON request or a spreadsheet export.
"""
import math

import numpy as np

DEFAULT_MISSING = ("", "NA", "NaN", "null", "?")
QUOTES = ("'", '"')


def clean(text):
    """A raw cell's text without surrounding spaces and one pair of surrounding quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in QUOTES:
        text = text[1:-1].strip()
    return text


def missing_set(markers):
    """The cleaned, lower-cased markers a cell is compared with."""
    return frozenset(clean(m).lower() for m in markers)


def number_of(text):
    """The finite float a cleaned cell reads as, or None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def canonical_number(value):
    """The name of a number as a category level: 4.0 -> "4", 0.5 -> "0.5"."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def canonical(text, missing):
    """A raw cell (str, number, None) -> its cleaned level name, or None when missing."""
    if text is None:
        return None
    if isinstance(text, (bool, np.bool_)):  # a JSON true/false reads as a CSV file's words do
        return "true" if text else "false"
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return canonical_number(text) if math.isfinite(float(text)) else None
    text = clean(str(text))
    if text.lower() in missing:
        return None
    number = number_of(text)
    return canonical_number(number) if number is not None else text


def canonical_uniques(uniques, missing):
    """canonical() of each of a column's distinct raw values (a small array: a chunk's uniques)."""
    return [canonical(u, missing) for u in uniques]
