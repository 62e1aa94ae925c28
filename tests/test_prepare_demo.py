"""`nnrun prepare demo`: deterministic, synthetic, and shaped like the real thing."""
import json

import numpy as np

from conftest import run_cli
from nnrun.data.dataset import open_dataset
from nnrun.data.prepare.demo import FRAUD_SHIFTS, fraud_table, shape_images


def same_content(a, b):
    """Two dataset folders hold the same arrays, ids and manifest (but for the time of making)."""
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    for name in files:
        if name != "dataset.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    manifests = [json.loads((f / "dataset.json").read_text()) for f in (a, b)]
    for manifest in manifests:
        del manifest["created"], manifest["command"]
    assert manifests[0] == manifests[1]


def test_fraud_demo_is_deterministic_synthetic_and_split_three_ways(tmp_path):
    for name in ("a", "b"):
        assert run_cli("prepare", "demo", "fraud", tmp_path / name, "--quiet").code == 0
    same_content(tmp_path / "a", tmp_path / "b")
    data = open_dataset(tmp_path / "a")
    assert data.synthetic and data.kind == "table" and data.classes == ["0", "1"]
    assert data.features == [f"V{i}" for i in range(1, 29)] + ["Amount"]
    assert data.split_names == ["train", "validation", "test"]
    positives = sum(data.class_counts(s)["1"] for s in data.split_names)
    assert positives == 200  # 1% of 20,000
    assert data.manifest["sources"] == []
    assert data.manifest["command"] == f"nnrun prepare demo fraud {tmp_path / 'a'} --quiet"


def test_fraud_positives_are_learnable():
    x, y, names = fraud_table(20_000, seed=0)
    direction = np.array([np.sign(FRAUD_SHIFTS.get(n, 0.0)) for n in names])
    score = ((x - x.mean(0)) / x.std(0)) @ direction
    positive, negative = score[y == 1], score[y == 0]
    auc = (positive[:, None] > negative[None, :]).mean()
    assert auc > 0.97, auc


def test_other_seed_other_data():
    assert not np.array_equal(fraud_table(500, 0)[0], fraud_table(500, 1)[0])
    assert not np.array_equal(shape_images(30, 16, 1, 0)[0], shape_images(30, 16, 1, 1)[0])


def test_shapes_demo_classes_sizes_and_channels(tmp_path):
    out = tmp_path / "shapes"
    result = run_cli("prepare", "demo", "shapes", out, "--count", "300", "--size", "20", "--channels", "3", "--png")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.synthetic and data.classes == ["circle", "square", "triangle"]
    assert data.image == {"size": 20, "channels": 3} and data.x("train").shape[1:] == (3, 20, 20)
    assert data.class_counts("train") == {"circle": 64, "square": 64, "triangle": 64}
    assert len(list((out / "png").rglob("*.png"))) == 300
    x = np.asarray(data.x("train"), np.float64)
    assert (x.std(axis=(1, 2, 3)) > 20).all()  # every picture shows a shape, not a blank
    again, _ = shape_images(300, 20, 3, 0)
    np.testing.assert_array_equal(again[[int(i.split("-")[1]) for i in data.ids("test")]], data.x("test"))
