"""Interrupting `nnrun prepare images` for real (Ctrl-C, kill -9) half-way through decoding.

Whatever the moment, OUT must never look complete; the next run of the same command finishes
the job, reusing the images already decoded.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli, shared_path
from nnrun.data.dataset import open_dataset
from nnrun.errors import UserError


def processes_mentioning(text):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def start_and_interrupt(src, out, how):
    command = [sys.executable, "-m", "nnrun", "prepare", "images", str(src), str(out), "--size", "52", "--jobs", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    cache = out.with_name(out.name + ".partial") / "cache"
    deadline = time.monotonic() + 60
    while len(list(cache.glob("*.json"))) < 2:
        assert process.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # the terminal sends it to the whole process group
    else:
        os.kill(process.pid, signal.SIGKILL)  # the main process only: its workers must notice
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for left-over workers in /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_an_interrupted_run_is_never_taken_for_complete_and_a_rerun_finishes_it(tmp_path, how):
    src = shared_path("dogs-vs-cats", "train")
    out = tmp_path / "cd"
    code, stderr = start_and_interrupt(src, out, how)
    if how == "ctrl-c":
        assert code == 130 and "aborted" in stderr and "Traceback" not in stderr, stderr
    else:
        assert code == -signal.SIGKILL

    assert not out.exists()
    with pytest.raises(UserError, match="cd.partial is an unfinished `nnrun prepare`"):
        open_dataset(out)
    partial = out.with_name("cd.partial")
    assert not list(partial.rglob("dataset.json"))
    assert list((partial / "cache").glob("chunk-*.json"))  # the resumable part

    deadline = time.monotonic() + 5
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(out)) == [], "worker processes outlived the interrupted run"

    rerun = run_cli("prepare", "images", src, out, "--size", "52", "--jobs", "2")
    assert rerun.code == 0, rerun
    assert "resuming:" in rerun.output
    data = open_dataset(out)
    assert data.count("train") == 1600 and data.count("test") == 400
    assert not partial.exists()
