"""Kill -9 soak: a run killed again and again at random moments (during the imports, an epoch, a
checkpoint write) and resumed each time ends as an uninterrupted run does: every checkpoint
loads, the weights are equal bit for bit (CPU), metrics.jsonl holds every epoch once, in order,
and no temporary or lock file outlives the run."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from nnrun.checkpoint import read_checkpoint
from test_train_resume import same_bits, tensors
from train_fixtures import TABLE_NETWORK, blobs, wait_for_first_epoch, write_config


def metrics_epochs(run):
    """The epochs of metrics.jsonl's whole lines (a kill may tear the last one)."""
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line)["epoch"])
        except ValueError:
            pass
    return out


def wait_for_loop(process, run, seconds=60):
    """Until `process` trains: its pid in status.json."""
    deadline = time.time() + seconds
    while True:
        try:
            if json.loads((run / "status.json").read_text())["pid"] == process.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)


def wait_for_a_write(process, run, seconds=30):
    """Until a checkpoint's temporary (`.last.nnrun.XXXX.partial`, nnrun.atomic) is in `run`:
    polled without sleeping, the write takes a few milliseconds."""
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        if any(name.startswith((".last.nnrun.", ".best.nnrun.")) and name.endswith(".partial")
               for name in os.listdir(run)):
            return


def train(args):
    return subprocess.Popen([sys.executable, "-m", "nnrun", "train", *map(str, args), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def soak(tmp_path, kills, epochs, seed):
    chance = random.Random(seed)
    data = blobs(tmp_path / "blobs", n=(400, 100, 0))
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, data, epoch_count=epochs, epoch_size=40,
                          batch_size=20, seed=3)
    whole = train([config, "--run-dir", tmp_path / "whole"])
    assert whole.wait(timeout=300) == 0, whole.stderr.read()

    run = tmp_path / "cut"
    process = train([config, "--run-dir", run])
    wait_for_first_epoch(process, run)  # a kill before the first checkpoint leaves a folder --resume cannot use
    mid_write, left = 0, set()  # kills that left a new write's temporary behind: they came during one
    for kill in range(kills):
        if kill:
            process = train(["--resume", run])
        moment = chance.random()
        started = not (kill and moment < 0.25)  # it gets to train (past the removal of temporaries)
        if not started:
            time.sleep(chance.uniform(0.0, 2.0))  # while it starts: imports, restoring, the lock
        elif moment < 0.5:  # during a checkpoint write: as soon as its temporary appears
            wait_for_loop(process, run)
            wait_for_a_write(process, run)
        else:  # while it trains: tiny epochs, so now and then during a checkpoint write too
            wait_for_loop(process, run)
            time.sleep(chance.uniform(0.3, 1.5))  # the first save also makes the ONNX graph (~0.5 s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        temporaries = {p for p in run.rglob("*") if p.name.endswith(".partial")}
        assert not (started and temporaries & left), "a temporary outlived the next start"
        mid_write += bool(temporaries - left)  # (one left by an earlier kill stays until a start removes it)
        left = temporaries
        last = read_checkpoint(run / "last.nnrun")["epoch"]  # every checkpoint loads after any kill
        read_checkpoint(run / "best.nnrun")
        seen = metrics_epochs(run)
        # the line follows its checkpoint: at most the last epoch's line is missing until the resume
        assert seen in (list(range(1, last + 1)), list(range(1, last))), (kill, last, seen)
        assert last < epochs, "the run finished before the kills were done: give it more epochs"
    final = train(["--resume", run])
    assert final.wait(timeout=300) == 0, final.stderr.read()
    assert metrics_epochs(run) == list(range(1, epochs + 1))
    assert read_checkpoint(run / "last.nnrun")["epoch"] == epochs
    assert same_bits(tensors(tmp_path / "whole" / "last.nnrun"), tensors(run / "last.nnrun"))
    assert same_bits(tensors(tmp_path / "whole" / "best.nnrun"), tensors(run / "best.nnrun"))
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".partial")) or p.name == ".lock"]
    print(f"{kills} kills, {mid_write} of them during a write (a temporary left behind, removed at the next start)")
    return mid_write


def test_kill_9_soak_short(tmp_path):
    soak(tmp_path, kills=4, epochs=800, seed=1)  # enough that the kills (up to 1.5 s of training each) come first


@pytest.mark.slow
def test_kill_9_soak_long(tmp_path):
    assert soak(tmp_path, kills=20, epochs=1500, seed=2) >= 3  # some kills came during checkpoint writes
