"""Distributed training on the CPU (gloo), 2 processes started by torchrun or `nnrun train --nproc`.

A 2-process run trains on exactly the batches of a 1-process run with the same global batch, so
their loss curves and weights agree, but not bit for bit: each rank sums the gradient over its
half of the batch and the all-reduce adds the halves, while one process sums the whole batch in
one go; float32 addition is not associative, so the results differ in the last bits (seen:
3e-8 for the fraud network, 1.4e-6 for MNIST-conv, whose Adam steps magnify the tiny gradient
differences of its large layer) and the tests allow 1e-5 over these few steps. The networks are those of configs/fraud.yaml and
configs/mnist-conv.yaml without their dropout layer: dropout masks are drawn per rank, so with
dropout a 2-process run is a different (equally valid) random draw. Evaluation, on the other
hand, is exact: the ranks run the same batches one process would and gather the outputs.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nnrun.checkpoint import read_checkpoint
from train_fixtures import blobs, write_dataset

if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("this torch build has no torch.distributed with gloo", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = {"config.yaml", "run.json", "metrics.jsonl", "status.json", "train.log", "best.nnrun",
             "last.nnrun", "test.json", "predictions", "first-layer"}


def config_like(name, data, folder, **train):
    """configs/NAME.yaml without dropout, on `data`, one thread, with `train` settings."""
    config = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    config["network"] = [layer for layer in config["network"]
                         if not (isinstance(layer, dict) and "dropout" in layer)]
    config["data"] = str(data)
    config["train"].update({"threads": 1, "eval-batch-size": 64, **{k.replace("_", "-"): v
                                                                    for k, v in train.items()}})
    path = Path(folder) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def digits(folder, n=(256, 150, 100), seed=0):
    """28×28 one-channel images of 10 classes: class k lights a 6×6 square at place k."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name, count in zip(("train", "validation", "test"), n):
        y = rng.integers(0, 10, count)
        x = rng.integers(0, 80, size=(count, 1, 28, 28)).astype(np.uint8)
        for i, k in enumerate(y):
            r, c = 2 + 8 * (k // 3), 2 + 8 * (k % 3)
            x[i, 0, r:r + 6, c:c + 6] = 240
        splits[name] = (x, y)
    return write_dataset(folder, "images", splits, [str(k) for k in range(10)], image={"size": 28, "channels": 1})


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(*args, timeout=120):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "nnrun", "train", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env(), cwd=ROOT)


def nnrun(*args):
    return [sys.executable, "-m", "nnrun", "train", *map(str, args)]


def metrics(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def tensors(path):
    return read_checkpoint(path)["tensors"]


def assert_close_runs(a, b, tolerance=1e-5):
    for x, y in zip(metrics(a), metrics(b), strict=True):
        assert x["train-loss"] == pytest.approx(y["train-loss"], abs=tolerance)
    wa, wb = tensors(Path(a) / "last.nnrun"), tensors(Path(b) / "last.nnrun")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key], wb[key], atol=tolerance, rtol=0), key


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs(tmp_path_factory.mktemp("data") / "blobs", n=(1200, 300, 300), features=29, classes=("0", "1"))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("data") / "digits")


def single_process_metrics(config, checkpoint):
    """What one process's evaluation of `checkpoint` on the selection split says."""
    from nnrun.config.spec import load_spec
    from nnrun.train.evaluation import evaluate
    from nnrun.train.session import open_session

    payload = read_checkpoint(checkpoint)
    session = open_session(load_spec(config, []))
    session.network.load_state_dict(payload["tensors"])
    task = session.task
    return evaluate(session.network, task, session.selection_data, session.spec.train["eval-batch-size"],
                    task.threshold, None)


def check_two_process_run(config, one, run, epochs):
    """`run` (2 processes) is complete, written once, and matches `one` (1 process)."""
    assert {p.name for p in run.iterdir()} == RUN_FILES
    # written once: rank 0 alone writes, so one metrics line per epoch and one opening line
    assert [r["epoch"] for r in metrics(run)] == list(range(1, epochs + 1))
    assert (run / "train.log").read_text().count("training ") == 1
    assert json.loads((run / "run.json").read_text())["job"]["world-size"] == 2
    assert_close_runs(one, run)
    # the distributed evaluation of the best epoch is one process's evaluation of best.nnrun
    best = [r for r in metrics(run) if r["best"]][-1]
    alone = single_process_metrics(config, run / "best.nnrun")
    for key, value in alone.items():
        assert best[key] == value, key
    # plain weights, as one process saves them (no DDP "module." prefix)
    assert set(tensors(run / "best.nnrun")) == set(tensors(one / "best.nnrun"))


def test_fraud_two_processes_match_one_and_resume_either_way(cli, tmp_path, table):
    config = config_like("fraud", table, tmp_path, epoch_count=2, epoch_size=2000)
    assert cli("train", config, "--run-dir", tmp_path / "one", "-q").code == 0
    two = torchrun(config, "--run-dir", tmp_path / "two", "-q")
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("best: epoch") == 1  # only rank 0 prints
    check_two_process_run(config, tmp_path / "one", tmp_path / "two", 2)

    # a third epoch: the 2-process run on 1 process, the 1-process run on 2; both as if uninterrupted
    whole = cli("train", config, "--run-dir", tmp_path / "whole", "-q", "--set", "train.epoch-count=3")
    assert whole.code == 0, whole
    resumed = cli("train", "--resume", tmp_path / "two", "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    again = torchrun("--resume", tmp_path / "one", "--set", "train.epoch-count=3", "-q")
    assert again.returncode == 0, again.stderr[-3000:]
    for run in ("one", "two"):
        assert [r["epoch"] for r in metrics(tmp_path / run)] == [1, 2, 3]
        assert_close_runs(tmp_path / "whole", tmp_path / run)
    resumes = json.loads((tmp_path / "one" / "run.json").read_text())["resumed"]
    assert [entry["job"]["world-size"] for entry in resumes] == [2]


def test_mnist_conv_two_processes_match_one(cli, tmp_path, images):
    config = config_like("mnist-conv", images, tmp_path, epoch_count=2, batch_size=32)
    assert cli("train", config, "--run-dir", tmp_path / "one", "-q").code == 0
    two = torchrun(config, "--run-dir", tmp_path / "two", "-q")
    assert two.returncode == 0, two.stderr[-3000:]
    check_two_process_run(config, tmp_path / "one", tmp_path / "two", 2)


def wait_for(path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not Path(path).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def long_run(config, run, *extra):
    return subprocess.Popen(nnrun(config, "--run-dir", run, "--nproc", "2", "-q", "--set", "train.epoch-count=200",
                                  *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            cwd=ROOT)


def worker_pids(launcher):
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(launcher)], capture_output=True, text=True).stdout
    pids = {}
    for line in out.splitlines():
        pid = int(line.split()[0])
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = [e for e in environ if e.startswith(b"RANK=")]
        if rank:
            pids[int(rank[0][5:])] = pid
    return pids


def test_a_killed_rank_ends_the_job_naming_it(tmp_path, table):
    config = config_like("fraud", table, tmp_path, epoch_size=20000)
    run = tmp_path / "run"
    job = long_run(config, run)
    wait_for(run / "last.nnrun", job)
    os.kill(worker_pids(job.pid)[1], signal.SIGKILL)
    killed = time.monotonic()
    out, err = job.communicate(timeout=90)
    assert time.monotonic() - killed < 60
    assert job.returncode == 1
    assert "rank 1" in err and "SIGKILL" in err, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert read_checkpoint(run / "last.nnrun")["resume"]["epoch"] >= 1
    read_checkpoint(run / "best.nnrun")
    assert json.loads((run / "status.json").read_text())["state"] == "failed"


def with_batch_norm(config):
    data = yaml.safe_load(config.read_text())
    data["network"].insert(2, "batch-normalization")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def test_sigterm_on_the_launcher_stops_every_rank_cleanly(tmp_path, table):
    """Also: batch-norm statistics. DDP sends rank 0's at each forward, so after an epoch each rank
    holds its own last update; they are shared again before evaluating, or the gathered outputs
    would mix two networks (uneven parts: batch 101 over 2 ranks)."""
    config = with_batch_norm(config_like("fraud", table, tmp_path, epoch_size=20200, batch_size=101))
    run = tmp_path / "run"
    job = long_run(config, run)
    wait_for(run / "last.nnrun", job)
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=90)
    assert job.returncode == 130, err[-3000:]
    assert "stopped (SIGTERM)" in err and "Traceback" not in err, err[-3000:]
    assert json.loads((run / "status.json").read_text())["state"] == "stopped"
    done = read_checkpoint(run / "last.nnrun")["resume"]["epoch"]
    assert [r["epoch"] for r in metrics(run)] == list(range(1, done + 1))
    best = [r for r in metrics(run) if r["best"]][-1]
    alone = single_process_metrics(config, run / "best.nnrun")
    assert all(best[key] == value for key, value in alone.items())


@pytest.mark.slow
def test_max_restarts_goes_on_from_last_checkpoint(tmp_path, table):
    config = config_like("fraud", table, tmp_path, epoch_size=20000, epoch_count=6)
    run = tmp_path / "run"
    job = subprocess.Popen(nnrun(config, "--run-dir", run, "--nproc", "2", "--max-restarts", "1", "-q"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
    wait_for(run / "last.nnrun", job)
    os.kill(worker_pids(job.pid)[1], signal.SIGKILL)
    out, err = job.communicate(timeout=300)
    assert job.returncode == 0, err[-3000:]
    assert "restarted the job" in err
    assert [r["epoch"] for r in metrics(run)] == [1, 2, 3, 4, 5, 6]
    assert json.loads((run / "run.json").read_text())["resumed"][0]["job"]["attempt"] == 2


def test_rank_streams_differ_per_rank_and_follow_seed_and_world_size():
    from nnrun.train.distributed import World, stream_seed
    seeds = {(size, rank, epoch): stream_seed(1, World(rank, size), epoch, "augmentation")
             for size in (2, 3) for rank in range(size) for epoch in (1, 2)}
    assert len(set(seeds.values())) == len(seeds)  # no two ranks, sizes or epochs share a stream
    assert stream_seed(1, World(1, 2), 2, "augmentation") == seeds[(2, 1, 2)]  # reproducible
    assert stream_seed(2, World(1, 2), 2, "augmentation") != seeds[(2, 1, 2)]
    assert stream_seed(1, World(1, 2), 2, "torch") != seeds[(2, 1, 2)]


def test_a_mistake_in_a_parallel_job_is_one_line_exit_2_nothing_written(tmp_path, table):
    config = config_like("fraud", table, tmp_path, batch_size=1)
    done = subprocess.run(nnrun(config, "--run-dir", tmp_path / "run", "--nproc", "2"), capture_output=True,
                          text=True, env=env(), cwd=ROOT, timeout=120)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: train.batch-size 1: the batch is split over the 2 processes; give at least 2"], \
        done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()



def test_launcher_options_that_do_not_fit(cli, tmp_path, table, monkeypatch):
    config = config_like("fraud", table, tmp_path)
    alone = cli("train", config, "--max-restarts", "2")
    assert alone.code == 2 and "--max-restarts goes with --nproc" in alone.output
    assert cli("train", config, "--nproc", "0").code == 2
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    nested = cli("train", config, "--nproc", "2")
    assert nested.code == 2 and "already a rank of a torchrun job" in nested.output
