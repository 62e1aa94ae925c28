"""Tables as they come: column kinds, blanks, words, dates, no header, and the one encoding that
every command applies to a raw row (prepare, infer, kaggle-submit)."""
import csv
import gzip
import io
import json

import numpy as np
import pytest

from conftest import ROOT, run_cli, shared_path
from nnrun.data.dataset import open_dataset
from nnrun.data.table import reading
from nnrun.data.table.encoding import FIRST_LEVEL, MISSING, UNKNOWN


def raw_rows(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        return list(csv.reader(f))


def encoding_of(folder):
    return json.loads((folder / "dataset.json").read_text())["encoding"]


def column(encoding, name):
    return next(c for c in encoding["columns"] if c["name"] == name)


def people(path, rows=240, extra=()):
    """A table with every kind of column: numbers with blanks, a category, a two-valued column,
    a date, a name per row, and a label that depends on the category and the number."""
    rng = np.random.default_rng(0)
    lines = ["age,city,member,joined,name,income"]
    for i in range(rows):
        age = "" if i % 10 == 3 else str(int(rng.integers(18, 80)))
        city = ["Lyon", "Paris", "Nice", " 'Lille' "][i % 4]
        member = "yes" if i % 3 else "no"
        joined = f"20{10 + i % 12:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        label = ">50K" if (city.strip(" '") in ("Paris", "Nice")) == (i % 5 != 0) else "<=50K"
        lines.append(f"{age},{city},{member},{joined},person {i},{label}")
    lines.extend(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kinds_fills_and_levels_come_from_the_training_rows_only(tmp_path):
    source = people(tmp_path / "people.csv")
    out = tmp_path / "data"
    result = run_cli("prepare", "csv", source, out, "--label-column", "income", "--test-size", "0.25", "--seed", "2")
    assert result.code == 0, result
    encoding = encoding_of(out)
    kinds = {c["name"]: c["kind"] for c in encoding["columns"]}
    assert kinds == {"age": "number", "city": "category", "member": "binary", "joined": "date"}
    assert encoding["dropped"][0]["name"] == "name" and encoding["dropped"][0]["kind"] == "text"
    assert column(encoding, "city")["levels"] == ["Lille", "Lyon", "Nice", "Paris"]  # quotes and spaces trimmed
    assert column(encoding, "member")["levels"] == ["no", "yes"]

    data = open_dataset(out)
    rows = raw_rows(source)
    train_rows = [rows[int(i)] for i in data.ids("train")]
    ages = [float(r[0]) for r in train_rows if r[0]]
    assert column(encoding, "age")["fill"] == [float(np.median(ages))]  # the training rows' median, not all rows'
    assert column(encoding, "age")["missing-indicator"] is True
    features = data.features
    assert features[:2] == ["age", "age (missing)"] and "joined year" in features and "joined days" in features
    x = data.x("train")
    for row, values in zip(train_rows, x):
        assert values[1] == (0.0 if row[0] else 1.0)
        assert values[0] == (float(row[0]) if row[0] else np.median(ages))
        city = row[1].strip(" '")
        assert values[features.index("city")] == FIRST_LEVEL + ["Lille", "Lyon", "Nice", "Paris"].index(city)
        assert values[features.index("member")] == (1.0 if row[2] == "yes" else 0.0)
        year, month, day = (int(p) for p in row[3].split("-"))
        assert values[features.index("joined year")] == year and values[features.index("joined month")] == month
    # category codes are left as codes by the statistics: an embedding reads them as indices
    j = features.index("city")
    assert data.normalisation["mean"][j] == 0.0 and data.normalisation["std"][j] == 1.0
    assert "city" in result.stdout and "category" in result.stdout and "left out" in result.stdout


def test_a_level_seen_only_outside_training_is_unknown_and_blank_labels_are_left_out(tmp_path):
    extra = [f"40,Rennes,yes,2015-05-05,late {i},>50K" for i in range(3)] + ["41,Paris,no,2015-05-05,blank,"]
    source = people(tmp_path / "p.csv", rows=200, extra=extra)
    out = tmp_path / "data"
    result = run_cli("prepare", "csv", source, out, "--label-column", "income", "--test-size", "0.3", "--seed", "1")
    assert result.code == 0, result
    assert "1 row with a blank label" in result.stderr
    data = open_dataset(out)
    assert "204" not in data.ids("train") + data.ids("test")  # the blank label's row is in no split
    assert "Rennes" not in column(encoding_of(out), "city")["levels"] or \
        sum(i in data.ids("train") for i in ("201", "202", "203")) > 0
    city = data.features.index("city")
    for split in ("train", "test"):
        for i, values in zip(data.ids(split), data.x(split)):
            if i in ("201", "202", "203") and "Rennes" not in column(encoding_of(out), "city")["levels"]:
                assert values[city] == UNKNOWN


def test_headerless_file_with_quoted_words_and_the_label_by_position(tmp_path):
    source = shared_path("tables", "breast-cancer.csv.gz")
    out = tmp_path / "bc"
    result = run_cli("prepare", "csv", source, out, "--no-header", "--label-column", "10", "--seed", "1")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.classes == ["no-recurrence-events", "recurrence-events"]
    encoding = encoding_of(out)
    assert encoding["headerless"] == {"columns": 10, "label": 10}
    assert column(encoding, "1")["kind"] == "category" and "40-49" in column(encoding, "1")["levels"]
    # "?" cells are missing: column 5 (node-caps) holds yes, no and "?"
    node_caps = column(encoding, "5")
    assert node_caps["kind"] == "binary" and node_caps["levels"] == ["no", "yes"] and node_caps["missing-indicator"]


def test_real_tables_prepare_with_the_kinds_their_columns_have(tmp_path):
    taxis = shared_path("tables", "taxis.csv.gz")
    result = run_cli("prepare", "csv", taxis, tmp_path / "taxis", "--label-column", "payment", "--seed", "1")
    assert result.code == 0, result
    assert "44 rows with a blank label" in result.stderr
    kinds = {c["name"]: c["kind"] for c in encoding_of(tmp_path / "taxis")["columns"]}
    assert kinds["pickup"] == kinds["dropoff"] == "date"
    assert kinds["color"] == "binary" and kinds["pickup_zone"] == "category" and kinds["fare"] == "number"
    assert "pickup hour" in open_dataset(tmp_path / "taxis").features

    mpg = shared_path("tables", "mpg.csv.gz")
    assert run_cli("prepare", "csv", mpg, tmp_path / "mpg", "--label-column", "origin").code == 0
    encoding = encoding_of(tmp_path / "mpg")
    assert column(encoding, "horsepower")["missing-indicator"] is True
    assert [d["name"] for d in encoding["dropped"]] == ["name"]
    # --category keeps the names, and takes a number column as a category
    assert run_cli("prepare", "csv", mpg, tmp_path / "mpg2", "--label-column", "origin",
                   "--category", "name,cylinders").code == 0
    encoding = encoding_of(tmp_path / "mpg2")
    assert column(encoding, "name")["kind"] == "category"
    assert column(encoding, "cylinders")["levels"] == ["3", "4", "5", "6", "8"]


def test_a_word_first_met_after_the_first_chunk_restarts_the_column_as_words(tmp_path, monkeypatch):
    import nnrun.data.csv_rows as csv_rows

    monkeypatch.setattr(csv_rows, "CHUNK_ROWS", 50)
    lines = ["size,y"] + [f"{i % 7},{i % 2}" for i in range(120)] + ["big,1", "small,0"] * 30
    source = tmp_path / "t.csv"
    source.write_text("\n".join(lines) + "\n")
    seen = []
    original = reading._read_once
    monkeypatch.setattr(reading, "_read_once", lambda *a: seen.append(set(a[-1])) or original(*a))
    result = run_cli("prepare", "csv", source, tmp_path / "out", "--label-column", "y")
    assert result.code == 0, result
    assert seen == [set(), {"size"}]  # a second pass, with the column known to hold words
    size = column(encoding_of(tmp_path / "out"), "size")
    assert size["kind"] == "category" and size["levels"] == ["0", "1", "2", "3", "4", "5", "6", "big", "small"]


def test_numbers_forced_and_many_levels_folded(tmp_path):
    rows = ["code,score,y"] + [f"c{i % 40},{'n/a' if i % 9 == 0 else i},{i % 2}" for i in range(400)]
    source = tmp_path / "t.csv"
    source.write_text("\n".join(rows) + "\n")
    result = run_cli("prepare", "csv", source, tmp_path / "out", "--label-column", "y", "--number", "score",
                     "--max-levels", "10")
    assert result.code == 0, result
    encoding = encoding_of(tmp_path / "out")
    code, score = column(encoding, "code"), column(encoding, "score")
    assert len(code["levels"]) == 10 and code["summary"]["folded"] == 30
    assert score["kind"] == "number" and score["summary"]["words-as-missing"] == 45
    # --missing adds a marker: the same cells are blanks, not words
    result = run_cli("prepare", "csv", source, tmp_path / "out2", "--label-column", "y", "--missing", "n/a")
    assert result.code == 0, result
    assert column(encoding_of(tmp_path / "out2"), "score")["kind"] == "number"


def test_byte_order_mark_and_mixed_line_endings_are_accepted(tmp_path):
    text = "\ufeffa,b,y\r\n" + "".join(f"{i},{'x' if i % 2 else 'z'},{i % 2}{chr(13) + chr(10) if i % 3 else chr(10)}"
                                       for i in range(60))
    source = tmp_path / "t.csv"
    source.write_bytes(text.encode("utf-8"))
    result = run_cli("prepare", "csv", source, tmp_path / "out", "--label-column", "y")
    assert result.code == 0, result
    assert open_dataset(tmp_path / "out").features == ["a", "b"]


@pytest.mark.parametrize("text, args, phrases", [
    ("a,b,y\n" + "1,x,0\n" * 30, ["--label-column", "y"], ['only one class ("0")']),
    ("", ["--label-column", "y"], ["is empty"]),
    ("a,b,y\n1,2,\n3,4,\n", ["--label-column", "y"], ['every label is blank']),
    ("a,b,y\n1,2,0\n", ["--label-column", "y", "--category", "a", "--number", "a"], ["both --category and --number"]),
    ("a,b,y\n1,2,0\n", ["--label-column", "y", "--category", "c"], ['no column "c" (--category)']),
    ("a,b,y\n" + "1,,0\n2,,1\n" * 10, ["--label-column", "y", "--drop", "a"], ['no feature column is left', '"b"']),
])
def test_bad_tables_are_one_line_and_leave_nothing(tmp_path, text, args, phrases):
    source = tmp_path / "t.csv"
    source.write_text(text)
    out = tmp_path / "out"
    result = run_cli("prepare", "csv", source, out, *args)
    assert result.code == 2, result
    assert "Traceback" not in result.output and result.output.startswith("error: ")
    assert result.output.count("\n") == 1, result.output
    for phrase in phrases:
        assert phrase in result.output
    assert not out.exists() and not out.with_name("out.partial").exists()


# ---- one encoding at every answer ------------------------------------------------------------

@pytest.fixture(scope="module")
def taxis_model(tmp_path_factory):
    """configs/tabular.yaml trained briefly on the taxi trips (dates, zones, blanks)."""
    source = shared_path("tables", "taxis.csv.gz")
    folder = tmp_path_factory.mktemp("taxis")
    assert run_cli("prepare", "csv", source, folder / "data", "--label-column", "payment", "--test-size", "0.2",
                   "--validation-size", "0.2", "--seed", "1", "--quiet").code == 0
    result = run_cli("train", ROOT / "configs" / "tabular.yaml", "--set", f"data={folder / 'data'}",
                     "--set", "train.epoch-count=2", "--run-dir", folder / "run", "--quiet")
    assert result.code == 0, result
    return source, folder


def probabilities(csv_text):
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    return rows, np.array([[float(r[k]) for k in r if k.startswith("p(")] for r in rows])


def test_raw_rows_get_the_probabilities_of_their_prepared_rows(taxis_model, tmp_path):
    source, folder = taxis_model
    data = open_dataset(folder / "data")
    rows = raw_rows(source)
    header, body = rows[0], rows[1:]
    test_ids = data.ids("test")[:300]
    label = header.index("payment")
    raw = tmp_path / "raw.csv"
    with open(raw, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trip"] + header[:label] + header[label + 1:])
        for i in test_ids:
            row = body[int(i) - 1]
            writer.writerow([i] + row[:label] + row[label + 1:])
    model = folder / "run" / "best.nnrun"
    from_raw = run_cli("infer", model, raw, "--format", "csv", "--id-column", "trip")
    assert from_raw.code == 0, from_raw
    from_split = run_cli("infer", model, folder / "data", "--split", "test", "--format", "csv")
    assert from_split.code == 0, from_split
    raw_rows_out, p_raw = probabilities(from_raw.stdout)
    split_rows, p_split = probabilities(from_split.stdout)
    assert [r["input"] for r in raw_rows_out] == test_ids
    np.testing.assert_allclose(p_raw, p_split[:len(test_ids)], atol=1e-6)

    # kaggle-submit on the raw test rows with their id column: the same probabilities
    submission = tmp_path / "sub.csv"
    result = run_cli("kaggle-submit", model, raw, "-o", submission, "--id-column", "trip", "--predict", "probability")
    assert result.code == 0, result
    submitted = {r[0]: float(r[1]) for r in list(csv.reader(open(submission)))[1:]}
    positive = json.loads(json.dumps(data.classes)).index("cash")
    for i, p in zip(test_ids, p_split[:len(test_ids)]):
        assert abs(submitted[i] - p[positive]) < 1e-5


def test_inference_on_raw_rows_names_the_place_of_each_mistake(taxis_model, tmp_path):
    source, folder = taxis_model
    model = folder / "run" / "best.nnrun"
    rows = raw_rows(source)
    header = rows[0]
    lacking = tmp_path / "lacking.csv"
    with open(lacking, "w", newline="") as f:
        csv.writer(f).writerows([[h for h in header if h != "fare"]] + [[c for h, c in zip(header, r) if h != "fare"]
                                                                         for r in rows[1:4]])
    result = run_cli("infer", model, lacking)
    assert result.code == 2 and 'lacks 1 of the checkpoint' in result.output and "fare" in result.output

    worded = tmp_path / "worded.csv"
    body = [list(r) for r in rows[1:4]]
    body[1][header.index("fare")] = "cheap"
    with open(worded, "w", newline="") as f:
        csv.writer(f).writerows([header] + body)
    result = run_cli("infer", model, worded)
    assert result.code == 2 and 'row 2 (line 3), column "fare": "cheap" is not a number' in result.output

    unseen = tmp_path / "unseen.csv"
    body = [list(r) for r in rows[1:4]]
    body[0][header.index("pickup_zone")] = "Atlantis"
    body[2][header.index("fare")] = "?"
    with open(unseen, "w", newline="") as f:
        csv.writer(f).writerows([header] + body)
    result = run_cli("infer", model, unseen, "--format", "csv")
    assert result.code == 0, result
    assert len(result.stdout.strip().splitlines()) == 4
    assert '1 cell held a value never seen in training, read as unknown ("pickup_zone" 1)' in result.stderr


def test_the_documented_script_answers_raw_rows_from_the_exported_onnx_alone(taxis_model, tmp_path):
    """docs/examples/table_rows_onnx.py (onnxruntime, numpy and the standard library) gives what
    `nnrun infer` gives on the same raw rows: the encoding travels in the ONNX file's metadata."""
    import subprocess
    import sys

    source, folder = taxis_model
    model = folder / "run" / "best.nnrun"
    onnx_file = tmp_path / "taxis.onnx"
    assert run_cli("export", model, "-o", onnx_file).code == 0
    rows = raw_rows(source)
    sample = tmp_path / "rows.csv"
    with open(sample, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(rows[0])
        for row in rows[1:200]:
            writer.writerow(row)
        blanked = list(rows[1])
        blanked[rows[0].index("pickup_zone")] = ""
        blanked[rows[0].index("color")] = "?"
        writer.writerow(blanked)
    script = ROOT / "docs" / "examples" / "table_rows_onnx.py"
    done = subprocess.run([sys.executable, script, onnx_file, sample], capture_output=True, text=True, check=True)
    answers = [line.split() for line in done.stdout.strip().splitlines()]
    inferred = run_cli("infer", model, sample, "--format", "csv")
    assert inferred.code == 0, inferred
    table, p = probabilities(inferred.stdout)
    assert len(answers) == len(table) == 200
    np.testing.assert_allclose(np.array([[float(v) for v in a[-2:]] for a in answers]), p, atol=1e-6)
    assert [a[0] for a in answers] == [r["classification"].split()[0] for r in table]


def test_evaluate_on_the_raw_file_measures_what_it_measures_on_the_prepared_split(taxis_model, tmp_path):
    source, folder = taxis_model
    data = open_dataset(folder / "data")
    rows = raw_rows(source)
    test_ids = set(data.ids("test"))
    raw = tmp_path / "test-rows.csv"
    with open(raw, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(rows[0])
        writer.writerows(row for i, row in enumerate(rows[1:], start=1) if str(i) in test_ids)
        blank = list(rows[1])
        blank[rows[0].index("payment")] = ""
        writer.writerow(blank)  # a blank label: left out, and said so
    model = folder / "run" / "best.nnrun"
    on_file = run_cli("evaluate", model, raw, "--format", "json")
    assert on_file.code == 0, on_file
    on_split = run_cli("evaluate", model, folder / "data", "--split", "test", "--format", "json")
    mine, theirs = json.loads(on_file.stdout), json.loads(on_split.stdout)
    assert mine["metrics"]["confusion-matrix"] == theirs["metrics"]["confusion-matrix"]
    assert abs(mine["loss"] - theirs["loss"]) < 1e-6
    assert "1 row(s) with a blank label left out" in on_file.stderr
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(",".join(rows[0]) + "\n" + ",".join(rows[1][:9] + ["bitcoin"] + rows[1][10:]) + "\n")
    result = run_cli("evaluate", model, wrong)
    assert result.code == 2 and 'row 1, column "payment": "bitcoin" is not one of the model\'s classes' in result.output
