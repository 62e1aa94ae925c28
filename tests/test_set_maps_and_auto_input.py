"""`--set` of a plain value on a map keeps the map's other keys; `input: {width: auto}` (or no
width) takes the input's shape from the prepared dataset and records it in the run."""
import json

import yaml

from conftest import run_cli
from nnrun.checkpoint import read_checkpoint
from nnrun.config.read import apply_overrides
from train_fixtures import bars, blobs, write_config

SGD = {"type": "sgd", "learning-rate": 0.01, "momentum": 0.5, "weight-decay": 0.001}


def test_a_plain_value_on_a_map_changes_its_type_and_keeps_the_rest():
    config = {"train": {"optimizer": {"type": "adam", "weight-decay": 0.01, "learning-rate": 0.002},
                        "schedule": {"type": "step", "step-size": 3}}}
    apply_overrides(config, ["train.optimizer=adamw", "train.schedule=cosine"])
    assert config["train"]["optimizer"] == {"type": "adamw", "weight-decay": 0.01, "learning-rate": 0.002}
    assert config["train"]["schedule"] == {"type": "cosine", "step-size": 3}


def test_a_map_value_replaces_the_map():
    config = {"train": {"optimizer": dict(SGD)}}
    apply_overrides(config, ["train.optimizer={type: adam}"])
    assert config["train"]["optimizer"] == {"type": "adam"}


def test_a_key_the_new_type_lacks_is_refused_saying_how(tmp_path):
    path = write_config(tmp_path / "c.yaml", [{"input": {"width": 6}}, {"linear->softmax": 2}],
                        tmp_path, optimizer=SGD)
    result = run_cli("check", path, "--set", "train.optimizer=adam")
    assert result.code == 2 and "Traceback" not in result.output
    message = result.stderr.strip()
    assert "\n" not in message
    for part in ("train.optimizer.momentum", "not an option of adam", "from --set train.optimizer=adam",
                 "--set train.optimizer.momentum=null", "train.optimizer={...}"):
        assert part in message, message
    kept = run_cli("train", path, "--set", "train.optimizer=adam", "--set", "train.optimizer.momentum=null",
                   "--print-config")
    assert kept.code == 0, kept
    optimizer = yaml.safe_load(kept.stdout)["train"]["optimizer"]
    assert optimizer["type"] == "adam" and optimizer["weight-decay"] == 0.001
    assert optimizer["learning-rate"] == 0.01


AUTO_TABLE = [{"input": {"width": "auto", "id": "data"}}, {"linear->relu": 8}, {"linear": 2},
              {"softmax": {"id": "label"}}]


def test_check_without_a_dataset_says_what_it_can(tmp_path):
    path = write_config(tmp_path / "c.yaml", AUTO_TABLE, "")
    result = run_cli("check", path)
    assert result.code == 0, result
    assert "width auto" in result.stdout and "--set data=FOLDER" in result.stdout
    assert "network[2] (linear)" in result.stdout
    report = json.loads(run_cli("check", path, "--format", "json").stdout)
    assert "width auto" in report["unresolved"] and report["layers"][1] == {"index": 1, "layer": "linear->relu"}
    refused = run_cli("train", path, "--print-config")
    assert refused.code == 2 and "width auto" in refused.stderr


def test_auto_and_omitted_widths_come_from_a_table(tmp_path):
    data = blobs(tmp_path / "d", n=(200, 60, 60), features=5)
    for network in (AUTO_TABLE, [{"input": {"id": "data"}}] + AUTO_TABLE[1:], [["input", "auto"]] + AUTO_TABLE[1:]):
        path = write_config(tmp_path / "c.yaml", network, data)
        result = run_cli("check", path)
        assert result.code == 0, result
        assert "input shape 5: width auto" in result.stdout, result.stdout


def test_an_image_input_takes_the_dataset_shape_and_the_run_records_it(tmp_path):
    data = bars(tmp_path / "d", n=(60, 30, 30), size=12)
    network = [{"input": {"id": "data"}}, {"convolutional": [3, 0, 1, 4]}, "relu",
               {"linear->softmax": {"output-size": 3, "id": "label"}}]
    path = write_config(tmp_path / "c.yaml", network, data, epoch_count=1, batch_size=30)
    run = tmp_path / "run"
    result = run_cli("train", path, "--run-dir", run, "--quiet")
    assert result.code == 0, result
    expected = {"input": {"width": 12, "height": 12, "channels": 1, "id": "data"}}
    assert yaml.safe_load((run / "config.yaml").read_text())["network"][0] == expected
    assert read_checkpoint(run / "best.nnrun")["config"]["network"][0] == expected


def test_auto_width_with_a_fixed_channel_count_is_refused(tmp_path):
    data = bars(tmp_path / "d", n=(30, 10, 10))
    path = write_config(tmp_path / "c.yaml", [{"input": {"width": "auto", "channels": 3}}] + AUTO_TABLE[1:], data)
    result = run_cli("check", path)
    assert result.code == 2 and "leave out channels" in result.stderr
