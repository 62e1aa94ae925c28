"""`nnrun prepare csv`: real credit-card rows, label kinds, unlabelled sets, bad input, scale."""
import gzip
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, shared_path
from nnrun.data.dataset import open_dataset
from nnrun.errors import UserError

CREDITCARD = ("creditcard", "creditcard-10k.csv.gz")


def write_csv(path, text):
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def small_table(path, rows=60, label=lambda i: "1" if i % 4 == 0 else "0"):
    lines = ["a,b,Class"] + [f"{i},{i * 0.5},{label(i)}" for i in range(rows)]
    return write_csv(path, "\n".join(lines) + "\n")


def assert_failed_cleanly(result, out, *phrases):
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_creditcard_manifest_splits_and_raw_features(tmp_path):
    source = shared_path(*CREDITCARD)
    out = tmp_path / "cc"
    result = run_cli("prepare", "csv", source, out, "--label-column", "Class", "--drop", "Time", "--test-size", "0.2",
                     "--seed", "1")
    assert result.code == 0, result
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["format"] == "nnrun-dataset" and manifest["version"] == 1
    assert manifest["kind"] == "table" and manifest["labelled"] is True and manifest["synthetic"] is False
    assert manifest["classes"] == ["0", "1"]
    assert manifest["features"] == [f"V{i}" for i in range(1, 29)] + ["Amount"]
    assert manifest["splits"]["train"]["class-counts"] == {"0": 7606, "1": 394}
    assert manifest["splits"]["test"]["class-counts"] == {"0": 1902, "1": 98}
    assert manifest["sources"] == [{"path": str(source.resolve()), "bytes": source.stat().st_size,
                                    "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}]
    assert manifest["seed"] == 1
    assert manifest["command"] == (f"nnrun prepare csv {source} {out} --label-column Class --drop Time "
                                   f"--test-size 0.2 --seed 1")
    assert manifest["options"]["drop"] == ["Time"] and manifest["options"]["test-size"] == 0.2
    assert manifest["created"].endswith("Z") and manifest["nnrun-version"]

    data = open_dataset(out)
    frame = pd.read_csv(source)
    for split in ("train", "test"):
        rows = np.array([int(i) - 1 for i in data.ids(split)])  # ids are 1-based row numbers
        np.testing.assert_array_equal(data.x(split), frame.drop(columns=["Time", "Class"]).to_numpy(np.float32)[rows])
        np.testing.assert_array_equal(data.y(split), frame["Class"].to_numpy()[rows])
    assert not set(data.ids("train")) & set(data.ids("test"))
    train = frame.drop(columns=["Time", "Class"]).to_numpy(np.float32)[[int(i) - 1 for i in data.ids("train")]]
    np.testing.assert_allclose(data.normalisation["mean"], train.astype(np.float64).mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(data.normalisation["std"], train.astype(np.float64).std(axis=0), rtol=1e-9)


def test_same_seed_same_split_and_validation_from_the_rest(tmp_path):
    source = small_table(tmp_path / "t.csv", rows=200)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run_cli("prepare", "csv", source, tmp_path / name, "--label-column", "Class", "--seed", seed,
                       "--test-size", "40", "--validation-size", "0.25").code == 0
    a, b, c = (open_dataset(tmp_path / n) for n in "abc")
    assert a.split_names == ["train", "validation", "test"]
    assert [a.count(s) for s in a.split_names] == [120, 40, 40]
    assert a.ids("test") == b.ids("test") and a.ids("test") != c.ids("test")
    assert a.class_counts("test") == {"0": 30, "1": 10} and a.class_counts("validation") == {"0": 30, "1": 10}


def test_string_labels_sorted_and_numeric_labels_ordered_by_value(tmp_path):
    names = ["ok", "fraud", "review"]
    source = small_table(tmp_path / "s.csv.gz", rows=90, label=lambda i: names[i % 3])
    assert run_cli("prepare", "csv", source, tmp_path / "s", "--label-column", "Class").code == 0
    assert open_dataset(tmp_path / "s").classes == ["fraud", "ok", "review"]
    source = small_table(tmp_path / "n.csv", rows=90, label=lambda i: ["10", "2", "1.0"][i % 3])
    assert run_cli("prepare", "csv", source, tmp_path / "n", "--label-column", "Class").code == 0
    data = open_dataset(tmp_path / "n")
    assert data.classes == ["1", "2", "10"]
    assert set(data.class_counts("train").values()) == {24}


def test_unlabelled_keeps_every_row_in_order_with_its_id(tmp_path):
    lines = ["Id,a,b"] + [f"{1000 - i},{i},{i * 2}" for i in range(50)]
    source = write_csv(tmp_path / "test.csv", "\n".join(lines) + "\n")
    out = tmp_path / "u"
    result = run_cli("prepare", "csv", source, out, "--unlabelled", "--id-column", "Id")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.split_names == ["test"] and not data.labelled and data.classes == []
    assert data.ids("test") == [str(1000 - i) for i in range(50)]
    assert data.features == ["a", "b"]
    np.testing.assert_array_equal(data.x("test")[:, 0], np.arange(50))
    assert data.normalisation is None
    with pytest.raises(UserError, match="unlabelled"):
        data.y("test")


def test_label_and_id_columns_are_spelled_as_infer_spells_them_and_the_old_spelling_still_works(tmp_path):
    """--label-column and --id-column, as infer, evaluate and kaggle-submit take them; --label and
    --id, the spelling prepare csv had first, still read the same (and make the same dataset)."""
    lines = ["Id,a,b,Class"] + [f"r{i},{i},{i % 7},{i % 2}" for i in range(60)]
    source = write_csv(tmp_path / "t.csv", "\n".join(lines) + "\n")
    assert run_cli("prepare", "csv", source, tmp_path / "new", "--label-column", "Class", "--id-column", "Id").code == 0
    assert run_cli("prepare", "csv", source, tmp_path / "old", "--label", "Class", "--id", "Id").code == 0
    new, old = open_dataset(tmp_path / "new"), open_dataset(tmp_path / "old")
    assert new.features == old.features == ["a", "b"] and new.classes == ["0", "1"]
    assert new.ids("test") == old.ids("test") and new.ids("test")[0].startswith("r")
    assert new.manifest["command"].endswith("--label-column Class --id-column Id")
    assert old.manifest["command"].endswith("--label-column Class --id-column Id")  # recorded in today's spelling
    shown = run_cli("prepare", "csv", "--help").stdout
    assert "--label-column COLUMN" in shown and "--id-column COLUMN" in shown
    assert "--label " not in shown and "--id " not in shown
    missing = run_cli("prepare", "csv", source, tmp_path / "x", "--label-column", "Klass")
    assert missing.code == 2 and 'no column "Klass" (--label-column)' in missing.stderr


def test_rerun_is_a_no_op_a_different_dataset_is_refused_and_force_replaces_it(tmp_path):
    source = small_table(tmp_path / "t.csv")
    out = tmp_path / "out"
    assert run_cli("prepare", "csv", source, out, "--label-column", "Class").code == 0
    before = (out / "dataset.json").read_text()
    again = run_cli("prepare", "csv", source, out, "--label-column", "Class")
    assert again.code == 0 and "nothing to do" in again.output
    assert (out / "dataset.json").read_text() == before
    different = run_cli("prepare", "csv", source, out, "--label-column", "Class", "--seed", "9")
    assert different.code == 2 and "already holds a different prepared dataset" in different.output
    assert "--force" in different.output and (out / "dataset.json").read_text() == before
    forced = run_cli("prepare", "csv", source, out, "--label-column", "Class", "--seed", "9", "--force")
    assert forced.code == 0 and open_dataset(out).manifest["seed"] == 9
    assert not list(tmp_path.glob("out.*"))  # no partial or replaced folder left over


def test_a_folder_that_is_not_a_dataset_is_never_overwritten(tmp_path):
    source = small_table(tmp_path / "t.csv")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    result = run_cli("prepare", "csv", source, out, "--label-column", "Class", "--force")
    assert result.code == 2 and "holds no prepared dataset" in result.output
    assert (out / "notes.txt").read_text() == "precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("prepare", "csv", source, empty, "--label-column", "Class").code == 0


@pytest.mark.parametrize("text, args, phrases", [
    ("a,b,Klass\n1,2,0\n", ["--label-column", "Class"],
     ['no column "Class"', 'did you mean "Klass"', "columns are: a, b, Klass"]),
    ("a,b,Class\n1,2,0\n", ["--label-column", "Class", "--drop", "c"], ['no column "c" (--drop)']),
    ("", ["--label-column", "Class"], ["is empty"]),
    ("a,b,Class\n", ["--label-column", "Class"], ["header but no rows"]),
    ("a,b,Class\n" + "1,2,0\n" * 20, ["--label-column", "Class"], ['only one class ("0")']),
    ("a,b,Class\n" + "1,2,0\n" * 20 + "1,2,1\n", ["--label-column", "Class"], ['class "1" has only 1 example']),
    ("a,b,Class\n1,2,0\n1,2,3,4\n", ["--label-column", "Class"], ["Expected 3 fields in line 3"]),
    ("a,b\n1,2\n", [], ["--label-column COLUMN is required"]),
])
def test_bad_input_is_one_clear_line_and_leaves_nothing(tmp_path, text, args, phrases):
    source = write_csv(tmp_path / "bad.csv", text)
    out = tmp_path / "out"
    assert_failed_cleanly(run_cli("prepare", "csv", source, out, *args), out, *phrases)


def test_unknown_extension_is_refused(tmp_path):
    source = tmp_path / "table.xlsx"
    source.write_text("a,b,Class\n1,2,0\n")
    out = tmp_path / "out"
    assert_failed_cleanly(run_cli("prepare", "csv", source, out, "--label-column", "Class"), out,
                          'unknown extension ".xlsx"')


def test_full_size_file_is_fast_and_memory_stays_bounded(tmp_path):
    """284,807 rows like the full credit-card file, in a separate process to measure its memory."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc (Linux)")
    rows, block = 284_807, 10_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((block, 28)).round(6), columns=[f"V{i}" for i in range(1, 29)])
    frame.insert(0, "Time", np.arange(block))
    frame["Amount"] = rng.lognormal(3, 1.2, block).round(2)
    frame["Class"] = (rng.random(block) < 0.0018).astype(int)
    header, body = frame.to_csv(index=False).split("\n", 1)
    source = tmp_path / "creditcard-full.csv"
    with open(source, "w") as f:
        f.write(header + "\n" + body * (rows // block))
        f.write("".join(body.splitlines(keepends=True)[: rows % block]))
    # VmHWM, not ru_maxrss: on Linux the latter carries over the forking parent's (pytest's) peak.
    measure = ("import sys\nfrom nnrun.cli import main\nmain(sys.argv[1:])\n"
               "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
               "print('peak-mb', int(hwm) / 1024, file=sys.stderr)\n")
    out = tmp_path / "full"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", measure, "prepare", "csv", str(source), str(out),
                          "--label-column", "Class", "--drop", "Time", "--test-size", "50000", "--quiet"],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    peak = float(run.stderr.split("peak-mb")[1])
    data = open_dataset(out)
    assert data.count("train") + data.count("test") == rows and data.count("test") == 50000
    assert seconds < 30, seconds
    # The file is ~60 MB of text and 33 MB of float32; reading it whole with pandas peaks above 250 MB.
    assert peak < 180, peak
