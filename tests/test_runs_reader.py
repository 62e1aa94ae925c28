"""nnrun.runs: reading run folders (metrics, status, run facts) without training anything."""
import json
import subprocess
import sys

import pytest

from nnrun.errors import UserError
from nnrun.runs import find_runs, read_metrics, read_run, status_of


def fake_run(folder, epochs=3, status=None, damaged=False):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"started": "2026-01-02T03:04:05Z", "seed": 1}))
    (folder / "config.yaml").write_text("name: fake\ntrain:\n  epoch-count: 5\n  metric: {name: f-beta}\n")
    lines = [json.dumps({"epoch": e, "f-beta": 0.5 + e / 10, "best": e == 2, "train-loss": 1 / e})
             for e in range(1, epochs + 1)]
    if damaged:
        lines.insert(1, '{"epoch": 9, "f-beta": 0.')
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if status is not None:
        (folder / "status.json").write_text(json.dumps(status))
    return folder


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_reads_metrics_and_skips_a_damaged_line(tmp_path):
    run = fake_run(tmp_path / "r", damaged=True)
    records, warnings = read_metrics(run)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert len(warnings) == 1 and "metrics.jsonl:2" in warnings[0]
    summary = read_run(run)
    assert summary.best["epoch"] == 2 and summary.epochs == 3 and summary.metric == "f-beta"
    assert summary.info["seed"] == 1 and summary.config["name"] == "fake"
    assert summary.status["epoch-count"] == 5 and summary.test is None


def test_a_running_run_whose_process_is_gone_is_stopped(tmp_path):
    run = fake_run(tmp_path / "r", status={"state": "running", "pid": dead_pid(), "epoch": 3})
    assert status_of(run)["state"] == "stopped"
    alive = fake_run(tmp_path / "s", status={"state": "running", "pid": __import__("os").getpid(), "epoch": 3})
    assert status_of(alive)["state"] == "running"


def test_status_of_an_old_run_comes_from_its_log(tmp_path):
    run = fake_run(tmp_path / "r")
    (run / "train.log").write_text("12:00:00 best: epoch 2 (f-beta 0.7) in x/best.nnrun\n")
    assert status_of(run)["state"] == "finished"
    (run / "train.log").write_text("12:00:00 stopped (SIGINT) during epoch 4; ...\n")
    assert status_of(run)["state"] == "stopped"


def test_find_runs_and_bad_folders(tmp_path):
    fake_run(tmp_path / "runs" / "a" / "1")
    fake_run(tmp_path / "runs" / "b")
    (tmp_path / "runs" / "empty").mkdir()
    assert [p.relative_to(tmp_path / "runs").as_posix() for p in find_runs(tmp_path / "runs")] == ["a/1", "b"]
    with pytest.raises(UserError, match="not a run folder"):
        read_run(tmp_path / "runs" / "empty")
    with pytest.raises(UserError, match="no such folder"):
        find_runs(tmp_path / "nope")


def test_the_default_folder_missing_says_where_runs_go(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"^runs: no such folder \(nnrun train writes runs under runs/"):
        find_runs("runs")
