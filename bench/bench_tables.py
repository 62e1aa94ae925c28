#!/usr/bin/env python3
"""configs/tabular.yaml on tables as they are published (words, blanks, dates, no header) against
the usual tabular baselines on the same train/validation/test rows: test ROC AUC (two classes)
or accuracy (more classes), and the wall time of each fit.

For each table and seed:
  1. `nnrun prepare csv FILE OUT --label L [--no-header] --test-size 0.2 --validation-size 0.2
     --seed S` makes the split; OUT/{train,validation,test}.ids.json name its rows (without --id,
     an id is the 1-based data-row number of the file) and OUT/*.y.npy with dataset.json's
     classes give their labels.
  2. `nnrun train configs/tabular.yaml --set data=OUT --set train.seed=S --run-dir RUN --quiet`
     (the config as shipped; --positive-rare adds --set train.metric.positive=RARE on two-class
     tables, and --set KEY=VALUE passes any other setting), then
     `nnrun infer RUN/best.nnrun OUT --split test --format csv -o ...` gives nnrun's test
     probabilities, one p(CLASS) column per class.
  3. The baselines read the raw CSV themselves with pandas (cells trimmed of spaces and single
     quotes; blank, NA, NaN, null and ? are missing; date-times become year, month, day, weekday
     and hour numbers; any other column that is not all numbers is a category) and train on the
     rows of step 1's splits, each with default settings and its documented categorical handling:
       LR        scikit-learn LogisticRegression on one-hot categories, numbers imputed + scaled
       XGB       XGBClassifier(tree_method="hist", enable_categorical=True), pandas category dtype
       LGBM      LGBMClassifier on pandas category dtype
       CatBoost  CatBoostClassifier(cat_features=...)
       RealMLP   pytabkit's RealMLP_TD_Classifier (the network peer; `pip install pytabkit`)
     LR, XGB and LGBM train on the training split alone (their defaults stop at a fixed number of
     iterations); CatBoost and RealMLP are also given the validation split, as both keep their
     best iteration/epoch on a validation set by default (RealMLP would otherwise cut its own 20%
     off the training rows).
The positive class of a two-class table is the rarer one in training, the same for every model.
Prints one line per table, seed and model, then a table of the figures averaged over seeds with
the median and the best of the four classic baselines (LR, XGB, LGBM, CatBoost) and nnrun's gap
to each (the issue wants gap to median >= 0, and to best >= -0.01 on average), and the fit times.

When `nnrun prepare csv` refuses a table (it took numbers only before issue 19) or training
fails, a line says so, the baselines still run on a stratified split of their own with the same
sizes and seed (marked "own split"), and nnrun's column shows "failed".

Usage: python bench/bench_tables.py [--tables taxis,mpg,diamonds,horse-colic,breast-cancer]
       [--seeds 1,2,3] [--only-baselines] [--models lr,xgb,lgbm,catboost,realmlp]
       [--json figures.json] [--work DIR] [--positive-rare] [--set KEY=VALUE ...]
Tables: taxis, mpg, diamonds, horse-colic, breast-cancer (the default), creditcard (add it by
name, or `--tables all`). Needs scikit-learn, xgboost, lightgbm, catboost, and pytabkit for
RealMLP (skipped with a line saying why when it is missing or fails).
Runtime on 2 cores, per seed, baselines only, on a quiet machine: about 3.5 minutes for the four
classic baselines on the five tables, nearly all of it CatBoost's 1,000 rounds on diamonds' five
classes. RealMLP is the slow one (256 epochs by default): about 2 minutes on taxis, 15 s or less
on the small tables; on diamonds it had not finished after 75 minutes on a busy 2-core machine;
`--models lr,xgb,lgbm,catboost` leaves it out. On a busy machine every fit is several times slower
(the libraries' threads spin while they wait for a core), so compare fit times within one run.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NNRUN_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
CONFIG = ROOT / "configs" / "tabular.yaml"

# Cells that mean "missing" once trimmed, compared case-insensitively (breast-cancer writes `nan`).
MISSING = {"", "na", "nan", "null", "?"}
# A date or date-time cell as the files write them (2019-03-23 20:21:09). Anchored on a
# four-digit year so that breast-cancer's ranges such as 10-14 stay words.
DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
CLASSIC = ["LR", "XGB", "LGBM", "CatBoost"]
MODELS = {"lr": "LR", "xgb": "XGB", "lgbm": "LGBM", "catboost": "CatBoost", "realmlp": "RealMLP"}


@dataclass
class Table:
    path: Path
    label: str                      # the label column as nnrun names it ("23" for column 23 of a headerless file)
    no_header: bool = False
    drop: list = field(default_factory=list)


TABLES = {
    "taxis": Table(DATA / "tables" / "taxis.csv.gz", "payment"),
    "mpg": Table(DATA / "tables" / "mpg.csv.gz", "origin"),
    "diamonds": Table(DATA / "tables" / "diamonds.csv.gz", "cut"),
    "horse-colic": Table(DATA / "tables" / "horse-colic.csv.gz", "23", no_header=True),
    "breast-cancer": Table(DATA / "tables" / "breast-cancer.csv.gz", "10", no_header=True),
    # all numbers, 492 frauds in 10,000 rows: the table nnrun already handled, as a control
    "creditcard": Table(DATA / "creditcard" / "creditcard-10k.csv.gz", "Class", drop=["Time"]),
}
DEFAULT_TABLES = "taxis,mpg,diamonds,horse-colic,breast-cancer"


# ---- nnrun ------------------------------------------------------------------------------------

def nnrun(*args):
    """Run nnrun; (wall seconds, None) or (wall seconds, its last error line)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "nnrun", *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
        return seconds, lines[-1][:300]
    return seconds, None


def nnrun_prepare(table, seed, out):
    command = ["prepare", "csv", table.path, out, "--label", table.label, "--test-size", "0.2",
               "--validation-size", "0.2", "--seed", seed, "--force", "--quiet"]
    if table.no_header:
        command.append("--no-header")
    for column in table.drop:
        command += ["--drop", column]
    return nnrun(*command)


def prepared_splits(out):
    """{split: (row numbers, label names)} from a prepared dataset, as nnrun labelled them."""
    manifest = json.loads((Path(out) / "dataset.json").read_text())
    classes = [str(c) for c in manifest["classes"]]
    splits = {}
    for split in ("train", "validation", "test"):
        ids = json.loads((Path(out) / f"{split}.ids.json").read_text())
        y = np.load(Path(out) / f"{split}.y.npy")
        splits[split] = (np.array([int(i) for i in ids]), np.array([classes[int(k)] for k in y], dtype=object))
    return splits


def nnrun_train_and_infer(data, run, seed, positive, extra_sets):
    """Train configs/tabular.yaml on `data` (positive: a class to set as train.metric.positive, or
    None); (train seconds, test probabilities by id, error)."""
    sets = [f"data={data}", f"train.seed={seed}", *extra_sets]
    if positive is not None:
        sets.append(f"train.metric.positive={positive}")
    shutil.rmtree(run, ignore_errors=True)   # a run left in --work by an earlier bench run would be resumed
    seconds, error = nnrun("train", CONFIG, *[a for s in sets for a in ("--set", s)], "--run-dir", run, "--quiet")
    if error:
        return seconds, None, f"nnrun train: {error}"
    out = Path(run) / "test-probabilities.csv"
    _, error = nnrun("infer", Path(run) / "best.nnrun", data, "--split", "test", "--format", "csv", "-o", out,
                     "--quiet")
    if error:
        return seconds, None, f"nnrun infer: {error}"
    frame = pd.read_csv(out, dtype={"input": str})
    columns = [c for c in frame.columns if c.startswith("p(") and c.endswith(")")]
    probabilities = frame[columns].rename(columns=lambda c: c[2:-1])
    probabilities.index = frame["input"].astype(int)
    if "label" in frame:   # kept to check against the split's labels
        probabilities.attrs["labels"] = frame["label"].astype(str).to_numpy(dtype=object)
    return seconds, probabilities, None


# ---- the raw table, read as the baselines see it ----------------------------------------------

def read_raw(table):
    """The file as strings, cells trimmed, missing markers as NaN; index = 1-based data-row number,
    columns named as nnrun names them ("1", "2", ... without a header)."""
    frame = pd.read_csv(table.path, header=None if table.no_header else 0, dtype=str, keep_default_na=False)
    if table.no_header:
        frame.columns = [str(i + 1) for i in range(frame.shape[1])]
    frame.index = np.arange(1, len(frame) + 1)
    # breast-cancer quotes every cell with single quotes ('40-49'); pandas only knows double quotes
    frame = frame.apply(lambda column: column.str.strip().str.strip("'").str.strip())
    return frame.mask(frame.apply(lambda column: column.str.lower().isin(MISSING)))


def typed_features(raw, table):
    """Feature columns typed: numbers as float, date-times expanded to numbers, the rest words
    (object dtype, NaN for missing). Returns (frame, names of the word columns)."""
    columns, words = {}, []
    for name in raw.columns:
        if name == table.label or name in table.drop:
            continue
        cells = raw[name]
        present = cells.dropna()
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all():
            columns[name] = pd.to_numeric(cells, errors="coerce").astype(float)
        elif len(present) and present.str.match(DATE).all():
            stamps = pd.to_datetime(cells, format="ISO8601", errors="coerce")
            for part in ("year", "month", "day", "day_of_week", "hour"):
                columns[f"{name}_{part}"] = getattr(stamps.dt, part).astype(float)
        else:
            columns[name] = cells.astype(object)
            words.append(name)
    return pd.DataFrame(columns, index=raw.index), words


def own_splits(labels, seed):
    """Stratified test 0.2, then validation 0.2 of the rest, as `prepare csv --test-size 0.2
    --validation-size 0.2` sizes them; rows without a label are left out."""
    from sklearn.model_selection import train_test_split

    labelled = labels.dropna()
    rest, test = train_test_split(labelled.index.to_numpy(), test_size=0.2, random_state=seed,
                                  stratify=labelled.to_numpy())
    train, validation = train_test_split(rest, test_size=0.2, random_state=seed,
                                         stratify=labelled.loc[rest].to_numpy())
    return {name: (np.sort(rows), labelled.loc[np.sort(rows)].to_numpy(dtype=object))
            for name, rows in (("train", train), ("validation", validation), ("test", test))}


# ---- baselines --------------------------------------------------------------------------------

def categorised(x, words, reference):
    """`x` with each word column as a pandas category whose levels are the training split's
    (a level seen only in validation/test becomes missing, as for any model in deployment)."""
    x = x.copy()
    for name in words:
        levels = sorted(reference[name].dropna().unique())
        x[name] = pd.Categorical(x[name], categories=levels)
    return x


def fit_lr(parts, words, numbers, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
        ("words", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                OneHotEncoder(handle_unknown="ignore")), words)])
    # max_iter raised from 100 only so that lbfgs converges on the wider one-hot tables
    model = make_pipeline(prep, LogisticRegression(max_iter=2000, random_state=seed))
    x, y = parts["train"]
    x = x.copy()
    x[words] = x[words].astype(object)
    model.fit(x, y)
    return lambda frame: model.predict_proba(frame.assign(**{w: frame[w].astype(object) for w in words}))


def fit_xgb(parts, words, numbers, seed):
    import xgboost

    x, y = parts["train"]
    model = xgboost.XGBClassifier(tree_method="hist", enable_categorical=True, random_state=seed)
    model.fit(categorised(x, words, x), y)
    return lambda frame: model.predict_proba(categorised(frame, words, x))


def fit_lgbm(parts, words, numbers, seed):
    import lightgbm

    x, y = parts["train"]
    model = lightgbm.LGBMClassifier(random_state=seed, verbose=-1)   # category dtype columns: categorical
    model.fit(categorised(x, words, x), y)
    return lambda frame: model.predict_proba(categorised(frame, words, x))


def fit_catboost(parts, words, numbers, seed):
    from catboost import CatBoostClassifier, Pool

    def words_as_text(frame):   # CatBoost takes categories as strings, a missing one as a string too
        frame = frame.copy()
        frame[words] = frame[words].astype(object).fillna("(missing)").astype(str)
        return frame

    (x, y), (vx, vy) = parts["train"], parts["validation"]
    # allow_writing_files=False: no catboost_info/ folder in the working directory
    model = CatBoostClassifier(cat_features=words, random_seed=seed, verbose=False, allow_writing_files=False)
    model.fit(Pool(words_as_text(x), y, cat_features=words), eval_set=Pool(words_as_text(vx), vy, cat_features=words))
    return lambda frame: model.predict_proba(words_as_text(frame))


def fit_realmlp(parts, words, numbers, seed):
    from pytabkit import RealMLP_TD_Classifier

    (x, y), (vx, vy) = parts["train"], parts["validation"]
    # RealMLP refuses missing numbers ("NaN values in continuous columns are currently not
    # allowed"): fill them with the training median, the usual first fix; missing words are fine
    medians = x[numbers].median()

    def ready(frame):
        return categorised(frame.fillna(medians), words, x)

    model = RealMLP_TD_Classifier(random_state=seed, verbosity=0)
    # category dtype columns are its categorical columns (one-hot or embedded by its defaults)
    model.fit(ready(x), y, ready(vx), vy)
    return lambda frame: model.predict_proba(ready(frame))


FITS = {"LR": fit_lr, "XGB": fit_xgb, "LGBM": fit_lgbm, "CatBoost": fit_catboost, "RealMLP": fit_realmlp}


def score(probabilities, classes, truth, positive):
    """ROC AUC of P(positive) for two classes, accuracy of the most probable class otherwise."""
    from sklearn.metrics import roc_auc_score

    probabilities = np.asarray(probabilities, dtype=float)
    if len(classes) == 2:
        return float(roc_auc_score(truth == positive, probabilities[:, classes.index(positive)]))
    return float(np.mean(np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)] == truth))


# ---- one table, one seed ----------------------------------------------------------------------

def run_table(name, table, seed, args, work, raw, features, words):
    """{model: (figure, fit seconds)} for one table and seed, printing each as it comes."""
    results, notes = {}, []
    data = work / f"{name}-{seed}"
    prepare_s, error = nnrun_prepare(table, seed, data)
    if error:
        print(f"{name} seed {seed}: nnrun prepare csv failed ({prepare_s:.1f} s): {error}", flush=True)
        print(f"{name} seed {seed}: baselines on their own stratified split (same sizes and seed)", flush=True)
        splits, source = own_splits(raw[table.label], seed), "own split"
    else:
        try:
            splits, source = prepared_splits(data), "nnrun's split"
        except (OSError, ValueError, KeyError, IndexError) as e:   # a dataset layout this script does not know
            print(f"{name} seed {seed}: cannot read the split of {data} ({type(e).__name__}: {e}); "
                  f"baselines on their own stratified split", flush=True)
            splits, source, error = own_splits(raw[table.label], seed), "own split", str(e)
        # the labels nnrun stored against the labels read here: they should name the same class
        for split, (rows, labels) in splits.items():
            mine = raw[table.label].reindex(rows).to_numpy(dtype=object)
            differ = int(np.sum(mine != labels))
            if differ:
                notes.append(f"{split}: {differ} of {len(rows)} labels differ from the raw file's")
        if notes:
            print(f"{name} seed {seed}: note: " + "; ".join(notes), flush=True)

    classes = sorted(set(splits["train"][1]))
    train_counts = {c: int(np.sum(splits["train"][1] == c)) for c in classes}
    # the rarer class in training is the positive one (a tie goes to the later name, as nnrun's last class)
    positive = min(reversed(classes), key=lambda c: train_counts[c]) if len(classes) == 2 else None
    truth = splits["test"][1]
    parts = {split: (features.loc[rows], np.array([classes.index(v) for v in labels]))
             for split, (rows, labels) in splits.items()}
    numbers = [c for c in features.columns if c not in words]
    sizes = "/".join(str(len(splits[s][0])) for s in ("train", "validation", "test"))
    metric = "AUC" if positive is not None else "accuracy"
    print(f"{name} seed {seed}: {source} {sizes} rows, {len(numbers)} number and {len(words)} word features, "
          f"classes {train_counts} in train, {metric}" + (f" of P({positive})" if positive else ""), flush=True)

    if not args.only_baselines:
        if error:
            results["nnrun"] = None
        else:
            seconds, probabilities, failure = nnrun_train_and_infer(
                data, work / f"{name}-{seed}-run", seed, positive if args.positive_rare else None, args.set)
            if not failure and (set(classes) - set(probabilities.columns)
                                or probabilities.reindex(splits["test"][0]).isna().any().any()):
                failure = "nnrun infer's output lacks some test rows or classes of the split"
            if failure:
                print(f"{name} seed {seed} {'nnrun':<9} failed ({seconds:.1f} s): {failure}", flush=True)
                results["nnrun"] = None
            else:
                p = probabilities.reindex(splits["test"][0])[classes].to_numpy()
                labels = probabilities.attrs.get("labels")
                if labels is not None and not np.array_equal(
                        pd.Series(labels, index=probabilities.index).reindex(splits["test"][0]).to_numpy(), truth):
                    print(f"{name} seed {seed}: note: nnrun infer's labels differ from the test split's", flush=True)
                results["nnrun"] = (score(p, classes, truth, positive), seconds)
                print(f"{name} seed {seed} {'nnrun':<9} {metric} {results['nnrun'][0]:.4f}  "
                      f"train {seconds:6.1f} s (process, start-up included)", flush=True)

    for model in args.models:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # library chatter (feature names, future defaults)
                start = time.perf_counter()
                predict = FITS[model](parts, words, numbers, seed)
                seconds = time.perf_counter() - start
                figure = score(predict(parts["test"][0]), classes, truth, positive)
        except ImportError as e:
            print(f"{name} seed {seed} {model:<9} skipped: {e} (pip install it)", flush=True)
            results[model] = None
            continue
        except Exception as e:   # noqa: BLE001 - one model failing must not hide the others' figures
            print(f"{name} seed {seed} {model:<9} failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
            results[model] = None
            continue
        results[model] = (figure, seconds)
        print(f"{name} seed {seed} {model:<9} {metric} {figure:.4f}  fit {seconds:6.1f} s", flush=True)
    return results, {"metric": metric, "positive": positive, "split": source, "train-counts": train_counts,
                     "sizes": sizes, "notes": notes}


# ---- summary ----------------------------------------------------------------------------------

def cell(value, width, digits=4):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def signed(value, width):
    return f"{'-':>{width}}" if value is None else f"{value:>+{width}.4f}"


def summarise(per_seed, info, columns):
    """Mean figure and fit time per table and model over seeds; the classic baselines' median and
    best; nnrun's gaps. Prints the tables and returns the summary for --json."""
    summary = {}
    for table, seeds in per_seed.items():
        row = {}
        for model in columns:
            runs = [seeds[s].get(model) for s in seeds]
            if runs and all(r is not None for r in runs):
                row[model] = {"figure": float(np.mean([r[0] for r in runs])), "figures": [r[0] for r in runs],
                              "seconds": float(np.mean([r[1] for r in runs]))}
            else:
                row[model] = None
        classic = [row[m]["figure"] for m in CLASSIC if row.get(m)]
        row["median4"] = float(statistics.median(classic)) if len(classic) == len(CLASSIC) else None
        row["best4"] = float(max(classic)) if len(classic) == len(CLASSIC) else None
        ours = row.get("nnrun")
        row["gap-median"] = ours["figure"] - row["median4"] if ours and row["median4"] is not None else None
        row["gap-best"] = ours["figure"] - row["best4"] if ours and row["best4"] is not None else None
        summary[table] = {"metric": info[table]["metric"], "positive": info[table]["positive"],
                          "split": info[table]["split"], "models": row}

    names = [m for m in columns]
    print()
    print("test figure, mean over seeds (AUC: ROC AUC of the rarer training class; accuracy: most probable class)")
    head = f"{'table':<14}{'metric':<9}" + "".join(f"{m:>9}" for m in names) + \
        f"{'median4':>9}{'best4':>9}{'nn-med':>9}{'nn-best':>9}"
    print(head)
    for table, entry in summary.items():
        row = entry["models"]
        line = f"{table:<14}{entry['metric']:<9}"
        if "nnrun" in names:
            line += "  failed " if row["nnrun"] is None else cell(row["nnrun"]["figure"], 9)
        line += "".join(cell(row[m]["figure"] if row[m] else None, 9) for m in names if m != "nnrun")
        line += cell(row["median4"], 9) + cell(row["best4"], 9)
        line += signed(row["gap-median"], 9) + signed(row["gap-best"], 9)
        print(line + ("  (own split)" if entry["split"] == "own split" else ""))
    gaps = [e["models"]["gap-best"] for e in summary.values() if e["models"]["gap-best"] is not None]
    below = [t for t, e in summary.items() if e["models"]["gap-median"] is not None and e["models"]["gap-median"] < 0]
    if "nnrun" in names:
        if gaps and len(gaps) == len(summary):
            print(f"nnrun: mean gap to the best of the four {np.mean(gaps):+.4f} (want >= -0.01); "
                  f"below the median on {', '.join(below) if below else 'no table'}")
        else:
            print("nnrun: no mean gap (it needs nnrun and the four classic baselines on every table)")
    print()
    print("fit wall time in seconds, mean over seeds (nnrun: the `nnrun train` process, start-up included)")
    print(f"{'table':<14}" + "".join(f"{m:>9}" for m in names))
    for table, entry in summary.items():
        row = entry["models"]
        print(f"{table:<14}" + "".join(cell(row[m]["seconds"] if row[m] else None, 9, 1) for m in names))
    return summary


def main():
    # a kill (SIGTERM) ends as an exception, so the temporary folder is still removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=DEFAULT_TABLES, help=f"comma-separated, or all (default {DEFAULT_TABLES})")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--models", default=",".join(MODELS), help="baselines to run: " + ",".join(MODELS))
    parser.add_argument("--only-baselines", action="store_true", help="no nnrun training (the split still "
                        "comes from `nnrun prepare csv` when it takes the table)")
    parser.add_argument("--positive-rare", action="store_true", help="two-class tables: train nnrun with "
                        "the rarer training class as train.metric.positive (the config's own default otherwise)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra --set for nnrun train (repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared data and runs here "
                        "(default: a temporary folder, removed at the end)")
    args = parser.parse_args()
    names = list(TABLES) if args.tables == "all" else args.tables.split(",")
    for name in names:
        if name not in TABLES:
            sys.exit(f"unknown table {name} (known: {', '.join(TABLES)})")
        if not TABLES[name].path.exists():
            sys.exit(f"{TABLES[name].path}: not there (see ../shared/data/PROVENANCE.md; set NNRUN_SHARED)")
    try:
        args.models = [MODELS[m.strip().lower()] for m in args.models.split(",") if m.strip()]
    except KeyError as e:
        sys.exit(f"unknown model {e} (known: {', '.join(MODELS)})")
    seeds = [int(s) for s in args.seeds.split(",")]

    work = args.work or Path(tempfile.mkdtemp(prefix="nnrun-tables-"))
    work.mkdir(parents=True, exist_ok=True)
    per_seed, info = {}, {}
    started = time.perf_counter()
    try:
        for name in names:
            table = TABLES[name]
            raw = read_raw(table)
            features, words = typed_features(raw, table)
            per_seed[name] = {}
            for seed in seeds:
                per_seed[name][seed], info[name] = run_table(name, table, seed, args, work, raw, features, words)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    columns = ([] if args.only_baselines else ["nnrun"]) + args.models
    summary = summarise(per_seed, info, columns)
    print(f"\n{len(names)} tables x {len(seeds)} seeds in {time.perf_counter() - started:.0f} s on "
          f"{os.cpu_count()} cores")
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "tables": summary, "info": info}, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
