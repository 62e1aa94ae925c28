"""Reading prepared datasets: the API, and refusing folders that are not complete and consistent."""
import json
import shutil

import numpy as np
import pytest

from conftest import run_cli
from nnrun.data.dataset import open_dataset
from nnrun.errors import UserError


@pytest.fixture(scope="module")
def fraud(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "fraud"
    assert run_cli("prepare", "demo", "fraud", out, "--rows", "2000", "--quiet").code == 0
    return out


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "shapes"
    assert run_cli("prepare", "demo", "shapes", out, "--count", "90", "--size", "12", "--quiet").code == 0
    return out


@pytest.fixture
def broken(fraud, tmp_path):
    """A private copy of the fraud dataset to damage."""
    copy = tmp_path / "copy"
    shutil.copytree(fraud, copy)
    return copy


def edit_manifest(folder, change):
    manifest = json.loads((folder / "dataset.json").read_text())
    change(manifest)
    (folder / "dataset.json").write_text(json.dumps(manifest))


def test_table_dataset_api(fraud):
    data = open_dataset(fraud)
    assert data.kind == "table" and data.labelled and data.synthetic
    assert data.classes == ["0", "1"] and len(data.features) == 29 and data.image is None
    assert data.split_names == ["train", "validation", "test"]
    assert data.has_split("validation") and not data.has_split("holdout")
    x, y = data.x("train"), data.y("train")
    assert isinstance(x, np.memmap) and not x.flags.writeable
    assert x.dtype == np.float32 and x.shape == (data.count("train"), 29)
    assert y.dtype == np.int64 and y.shape == (data.count("train"),)
    assert data.class_counts("train") == dict(zip(data.classes, np.bincount(y).tolist()))
    assert len(data.ids("test")) == data.count("test")
    assert len(data.normalisation["mean"]) == len(data.normalisation["std"]) == 29
    assert data.manifest["format"] == "nnrun-dataset"
    assert "train 1280" in repr(data)


def test_image_dataset_api(shapes):
    data = open_dataset(shapes)
    assert data.kind == "images" and data.image == {"size": 12, "channels": 1} and data.features is None
    assert data.x("test").dtype == np.uint8 and data.x("test").shape == (data.count("test"), 1, 12, 12)
    assert len(data.normalisation["mean"]) == 1


def test_an_unknown_split_is_named_with_a_suggestion(fraud):
    with pytest.raises(UserError, match='no "tset" split \\(did you mean "test"\\?\\); it has train, validation, test'):
        open_dataset(fraud).x("tset")


@pytest.mark.parametrize("damage, phrase", [
    (lambda f: (f / "dataset.json").unlink(), "is not a prepared dataset (no dataset.json)"),
    (lambda f: (f / "dataset.json").write_text("{not json"), "dataset.json is not readable JSON"),
    (lambda f: edit_manifest(f, lambda m: m.update(format="something")), 'format should be "nnrun-dataset"'),
    (lambda f: edit_manifest(f, lambda m: m.update(version=2)),
     "is format version 2; this nnrun reads version 1; upgrade"),
    (lambda f: edit_manifest(f, lambda m: m.update(kind="audio")), 'kind "audio" should be one of'),
    (lambda f: edit_manifest(f, lambda m: m.pop("features")), "missing or invalid features"),
    (lambda f: edit_manifest(f, lambda m: m["splits"].update(holdout={})), "splits (unknown name)"),
    (lambda f: (f / "test.x.npy").unlink(), "test.x.npy is missing"),
    (lambda f: (f / "train.y.npy").unlink(), "train.y.npy is missing"),
    (lambda f: (f / "test.x.npy").write_bytes((f / "test.x.npy").read_bytes()[:-100]),
     "test.x.npy is not a readable .npy"),
    (lambda f: np.save(f / "test.x.npy", np.zeros((400, 28), np.float32)),
     "holds float32 [400, 28], but the manifest says float32 [400, 29]"),
    (lambda f: np.save(f / "test.x.npy", np.zeros((400, 29))), "holds float64 [400, 29]"),
    (lambda f: edit_manifest(f, lambda m: m["splits"]["test"].update(count=401)),
     "but the manifest says float32 [401, 29]"),
    (lambda f: np.save(f / "test.y.npy", np.zeros(400, np.int32)),
     "holds int32 [400], but the manifest says int64 [400]"),
    (lambda f: edit_manifest(f, lambda m: m["splits"]["test"].update(x="../elsewhere.npy")),
     'names no valid "x" file'),
])
def test_incomplete_or_inconsistent_folders_are_refused_by_name(broken, damage, phrase):
    damage(broken)
    with pytest.raises(UserError) as refused:
        open_dataset(broken)
    assert phrase in str(refused.value) and "\n" not in str(refused.value)
    assert str(broken) in str(refused.value)


def test_labels_and_ids_are_checked_when_read(broken):
    np.save(broken / "test.y.npy", np.full(400, 7, np.int64))
    (broken / "validation.ids.json").write_text(json.dumps(["1", "2"]))
    data = open_dataset(broken)
    with pytest.raises(UserError, match="test.y.npy has labels outside 0..1"):
        data.y("test")
    with pytest.raises(UserError, match="validation.ids.json should list 320 ids"):
        data.ids("validation")


def test_missing_folder_file_and_unfinished_run(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        open_dataset(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a prepared dataset folder"):
        open_dataset(tmp_path / "file")
    (tmp_path / "half.partial" / "cache").mkdir(parents=True)
    with pytest.raises(UserError, match="half.partial is an unfinished `nnrun prepare` .*run the same command again"):
        open_dataset(tmp_path / "half")
