"""A run folder stays consistent: a refused resume changes nothing, one writer at a time, and
metrics.jsonl agrees with last.nnrun whatever moment a kill came at."""
import json
import os
import re
import signal
import subprocess
import sys
import time

from pathlib import Path

import pytest

from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.train.run_lock import RunLock
from train_fixtures import TABLE_NETWORK, blobs, wait_for_first_epoch, wait_for_handler, write_config


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return blobs(tmp_path_factory.mktemp("data") / "blobs")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, table):
    """A finished 2-epoch run, copied fresh by `run`."""
    from conftest import run_cli
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder / "c.yaml", TABLE_NETWORK, table, epoch_count=2, epoch_size=400, batch_size=40)
    result = run_cli("train", config, "--run-dir", folder / "run", "-q")
    assert result.code == 0, result
    return folder / "run"


@pytest.fixture
def run(trained, tmp_path):
    import shutil
    shutil.copytree(trained, tmp_path / "run")
    return tmp_path / "run"


def snapshot(folder):
    """Every file's bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def epochs(run):
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_refused_resume_changes_nothing(cli, run):
    payload = read_checkpoint(run / "last.nnrun")
    payload["resume"]["optimizer"]["param_groups"][0]["params"] = [0]  # another network's optimizer
    write_checkpoint(run / "last.nnrun", payload)
    before = snapshot(run)
    result = cli("train", "--resume", run, "--set", "train.epoch-count=3")
    assert result.code == 2 and "Traceback" not in result.output, result
    assert result.stderr.count("\n") == 1 and "last.nnrun: its resume state does not fit" in result.stderr
    assert snapshot(run) == before  # config.yaml, metrics.jsonl, train.log, run.json untouched, no .tmp


DEL = object()
# name: (field path in last.nnrun, its new value (a function of the payload: the value is made
# from the real one), what the one line must contain). Each of these ended in a traceback after
# rewriting the run's files, trained on silently, hung, or crashed the process (a state tensor of
# the wrong shape in the fused optimizer step).
RESUME_CASES = {
    "resume state text": (("resume",), "x", "resume: must be a map"),
    "epoch text": (("resume", "epoch"), "x", "resume.epoch: must be a whole number ≥ 1"),
    "epoch negative": (("resume", "epoch"), -3, "resume.epoch: must be a whole number ≥ 1, got -3"),
    "epoch missing": (("resume", "epoch"), DEL, "resume.epoch"),
    "optimizer text": (("resume", "optimizer"), "x", "resume.optimizer: must be an optimizer's state"),
    "learning rate NaN": (("resume", "optimizer", "param_groups", 0, "lr"), float("nan"),
                          "resume.optimizer.param_groups[0].lr: must be a finite number"),
    "learning rate text": (("resume", "optimizer", "param_groups", 0, "lr"), "fast",
                           "resume.optimizer.param_groups[0].lr"),
    "betas of one number": (("resume", "optimizer", "param_groups", 0, "betas"), [0.9],
                            "resume.optimizer.param_groups[0].betas: is [0.9], but the run's config makes it"),
    "a moment of the wrong shape": (("resume", "optimizer", "state", 0, "exp_avg"), lambda p: p["tensors"][
        next(iter(p["tensors"]))].flatten()[:5].clone(), "resume.optimizer.state[0].exp_avg: has shape [5]"),
    "a NaN moment": (("resume", "optimizer", "state", 0, "exp_avg_sq"),
                     lambda p: p["resume"]["optimizer"]["state"][0]["exp_avg_sq"] * float("nan"),
                     "resume.optimizer.state[0].exp_avg_sq: holds values that are not finite"),
    "a step of many numbers": (("resume", "optimizer", "state", 0, "step"), lambda p: p["resume"]["optimizer"][
        "state"][0]["exp_avg"].clone(), "resume.optimizer.state[0].step: must be one number"),
    "sampler text": (("resume", "sampler"), "x", "resume.sampler: must be a map"),
    "sampler order past the split": (("resume", "sampler", "streams", 0, "order"), lambda p: p["resume"]["sampler"][
        "streams"][0]["order"] + 10**6, "the saved sampler's order is not a shuffle of this split's"),
    "sampler position past its order": (("resume", "sampler", "streams", 0, "cursor"), 10**9,
                                        "the saved sampler's position 1000000000"),
    "sampler turn past its classes": (("resume", "sampler", "turn"), 7, "the saved sampler's turn 7"),
    "random state text": (("resume", "rng", "torch"), "x", "resume.rng.torch"),
    "numpy position past its state": (("resume", "rng", "numpy", "pos"), 10**6,
                                      "resume.rng.numpy.pos: must be a whole number from 0 to 624"),
    "numpy state of three words": (("resume", "rng", "numpy", "keys"), lambda p: p["resume"]["rng"]["numpy"][
        "keys"][:3], "resume.rng.numpy.keys: must be 624 whole numbers"),
    "best score NaN": (("resume", "best", "score"), float("nan"),
                       "resume.best.score: must be a number or nothing, got nan"),
    "best epoch after the last": (("resume", "best", "epoch"), 99, "resume.best.epoch: must be an epoch from 1 to 2"),
    "since-best text": (("resume", "since-best"), "x", "resume.since-best"),
    "metrics record text": (("resume", "record"), "x", "resume.record: must be epoch 2's metrics"),
    "metrics record of another epoch": (("resume", "record", "epoch"), 7, "resume.record: must be epoch 2's metrics"),
    "schedule state text": (("resume", "schedule"), "x", "resume.schedule: must be a map or nothing"),
    "config text": (("config",), "x", "config: must be a map"),
    "dataset text": (("dataset",), "x", "dataset: must be a map"),
    "a NaN weight": (("tensors",), lambda p: {k: v * float("nan") for k, v in p["tensors"].items()},
                     "holds values that are not finite"),
    "a weight that is text": (("tensors",), lambda p: {**p["tensors"], next(iter(p["tensors"])): "w"},
                              "tensors: must be a map of weight names to tensors"),
}


@pytest.mark.parametrize("name", RESUME_CASES)
def test_a_tampered_resume_state_is_one_line_and_changes_nothing(name, cli, run):
    """A last.nnrun with a fresh, valid checksum (anyone can write one) but a resume state that
    does not fit: refused in one line naming the field, before the run folder is touched."""
    path, value, phrase = RESUME_CASES[name]
    payload = read_checkpoint(run / "last.nnrun")
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is DEL:
        del node[path[-1]]
    else:
        node[path[-1]] = value(payload) if callable(value) else value
    write_checkpoint(run / "last.nnrun", payload)
    before = snapshot(run)
    result = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert result.code == 2 and "Traceback" not in result.output, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run / "last.nnrun") in lines[0] and phrase in lines[0], result.stderr
    assert snapshot(run) == before


def test_a_second_writer_is_refused_and_a_released_lock_does_not_block(cli, run):
    before = snapshot(run)
    holder = RunLock.take(run)  # another process training it (flock: per open file, even in one process)
    try:
        refused = cli("train", "--resume", run, "--set", "train.epoch-count=3")
    finally:
        holder.release()
    assert refused.code == 2 and refused.stderr.count("\n") == 1, refused
    assert str(run) in refused.stderr and f"pid {os.getpid()}" in refused.stderr
    assert snapshot(run) == before
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == [1, 2, 3]


@pytest.fixture(scope="module")
def trained_further(tmp_path_factory, trained):
    """The run of `trained` after 2 more epochs: where its trainer had got to, in the races below."""
    import shutil

    from conftest import run_cli
    folder = tmp_path_factory.mktemp("further") / "run"
    shutil.copytree(trained, folder)
    assert run_cli("train", "--resume", folder, "--set", "train.epoch-count=4", "-q").code == 0
    return folder


def test_a_resume_never_works_from_what_it_read_before_holding_the_lock(cli, run, trained_further, monkeypatch):
    """Seen under load: `nnrun train --resume RUN` read last.nnrun while another process trained
    RUN; that trainer went on, was stopped and released the lock; the resume then took the lock
    and cut metrics.jsonl back to the epoch it had read. Made deterministic: the test holds the
    lock as the trainer, and at the moment the resume reads last.nnrun the trainer goes on two
    epochs and stops. The resume must have been refused before reading, leaving the trainer's run."""
    import shutil

    import nnrun.train.loop as loop
    before = snapshot(run)
    trainer = RunLock.take(run)
    read = loop.load_resume_payload

    def read_while_the_trainer_goes_on(path):
        payload = read(path)
        if trainer._fd is not None:  # the trainer's epochs 3 and 4, then its stop
            for name in ("last.nnrun", "best.nnrun", "metrics.jsonl", "status.json", "run.json", "train.log"):
                shutil.copyfile(trained_further / name, run / name)
            trainer.release()
        return payload
    monkeypatch.setattr(loop, "load_resume_payload", read_while_the_trainer_goes_on)
    try:
        resume = cli("train", "--resume", run, "--set", "train.epoch-count=6", "-q")
    finally:
        trainer.release()
    # (it read nothing: had it read last.nnrun, the trainer's epochs 3 and 4 would be in the folder)
    assert resume.code == 2 and f"pid {os.getpid()}" in resume.stderr, resume
    assert snapshot(run) == before
    assert epochs(run) == list(range(1, read_checkpoint(run / "last.nnrun")["epoch"] + 1))


def test_a_resume_reads_the_checkpoint_and_the_config_holding_the_lock(cli, run, monkeypatch):
    """Every read of the run a resume makes (last.nnrun, config.yaml) happens while it holds the
    run's lock: another process's RunLock.take fails at each of those moments."""
    import nnrun.config.spec as spec_module
    import nnrun.train.loop as loop
    from nnrun.errors import UserError

    held = []

    def lock_held():
        try:
            RunLock.take(run).release()
        except UserError:
            return True
        return False

    def checking(read):
        def reading(path, *args, **kwargs):
            if run in Path(path).parents:
                held.append((Path(path).name, lock_held()))
            return read(path, *args, **kwargs)
        return reading
    monkeypatch.setattr(loop, "load_resume_payload", checking(loop.load_resume_payload))
    monkeypatch.setattr(spec_module, "load_spec", checking(spec_module.load_spec))
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    assert held == [("last.nnrun", True), ("config.yaml", True)]
    assert epochs(run) == [1, 2, 3]


def test_a_parallel_resume_whose_ranks_read_different_configs_is_refused(run):
    """The other ranks of a job read config.yaml before rank 0 holds the lock: a config another
    resume rewrote in between (another epoch count) would have the ranks train different runs."""
    from nnrun.config.spec import load_spec
    from nnrun.errors import UserError
    from nnrun.train.start import _same_config_everywhere, config_digest

    class Ranks:  # rank 0 is this process; rank 1 read `theirs`
        def __init__(self, theirs):
            self.theirs = theirs

        def gather(self, digest):
            return [digest, config_digest(self.theirs)]

    spec = load_spec(run / "config.yaml")
    _same_config_everywhere(spec, run, Ranks(load_spec(run / "config.yaml")))
    with pytest.raises(UserError, match="rank 1 read another config.yaml than rank 0"):
        _same_config_everywhere(spec, run, Ranks(load_spec(run / "config.yaml", ["train.epoch-count=9"])))


def test_a_live_trainer_holds_the_lock_and_a_killed_one_does_not(cli, tmp_path, table):
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=None, epoch_size=400,
                          batch_size=40)
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--run-dir", str(run), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_first_epoch(process, run)
        refused = cli("train", "--resume", run)
        assert refused.code == 2 and f"pid {process.pid}" in refused.stderr, refused
    finally:
        process.kill()
        process.wait()
    assert (run / ".lock").exists()  # the killed holder's, held by nobody
    epoch = read_checkpoint(run / "last.nnrun")["epoch"]
    resumed = cli("train", "--resume", run, "--set", f"train.epoch-count={epoch + 1}", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == list(range(1, epoch + 2))
    assert not (run / ".lock").exists()  # a run that ends removes its lock


def test_metrics_agree_with_last_nnrun_after_a_kill(cli, run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    # killed after last.nnrun (epoch 2) was renamed and before its line was appended, with the
    # temporaries of writes killed half-way lying about
    (run / "metrics.jsonl").write_text(lines[0] + "\n")
    (run / "tensorboard").mkdir()
    # (and the second names a resume killed before its first checkpoint kept its files under)
    for name in (".last.nnrun.0123456789ab.tmp", ".best.nnrun.ba9876543210.tmp", "metrics.jsonl.tmp",
                 "status.json.tmp", "predictions/last.npz.tmp", ".last.nnrun.0123456789ab.partial",
                 "predictions/.last.npz.0123456789ab.partial", "first-layer/.epoch-0003.npy.0123456789ab.partial",
                 ".config.yaml.undo-0123456789ab.partial",
                 "tensorboard/.events.out.tfevents.1.x.undo-0123456789ab.partial"):
        (run / name).write_bytes(b"half")
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    after = (run / "metrics.jsonl").read_text().splitlines()
    assert epochs(run) == [1, 2, 3] and after[1] == lines[1]  # the lost line, as it was written
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".partial"))]


def test_lines_past_the_checkpoint_and_a_torn_line_are_dropped(cli, run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    # killed during epoch 3's append (a torn line), after a line of an epoch last.nnrun lacks
    extra = json.dumps({**json.loads(lines[1]), "epoch": 3})
    (run / "metrics.jsonl").write_text("\n".join(lines + [extra, extra[:20]]) + "\n")
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == [1, 2, 3]
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[2]) != json.loads(extra)


def test_the_first_checkpoint_write_failing_leaves_no_folder(cli, tmp_path, table, monkeypatch):
    """A full disk at the first checkpoint: one line naming the file, no run folder left."""
    import errno

    import nnrun.atomic as atomic
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=2, epoch_size=400, batch_size=40)

    beside = atomic._beside

    def full(folder, name, create):  # no room for a checkpoint's temporary file
        if name.endswith(".nnrun"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return beside(folder, name, create)
    monkeypatch.setattr(atomic, "_beside", full)
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 2 and "Traceback" not in result.output, result
    line = result.stderr.strip().splitlines()[-1]
    assert "best.nnrun" in line and "No space left on device" in line
    assert not (tmp_path / "run").exists()



@pytest.mark.parametrize("links", ["hard links", "a file system without them"])
def test_a_resume_that_fails_at_its_first_checkpoint_changes_nothing(links, cli, run, monkeypatch):
    """A disk that fills up under a resume: config.yaml, run.json, status.json, layer.json, the
    log, best.nnrun (epoch 3 a new best) and TensorBoard's new folder had been written when
    last.nnrun failed. The one line names last.nnrun, and the folder holds what it held before,
    byte for byte; once there is room the resume goes on."""
    import errno

    import nnrun.atomic as atomic
    beside, written = atomic._beside, []
    if links != "hard links":  # (FAT, some network file systems): the files are kept in memory
        def no_link(source, target):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))
        monkeypatch.setattr(os, "link", no_link)

    def full_at_last(folder, name, create):  # no room for last.nnrun's temporary file
        if name == "last.nnrun":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(name)
        return beside(folder, name, create)
    payload = read_checkpoint(run / "last.nnrun")
    payload["resume"]["best"].update(score=None, epoch=None)  # epoch 3 a new best: best.nnrun replaced
    write_checkpoint(run / "last.nnrun", payload)
    monkeypatch.setattr(atomic, "_beside", full_at_last)
    before = snapshot(run)
    result = cli("train", "--resume", run, "--set", "train.epoch-count=3", "--tensorboard", "-q")
    assert result.code == 2 and "Traceback" not in result.output, result
    assert result.stderr.count("\n") == 1 and f"cannot write {run / 'last.nnrun'}" in result.stderr
    assert {"config.yaml", "run.json", "status.json", "layer.json", "best.nnrun"} <= set(written)
    assert snapshot(run) == before  # no undo copy, temporary or TensorBoard file left either
    assert not (run / "tensorboard").exists() and not (run / ".lock").exists()
    monkeypatch.undo()
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == [1, 2, 3] and len(json.loads((run / "run.json").read_text())["resumed"]) == 1


def test_a_resume_that_is_stopped_before_its_first_checkpoint_keeps_its_record(cli, run, monkeypatch):
    """Ctrl-C during the resumed epoch is no failure: status.json says stopped, run.json keeps the
    resume's entry, and the kept copies of the files it replaced are gone."""
    from train_fixtures import interrupt_at_step
    interrupt_at_step(monkeypatch, 2)
    result = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert result.code == 130, result
    assert json.loads((run / "status.json").read_text())["state"] == "stopped"
    assert len(json.loads((run / "run.json").read_text())["resumed"]) == 1
    assert epochs(run) == [1, 2] and not [p for p in run.rglob("*") if p.name.endswith(".partial")]


def test_stopped_runs_exit_130_for_sigint_and_sigterm_alike(tmp_path, table):
    """A signal during the imports and the data loading (before the loop's handler) or during an
    epoch: exit 130, the one line, and no folder when no epoch finished. The delays count from
    the moment nnrun catches the signal: before it, the interpreter is still starting (documented
    as the system's default, 143), however long a busy machine makes that."""
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=None, epoch_size=400,
                          batch_size=40)
    for sig, delay in ((signal.SIGTERM, 0.0), (signal.SIGINT, 0.3), (signal.SIGTERM, 1.0), (signal.SIGTERM, None)):
        run = tmp_path / f"run-{sig.name}-{delay}"
        process = subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--run-dir", str(run), "-q"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if delay is None:
            wait_for_first_epoch(process, run)
        else:
            wait_for_handler(process, signal.SIGTERM)
            time.sleep(delay)
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130 and "Traceback" not in err, (sig, delay, err)
        assert f"stopped ({sig.name})" in err
        assert run.exists() == (delay is None)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 64 KiB (root only: mount), grown by calling the returned function."""
    import shutil
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a small file system needs root (mount -t tmpfs)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")

    def grow(size):
        subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)
    yield disk, grow
    subprocess.run(["umount", str(disk)])


def test_a_full_disk_names_the_file_and_a_resume_after_it_is_consistent(cli, tmp_path, table, small_disk):
    disk, grow = small_disk
    grow("160k")  # room for the first epoch's files (last.nnrun is ~34 KB) and not for many more
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=None, epoch_size=200,
                          batch_size=40)
    run = disk / "run"
    full = cli("train", config, "--run-dir", run, "-q")
    assert full.code == 2 and "Traceback" not in full.output, full
    assert full.stderr.count("\n") == 1 and "No space left on device" in full.stderr
    assert re.search(f"cannot write (checkpoint )?{re.escape(str(run))}/[^ ]+: No space", full.stderr)  # the file
    assert (run / "last.nnrun").exists()
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    epoch = read_checkpoint(run / "last.nnrun")["epoch"]
    read_checkpoint(run / "best.nnrun")
    still_full = cli("train", "--resume", run, "-q")  # a resume on the same full disk
    assert still_full.code == 2 and still_full.stderr.count("\n") == 1, still_full
    assert "No space left on device" in still_full.stderr and "Traceback" not in still_full.output
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    epoch = read_checkpoint(run / "last.nnrun")["epoch"]  # (it may have got an epoch further)
    assert epochs(run) in (list(range(1, epoch + 1)), list(range(1, epoch)))
    grow("16m")
    resumed = cli("train", "--resume", run, "--set", f"train.epoch-count={epoch + 1}", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == list(range(1, epoch + 2))


def test_a_resume_on_a_real_full_disk_changes_nothing(cli, tmp_path, table, small_disk):
    """As reported: 30 KiB free, and the resume rewrote config.yaml, run.json, status.json and
    first-layer/layer.json before a checkpoint (last.nnrun is ~34 KB) failed. It puts them back."""
    disk, grow = small_disk
    grow("16m")
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, table, epoch_count=2, epoch_size=200, batch_size=40)
    run = disk / "run"
    assert cli("train", config, "--run-dir", run, "-q").code == 0
    room = os.statvfs(disk)
    (disk / "filler").write_bytes(b"x" * (room.f_bavail * room.f_frsize - 30 * 1024))
    before = snapshot(run)
    full = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert full.code == 2 and full.stderr.count("\n") == 1 and "Traceback" not in full.output, full
    assert re.search(f"cannot write (checkpoint )?{re.escape(str(run))}/[^ ]+: No space", full.stderr)
    assert snapshot(run) == before
    (disk / "filler").unlink()
    resumed = cli("train", "--resume", run, "--set", "train.epoch-count=3", "-q")
    assert resumed.code == 0, resumed
    assert epochs(run) == [1, 2, 3]


def test_a_disk_too_small_for_the_first_checkpoint_leaves_no_folder(cli, tmp_path, table, small_disk):
    disk, _ = small_disk
    config = write_config(tmp_path / "c.yaml", IMAGE_LIKE_WIDE, table, epoch_count=2, epoch_size=200, batch_size=40)
    result = cli("train", config, "--run-dir", disk / "run", "-q")
    assert result.code == 2 and "No space left on device" in result.stderr and "Traceback" not in result.output
    assert re.search(f"cannot write (checkpoint )?{re.escape(str(disk / 'run'))}/[^ ]+: No space", result.stderr)
    assert not (disk / "run").exists()


# a network whose checkpoint (~200 KB of weights) cannot fit in 64 KiB
IMAGE_LIKE_WIDE = [{"input": {"width": 6, "id": "data"}}, {"linear->relu": 8000}, {"linear": 2},
                   {"softmax": {"id": "label"}}]


def test_a_report_never_replaces_the_runs_files(cli, run):
    before = snapshot(run)
    result = cli("report", run, "-o", run / "last.nnrun")
    assert result.code == 2 and result.stderr.count("\n") == 1, result
    assert "last.nnrun: is the input" in result.stderr
    assert snapshot(run) == before


@pytest.mark.parametrize("what", ["picture", "page"])
def test_a_full_disk_under_a_report_names_the_file_and_leaves_no_temporary(what, cli, run, tmp_path, monkeypatch):
    """ENOSPC injected into the writes (a real full disk: test_a_full_disk_names_the_file...)."""
    import errno
    import pathlib

    method = {"picture": "write_bytes", "page": "write_text"}[what]
    original = getattr(pathlib.Path, method)

    def full(self, *args, **kwargs):
        if self.name.endswith((".png", ".html.tmp")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, method, full)
    before = snapshot(run)
    result = cli("report", run, "-o", tmp_path / "r.html")
    assert result.code == 2 and "Traceback" not in result.output, result
    line = result.stderr.strip()
    named = f"{run}/report/" if what == "picture" else str(tmp_path / "r.html")
    assert "\n" not in line and f"cannot write {named}" in line and "No space left on device" in line, line
    assert snapshot(run) == before and not (tmp_path / "r.html").exists()
    assert not [p for p in [*run.iterdir(), *tmp_path.iterdir()] if p.name.startswith(".")]


@pytest.mark.parametrize("damage, phrase", [
    (lambda d: {"a": d["labels"]}, "predictions/best.npz: epoch: is missing"),
    (lambda d: {**d, "labels": d["labels"][:3]}, "labels: must be 300 whole numbers"),
    (lambda d: {**d, "predicted": d["predicted"] + 5}, "predicted: holds 6, out of range"),
    (lambda d: {**d, "probabilities": d["probabilities"][:, 0]}, "probabilities: must be numbers [examples, classes]"),
])
def test_damaged_predictions_are_one_line_for_report(damage, phrase, cli, run, tmp_path):
    """RUN/predictions/best.npz as edited by hand: the report (and the live page, through the
    same reader) refuses it naming the array, instead of indexing with its numbers."""
    import numpy as np

    with np.load(run / "predictions" / "best.npz") as data:
        arrays = {key: data[key] for key in data.files}
    np.savez(run / "predictions" / "best.npz", **damage(arrays))
    result = cli("report", run, "-o", tmp_path / "r.html")
    assert result.code == 2 and result.stderr.count("\n") == 1 and phrase in result.stderr, result
    assert not (tmp_path / "r.html").exists()
