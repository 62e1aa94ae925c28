"""`nnrun prepare mnist`: the real IDX files, raw or gzipped, and broken ones."""
import gzip
import hashlib

import numpy as np
import pytest

from conftest import run_cli, shared_path
from nnrun.data.dataset import open_dataset


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def read_idx_gz(path):
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def tiny_mnist(folder, train=40, test=20, names=("train-images.idx3-ubyte", "train-labels.idx1-ubyte",
                                                  "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")):
    rng = np.random.default_rng(0)
    folder.mkdir()
    arrays = [rng.integers(0, 256, (train, 28, 28)), np.arange(train) % 10,
              rng.integers(0, 256, (test, 28, 28)), np.arange(test) % 10]
    for name, array in zip(names, arrays):
        (folder / name).write_bytes(idx_bytes(array))
    return folder


def test_real_mnist_with_the_last_10000_training_images_for_validation(tmp_path):
    src = shared_path("mnist")
    out = tmp_path / "mnist"
    result = run_cli("prepare", "mnist", src, out, "--validation-size", "10000")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.classes == [str(d) for d in range(10)] and data.image == {"size": 28, "channels": 1}
    assert [data.count(s) for s in data.split_names] == [50000, 10000, 10000]
    images = read_idx_gz(src / "train-images-idx3-ubyte.gz")
    labels = read_idx_gz(src / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(data.x("validation")[:, 0], images[50000:])
    np.testing.assert_array_equal(data.y("validation"), labels[50000:])
    np.testing.assert_array_equal(data.x("train")[:, 0], images[:50000])
    np.testing.assert_array_equal(data.y("test"), read_idx_gz(src / "t10k-labels-idx1-ubyte.gz"))
    assert data.ids("validation")[0] == "train:50000" and data.ids("test")[-1] == "test:9999"
    assert data.normalisation["mean"][0] == pytest.approx(images[:50000].mean())
    sources = data.manifest["sources"]
    assert [s["path"].rsplit("/", 1)[1] for s in sources] == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz"]
    assert sources[1]["sha256"] == hashlib.sha256((src / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest()
    assert data.manifest["command"].endswith("--validation-size 10000")


def test_raw_files_with_dotted_names_and_no_validation(tmp_path):
    src = tiny_mnist(tmp_path / "raw")
    out = tmp_path / "out"
    result = run_cli("prepare", "mnist", src, out, "--png", "--quiet")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.split_names == ["train", "test"] and data.count("train") == 40
    assert len(list((out / "png" / "testing").rglob("*.png"))) == 20


@pytest.mark.parametrize("damage, phrase", [
    (lambda f: (f / "t10k-labels.idx1-ubyte").unlink(), "lacks the MNIST file t10k-labels-idx1-ubyte[.gz]"),
    (lambda f: (f / "train-images.idx3-ubyte").write_bytes(b"\0\0\x08\x01" + bytes(8)), "not an IDX file of 3-d"),
    (lambda f: (f / "train-images.idx3-ubyte").write_bytes((f / "train-images.idx3-ubyte").read_bytes()[:-5]),
     "truncated?"),
    (lambda f: (f / "train-labels.idx1-ubyte").write_bytes(idx_bytes(np.arange(39) % 10)), "has 40 images but"),
    (lambda f: (f / "train-labels.idx1-ubyte").write_bytes(idx_bytes(np.full(40, 12))), "label 12, not a digit"),
    (lambda f: (f / "t10k-images.idx3-ubyte").write_bytes(b""), "too short for an IDX header"),
])
def test_broken_files_are_named_and_leave_nothing(tmp_path, damage, phrase):
    src = tiny_mnist(tmp_path / "raw")
    damage(src)
    out = tmp_path / "out"
    result = run_cli("prepare", "mnist", src, out)
    assert result.code == 2 and "Traceback" not in result.output and phrase in result.output, result
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_validation_must_leave_training_images(tmp_path):
    src = tiny_mnist(tmp_path / "raw")
    result = run_cli("prepare", "mnist", src, tmp_path / "out", "--validation-size", "40")
    assert result.code == 2 and "leaves no training images" in result.output
