"""What a training run records for the commands that look at it: status.json, the selection
split's predictions, the first layer's weights per epoch, and TensorBoard event files."""
import json
import os
import struct

import numpy as np
import pytest

from nnrun.train import run_record
from nnrun.train.metrics import predict
from train_fixtures import IMAGE_NETWORK, TABLE_NETWORK, bars, blobs, write_config


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs(tmp_path_factory.mktemp("blobs") / "ds", n=(600, 200, 100))


def metrics_of(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_two_epoch_run_records_status_predictions_and_weights(cli, tmp_path, table, monkeypatch):
    statuses = []
    original = run_record.RunRecord._status

    def spy(self, trainer, state, in_progress=None):
        statuses.append((state, in_progress))
        original(self, trainer, state, in_progress)
    monkeypatch.setattr(run_record.RunRecord, "_status", spy)
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=2, batch_size=20, threads=1)
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.code == 0, result
    run = tmp_path / "run"

    status = json.loads((run / "status.json").read_text())
    metrics = metrics_of(run)
    best = max(r["epoch"] for r in metrics if r["best"])
    assert status["state"] == "finished" and status["pid"] == os.getpid()
    assert (status["epoch"], status["epoch-count"], status["best-epoch"]) == (2, 2, best)
    assert status["in-progress"] is None and status["updated"].endswith("Z")
    assert statuses[0] == ("running", None)
    progress = [p for _, p in statuses if p is not None]  # the first check of each epoch at least
    assert {p["epoch"] for p in progress} == {1, 2}
    assert all(p["of"] == 600 and 0 < p["samples"] <= 600 and p["samples-per-second"] > 0 for p in progress)

    labels = np.load(table / "validation.y.npy")
    with np.load(run / "predictions" / "last.npz") as last:
        assert int(last["epoch"]) == 2 and str(last["split"]) == "validation"
        assert last["probabilities"].dtype == np.float32 and last["probabilities"].shape == (200, 2)
        np.testing.assert_array_equal(last["labels"], labels)
        np.testing.assert_array_equal(last["index"], np.arange(200))
        expected = predict(last["probabilities"].astype(np.float64), 1, metrics[-1]["threshold"])
        assert (last["predicted"] == expected).mean() > 0.99  # float32 storage may flip a tie
        assert last["predicted"].dtype == np.int64
    with np.load(run / "predictions" / "best.npz") as kept:
        assert int(kept["epoch"]) == best
    # the best epoch's predictions reproduce its confusion matrix
    matrix = np.zeros((2, 2), int)
    with np.load(run / "predictions" / "best.npz") as kept:
        np.add.at(matrix, (kept["labels"], kept["predicted"]), 1)
    assert matrix.tolist() == metrics[best - 1]["confusion-matrix"]

    layer = json.loads((run / "first-layer" / "layer.json").read_text())
    assert layer["shape"] == [16, 6] and layer["input-shape"] == [6]
    weights = [np.load(run / "first-layer" / f"epoch-{e:04d}.npy") for e in (1, 2)]
    assert all(w.shape == (16, 6) and w.dtype == np.float32 for w in weights)
    assert not np.array_equal(weights[0], weights[1])


def test_a_failed_run_says_so(tmp_path, table):
    from nnrun.train.start import run_training
    from nnrun.config.spec import load_spec

    def boom(epoch):
        if epoch == 2:
            raise RuntimeError("boom")
    spec = load_spec(write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=3, threads=1))
    with pytest.raises(RuntimeError):
        run_training(spec, run_dir=tmp_path / "run", quiet=True, hooks={"before-epoch": boom})
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and status["epoch"] == 1


def test_autoencoders_record_no_predictions(cli, tmp_path, table):
    network = [{"input": {"width": 6, "id": "data"}}, {"linear->relu": 3}, {"linear": {"output-size": 6, "target": "data"}}]
    config = write_config(tmp_path / "c.yaml", network, table, epoch_count=1, threads=1)
    assert cli("train", config, "--run-dir", tmp_path / "run", "--quiet").code == 0
    assert not (tmp_path / "run" / "predictions").exists()
    assert (tmp_path / "run" / "first-layer" / "epoch-0001.npy").is_file()


def tensorboard_events(folder):
    """Every Event in the folder's event files, read as TFRecords with tensorboardX's protobuf."""
    from tensorboardX.proto import event_pb2
    events = []
    for file in sorted(folder.glob("events.out.tfevents*")):
        data = file.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            events.append(event)
            at += 12 + length + 4
    return events


def test_tensorboard_scalars_confusion_image_and_pr_curve(cli, tmp_path, table):
    pytest.importorskip("tensorboardX")
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=2, threads=1)
    assert cli("train", config, "--run-dir", tmp_path / "run", "--quiet", "--tensorboard").code == 0
    events = tensorboard_events(tmp_path / "run" / "tensorboard")
    values = {}
    for event in events:
        for value in event.summary.value:
            values.setdefault(value.tag, []).append((event.step, value))
    for tag in ("loss/train", "loss/selection", "metrics/accuracy", "metrics/precision", "metrics/recall",
                "metrics/f-beta", "metrics/average-precision", "threshold", "learning-rate"):
        assert [step for step, _ in values[tag]] == [1, 2], tag
    metrics = metrics_of(tmp_path / "run")
    assert values["loss/train"][1][1].simple_value == pytest.approx(metrics[1]["train-loss"], rel=1e-6)
    assert values["metrics/f-beta"][0][1].simple_value == pytest.approx(metrics[0]["f-beta"], rel=1e-6)
    image = values["confusion-matrix"][0][1].image
    assert image.encoded_image_string.startswith(b"\x89PNG") and image.width > 100
    assert [step for step, _ in values["precision-recall"]] == [1, 2]


def test_tensorboard_is_a_checked_config_key(cli, tmp_path, table):
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=1, tensorboard="yes")
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 2 and "train.tensorboard" in result.stderr and not (tmp_path / "run").exists()


def test_images_record_conv_filters(cli, tmp_path):
    data = bars(tmp_path / "bars", n=(120, 30, 30))
    config = write_config(tmp_path / "c.yaml", IMAGE_NETWORK, data, epoch_count=1, threads=1)
    assert cli("train", config, "--run-dir", tmp_path / "run", "--quiet").code == 0
    assert np.load(tmp_path / "run" / "first-layer" / "epoch-0001.npy").shape == (8, 1, 3, 3)
    with np.load(tmp_path / "run" / "predictions" / "best.npz") as kept:
        assert kept["probabilities"].shape == (30, 3)
        np.testing.assert_array_equal(kept["predicted"], kept["probabilities"].argmax(1))
