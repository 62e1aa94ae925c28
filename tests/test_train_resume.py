"""Ctrl-C stops cleanly; `--resume` continues bit for bit on CPU; incompatible edits are refused."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from nnrun.checkpoint import read_checkpoint
from train_fixtures import IMAGE_NETWORK, bars, blobs, interrupt_at_step, wait_for_first_epoch, write_config

DROPOUT_NETWORK = [{"input": {"width": 6, "id": "data"}}, {"linear->relu": 16}, {"dropout": 0.8},
                   {"linear": 2}, {"softmax": {"id": "label"}}]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs(tmp_path_factory.mktemp("data") / "blobs")


def tensors(path):
    return read_checkpoint(path)["tensors"]


def same_bits(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k].view(torch.uint8) if a[k].dtype.is_floating_point else a[k],
                                                    b[k].view(torch.uint8) if b[k].dtype.is_floating_point else b[k])
                                        for k in a)


def strip_times(path):
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for key in ("train-seconds", "eval-seconds", "samples-per-second"):
            record.pop(key)
        out.append(record)
    return out


@pytest.mark.parametrize("kind", ["table", "images"])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(cli, tmp_path, table, monkeypatch, kind):
    if kind == "table":
        data, network = table, DROPOUT_NETWORK
        extra = {"augmentation": [{"gaussian-noise": 0.1}], "schedule": {"type": "step", "step-size": 1}}
    else:
        data, network = bars(tmp_path / "bars", n=(240, 60, 60)), IMAGE_NETWORK
        extra = {"augmentation": ["mirror", {"rotation": 15}, {"pixel-noise": 0.1}],
                 "schedule": "reduce-on-plateau", "sampling": "shuffle"}
    config = write_config(tmp_path / "c.yaml", network, data, epoch_count=3, epoch_size=600, batch_size=40,
                          seed=5, **extra)
    whole = cli("train", config, "--run-dir", tmp_path / "whole", "-q")
    assert whole.code == 0, whole

    interrupt_at_step(monkeypatch, 15 + 7)  # epoch 2 (15 steps an epoch), step 7
    stopped = cli("train", config, "--run-dir", tmp_path / "cut")
    monkeypatch.undo()
    assert stopped.code == 130, stopped
    assert "stopped (SIGINT) during epoch 2; last.nnrun holds epoch 1" in stopped.stderr
    assert f"nnrun train --resume {tmp_path / 'cut'}" in stopped.stderr
    assert read_checkpoint(tmp_path / "cut" / "last.nnrun")["epoch"] == 1
    read_checkpoint(tmp_path / "cut" / "best.nnrun")  # valid

    resumed = cli("train", "--resume", tmp_path / "cut", "-q")
    assert resumed.code == 0, resumed
    assert read_checkpoint(tmp_path / "cut" / "last.nnrun")["epoch"] == 3
    assert same_bits(tensors(tmp_path / "whole" / "last.nnrun"), tensors(tmp_path / "cut" / "last.nnrun"))
    assert same_bits(tensors(tmp_path / "whole" / "best.nnrun"), tensors(tmp_path / "cut" / "best.nnrun"))
    assert strip_times(tmp_path / "whole" / "metrics.jsonl") == strip_times(tmp_path / "cut" / "metrics.jsonl")
    info = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert info["resumed"][0]["at-epoch"] == 1


def test_resume_can_extend_but_not_change_the_run(cli, tmp_path, table):
    config = write_config(tmp_path / "c.yaml", DROPOUT_NETWORK, table, epoch_count=1, epoch_size=400,
                          batch_size=40)
    run = tmp_path / "run"
    assert cli("train", config, "--run-dir", run, "-q").code == 0
    done = cli("train", "--resume", run)
    assert done.code == 0 and "already trained 1 epochs" in done.stdout
    more = cli("train", "--resume", run, "--set", "train.epoch-count=2", "-q")
    assert more.code == 0, more
    assert read_checkpoint(run / "last.nnrun")["epoch"] == 2
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]

    edited = yaml.safe_load((run / "config.yaml").read_text())
    edited["train"]["batch-size"] = 64
    (run / "config.yaml").write_text(yaml.safe_dump(edited))
    refused = cli("train", "--resume", run, "--set", "train.epoch-count=3")
    assert refused.code == 2 and "train.batch-size" in refused.stderr and "Traceback" not in refused.output
    other_net = cli("train", config, "--resume", run, "--set", "network.1.linear->relu=8")
    assert other_net.code == 2 and "the network differs" in other_net.stderr
    assert read_checkpoint(run / "last.nnrun")["epoch"] == 2  # untouched
    missing = cli("train", "--resume", tmp_path / "nowhere")
    assert missing.code == 2 and "no last.nnrun" in missing.stderr


def test_interrupt_before_the_first_epoch_leaves_nothing(cli, tmp_path, table, monkeypatch):
    config = write_config(tmp_path / "c.yaml", DROPOUT_NETWORK, table, epoch_count=2, epoch_size=400,
                          batch_size=40)
    interrupt_at_step(monkeypatch, 3)
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 130 and "nothing to resume" in result.stderr
    assert not (tmp_path / "run").exists()


def test_sigterm_in_a_real_process(tmp_path, table):
    """A separate `nnrun train` (train forever) stopped with SIGTERM: valid checkpoints, a resume line."""
    config = write_config(tmp_path / "c.yaml", DROPOUT_NETWORK, table, epoch_count=None, epoch_size=2000,
                          batch_size=20)
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--run-dir", str(run)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_first_epoch(process, run)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "stopped (SIGTERM)" in err and "nnrun train --resume" in err
    epoch = read_checkpoint(run / "last.nnrun")["epoch"]
    assert epoch >= 1 and read_checkpoint(run / "best.nnrun")["epoch"] <= epoch
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]
