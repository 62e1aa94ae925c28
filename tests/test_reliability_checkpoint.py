"""Model files and prepared datasets from a stranger: well-formed (a valid checksum, which anyone
can write) but with missing, mistyped, out-of-range or inconsistent fields. Each is refused in
one line naming the file and the field, before any of it is used or allocated."""
import copy
import json
import shutil

import numpy as np
import pytest

from conftest import run_cli
from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.errors import UserError
from train_fixtures import write_dataset

DEL = object()
TABLE = [{"input": {"width": 3, "id": "data"}}, {"linear->softmax": {"output-size": 2, "id": "label"}}]
IMAGES = [{"input": [4, 4, 1, {"id": "data"}]}, {"linear->softmax": {"output-size": 2, "id": "label"}}]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A table model (standardize, three features) and an image model (1×4×4), without ONNX graphs."""
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    folder = tmp_path_factory.mktemp("models")
    table = Preprocessing("table", "standardize", [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], ["a", "b", "c"])
    save_model(folder / "table.nnrun", build_network(plan_network(TABLE)), classes=["no", "yes"],
               positive="yes", threshold=0.5, preprocessing=table, graph=False)
    images = Preprocessing("images", "centered", [100.0], [50.0], image_size=4, channels=1)
    save_model(folder / "images.nnrun", build_network(plan_network(IMAGES)), classes=["cat", "dog"],
               preprocessing=images, graph=False)
    return folder


def _tampered(source, target, path, value):
    payload = read_checkpoint(source, arrays="numpy")
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is DEL:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    write_checkpoint(target, payload)  # a fresh, valid checksum
    return target


PRE = ("preprocessing",)
# name: (which model, field path, new value, what the message must contain)
CASES = {
    "no classes": ("table", ("classes",), DEL, "classes: must be a list"),
    "classes a number": ("table", ("classes",), 5, "classes: must be a list"),
    "classes maps": ("table", ("classes",), [{}, {}], "classes: must be a list"),
    "a class named twice": ("table", ("classes",), ["no", "no"], 'classes: "no" is named twice'),
    "classes fewer than outputs": ("table", ("classes",), ["a", "b", "c"], "names 3 classes but the network gives 2"),
    "no classes at all": ("table", ("classes",), [], "names 0 classes"),
    "unknown positive class": ("table", ("positive",), "zebra", "positive: 'zebra' is not one of its classes"),
    "positive class a number": ("table", ("positive",), 3, "positive: 3"),
    "NaN threshold": ("table", ("threshold",), float("nan"), "threshold: must be a number from 0 to 1"),
    "threshold text": ("table", ("threshold",), "high", "threshold: must be a number"),
    "threshold 2": ("table", ("threshold",), 2.0, "threshold: must be a number from 0 to 1"),
    "epoch text": ("table", ("epoch",), "x", "epoch: must be a whole number"),
    "train a number": ("table", ("train",), 5, "train: must be a map"),
    "metrics a list": ("table", ("metrics",), [1], "metrics: must be a map"),
    "dataset text": ("table", ("dataset",), "x", "dataset: must be a map"),
    "onnx text": ("table", ("onnx",), "x", "onnx: must be a map"),
    "no preprocessing": ("table", PRE, DEL, "preprocessing: must be a map"),
    "preprocessing a list": ("table", PRE, [1], "preprocessing: must be a map"),
    "unknown preprocessing mode": ("table", PRE + ("mode",), "zscore", "preprocessing.mode: must be one of"),
    "unknown preprocessing kind": ("table", PRE + ("kind",), "audio", "preprocessing.kind"),
    "no preprocessing kind": ("table", PRE + ("kind",), DEL, "preprocessing.kind"),
    "std of the wrong length": ("table", PRE + ("std",), [1.0], "preprocessing.std: has 1 values for 3 features"),
    "mean of the wrong length": ("table", PRE + ("mean",), [1.0] * 5, "preprocessing.mean: has 5 values"),
    "NaN std": ("table", PRE + ("std",), [float("nan")] * 3, "preprocessing.std: must be a list of finite"),
    "mean text": ("table", PRE + ("mean",), "x", "preprocessing.mean: must be a list"),
    "features a number": ("table", PRE + ("features",), 7, "preprocessing.features: must be a list"),
    "features fewer than the input": ("table", PRE + ("features",), ["a"], "preprocessing.mean: has 3 values for 1"),
    "no features": ("table", PRE + ("features",), [], "preprocessing.features: a table network needs"),
    "no tensors": ("table", ("tensors",), DEL, "tensors: must be a map"),
    "tensors a list": ("table", ("tensors",), [1, 2], "tensors: must be a map"),
    "a tensor that is text": ("table", ("tensors", "layers.linear-1.bias"), "abc", "tensors.layers.linear-1.bias"),
    "no network": ("table", ("network",), DEL, "its network description does not plan"),
    "network text": ("table", ("network",), "x", "its network description does not plan"),
    "a huge layer in the description": ("table", ("network", 1), {"linear->softmax": 2**31 - 1},
                                        "classes: names 2 classes but the network gives 2147483647"),
    "a huge image size": ("images", PRE + ("image-size",), 10**6, "preprocessing.image-size: must be a whole number from 1 to 4096"),
    "a negative image size": ("images", PRE + ("image-size",), -8, "preprocessing.image-size"),
    "image size text": ("images", PRE + ("image-size",), "8", "preprocessing.image-size"),
    "7 channels": ("images", PRE + ("channels",), 7, "preprocessing.channels: must be 1 or 3"),
    "image size not the input's": ("images", PRE + ("image-size",), 8,
                                   "makes 1×8×8 images (64 values) but the network's input takes 1×4×4"),
    "images preprocessing for a table network": ("table", PRE + ("kind",), "images", "preprocessing.image-size"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_tampered_model_file_is_refused_naming_the_field(name, models, tmp_path):
    from nnrun.model_io import read_model

    which, path, value, phrase = CASES[name]
    bad = _tampered(models / f"{which}.nnrun", tmp_path / "bad.nnrun", path, value)
    with pytest.raises(UserError) as caught:
        read_model(bad)
    message = str(caught.value)
    assert message.startswith(str(bad)) and phrase in message, message
    assert "\n" not in message


def test_the_untampered_files_read(models):
    from nnrun.model_io import read_model

    for which in ("table", "images"):
        assert read_model(models / f"{which}.nnrun")["classes"]


def test_a_description_larger_than_the_weights_stored_is_refused_before_allocating(models, tmp_path, monkeypatch):
    """A layer of 100,000 units in the description, the file's own small weights: evaluate,
    export and the torch engine build the network only after comparing the two."""
    from nnrun.model_io import network_from_payload, read_model
    from nnrun.network import build

    from nnrun.network.plan import plan_network

    bad = _tampered(models / "table.nnrun", tmp_path / "bad.nnrun", ("network", 1), {"linear->softmax": 100_000})
    payload = read_checkpoint(bad, arrays="numpy")  # (read_model refuses it sooner: its classes do not match)
    payload["plan"], payload["path"] = plan_network(payload["network"]), str(bad)

    def no_building(*args, **kwargs):
        raise AssertionError("the network was built")

    monkeypatch.setattr(build, "build_network", no_building)
    with pytest.raises(UserError, match="its description has 400,000 parameters but the file stores only 8 values"):
        network_from_payload(payload)
    with pytest.raises(UserError):
        read_model(bad)


@pytest.mark.parametrize("command", ["evaluate", "infer", "kaggle-submit", "export"])
def test_every_command_refuses_a_tampered_file_in_one_line(command, models, tmp_path):
    bad = _tampered(models / "images.nnrun", tmp_path / "bad.nnrun", PRE + ("image-size",), 10**6)
    from PIL import Image

    data = tmp_path / "data"
    (tmp_path / "test").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "test" / "1.png")
    args = {"evaluate": [data], "infer": [tmp_path / "test" / "1.png"],
            "kaggle-submit": [tmp_path / "test", "-o", tmp_path / "s.csv"],
            "export": ["-o", tmp_path / "out.onnx"]}[command]
    result = run_cli(command, bad, *args)
    assert result.code == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "preprocessing.image-size" in lines[0], result.stderr
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "out.onnx").exists()


# ---- prepared datasets

@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    splits = {name: (rng.normal(size=(n, 3)).astype(np.float32), np.arange(n) % 2)
              for name, n in (("train", 8), ("test", 4))}
    folder = write_dataset(tmp_path / "data", "table", splits, ["no", "yes"], features=["a", "b", "c"])
    (folder / "test.ids.json").write_text(json.dumps(["r1", "r2", "r3", "r4"]))
    manifest = json.loads((folder / "dataset.json").read_text())
    manifest["splits"]["test"]["ids"] = "test.ids.json"
    (folder / "dataset.json").write_text(json.dumps(manifest))
    return folder


def _edit_manifest(folder, change):
    manifest = json.loads((folder / "dataset.json").read_text())
    change(manifest)
    (folder / "dataset.json").write_text(json.dumps(manifest))


MANIFEST_CASES = {
    "normalisation of the wrong length": (lambda m: m["normalisation"].update(std=[1.0]),
                                          "normalisation.std: has 1 values for 3 features"),
    "normalisation without mean": (lambda m: m["normalisation"].pop("mean"), "normalisation.mean: must be a list"),
    "NaN in the normalisation": (lambda m: m["normalisation"].update(mean=[float("nan")] * 3),
                                 "normalisation.mean: must be a list of finite numbers"),
    "negative std": (lambda m: m["normalisation"].update(std=[-1.0, 1.0, 1.0]), "cannot be negative"),
    "normalisation a list": (lambda m: m.update(normalisation=[1]), "normalisation: must be a map"),
    "a split that is a list": (lambda m: m["splits"].update(test=[1]), "splits.test: must be a map"),
    "a count that is true": (lambda m: m["splits"]["test"].update(count=True), "splits.test.count"),
    "class counts text": (lambda m: m["splits"]["test"].update({"class-counts": "x"}), "splits.test.class-counts"),
    "classes maps": (lambda m: m.update(classes=[{}, {}]), "classes: must be a list of class names"),
    "a class named twice": (lambda m: m.update(classes=["no", "no"]), 'classes: "no" is named twice'),
    "labelled text": (lambda m: m.update(labelled="yes"), "labelled: must be true or false"),
    "features numbers": (lambda m: m.update(features=[1, 2, 3]), "features: must be a list of column names"),
    "kind images, huge": (lambda m: m.update(kind="images", image={"size": 10**9, "channels": 1}), "image.size"),
    "kind images, 5 channels": (lambda m: m.update(kind="images", image={"size": 4, "channels": 5}), "image.channels"),
}


@pytest.mark.parametrize("name", MANIFEST_CASES)
def test_a_damaged_manifest_is_one_line_naming_the_field(name, dataset):
    change, phrase = MANIFEST_CASES[name]
    _edit_manifest(dataset, change)
    result = run_cli("evaluate", dataset / "nothing.nnrun", dataset)  # the dataset is opened first or second
    from nnrun.data.dataset import open_dataset

    with pytest.raises(UserError, match=None) as caught:
        open_dataset(dataset)
    assert phrase in str(caught.value) and "dataset.json" in str(caught.value), str(caught.value)
    assert result.code == 2 and "Traceback" not in result.output, result


@pytest.mark.parametrize("split, row, value", [("test", 2, float("nan")), ("train", 8, float("inf")),
                                               ("train", 1, -float("inf"))])
def test_features_that_are_not_finite_are_refused_naming_the_row(split, row, value, dataset):
    """A prepared table holds finite numbers (prepare refuses others): an edited one would give a
    NaN probability, and with it a class decided silently."""
    from nnrun.data.dataset import open_dataset

    x = np.load(dataset / f"{split}.x.npy")
    x[row - 1, 1] = value
    np.save(dataset / f"{split}.x.npy", x)
    with pytest.raises(UserError) as caught:
        open_dataset(dataset).x(split)
    assert str(caught.value) == (f'{dataset / f"{split}.x.npy"}: row {row}, feature "b" is {value}; '
                                 f"a prepared table holds finite numbers only")


@pytest.mark.parametrize("ids, phrase", [
    ('["r1", "r2", "r3"]', "should list 4 ids"),
    ('["r1", "r1", "r3", "r4"]', 'id "r1" is listed twice'),
    ('["r1", {"x": 1}, "r3", "r4"]', "item 1 is {'x': 1}, not an id"),
    ('["r1", null, "r3", "r4"]', "item 1 is None"),
    ('{"r1": 1}', "should list 4 ids"),
    ('["r1", "r2"', "is not readable JSON"),
])
def test_a_corrupt_ids_file_is_refused_not_used(ids, phrase, dataset):
    from nnrun.data.dataset import open_dataset

    (dataset / "test.ids.json").write_text(ids)
    with pytest.raises(UserError) as caught:
        open_dataset(dataset).ids("test")
    assert phrase in str(caught.value) and "test.ids.json" in str(caught.value), str(caught.value)


def test_a_manifest_that_is_not_json_or_is_cut_short(dataset):
    from nnrun.data.dataset import open_dataset

    text = (dataset / "dataset.json").read_text()
    for damaged in (text[: len(text) // 2], "\x00\xff" * 10, "[]", "null"):
        (dataset / "dataset.json").write_text(damaged, errors="surrogateescape")
        with pytest.raises(UserError):
            open_dataset(dataset)
    shutil.rmtree(dataset)
