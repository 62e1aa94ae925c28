#!/usr/bin/env python3
"""A generated mixed-type CSV for timing `nnrun prepare csv` on a large table (issue 19):
10 number columns (n0..n9, three with blanks), 5 category columns of words (c3, c30, c300,
c1000, c5000: 3, 30, 300, 1,000 and 5,000 levels; two with blanks) and a two-class `label`
(0/1, about a quarter 1) drawn from a logistic model of both kinds of columns, so a model has
something to learn: numbers (one interaction, one non-monotone), and a per-level effect of every
category column (larger for the small columns; the big ones have Zipf-like level frequencies, so
their common levels carry signal and their long tail is noise).

The same --rows and --seed give the same bytes (105 MiB for a million rows). A million rows take
about 15 s on a quiet 2-core machine (45 s on a busy one), nearly all of it pandas formatting the
floats (6 significant digits); making the columns takes about a second.

Usage: python bench/make_table.py OUT.csv [--rows 1000000] [--seed 0]
As a module: write_table(path, rows, seed) -> path; CATEGORY_COLUMNS, LABEL.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = {"c3": 3, "c30": 30, "c300": 300, "c1000": 1000, "c5000": 5000}
CATEGORY_COLUMNS = list(LEVELS)
NUMBER_COLUMNS = [f"n{i}" for i in range(10)]
LABEL = "label"
# share of blank cells per column: a few columns, at different rates
BLANKS = {"n2": 0.01, "n5": 0.05, "n8": 0.20, "c30": 0.01, "c5000": 0.03}
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ba", "de", "fu", "go", "hi", "ju", "ke",
             "la", "mo", "nu", "pe", "ri"]


def words(count, rng):
    """`count` distinct words made of three syllables (20**3 = 8,000 possible), in a seeded order;
    the 3-level column gets plain colour names, and a few words carry a space (quoting is not
    needed, but a parser must not split on it)."""
    if count == 3:
        return np.array(["red", "green", "blue"], dtype=object)
    picks = rng.choice(len(SYLLABLES) ** 3, size=count, replace=False)
    out = []
    for k, p in enumerate(picks):
        a, b, c = p // 400, (p // 20) % 20, p % 20
        sep = " " if k % 17 == 5 else ""
        out.append(SYLLABLES[a] + SYLLABLES[b] + sep + SYLLABLES[c])
    return np.array(out, dtype=object)


def level_codes(levels, rows, rng):
    """Codes 0..levels-1: uniform for small columns, Zipf-like (p ~ 1/(rank + 10)) for big ones."""
    if levels <= 30:
        return rng.integers(0, levels, rows)
    p = 1.0 / (np.arange(levels) + 10.0)
    return rng.choice(levels, size=rows, p=p / p.sum())


def make_frame(rows, seed=0):
    rng = np.random.default_rng(seed)
    numbers = {
        "n0": rng.normal(0, 1, rows),
        "n1": rng.normal(50, 10, rows),
        "n2": rng.lognormal(3, 1, rows),            # amount-like, skewed
        "n3": rng.uniform(-1, 1, rows),
        "n4": rng.poisson(3, rows).astype(float),   # counts
        "n5": rng.normal(0, 1, rows),
        "n6": rng.exponential(2, rows),
        "n7": rng.normal(0, 1, rows),               # noise
        "n8": rng.normal(0, 1, rows),
        "n9": rng.integers(1950, 2020, rows).astype(float),   # a year
    }
    codes = {name: level_codes(levels, rows, rng) for name, levels in LEVELS.items()}

    # the label's log-odds: numbers (standardised where needed) plus one effect per category level
    logit = (0.9 * numbers["n0"] - 0.05 * (numbers["n1"] - 50) + 0.5 * np.log(numbers["n2"]) - 1.5
             + 1.2 * numbers["n3"] * numbers["n0"] + 0.8 * (np.abs(numbers["n5"]) - 0.8) - 0.15 * numbers["n6"]
             + 0.6 * numbers["n8"])
    for name, levels in LEVELS.items():
        scale = 1.0 if levels <= 30 else 0.6
        logit += rng.normal(0, scale, levels)[codes[name]]
    logit -= 1.75   # about a quarter positive
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)

    # blanks after the label is drawn: a blank hides a value that did count
    for name, share in BLANKS.items():
        hide = rng.random(rows) < share
        if name in numbers:
            numbers[name][hide] = np.nan
        else:
            codes[name] = np.where(hide, -1, codes[name])

    frame = pd.DataFrame(numbers)
    frame["n4"] = frame["n4"].astype("Int64")        # counts print as integers
    frame["n9"] = frame["n9"].astype("Int64")
    for name, levels in LEVELS.items():
        # from codes: no million-string array is built; -1 is a blank cell
        frame[name] = pd.Categorical.from_codes(codes[name], categories=words(levels, rng))
    frame[LABEL] = label
    return frame


def write_table(path, rows=1_000_000, seed=0):
    """Write the table to `path` (.csv; .gz etc. compress, slowly) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = make_frame(rows, seed)
    frame.to_csv(path, index=False, float_format="%.6g", chunksize=100_000)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    write_table(args.out, args.rows, args.seed)
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {args.rows:,} rows, {size / 2**20:.1f} MiB in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
