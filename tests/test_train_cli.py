"""`nnrun train`: the run folder, what it prints, and every bad input (exit 2, nothing left behind)."""
import json
import math
import re

import numpy as np
import pytest
import torch
import yaml

from nnrun.checkpoint import read_checkpoint
from nnrun.model_io import load_model
from train_fixtures import IMAGE_NETWORK, TABLE_NETWORK, bars, blobs, write_config


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs(tmp_path_factory.mktemp("data") / "blobs")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return bars(tmp_path_factory.mktemp("data") / "bars")


def small(tmp_path, data, network=TABLE_NETWORK, **train):
    options = {"epoch_count": 2, "epoch_size": 2000, "batch_size": 50, "seed": 3}
    options.update(train)
    return write_config(tmp_path / "c.yaml", network, data, **options)


def test_a_run_folder_holds_everything(cli, tmp_path, table):
    config = small(tmp_path, table, metric={"name": "f-beta", "beta": 1, "positive": "b"})
    run = tmp_path / "run"
    result = cli("train", config, "--run-dir", run)
    assert result.code == 0, result
    for name in ("config.yaml", "run.json", "metrics.jsonl", "train.log", "best.nnrun", "last.nnrun", "test.json"):
        assert (run / name).is_file(), name
    out = result.stdout
    # each epoch once on the screen, its line with rounded figures; the Cortex block in train.log
    epoch_lines = [line for line in out.splitlines() if line.startswith(("epoch ", "Epoch"))]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"], out
    assert all(len(f) == 6 for f in re.findall(r"(?:F1|loss|accuracy) (\d\.\d+)", "\n".join(epoch_lines)))
    assert "Precision: " not in out.split("best: epoch")[0]
    log = [line.split(" ", 1)[1] for line in (run / "train.log").read_text().splitlines()]  # after the time
    block_at = log.index("Epoch: 1")
    assert [line.split(":")[0] for line in log[block_at:block_at + 4]] == ["Epoch", "Precision", "Recall", "F1"]
    assert log[block_at + 4].startswith("epoch 1/2  train loss")
    assert "* new best" in out and "actual \\ predicted" in out and "test (test, best epoch" in out
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for key in ("train-loss", "train-seconds", "samples-per-second", "eval-seconds", "loss", "accuracy",
                "precision", "recall", "f1", "f-beta", "average-precision", "threshold", "best",
                "confusion-matrix", "per-class"):
        assert key in lines[0], key
    assert lines[0]["best"] is True and lines[0]["samples"] == 2000
    assert sum(map(sum, lines[0]["confusion-matrix"])) == 300  # the whole validation split
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == 3 and info["device"] == "cpu" and len(info["dataset"]["manifest-sha256"]) == 64
    assert info["torch"] and info["nnrun-version"]
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["train"]["optimizer"]["learning-rate"] == 0.001 and resolved["train"]["threads"] == "auto"
    best = load_model(run / "best.nnrun")
    assert best.classes == ["a", "b"] and best.positive == "b" and 0 <= best.threshold <= 1
    assert best.preprocessing.mode == "standardize"
    best_epoch = max((r for r in lines if r["best"]), key=lambda r: r["epoch"])
    assert best.payload["epoch"] == best_epoch["epoch"]
    assert best.threshold == pytest.approx(best_epoch["threshold"])
    last = read_checkpoint(run / "last.nnrun")
    assert last["epoch"] == 2 and {"optimizer", "sampler", "rng", "augmenter"} <= set(last["resume"])
    assert "resume" not in best.payload
    test = json.loads((run / "test.json").read_text())
    assert test["count"] == 300 and test["threshold"] == pytest.approx(best.threshold)


def test_cortex_block_on_the_screen_when_asked(cli, tmp_path, table):
    """--cortex-block prints the write-up's block, unrounded, above each epoch's line; a job of
    several processes passes the flag on to its workers."""
    from nnrun.commands.train import _worker_argv
    from nnrun.train.request import TrainRequest

    config = small(tmp_path, table, epoch_count=1, metric={"name": "f-beta", "beta": 1, "positive": "b"})
    result = cli("train", config, "--run-dir", tmp_path / "run", "--cortex-block")
    assert result.code == 0, result
    block = re.search(r"Epoch: 1\nPrecision: (\S+)\nRecall: (\S+)\nF1: (\S+)\nepoch 1/1  ", result.stdout)
    assert block, result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert [float(v) for v in block.groups()] == [metrics["precision"], metrics["recall"], metrics["f-beta"]]
    assert "--cortex-block" in _worker_argv(TrainRequest(config, cortex_block=True))


def test_default_run_folder_and_quiet(cli, tmp_path, table, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = small(tmp_path, table, epoch_count=1)
    result = cli("train", config, "--quiet")
    assert result.code == 0, result
    runs = list((tmp_path / "runs" / "c").iterdir())
    assert len(runs) == 1 and (runs[0] / "best.nnrun").is_file()
    assert "Epoch:" not in result.stdout and "best: epoch 1" in result.stdout
    assert "Epoch: 1" in (runs[0] / "train.log").read_text()


def test_print_config_shows_every_default(cli, tmp_path, table):
    result = cli("train", small(tmp_path, table), "--print-config", "--set", "train.optimizer=sgd")
    assert result.code == 0, result
    shown = yaml.safe_load(result.stdout)
    assert shown["train"]["optimizer"] == {"type": "sgd", "learning-rate": 0.001, "momentum": 0.9,
                                           "nesterov": True, "weight-decay": 0.0}
    assert shown["train"]["sampling"] == "class-balanced" and shown["train"]["epoch-count"] == 2
    assert shown["data"]["selection-split"] == "auto" and shown["network"]
    assert not (tmp_path / "runs").exists()


def test_images_multiclass_with_augmentation(cli, tmp_path, images):
    config = small(tmp_path, images, IMAGE_NETWORK, epoch_count=2, epoch_size=960, batch_size=32,
                   augmentation=["mirror", {"rotation": 10}, {"pixel-noise": 0.1}], metric="accuracy")
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    assert "Accuracy: " in result.stdout
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert test["accuracy"] > 0.6 and test["threshold"] is None


def error_of(cli, tmp_path, *args):
    result = cli("train", *args, "--run-dir", tmp_path / "run")
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
    return result.stderr


def test_config_and_dataset_must_agree(cli, tmp_path, table, images):
    wide = [{"input": {"width": 7, "id": "data"}}] + TABLE_NETWORK[1:]
    assert "takes 7 values, but" in error_of(cli, tmp_path, small(tmp_path, table, wide))
    three = TABLE_NETWORK[:2] + [{"linear": 3}, {"softmax": {"id": "label"}}]
    assert "gives 3 outputs" in error_of(cli, tmp_path, small(tmp_path, table, three))
    shape = [{"input": [10, 10, 1, {"id": "data"}]}] + IMAGE_NETWORK[1:]
    assert "10×10×1 images" in error_of(cli, tmp_path, small(tmp_path, images, shape))
    msg = error_of(cli, tmp_path, small(tmp_path, table, metric={"name": "f-beta", "positive": "fraud"}))
    assert 'train.metric.positive: "fraud" is not a class' in msg


@pytest.mark.parametrize("key,value,message", [
    ("train.epoch-size", 0, "train.epoch-size: must be ≥ 1"),
    ("train.batch-size", -5, "train.batch-size: must be ≥ 1"),
    ("train.optimizer.lr", "fast", "train.optimizer.learning-rate: must be a number"),
    ("train.sampling", "balanced", "train.sampling: must be one of"),
    ("train.schedule", "cosine", "cosine anneals over train.epoch-count"),
])
def test_bad_train_values(cli, tmp_path, table, key, value, message):
    config = small(tmp_path, table)
    if key == "train.schedule":
        config = small(tmp_path, table, epoch_count=None)
    assert message in error_of(cli, tmp_path, config, "--set", f"{key}={value}")


def test_dataset_not_prepared_or_incomplete(cli, tmp_path, table):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a prepared dataset" in error_of(cli, tmp_path, small(tmp_path, empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in table.iterdir():
        if f.name != "validation.y.npy":
            (broken / f.name).write_bytes(f.read_bytes())
    assert "validation.y.npy is missing" in error_of(cli, tmp_path, small(tmp_path, broken))
    assert "no dataset" in error_of(cli, tmp_path, small(tmp_path, table), "--set", "data=")


def test_no_selection_split(cli, tmp_path):
    only_train = blobs(tmp_path / "d", n=(200, 0, 0))
    assert "no validation or test split" in error_of(cli, tmp_path, small(tmp_path, only_train))


def test_selecting_on_the_test_split_is_warned_once_on_stderr(cli, tmp_path, table):
    """A dataset prepared without a validation split (the README's image example did so) selects
    the best epoch and tunes the threshold on the test split: one warning line, even with -q."""
    no_validation = blobs(tmp_path / "train-test", n=(600, 0, 200))
    result = cli("train", small(tmp_path, no_validation, epoch_count=3), "--run-dir", tmp_path / "run", "-q")
    assert result.code == 0, result
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {no_validation} has no validation split: the best epoch and its threshold "
                        f"are chosen on the test split, so its figures are optimistic; prepare the dataset with "
                        f"--validation-size to keep the test split for the end"]
    assert warnings[0] in (tmp_path / "run" / "train.log").read_text()
    chosen = cli("train", small(tmp_path, table, epoch_count=1), "--run-dir", tmp_path / "chosen", "-q",
                 "--set", "data.selection-split=test")
    assert chosen.code == 0 and "warning: data.selection-split is test: the best epoch" in chosen.stderr, chosen
    same = cli("train", small(tmp_path, table, epoch_count=1), "--run-dir", tmp_path / "same", "-q",
               "--set", "data.test-split=validation")
    assert same.code == 0 and "warning: data.test-split validation is also the selection split" in same.stderr
    held_out = cli("train", small(tmp_path, table, epoch_count=1), "--run-dir", tmp_path / "held-out")
    assert held_out.code == 0 and "warning" not in held_out.output, held_out


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoints(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=3, optimizer={"type": "sgd", "lr": 1e3, "momentum": 0.9})
    # A rate this high diverges within the first epochs: find when, and check what remains.
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 2, result
    message = result.stderr
    assert "the loss is" in message and "at epoch" in message and ", batch " in message
    assert "Traceback" not in message
    epoch = int(message.split("at epoch ")[1].split(",")[0])
    if epoch == 1:
        assert "nothing was saved" in message and not (tmp_path / "run").exists()
    else:
        last = read_checkpoint(tmp_path / "run" / "last.nnrun")
        assert last["epoch"] == epoch - 1
        assert all(bool(np.isfinite(t.numpy()).all()) for t in last["tensors"].values())


def test_non_finite_loss_in_a_later_epoch(cli, tmp_path, table):
    """Epoch 1 trains; a hook makes epoch 2's weights infinite: the run stops at batch 1."""
    import torch

    from nnrun.train.start import run_training
    from nnrun.config.spec import load_spec
    from nnrun.errors import UserError

    spec = load_spec(small(tmp_path, table, epoch_count=3))
    holder = {}

    import nnrun.train.session as session_module
    original = session_module.open_session

    def keep(spec_, *a, **k):
        holder["s"] = original(spec_, *a, **k)
        return holder["s"]

    def poison(epoch):
        if epoch == 2:
            with torch.no_grad():
                next(holder["s"].network.parameters()).fill_(math.inf)

    session_module.open_session, restore = keep, original
    try:
        with pytest.raises(UserError, match=r"at epoch 2, batch 1;.*hold epoch 1"):
            run_training(spec, run_dir=tmp_path / "run", quiet=True, hooks={"before-epoch": poison})
    finally:
        session_module.open_session = restore
    assert read_checkpoint(tmp_path / "run" / "last.nnrun")["epoch"] == 1
    assert (tmp_path / "run" / "best.nnrun").is_file()


def test_run_dir_that_holds_a_run_is_refused(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=1)
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    again = cli("train", config, "--run-dir", tmp_path / "run")
    assert again.code == 2 and "--resume" in again.stderr


def test_mixed_precision_falls_back_to_float32_on_cpu(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=1, precision="bf16", device="cpu")
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0 and "mixed precision runs on CUDA only" in result.stdout
    assert "(float32," in result.stdout


def test_float64_and_init_from(cli, tmp_path, table):
    first = small(tmp_path, table, epoch_count=1, precision="float64")
    assert cli("train", first, "--run-dir", tmp_path / "a", "-q").code == 0
    # float64 itself (is_floating_point held for the float32 of a run that ignored the precision)
    assert read_checkpoint(tmp_path / "a" / "best.nnrun")["tensors"]["layers.linear-1.weight"].dtype == torch.float64
    head = TABLE_NETWORK[:2] + [{"linear": {"output-size": 2, "id": "head"}}, {"softmax": {"id": "label"}}]
    second = write_config(tmp_path / "b.yaml", head, table, epoch_count=1, epoch_size=500, batch_size=50,
                          init_from=str(tmp_path / "a" / "best.nnrun"))
    result = cli("train", second, "--run-dir", tmp_path / "b")
    assert result.code == 0, result
    assert "init-from" in result.stdout and "2 tensors loaded (linear-1)" in result.stdout and "(head)" in result.stdout
    wrong = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=1,
                         init_from=str(tmp_path / "nothing.nnrun"))
    assert "no such checkpoint" in error_of(cli, tmp_path, wrong)


def test_a_step_schedule_and_a_fixed_threshold(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=3, epoch_size=300, schedule={"type": "step", "step-size": 1,
                   "gamma": 0.5}, threshold=0.7, metric="loss")
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rates = [r["learning-rate"] for r in rows]
    assert rates == pytest.approx([0.0005, 0.00025, 0.000125])  # stepped after each epoch
    assert all(r["threshold"] == 0.7 for r in rows)
    assert load_model(tmp_path / "run" / "best.nnrun").threshold == 0.7


def test_early_stopping_stops_after_its_patience(cli, tmp_path):
    """On blobs apart enough that the selection accuracy reaches 1.0 (seed 3: at epoch 10, after a
    non-best epoch 9 that must not count towards the next stretch), no later epoch can beat it:
    the run stops 2 epochs later, far short of its 20."""
    separable = blobs(tmp_path / "separable", shift=10.0)
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, separable, epoch_count=20, epoch_size=600,
                          batch_size=50, seed=3, early_stopping=2, metric="accuracy")
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    best = [r["epoch"] for r in rows if r["best"]]
    assert rows[best[-1] - 1]["accuracy"] == 1.0 and any(not r["best"] for r in rows[:best[-1]])
    assert len(rows) == best[-1] + 2 < 20 and not rows[-1]["best"] and not rows[-2]["best"]
    assert "early stopping: no new best in 2 epochs" in result.stdout
    assert json.loads((tmp_path / "run" / "status.json").read_text())["state"] == "early-stopped"
    assert read_checkpoint(tmp_path / "run" / "last.nnrun")["epoch"] == len(rows)


def test_gradient_clipping_bounds_each_step(cli, tmp_path, table):
    """One plain SGD step (learning rate 1, no momentum) from the same weights: the weights move by
    the gradient, whose norm is far above 0.01; with gradient-clipping 0.01, by exactly 0.01."""
    start = small(tmp_path, table, epoch_count=1)
    assert cli("train", start, "--run-dir", tmp_path / "start", "-q").code == 0
    weights = read_checkpoint(tmp_path / "start" / "best.nnrun")["tensors"]

    def moved(name, **clipping):
        config = write_config(tmp_path / f"{name}.yaml", TABLE_NETWORK, table, epoch_count=1, epoch_size=50,
                              batch_size=50, seed=3, init_from=str(tmp_path / "start" / "best.nnrun"),
                              optimizer={"type": "sgd", "learning-rate": 1.0, "momentum": 0}, **clipping)
        assert cli("train", config, "--run-dir", tmp_path / name, "-q").code == 0
        after = read_checkpoint(tmp_path / name / "last.nnrun")["tensors"]
        return math.sqrt(sum(float(((after[k].double() - weights[k].double()) ** 2).sum()) for k in weights))
    assert moved("free") > 0.1
    assert moved("clipped", gradient_clipping=0.01) == pytest.approx(0.01, rel=1e-4)


def test_shuffle_epochs_default_to_the_split_size(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=1, epoch_size=None, sampling="shuffle")
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert row["samples"] == 1200


def test_calibrated_threshold(cli, tmp_path, table):
    config = small(tmp_path, table, epoch_count=1, threshold="calibrated", metric={"name": "f-beta"})
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert 0 < row["threshold"] < 1 and row["positive"] == "b"


def test_a_vector_network_on_augmented_images(cli, tmp_path, images):
    """Images into a 144-wide input, through augmentation (stored pixels) and a batch norm first."""
    network = [{"input": {"width": 144, "id": "data"}}, "batch-normalization", {"linear->relu": 32},
               {"linear->softmax": {"output-size": 3, "id": "label"}}]
    config = small(tmp_path, images, network, epoch_count=2, epoch_size=960, batch_size=32,
                   augmentation=["mirror", {"input-noise": 0.05}])
    result = cli("train", config, "--run-dir", tmp_path / "run", "-q")
    assert result.code == 0, result
    assert json.loads((tmp_path / "run" / "test.json").read_text())["accuracy"] > 0.5
