"""`nnrun evaluate CHECKPOINT DATASET`: the metrics of a saved model at its stored threshold."""
import json

import pytest

from train_fixtures import TABLE_NETWORK, bars, blobs, write_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import run_cli
    root = tmp_path_factory.mktemp("evaluate")
    data = blobs(root / "blobs")
    config = write_config(root / "c.yaml", TABLE_NETWORK, data, epoch_count=2, epoch_size=2000, batch_size=50,
                          metric={"name": "f-beta", "beta": 1, "positive": "b"})
    result = run_cli("train", config, "--run-dir", root / "run", "-q")
    assert result.code == 0, result
    return root, data


def find_f1(value):
    """What the acceptance script does: the first number under a key named f1 / f-beta, anywhere."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower().replace("_", "-") in ("f1", "f-beta", "fbeta") and isinstance(item, (int, float)):
                return item
        for item in value.values():
            found = find_f1(item)
            if found is not None:
                return found
    return None


def test_json_matches_the_training_test_report(cli, trained):
    root, data = trained
    result = cli("evaluate", root / "run" / "best.nnrun", data, "--split", "test", "--format", "json")
    assert result.code == 0, result
    out = json.loads(result.stdout)
    reported = json.loads((root / "run" / "test.json").read_text())
    assert find_f1(out) == pytest.approx(reported["f1"])
    assert out["f1"] == out["f-beta"] == out["metrics"]["f1"]
    assert out["threshold"] == pytest.approx(reported["threshold"])
    m = out["metrics"]
    for key in ("loss", "accuracy", "precision", "recall", "average-precision", "per-class", "confusion-matrix"):
        assert m[key] == pytest.approx(reported[key]) if not isinstance(m[key], (dict, list)) else m[key] == reported[key]
    assert sum(map(sum, m["confusion-matrix"])) == m["count"] == 300
    assert out["split"] == "test" and out["classes"] == ["a", "b"]


def test_table_output_and_threshold_override(cli, trained):
    root, data = trained
    table = cli("evaluate", root / "run" / "best.nnrun", data)
    assert table.code == 0, table
    for text in ("accuracy:", "precision:", "recall:", "F1:", "average precision:", "actual \\ predicted", "class"):
        assert text in table.stdout, text
    everything = json.loads(cli("evaluate", root / "run" / "best.nnrun", data, "--threshold", "0",
                                "--format", "json").stdout)
    assert everything["recall"] == 1.0 and everything["threshold"] == 0.0
    validation = json.loads(cli("evaluate", root / "run" / "best.nnrun", data, "--split", "validation",
                                "--format", "json").stdout)
    assert validation["split"] == "validation"


def test_mistakes_exit_2(cli, trained, tmp_path):
    root, data = trained
    best = root / "run" / "best.nnrun"
    images = bars(tmp_path / "bars")
    for args, message in [((best, images), "takes 6 values"),
                          ((best, data, "--split", "train2"), 'no "train2" split'),
                          ((root / "c.yaml", data), "checkpoint"),
                          ((best, tmp_path), "not a prepared dataset")]:
        result = cli("evaluate", *args)
        assert result.code == 2, (args, result)
        assert message in result.stderr and "Traceback" not in result.output
    other = blobs(tmp_path / "other", classes=("x", "y"))
    result = cli("evaluate", best, other)
    assert result.code == 2 and "not the model's" in result.stderr
