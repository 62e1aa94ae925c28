"""Training reaches real figures: fast versions run by default (small data, few epochs); the full
quality runs of the issue are marked slow (`pytest -m slow tests/test_train_quality.py`)."""
import json

import numpy as np
import pytest
import yaml

from conftest import ROOT, shared_path
from train_fixtures import IMAGE_NETWORK, TABLE_NETWORK, bars, blobs, write_config


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_blobs_reach_a_high_f1_with_class_balanced_sampling(cli, tmp_path):
    data = blobs(tmp_path / "d", n=(3000, 600, 600), positives=0.05, shift=5.0)
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, data, epoch_count=3, epoch_size=6000,
                          batch_size=50, metric={"name": "f-beta", "positive": "b"})
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert test["f1"] >= 0.9 and test["average-precision"] >= 0.9


def test_conv_network_learns_bars_with_augmentation(cli, tmp_path):
    data = bars(tmp_path / "d", n=(600, 150, 150))
    config = write_config(tmp_path / "c.yaml", IMAGE_NETWORK, data, epoch_count=4, epoch_size=1200,
                          batch_size=32, augmentation=["mirror", {"pixel-noise": 0.1}], metric="accuracy")
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    assert json.loads((tmp_path / "run" / "test.json").read_text())["accuracy"] >= 0.95


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    source = shared_path("mnist")
    from conftest import run_cli
    out = tmp_path_factory.mktemp("mnist") / "mnist"
    result = run_cli("prepare", "mnist", source, out, "--validation-size", "10000", "--quiet")
    assert result.code == 0, result
    return out


def test_nielsen_network_learns_from_part_of_an_epoch(cli, tmp_path, mnist):
    """The from-scratch network (784-30-10, SGD 3.0, batch 10) on 20,000 MNIST images."""
    result = cli("train", ROOT / "configs" / "nielsen.yaml", "--set", f"data={mnist}", "--set",
                 "train.epoch-size=20000", "--run-dir", tmp_path / "run", "-q")
    assert result.code == 0, result
    assert json.loads((tmp_path / "run" / "test.json").read_text())["accuracy"] >= 0.88


def small_mnist_config(tmp_path, mnist, network, **train):
    options = {"epoch_count": 2, "epoch_size": 6000, "batch_size": 100, "sampling": "shuffle", "metric": "loss"}
    options.update(train)
    config = write_config(tmp_path / "ae.yaml", network, mnist, **options)
    raw = yaml.safe_load(config.read_text())
    raw["data"] = {"path": str(mnist), "preprocessing": "unit", "selection-split": "test"}
    config.write_text(yaml.safe_dump(raw))
    return config


def test_autoencoder_lowers_its_reconstruction_loss(cli, tmp_path, mnist):
    network = [{"input": {"width": 784, "id": "data"}}, {"linear->relu": {"output-size": 32, "id": "code"}},
               {"linear->logistic": {"output-size": 784, "target": "data"}}]
    config = small_mnist_config(tmp_path, mnist, network, epoch_size=10000, batch_size=50)
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    losses = [r["loss"] for r in records(tmp_path / "run")]
    assert losses[1] < losses[0] < 0.06  # the mean image alone gives about 0.067
    assert all("accuracy" not in r for r in records(tmp_path / "run"))


def test_denoising_autoencoder_beats_the_identity(cli, tmp_path, mnist):
    network = [{"input": {"width": 784, "id": "data"}}, {"linear->relu": 128},
               {"linear->logistic": {"output-size": 784, "target": "data"}}]
    config = small_mnist_config(tmp_path, mnist, network, augmentation=[{"input-noise": 0.5}])
    assert cli("train", config, "--run-dir", tmp_path / "run", "-q").code == 0
    last = records(tmp_path / "run")[-1]
    assert last["identity-mse"] == pytest.approx(0.25, rel=0.05)  # the noise's own variance
    assert last["denoising-mse"] < 0.5 * last["identity-mse"]


# ---- the quality runs on the real data (minutes each) ---------------------------------

def run_config(cli, tmp_path, config, data, *sets):
    args = ["train", ROOT / "configs" / config, "--set", f"data={data}", "--run-dir", tmp_path / "run", "-q"]
    for item in sets:
        args += ["--set", item]
    result = cli(*args)
    assert result.code == 0, result
    return json.loads((tmp_path / "run" / "test.json").read_text()) if (tmp_path / "run" / "test.json").exists() \
        else None


@pytest.mark.slow
def test_fraud_config_reaches_f1_090_on_the_creditcard_split(cli, tmp_path):
    """What ../shared/acceptance/check.sh train does: stratified 20% test, validation from the rest."""
    source = shared_path("creditcard", "creditcard-10k.csv.gz")
    data = tmp_path / "cc"
    assert cli("prepare", "csv", source, data, "--label-column", "Class", "--drop", "Time", "--test-size", "0.2",
               "--validation-size", "0.2", "--seed", "7", "--quiet").code == 0
    test = run_config(cli, tmp_path, "fraud.yaml", data)
    evaluated = cli("evaluate", tmp_path / "run" / "best.nnrun", data, "--split", "test", "--format", "json")
    assert json.loads(evaluated.stdout)["f1"] == pytest.approx(test["f1"])
    assert test["f1"] >= 0.90


@pytest.mark.slow
def test_nielsen_reaches_94_percent_after_one_epoch(cli, tmp_path, mnist):
    assert run_config(cli, tmp_path, "nielsen.yaml", mnist)["accuracy"] >= 0.94


@pytest.mark.slow
def test_mnist_conv_reaches_99_percent(cli, tmp_path, mnist):
    import time
    start = time.time()
    test = run_config(cli, tmp_path, "mnist-conv.yaml", mnist)
    assert test["accuracy"] >= 0.99
    assert time.time() - start < 15 * 60


@pytest.mark.slow
@pytest.mark.parametrize("config", ["autoencoder-vanilla.yaml", "autoencoder-sparse.yaml",
                                    "autoencoder-multilayer.yaml", "autoencoder-conv.yaml",
                                    "autoencoder-denoising.yaml"])
def test_autoencoder_configs_lower_their_loss(cli, tmp_path, mnist, config):
    run_config(cli, tmp_path, config, mnist, "train.epoch-count=2")
    rows = records(tmp_path / "run")
    assert rows[1]["loss"] < rows[0]["loss"]
    if config == "autoencoder-denoising.yaml":
        assert rows[-1]["denoising-mse"] < rows[-1]["identity-mse"]


@pytest.mark.slow
def test_catsdogs_trains(cli, tmp_path):
    source = shared_path("dogs-vs-cats", "train")
    data = tmp_path / "cd"
    assert cli("prepare", "images", source, data, "--size", "52", "--test-size", "0.2", "--validation-size", "0.2",
               "--seed", "1", "--quiet").code == 0
    test = run_config(cli, tmp_path, "catsdogs.yaml", data)
    assert test["accuracy"] > 0.6
    assert np.isfinite(test["loss"])
