"""`nnrun infer`: every input kind and output format on real (tiny, trained-here) checkpoints,
the threshold and top-k, autoencoders, bad inputs, and agreement with `nnrun evaluate`."""
import csv
import io
import json
import shutil

import numpy as np
import pytest

from conftest import run_cli
from nnrun.data.dataset import open_dataset
from test_infer_models import COLOURS, FEATURES, models, photo, table_rows, write_table


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return models(tmp_path_factory)


def infer(*args):
    result = run_cli("infer", *args)
    assert result.code == 0, result
    return result


def records(*args):
    return [json.loads(line) for line in infer(*args).stdout.splitlines()]


def assert_user_error(result, *phrases):
    assert result.code == 2, result
    assert "Traceback" not in result.output and "error: " in result.stderr, result.output
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_photos_give_cortex_style_records_whose_maps_sum_to_one(ckpt, tmp_path):
    a = photo(tmp_path / "a.jpg", COLOURS["red"], size=(300, 200))   # a "camera" photo, resized on the way
    b = photo(tmp_path / "b.png", COLOURS["blue"], size=(17, 60))
    got = records(ckpt["binary"], a, b)
    assert [r["input"] for r in got] == [str(a), str(b)]
    for r in got:
        assert set(r) == {"input", "probability-map", "classification"}
        assert list(r["probability-map"]) == ["blue", "red"]
        assert sum(r["probability-map"].values()) == pytest.approx(1.0, abs=1e-5)
    assert [r["classification"] for r in got] == ["red", "blue"]


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_raw_images_folder_and_prepared_split_give_the_same_predictions(ckpt, engine):
    """The photos behind the prepared test split, given raw (folder and single files), reach the
    network exactly as the prepared split's stored pixels do."""
    folder = ckpt["three"].parent
    ds = open_dataset(folder / "data")
    split = {r["input"]: r for r in records(ckpt["three"], folder / "data", "--engine", engine)}
    assert len(split) == ds.count("test") and set(split) == set(ds.ids("test"))
    raw = records(ckpt["three"], folder / "photos", "--engine", engine, "--jobs", "2", "--batch-size", "5")
    assert len(raw) == 36
    by_name = {r["input"][len(str(folder / "photos")) + 1:]: r for r in raw}
    for name, r in split.items():
        assert r["label"] == name.split("/")[0]
        assert r["classification"] == by_name[name]["classification"]
        for c, p in r["probability-map"].items():
            assert by_name[name]["probability-map"][c] == pytest.approx(p, abs=2e-6)
    accuracy = np.mean([r["classification"] == r["label"] for r in split.values()])
    assert accuracy >= 0.8  # it did learn the colours


def test_any_count_and_batch_size_and_worker_count_give_the_same_rows(ckpt, tmp_path):
    folder = ckpt["three"].parent / "photos"

    def rows(*args):
        table = list(csv.reader(io.StringIO(infer(ckpt["three"], folder, "--format", "csv", *args).stdout)))
        return [r[:2] for r in table], np.array([[float(v) for v in r[2:]] for r in table[1:]])

    names, p = rows("--jobs", "1")
    assert len(names) == 1 + 36
    for args in (("--jobs", "2", "--batch-size", "7"), ("--batch-size", "1000")):
        other_names, other_p = rows(*args)
        assert other_names == names
        np.testing.assert_allclose(other_p, p, rtol=1e-4, atol=1e-6)  # float32 sums differ by batch


def test_csv_and_table_formats(ckpt, tmp_path):
    folder = ckpt["three"].parent / "photos" / "green"
    rows = list(csv.reader(io.StringIO(infer(ckpt["three"], folder, "--format", "csv").stdout)))
    assert rows[0] == ["input", "classification", "p(blue)", "p(green)", "p(red)"]
    assert len(rows) == 13 and all(r[1] == "green" for r in rows[1:])
    assert all(abs(sum(map(float, r[2:])) - 1) < 1e-5 for r in rows[1:])
    top = list(csv.reader(io.StringIO(infer(ckpt["three"], folder, "--format", "csv", "--top-k", "2").stdout)))
    assert top[0] == ["input", "classification", "top1", "p1", "top2", "p2"]
    assert all(r[2] == "green" and float(r[3]) >= float(r[5]) for r in top[1:])
    table = infer(ckpt["three"], folder, "--format", "table").stdout.splitlines()
    assert table[0].split() == ["input", "class", "blue", "green", "red"] and set(table[1]) <= {"-", " "}
    assert len(table) == 14 and all(line.split()[1] == "green" for line in table[2:])
    out = tmp_path / "out.jsonl"
    assert infer(ckpt["three"], folder, "-o", out).stdout == ""
    assert len(out.read_text().splitlines()) == 12


def test_the_output_files_suffix_picks_the_format(ckpt, tmp_path):
    folder = ckpt["three"].parent / "photos" / "green"
    infer(ckpt["three"], folder, "-o", tmp_path / "out.CSV")
    rows = list(csv.reader(io.StringIO((tmp_path / "out.CSV").read_text())))
    assert rows[0] == ["input", "classification", "p(blue)", "p(green)", "p(red)"] and len(rows) == 13
    infer(ckpt["three"], folder, "-o", tmp_path / "out.json")
    assert all(json.loads(line)["classification"] == "green"
               for line in (tmp_path / "out.json").read_text().splitlines())
    # an explicit --format wins over the suffix
    infer(ckpt["three"], folder, "-o", tmp_path / "asked.csv", "--format", "jsonl")
    assert json.loads((tmp_path / "asked.csv").read_text().splitlines()[0])["classification"] == "green"


def test_top_k_keeps_the_most_probable_classes_in_order(ckpt):
    got = records(ckpt["three"], ckpt["three"].parent / "photos" / "red", "--top-k", "2")
    for r in got:
        probabilities = list(r["probability-map"].values())
        assert len(probabilities) == 2 and probabilities[0] >= probabilities[1]
        assert list(r["probability-map"])[0] == r["classification"] == "red"


def test_threshold_from_the_checkpoint_and_overridden(ckpt, tmp_path):
    photos = ckpt["binary"].parent / "photos"
    stored = records(ckpt["binary"], photos)
    # the rule that made each class is said once, on stderr, wherever the threshold came from
    said = infer(ckpt["binary"], photos).stderr.splitlines()
    assert said == ['decision: "red" when P(red) >= 0.5 (the checkpoint\'s threshold), else "blue"']
    said = infer(ckpt["binary"], photos, "-o", tmp_path / "p.csv", "--threshold", "0.8125").stderr.splitlines()
    assert said == ['decision: "red" when P(red) >= 0.8125 (--threshold), else "blue"']
    assert infer(ckpt["three"], photos).stderr == ""  # the most probable class: no threshold to say
    many = infer(ckpt["three"], photos, "--positive", "green", "--threshold", "0.25").stderr
    assert many == 'decision: "green" when P(green) >= 0.25 (--threshold), else the most probable other class\n'
    submitted = run_cli("kaggle-submit", ckpt["binary"], photos / "red", "-o", tmp_path / "s.csv")
    assert submitted.code == 0 and 'classes: "red" when P(red) >= 0.5 (the checkpoint\'s threshold)' in submitted.stdout
    assert all(r["classification"] == ("red" if r["probability-map"]["red"] >= 0.5 else "blue") for r in stored)
    assert {r["classification"] for r in records(ckpt["binary"], photos, "--threshold", "0")} == {"red"}
    assert {r["classification"] for r in records(ckpt["binary"], photos, "--threshold", "1")} <= {"blue"} | {
        r["classification"] for r in stored if r["probability-map"]["red"] == 1.0}
    flipped = records(ckpt["binary"], photos, "--positive", "blue", "--threshold", "0")
    assert {r["classification"] for r in flipped} == {"blue"}
    assert_user_error(run_cli("infer", ckpt["binary"], photos, "--positive", "pink"), "pink", "blue, red")
    assert_user_error(run_cli("infer", ckpt["three"], photos, "--threshold", "0.3"), "--positive")


def test_table_rows_with_and_without_labels_and_ids(ckpt, tmp_path):
    x, y = table_rows(50, seed=9)
    labelled = write_table(tmp_path / "labelled.csv", x, y)
    got = records(ckpt["table"], labelled, "--label-column", "label")
    assert [r["input"] for r in got][:2] == [f"{labelled}:1", f"{labelled}:2"]
    assert all(r["label"] in ("0", "1") and set(r["probability-map"]) == {"0", "1"} for r in got)
    assert np.mean([r["label"] == r["classification"] for r in got]) >= 0.8
    assert all(r["classification"] == ("1" if r["probability-map"]["1"] >= 0.4 else "0") for r in got)
    plain = write_table(tmp_path / "plain.csv", x, ids=[f"row{i}" for i in range(50)], extra=False)
    same = records(ckpt["table"], plain, "--id-column", "id")
    assert [r["input"] for r in same] == [f"row{i}" for i in range(50)]
    assert [r["probability-map"] for r in same] == [{k: r["probability-map"][k] for k in ("0", "1")} for r in got]
    split = records(ckpt["table"], ckpt["table"].parent / "data")  # the prepared test split, labelled
    assert len(split) == 90 and all("label" in r for r in split)


def test_a_csv_missing_features_or_with_a_bad_cell_names_them(ckpt, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,c,other\n1,2,3\n")
    assert_user_error(run_cli("infer", ckpt["table"], bad), "lacks 2 of the checkpoint's 4 feature columns: b, d")
    bad.write_text("a,b,c,d\n1,2,3,4\n1,x,3,4\n")
    assert_user_error(run_cli("infer", ckpt["table"], bad), "row 2 (line 3)", 'column "b"', '"x"')
    bad.write_text("a,b,c,d\n1,1e39,3,4\n")
    assert_user_error(run_cli("infer", ckpt["table"], bad), "row 1 (line 2)", 'column "b"', "not a finite number")
    # a blank is filled with the training median, as prepare fills blanks (docs/prepare.md)
    from nnrun.data.dataset import open_dataset

    median = json.loads((ckpt["table"].parent / "data" / "dataset.json").read_text())["encoding"]["columns"][1]["fill"][0]
    bad.write_text(f"a,b,c,d\n1,,3,4\n1,{median!r},3,4\n")
    answers = run_cli("infer", ckpt["table"], bad, "--format", "csv")
    assert answers.code == 0, answers
    first, second = answers.stdout.strip().splitlines()[1:]
    assert first.split(",")[1:] == second.split(",")[1:]


def test_a_checkpoint_given_inputs_of_another_kind(ckpt, tmp_path):
    image = photo(tmp_path / "x.jpg", COLOURS["red"])
    assert_user_error(run_cli("infer", ckpt["table"], image), str(image), "holds images", "table rows of 4 features")
    x, y = table_rows(3)
    table = write_table(tmp_path / "t.csv", x, y)
    assert_user_error(run_cli("infer", ckpt["binary"], table), "holds table rows", "3×12×12 images")
    assert_user_error(run_cli("infer", ckpt["binary"], ckpt["table"].parent / "data"), "holds table rows")
    assert_user_error(run_cli("infer", ckpt["image-ae"], ckpt["binary"].parent / "data"),
                      "holds 3×12×12 images", "1×8×8 images")
    other = tmp_path / "notes.txt.bak"
    other.write_text("hello")
    assert_user_error(run_cli("infer", ckpt["binary"], other), "not an image, a CSV/TSV file")
    assert_user_error(run_cli("infer", ckpt["binary"], tmp_path / "missing.jpg"), "no such file")
    assert_user_error(run_cli("infer", tmp_path / "t.csv", image), "t.csv")   # not a checkpoint


def test_a_corrupt_image_stops_with_its_name_or_is_skipped(ckpt, tmp_path):
    folder = tmp_path / "photos"
    for i in range(40):
        photo(folder / f"{i}.jpg", COLOURS["red" if i % 2 else "blue"], seed=i)
    (folder / "17.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "25.jpg").write_bytes(b"")
    out = tmp_path / "out.csv"
    result = run_cli("infer", ckpt["binary"], folder, "-o", out, "--jobs", "2")
    assert_user_error(result, "17.jpg", "--skip-bad")
    assert len(result.stderr.splitlines()) == 1  # not even the decision line of records never written
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))
    result = run_cli("infer", ckpt["binary"], folder, "-o", out, "--skip-bad", "--format", "csv")
    assert result.code == 0, result
    assert "skipped 2 unreadable input(s)" in result.stderr and "17.jpg" in result.stderr and "25.jpg" in result.stderr
    names = [row[0] for row in csv.reader(out.open())][1:]
    assert len(names) == 38 and str(folder / "17.jpg") not in names and names[0].endswith("/0.jpg")


def test_autoencoders_give_reconstruction_errors_and_save_reconstructions(ckpt, tmp_path):
    x, _ = table_rows(20, seed=4)
    table = write_table(tmp_path / "rows.csv", x)
    out = tmp_path / "recon"
    got = records(ckpt["table-ae"], table, "--save-reconstructions", out)
    assert all(set(r) == {"input", "reconstruction-error"} and r["reconstruction-error"] >= 0 for r in got)
    saved = list(csv.reader((out / "reconstructions.csv").open()))
    assert saved[0] == ["input"] + FEATURES and len(saved) == 21
    # the error is the mean squared difference, in the network's (standardised) input space
    from nnrun.infer.model import open_model
    model = open_model(ckpt["table-ae"], device="cpu")
    mean, std = np.array(model.preprocessing.mean), np.array(model.preprocessing.std)
    recon = np.array([[float(v) for v in row[1:]] for row in saved[1:]])
    errors = (((recon - x) / std) ** 2).mean(axis=1)
    np.testing.assert_allclose([r["reconstruction-error"] for r in got], errors, rtol=1e-3, atol=1e-6)

    pics = tmp_path / "pics"
    for i in range(3):
        photo(pics / f"p{i}.png", (i * 80, 100, 30), size=(16, 16), seed=i)
    images_out = tmp_path / "images-out"
    got = records(ckpt["image-ae"], pics, "--save-reconstructions", images_out, "--format", "jsonl")
    assert len(got) == 3 and sorted(p.name for p in images_out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert_user_error(run_cli("infer", ckpt["image-ae"], pics, "--save-reconstructions", images_out),
                      "already exists")
    assert_user_error(run_cli("infer", ckpt["binary"], pics, "--save-reconstructions", tmp_path / "r2"),
                      "autoencoders")
    assert not (tmp_path / "r2").exists()
    assert_user_error(run_cli("infer", ckpt["image-ae"], pics, "--top-k", "1"), "classifiers")


def test_prepared_split_choice(ckpt):
    data = ckpt["three"].parent / "data"
    assert len(records(ckpt["three"], data, "--split", "train")) == 27
    assert_user_error(run_cli("infer", ckpt["three"], data, "--split", "validation"), 'no "validation" split')


@pytest.mark.parametrize("name, threshold", [("three", None), ("table", None), ("table", "0.8"), ("binary", "0.999")])
def test_infer_and_evaluate_agree_on_the_same_inputs(ckpt, name, threshold):
    """`nnrun evaluate`'s confusion matrix (rows: true class, columns: predicted) and accuracy on
    a prepared split are what infer's classifications of the same split give."""
    data = ckpt[name].parent / "data"
    extra = ["--threshold", threshold] if threshold else []
    result = run_cli("evaluate", ckpt[name], data, "--split", "test", "--format", "json", *extra)
    assert result.code == 0, result
    report = json.loads(result.stdout)
    got = records(ckpt[name], data, "--split", "test", *extra)
    classes = report["classes"]
    confusion = np.zeros((len(classes), len(classes)), int)
    for r in got:
        confusion[classes.index(r["label"]), classes.index(r["classification"])] += 1
    assert report["metrics"]["confusion-matrix"] == confusion.tolist()
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum(), abs=1e-12)


def test_nothing_readable_is_an_error(ckpt, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"nope")
    assert_user_error(run_cli("infer", ckpt["binary"], folder, "--skip-bad"), "no input could be read")
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(__file__, empty / "x.py")
    assert_user_error(run_cli("infer", ckpt["binary"], empty), "a folder without images")


def test_separable_layers_run_on_onnx_runtime_too(tmp_path):
    """Depthwise convolutions (Xception's blocks) export like every other layer; --engine onnx
    refuses a GPU."""
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    description = [{"input": [10, 10, 3]}, {"depthwise-convolutional": [3]}, {"linear->softmax": 2}]
    model = tmp_path / "depthwise.nnrun"
    save_model(model, build_network(plan_network(description)), classes=["a", "b"],
               preprocessing=Preprocessing("images", "centered", image_size=10, channels=3))
    image = photo(tmp_path / "x.png", COLOURS["red"])
    got = records(model, image, "--engine", "onnx")
    expected = records(model, image, "--engine", "torch")
    assert sum(got[0]["probability-map"].values()) == pytest.approx(1, abs=1e-5)
    assert got[0]["probability-map"] == pytest.approx(expected[0]["probability-map"], abs=2e-6)
    assert_user_error(run_cli("infer", model, image, "--engine", "onnx", "--device", "cuda"), "CPU")
