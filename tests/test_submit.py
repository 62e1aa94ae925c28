"""`nnrun kaggle-submit`: test sets of every kind, id order, class and probability rows, clipping,
the sample-submission check, test-time augmentation, ensembles, and every bad input."""
import csv
import json
import shutil

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import ROOT, run_cli, shared_path
from test_infer_models import COLOURS, models, photo, table_rows, write_table


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return models(tmp_path_factory)


@pytest.fixture(scope="module")
def test_folder(tmp_path_factory):
    """Kaggle-style: 1.png ... 24.png, made in a shuffled order; odd ids red, even ids blue."""
    folder = tmp_path_factory.mktemp("kaggle") / "test1"
    for i in np.random.default_rng(0).permutation(np.arange(1, 25)):
        photo(folder / f"{i}.png", COLOURS["red" if i % 2 else "blue"], seed=int(i), size=(20 + i, 26))
    return folder


def submit(*args):
    result = run_cli("kaggle-submit", *args)
    assert result.code == 0, result
    return result


def rows(path):
    return list(csv.reader(open(path, newline="")))


def assert_refused(result, out, *phrases):
    assert result.code == 2, result
    assert "Traceback" not in result.output and "error: " in result.stderr, result.output
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*")), "a temporary file was left behind"


def infer_map(model, inputs):
    result = run_cli("infer", model, *inputs)
    assert result.code == 0, result
    return {json.loads(line)["input"]: json.loads(line)["probability-map"] for line in result.stdout.splitlines()}


def test_class_rows_sorted_by_numeric_id_and_a_summary(ckpt, test_folder, tmp_path):
    out = tmp_path / "submission.csv"
    result = submit(ckpt["binary"], test_folder, "-o", out)
    table = rows(out)
    assert table[0] == ["id", "label"]
    assert [r[0] for r in table[1:]] == [str(i) for i in range(1, 25)]   # 2 before 10
    assert [r[1] for r in table[1:]] == ["1" if i % 2 else "0" for i in range(1, 25)]  # 1 = red, the positive class
    assert f"wrote 24 rows to {out} (blue 12, red 12)" in result.stdout


def test_probability_rows_are_p_positive_and_clip(ckpt, test_folder, tmp_path):
    out = tmp_path / "p.csv"
    submit(ckpt["binary"], test_folder, "-o", out, "--predict", "probability", "--column", "is_red")
    table = rows(out)
    assert table[0] == ["id", "is_red"]
    maps = infer_map(ckpt["binary"], [test_folder])
    for i, p in table[1:]:
        assert float(p) == pytest.approx(maps[str(test_folder / f"{i}.png")]["red"], rel=1e-5, abs=1e-9)
    clipped = tmp_path / "clipped.csv"
    submit(ckpt["binary"], test_folder, "-o", clipped, "--predict", "probability", "--clip", "0.05", "0.95")
    values = [float(r[1]) for r in rows(clipped)[1:]]
    assert min(values) == 0.05 and max(values) == 0.95
    assert values == [min(max(float(r[1]), 0.05), 0.95) for r in table[1:]]


def test_the_file_is_output_as_in_every_command_and_old_command_lines_still_work(ckpt, test_folder, tmp_path,
                                                                               monkeypatch):
    """-o/--output names the file (as in infer, export and report), --predict what a row holds;
    before, kaggle-submit spelled them -o/--out and --output class|probability."""
    monkeypatch.chdir(tmp_path)
    submit(ckpt["binary"], test_folder, "--output", "sub.csv", "--predict", "probability")
    probabilities = rows(tmp_path / "sub.csv")
    assert probabilities[0] == ["id", "label"] and {r[1] for r in probabilities[1:]} - {"0", "1"}
    submit(ckpt["binary"], test_folder)  # no -o: submission.csv, classes
    assert {r[1] for r in rows(tmp_path / "submission.csv")[1:]} == {"0", "1"}
    # the old spellings: -o FILE --output probability, and --out FILE
    submit(ckpt["binary"], test_folder, "-o", "old.csv", "--output", "probability")
    assert rows(tmp_path / "old.csv") == probabilities
    submit(ckpt["binary"], test_folder, "--out", "older.csv", "--output", "class")
    assert rows(tmp_path / "older.csv") == rows(tmp_path / "submission.csv")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", "x.csv", "--output", "class",
                           "--predict", "probability"), tmp_path / "x.csv", "--predict: both class and probability")
    shown = run_cli("kaggle-submit", "--help").stdout
    assert "-o, --output FILE" in shown and "--predict [class|probability]" in shown and "--out " not in shown


def test_string_ids_in_natural_order(ckpt, tmp_path):
    folder = tmp_path / "named"
    for name in ["img10", "img2", "img1", "b3", "a"]:
        photo(folder / f"{name}.jpg", COLOURS["red"])
    out = tmp_path / "s.csv"
    submit(ckpt["binary"], folder, "-o", out)
    assert [r[0] for r in rows(out)[1:]] == ["a", "b3", "img1", "img2", "img10"]


def test_several_classes_give_names_or_a_column_per_class(ckpt, test_folder, tmp_path):
    out = tmp_path / "multi.csv"
    submit(ckpt["three"], test_folder, "-o", out)
    assert {r[1] for r in rows(out)[1:]} == {"red", "blue"}
    submit(ckpt["three"], test_folder, "-o", out, "--predict", "probability")
    table = rows(out)
    assert table[0] == ["id", "blue", "green", "red"]
    assert all(abs(sum(float(v) for v in r[1:]) - 1) < 1e-4 for r in table[1:])
    submit(ckpt["three"], test_folder, "-o", out, "--predict", "probability", "--positive", "green")
    assert rows(out)[0] == ["id", "label"]


def test_sample_submission_gives_header_and_order_and_must_match(ckpt, test_folder, tmp_path):
    sample = tmp_path / "sample_submission.csv"
    order = [str(i) for i in np.random.default_rng(1).permutation(np.arange(1, 25))]
    sample.write_text("Id,Label\n" + "".join(f"{i},0.5\n" for i in order))
    out = tmp_path / "sub.csv"
    submit(ckpt["binary"], test_folder, "-o", out, "--sample-submission", sample, "--predict", "probability")
    table = rows(out)
    assert table[0] == ["Id", "Label"] and [r[0] for r in table[1:]] == order
    plain = tmp_path / "plain.csv"  # in the test set's own order: each id's value moved with its id
    submit(ckpt["binary"], test_folder, "-o", plain, "--predict", "probability")
    assert {i: p for i, p in table[1:]} == {i: p for i, p in rows(plain)[1:]}
    assert [float(p) > 0.5 for _, p in table[1:]] == [int(i) % 2 == 1 for i in order]  # odd ids are red

    sample.write_text("Id,Label\n" + "".join(f"{i},0\n" for i in order[:-1]) + "99,0\n")
    bad_out = tmp_path / "bad.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", bad_out,
                           "--sample-submission", sample),
                   bad_out, "does not match the test set", "99", f"test items are not in it ({order[-1]})")
    sample.write_text("Id,Label\n1,0\n1,0\n")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", bad_out,
                           "--sample-submission", sample), bad_out, 'id "1" is not unique')


def test_a_compressed_sample_is_read_and_a_sample_that_is_no_csv_is_refused(ckpt, test_folder, tmp_path):
    import gzip

    order = [str(i) for i in range(24, 0, -1)]
    sample = tmp_path / "sample_submission.csv.gz"
    with gzip.open(sample, "wt") as f:
        f.write("Id,Label\n" + "".join(f"{i},0\n" for i in order))
    out = tmp_path / "sub.csv"
    submit(ckpt["binary"], test_folder, "-o", out, "--sample-submission", sample)
    assert rows(out)[1:] == [[i, "1" if int(i) % 2 else "0"] for i in order]  # each label with its id

    for name, text, phrase in (("sample.txt", "Id,Label\n1,0\n", 'unknown extension ".txt"'),
                               ("empty.csv", "", "is empty"),
                               ("one.csv", "Id\n1\n", "an id column and a label column"),
                               ("blank.csv", "Id,Label\n1,0\n,0\n", "row 2 (line 3)")):
        bad = tmp_path / name
        bad.write_text(text)
        refused = tmp_path / "refused.csv"
        assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", refused,
                               "--sample-submission", bad), refused, name, phrase)


def test_a_prepared_unlabelled_dataset_gives_the_same_submission(ckpt, test_folder, tmp_path):
    data = tmp_path / "prepared"
    result = run_cli("prepare", "images", test_folder, data, "--size", "12", "--unlabelled", "--jobs", "1", "--quiet")
    assert result.code == 0, result
    from_folder, from_data = tmp_path / "a.csv", tmp_path / "b.csv"
    submit(ckpt["binary"], test_folder, "-o", from_folder, "--predict", "probability")
    submit(ckpt["binary"], data, "-o", from_data, "--predict", "probability")
    a, b = rows(from_folder), rows(from_data)
    assert [r[0] for r in a] == [r[0] for r in b]
    np.testing.assert_allclose([float(r[1]) for r in a[1:]], [float(r[1]) for r in b[1:]], rtol=1e-5, atol=1e-9)


def test_a_csv_test_set_with_an_id_column(ckpt, tmp_path):
    x, y = table_rows(30, seed=11)
    ids = [f"t{n}" for n in np.random.default_rng(2).permutation(30)]
    test = write_table(tmp_path / "test.csv", x, ids=ids)
    out = tmp_path / "sub.csv"
    submit(ckpt["table"], test, "-o", out)  # the column named id is found by itself
    table = rows(out)
    assert table[0] == ["id", "label"] and [r[0] for r in table[1:]] == [f"t{n}" for n in range(30)]
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(test.read_text().replace("id,", "PassengerId,", 1))
    submit(ckpt["table"], renamed, "-o", out, "--id-column", "PassengerId", "--predict", "probability")
    assert rows(out)[0] == ["PassengerId", "label"]
    assert_refused(run_cli("kaggle-submit", ckpt["table"], renamed, "-o", tmp_path / "x.csv"),
                   tmp_path / "x.csv", "--id-column")
    dup = tmp_path / "dup.csv"
    dup.write_text(test.read_text().replace("t3,", "t4,", 1))
    assert_refused(run_cli("kaggle-submit", ckpt["table"], dup, "-o", tmp_path / "x.csv"), tmp_path / "x.csv",
                   'id "t4" is not unique')
    missing = tmp_path / "missing.csv"
    missing.write_text("id,a,b\n1,2,3\n")
    assert_refused(run_cli("kaggle-submit", ckpt["table"], missing, "-o", tmp_path / "x.csv"), tmp_path / "x.csv",
                   "lacks 2 of the checkpoint's 4 feature columns: c, d")


def test_duplicate_ids_and_odd_files_in_an_image_folder(ckpt, test_folder, tmp_path):
    folder = tmp_path / "t"
    shutil.copytree(test_folder, folder)
    shutil.copy(folder / "3.png", folder / "3.jpg")
    out = tmp_path / "sub.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], folder, "-o", out), out,
                   'id "3" is not unique (3.jpg and 3.png)')
    (folder / "3.jpg").unlink()
    (folder / "notes.txt").write_text("x")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], folder, "-o", out), out, "notes.txt: not an image")


def test_a_corrupt_image_is_named_or_skipped(ckpt, test_folder, tmp_path):
    folder = tmp_path / "t"
    shutil.copytree(test_folder, folder)
    (folder / "7.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "sub.csv"
    out.write_text("an earlier submission\n")
    result = run_cli("kaggle-submit", ckpt["binary"], folder, "-o", out)
    assert result.code == 2 and "7.png" in result.stderr and "Traceback" not in result.output
    assert out.read_text() == "an earlier submission\n"   # untouched: nothing half-written replaces it
    result = submit(ckpt["binary"], folder, "-o", out, "--skip-bad")
    assert [r[0] for r in rows(out)[1:]] == [str(i) for i in range(1, 25) if i != 7]
    assert "wrote 23 rows" in result.stdout and "skipped 1 unreadable item(s)" in result.stderr
    assert "7.png" in result.stderr
    sample = tmp_path / "sample.csv"
    sample.write_text("id,label\n" + "".join(f"{i},0\n" for i in range(1, 25)))
    refused = tmp_path / "refused.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], folder, "-o", refused, "--skip-bad",
                           "--sample-submission", sample), refused, "could not be read (7)")


def test_mirror_tta_averages_the_mirrored_images(ckpt, test_folder, tmp_path):
    from nnrun.infer.model import open_model
    from nnrun.infer.predict import Work

    model = open_model(ckpt["three"], device="cpu")
    x = np.random.default_rng(3).integers(0, 256, (5, 3, 12, 12), dtype=np.uint8)
    x[:, 0, :, :6] = 250  # red on the left only, so the mirror sees something else

    def p(view):
        return model.run(view)["probabilities"]

    expected = (p(x) + p(np.ascontiguousarray(x[..., ::-1]))) / 2
    np.testing.assert_allclose(Work([model], "mirror")(x)["probabilities"], expected, rtol=1e-6)
    # on the command line: the answers are the average's, which cannot tell a photo from its
    # mirror image, where the plain network's can
    halves, mirrored = tmp_path / "halves", tmp_path / "mirrored"  # red on the left, blue on the right
    for i in range(1, 25):
        pixels = np.random.default_rng(i).normal(0, 25, (26, 20 + i, 3)) + COLOURS["blue"]
        pixels[:, :(20 + i) * i // 30] += np.subtract(COLOURS["red"], COLOURS["blue"])
        photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        for folder, view in ((halves, photo), (mirrored, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))):
            folder.mkdir(exist_ok=True)
            view.save(folder / f"{i}.png")

    def probabilities(folder, *tta):
        out = tmp_path / f"{folder.name}{len(tta)}.csv"
        submit(ckpt["binary"], folder, "-o", out, "--predict", "probability", *tta)
        table = rows(out)[1:]
        assert [r[0] for r in table] == [str(i) for i in range(1, 25)]
        return np.array([float(r[1]) for r in table])
    plain, plain_of_mirrors = probabilities(halves), probabilities(mirrored)
    tta, tta_of_mirrors = probabilities(halves, "--tta", "mirror"), probabilities(mirrored, "--tta", "mirror")
    assert np.abs(plain - plain_of_mirrors).max() > 1e-3
    np.testing.assert_allclose(tta, tta_of_mirrors, rtol=1e-6)
    np.testing.assert_allclose(tta, (plain + plain_of_mirrors) / 2, rtol=1e-5, atol=1e-9)  # its two views
    assert_refused(run_cli("kaggle-submit", ckpt["table"], tmp_path, "-o", tmp_path / "t.csv", "--tta", "mirror"),
                   tmp_path / "t.csv")


def test_an_ensemble_averages_its_checkpoints(ckpt, test_folder, tmp_path):
    from test_infer_models import image_model

    other = image_model(tmp_path / "other", ["blue", "red"], positive="red", threshold=0.5)  # its own training
    single, mine, both = tmp_path / "single.csv", tmp_path / "mine.csv", tmp_path / "both.csv"
    submit(ckpt["binary"], test_folder, "-o", single, "--predict", "probability")
    submit(other, test_folder, "-o", mine, "--predict", "probability")
    submit(ckpt["binary"], test_folder, "-o", both, "--predict", "probability", "--checkpoint", other)
    a, b, c = ([float(r[1]) for r in rows(f)[1:]] for f in (single, mine, both))
    np.testing.assert_allclose(c, (np.array(a) + np.array(b)) / 2, rtol=1e-4, atol=1e-6)
    out = tmp_path / "x.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", out, "--checkpoint", ckpt["three"]),
                   out, "same classes")


def test_wrong_checkpoints_and_options(ckpt, test_folder, tmp_path):
    out = tmp_path / "x.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["table"], test_folder, "-o", out), out,
                   "holds images", "table rows of 4 features")
    assert_refused(run_cli("kaggle-submit", ckpt["image-ae"], test_folder, "-o", out), out, "autoencoder")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", out, "--clip", "0.1", "0.9"), out,
                   "--clip is for --predict probability")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", out, "--predict", "probability",
                           "--clip", "0.9", "0.1"), out, "LOW < HIGH")
    assert_refused(run_cli("kaggle-submit", test_folder / "1.png", test_folder, "-o", out), out, "1.png")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], tmp_path / "nothing", "-o", out), out, "no such")


def test_real_photos_kaggle_style(tmp_path):
    """Dogs-vs-cats photos renamed 1.jpg ... 40.jpg (as the acceptance check does), through the
    Cortex cats-vs-dogs network (untrained weights: this is about the plumbing)."""
    src = shared_path("dogs-vs-cats", "train")
    folder = tmp_path / "test1"
    folder.mkdir()
    names = sorted(p.name for p in src.iterdir())[::50]
    for i, name in enumerate(names, start=1):
        shutil.copy(src / name, folder / f"{i}.jpg")
    config = ROOT / "configs" / "catsdogs.yaml"
    if not config.exists():
        pytest.skip("configs/catsdogs.yaml is not there")
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    network = build_network(plan_network(yaml.safe_load(config.read_text())["network"]))
    model = tmp_path / "cd.nnrun"
    save_model(model, network, classes=["cat", "dog"], positive="dog", threshold=0.5,
               preprocessing=Preprocessing("images", "centered", image_size=52, channels=3))
    out = tmp_path / "sub.csv"
    submit(model, folder, "-o", out, "--predict", "probability", "--jobs", "2")
    table = rows(out)
    assert table[0] == ["id", "label"] and [r[0] for r in table[1:]] == [str(i) for i in range(1, len(names) + 1)]
    assert all(0.0 <= float(r[1]) <= 1.0 for r in table[1:])
    with Image.open(folder / "1.jpg") as image:
        assert image.size != (52, 52)  # real photos of their own sizes went through the resize


def test_a_checkpoint_from_nnrun_train(ckpt, test_folder, tmp_path):
    """The whole flow: `nnrun prepare` (done for the fixture), `nnrun train`, then infer and
    kaggle-submit on its best.nnrun with no config file."""
    data = ckpt["binary"].parent / "data"
    config = tmp_path / "colours.yaml"
    config.write_text(yaml.safe_dump({
        "network": [{"input": [12, 12, 3, {"id": "data"}]}, {"convolutional": [3, 0, 1, 4]},
                    {"max-pooling": [2, 0, 2]}, "relu", {"linear->softmax": {"output-size": 2, "id": "label"}}],
        "data": str(data),
        "train": {"epoch-count": 2, "epoch-size": 400, "batch-size": 20, "seed": 1,
                  "metric": {"name": "f-beta", "positive": "red"}, "threshold": "auto"}}))
    result = run_cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.code == 0, result
    best = tmp_path / "run" / "best.nnrun"
    out = tmp_path / "sub.csv"
    submit(best, test_folder, "-o", out)
    labels = [r[1] for r in rows(out)[1:]]
    assert np.mean([label == ("1" if i % 2 else "0") for i, label in enumerate(labels, start=1)]) >= 0.8
    maps = infer_map(best, [test_folder / "1.png", test_folder / "2.png"])
    assert all(set(m) == {"blue", "red"} for m in maps.values())


def test_a_sample_with_a_column_per_class(ckpt, test_folder, tmp_path):
    sample = tmp_path / "sample.csv"
    sample.write_text("image,blue,green,red\n" + "".join(f"{i},0,0,0\n" for i in range(1, 25)))
    out = tmp_path / "sub.csv"
    submit(ckpt["three"], test_folder, "-o", out, "--predict", "probability", "--sample-submission", sample)
    table = rows(out)
    assert table[0] == ["image", "blue", "green", "red"] and len(table) == 25
    sample.write_text("image,red,green,blue\n" + "".join(f"{i},0,0,0\n" for i in range(1, 25)))
    submit(ckpt["three"], test_folder, "-o", out, "--predict", "probability", "--sample-submission", sample)
    again = rows(out)
    assert again[0] == ["image", "red", "green", "blue"]
    assert [r[1:] for r in again[1:]] == [[r[3], r[2], r[1]] for r in table[1:]]  # the sample's column order
    refused = tmp_path / "refused.csv"
    sample.write_text("image,red,green,pink\n" + "".join(f"{i},0,0,0\n" for i in range(1, 25)))
    assert_refused(run_cli("kaggle-submit", ckpt["three"], test_folder, "-o", refused, "--predict", "probability",
                           "--sample-submission", sample), refused, "not the checkpoint's classes")
    assert_refused(run_cli("kaggle-submit", ckpt["binary"], test_folder, "-o", refused, "--predict", "probability",
                           "--sample-submission", sample), refused, "does not fit")


def test_a_csv_test_set_against_its_sample(ckpt, tmp_path):
    x, _ = table_rows(10, seed=12)
    test = write_table(tmp_path / "test.csv", x, ids=[str(i) for i in range(10, 20)])
    sample = tmp_path / "sample.csv"
    sample.write_text("id,label\n" + "".join(f"{i},0\n" for i in range(19, 9, -1)))
    out = tmp_path / "sub.csv"
    submit(ckpt["table"], test, "-o", out, "--sample-submission", sample, "--predict", "probability")
    assert [r[0] for r in rows(out)[1:]] == [str(i) for i in range(19, 9, -1)]
    plain = tmp_path / "plain.csv"  # in the file's order: each id's value moved with its id
    submit(ckpt["table"], test, "-o", plain, "--predict", "probability")
    assert [r[0] for r in rows(plain)[1:]] == [str(i) for i in range(10, 20)]
    assert rows(out)[1:] == rows(plain)[1:][::-1]
    assert len({p for _, p in rows(plain)[1:]}) == 10  # (distinct values: a row in the wrong place shows)
    sample.write_text("id,label\n" + "".join(f"{i},0\n" for i in range(11, 21)))
    refused = tmp_path / "refused.csv"
    assert_refused(run_cli("kaggle-submit", ckpt["table"], test, "-o", refused, "--sample-submission", sample),
                   refused, "1 of its ids are not in the test set (20)", "1 test items are not in it (10)")
