"""`nnrun sweep` end to end on `nnrun prepare demo fraud` data with tiny epochs: trials as run
folders, the study, best.yaml, failed and pruned trials, two jobs, Ctrl-C / SIGKILL and --resume."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_cli

CONFIG = """\
network:
  - input: {{width: 29, id: data}}
  - linear->relu: 20
  - dropout: 0.9
  - linear->relu: 10
  - linear: 2
  - softmax: {{id: label}}
data: {data}
train:
  optimizer: {{type: adam, learning-rate: 0.0003}}
  batch-size: 100
  epoch-size: {epoch_size}
  epoch-count: 2
  sampling: shuffle
  metric: {{name: f-beta, beta: 1, positive: "1"}}
  threshold: calibrated
sweep:
{sweep}"""

SEARCH = """\
  trials: {trials}
  pruner: none
  parameters:
    train.optimizer.learning-rate: {{log-uniform: [1.0e-4, 1.0e-2]}}
    train.batch-size: {{choice: [64, 128]}}
    network.2.dropout: {{uniform: [0.5, 1.0]}}
"""


@pytest.fixture(scope="module")
def fraud(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "fraud"
    assert run_cli("prepare", "demo", "fraud", folder).code == 0
    return folder


def write_config(path, data, sweep=None, trials=6, epoch_size=2000):
    path.write_text(CONFIG.format(data=data, epoch_size=epoch_size, sweep=sweep or SEARCH.format(trials=trials)))
    return path


def load(folder):
    import optuna

    info = json.loads((folder / "sweep.json").read_text())
    return optuna.load_study(study_name=info["study"], storage=info["storage"] or f"sqlite:///{folder / 'study.db'}")


def states(study):
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def best_of(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["best"]][-1]


def test_six_trials_best_first_and_best_yaml_retrains(cli, fraud, tmp_path):
    config = write_config(tmp_path / "fraud.yaml", fraud)
    sweep = tmp_path / "sweep"
    result = cli("sweep", config, "--sweep-dir", sweep)
    assert result.code == 0, result
    trials = sorted(p.name for p in sweep.glob("trial-*"))
    assert trials == [f"trial-{n:04d}" for n in range(6)]
    study = load(sweep)
    assert states(study) == ["COMPLETE"] * 6 and (sweep / "study.db").is_file()
    for trial in study.trials:  # each trial's value is its run's best epoch, and its config holds its values
        run = sweep / f"trial-{trial.number:04d}"
        assert best_of(run)["f-beta"] == trial.value
        assert json.loads((run / "trial.json").read_text())["trial"] == trial.number
        assert f"batch-size: {trial.params['train.batch-size']}" in (run / "config.yaml").read_text()
        # what the run records as its command goes on with the sweep, as with --jobs J
        assert json.loads((run / "run.json").read_text())["command"] == f"nnrun sweep --resume {sweep}"
    best = max(study.trials, key=lambda t: t.value)
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("trial  state"))
    assert lines[header + 1].split()[:3] == [f"{best.number:04d}", "complete", f"{best.value:.4f}"]
    assert f"best checkpoint: {sweep / f'trial-{best.number:04d}' / 'best.nnrun'}" in result.stdout
    again = tmp_path / "again"
    retrain = cli("train", sweep / "best.yaml", "--run-dir", again, "--quiet")
    assert retrain.code == 0, retrain
    assert best_of(again)["f-beta"] == best.value
    listed = cli("runs", sweep, "--format", "csv").stdout.splitlines()
    assert listed[1].startswith(f"trial-{best.number:04d},") and len(listed) == 7  # best first
    rows = list(csv.DictReader(listed))  # with the values each trial was given
    assert float(rows[0]["train.optimizer.learning-rate"]) == best.params["train.optimizer.learning-rate"]
    assert int(rows[0]["train.batch-size"]) == best.params["train.batch-size"]
    assert float(rows[0]["network.2.dropout"]) == best.params["network.2.dropout"]
    table = cli("runs", sweep).stdout.splitlines()
    assert table[0].split()[-3:] == ["train.optimizer.learning-rate", "train.batch-size", "network.2.dropout"]
    assert table[-2] == (f"best trial: trial-{best.number:04d} (f-beta {best.value:.6g}); checkpoint: "
                         f"{sweep / f'trial-{best.number:04d}' / 'best.nnrun'}")
    assert table[-1] == f"best config: {sweep / 'best.yaml'}"
    # killed after its last trial, before its summary: the listing says how to finish, and a
    # resume with three jobs starts one, which finds nothing to run and writes best.yaml
    written = (sweep / "best.yaml").read_text()
    (sweep / "best.yaml").unlink()
    assert cli("runs", sweep).stdout.splitlines()[-1].startswith(f"no best.yaml: the sweep stopped before its summary; "
                                                                 f"nnrun sweep --resume {sweep} writes it")
    resumed = cli("sweep", "--resume", sweep, "--jobs", "3")
    assert resumed.code == 0, resumed
    assert " none pruner, 1 job; 6 done or running" in resumed.stdout.splitlines()[0]
    assert (sweep / "best.yaml").read_text() == written and len(load(sweep).trials) == 6


def test_invalid_sampled_config_fails_with_its_reason_and_the_grid_goes_on(cli, fraud, tmp_path):
    section = """\
  sampler: grid
  parameters:
    train.optimizer.type: {choice: [adam, sgd]}
    train.optimizer.beta1: {choice: [0.9]}
"""
    config = write_config(tmp_path / "g.yaml", fraud, section)
    result = cli("sweep", config, "--sweep-dir", tmp_path / "s", "--trials", "5")
    assert result.code == 0, result
    assert "sweep g: 2 trials" in result.stdout  # a grid of two points: no more trials than that
    study = load(tmp_path / "s")
    by_type = {t.params["train.optimizer.type"]: t for t in study.trials}
    assert by_type["adam"].state.name == "COMPLETE" and by_type["sgd"].state.name == "FAIL"
    reason = by_type["sgd"].user_attrs["reason"]
    assert reason.endswith("train.optimizer.beta1: not an option of sgd (its options: learning-rate, momentum, "
                           "nesterov, weight-decay)") and reason in result.stdout
    assert reason.startswith(f"g.yaml trial {by_type['sgd'].number}: ")
    assert not (tmp_path / "s" / f"trial-{by_type['sgd'].number:04d}").exists()


def test_storage_mistakes_leave_nothing(cli, fraud, tmp_path):
    config = write_config(tmp_path / "t.yaml", fraud, trials=1)
    bad = cli("sweep", config, "--sweep-dir", tmp_path / "a", "--storage", "nosuch://x")
    assert bad.code == 2 and "--storage nosuch://x: cannot open the study there" in bad.stderr
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    assert cli("sweep", config, "--sweep-dir", tmp_path / "b", "--storage", shared, "--study", "s").code == 0
    other = cli("sweep", config, "--sweep-dir", tmp_path / "c", "--storage", shared, "--study", "s",
                "--set", "sweep.metric=loss")
    assert other.code == 2 and "study 's' at " in other.stderr and "is maximized, but this sweep would minimize loss" \
        in other.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    # a second sweep folder on the study, with its trials all run: its best is in the first folder
    joined = cli("sweep", config, "--sweep-dir", tmp_path / "d", "--storage", shared, "--study", "s")
    assert joined.code == 0 and "1 done or running" in joined.stdout, joined
    assert f"best checkpoint: {tmp_path / 'b' / 'trial-0000' / 'best.nnrun'}" in joined.stdout
    assert f"Its checkpoint: {tmp_path / 'b' / 'trial-0000' / 'best.nnrun'}" in (tmp_path / "d" / "best.yaml").read_text()


def test_non_finite_loss_prunes(cli, fraud, tmp_path):
    section = """\
  trials: 1
  parameters:
    train.optimizer.learning-rate: {choice: [1.0e+30]}
"""
    config = write_config(tmp_path / "n.yaml", fraud, section)
    result = cli("sweep", config, "--sweep-dir", tmp_path / "s", "--set", "train.optimizer.type=sgd")
    assert result.code == 0, result
    (trial,) = load(tmp_path / "s").trials
    assert trial.state.name == "PRUNED" and "the loss is nan" in trial.user_attrs["reason"]
    assert "no trial completed: no best.yaml" in result.stdout
    moved = (tmp_path / "s").rename(tmp_path / "copy")  # its study.db lost: a one-line error, no empty study made
    (moved / "study.db").rename(tmp_path / "study.db")
    lost = cli("sweep", "--resume", moved)
    assert lost.code == 2 and f"{moved}: study.db is missing" in lost.stderr and not (moved / "study.db").exists()
    (tmp_path / "study.db").rename(moved / "study.db")
    moved.rename(tmp_path / "s")
    info = json.loads((tmp_path / "s" / "sweep.json").read_text())  # the dataset has gone since
    info["config"]["data"] = str(tmp_path / "gone")
    (tmp_path / "s" / "sweep.json").write_text(json.dumps(info))
    again = cli("sweep", "--resume", tmp_path / "s", "--trials", "2")
    assert again.code == 2 and f"{tmp_path / 'gone'}" in again.stderr and len(load(tmp_path / "s").trials) == 1


def test_the_median_pruner_stops_poor_trials_on_their_epoch_metrics(cli, fraud, tmp_path):
    section = """\
  sampler: grid
  pruner: {type: median, startup-trials: 1}
  parameters:
    train.optimizer.learning-rate: {choice: [1.0e-2, 1.0e-7, 3.0e-3, 1.0e-6]}
"""
    config = write_config(tmp_path / "p.yaml", fraud, section, epoch_size=2000)
    result = cli("sweep", config, "--sweep-dir", tmp_path / "s", "--set", "train.epoch-count=3")
    assert result.code == 0, result
    study = load(tmp_path / "s")
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert pruned and len(pruned) + states(study).count("COMPLETE") == 4
    for trial in pruned:
        epoch = max(trial.intermediate_values)
        assert trial.user_attrs["reason"] == f"pruned after epoch {epoch}" and epoch < 3
        earlier = [t.intermediate_values[epoch] for t in study.trials
                   if t.state.name == "COMPLETE" and t.number < trial.number]
        assert trial.intermediate_values[epoch] < sorted(earlier)[len(earlier) // 2]  # below their median
        run = tmp_path / "s" / f"trial-{trial.number:04d}"
        assert json.loads((run / "status.json").read_text())["state"] == "stopped"
        assert len((run / "metrics.jsonl").read_text().splitlines()) == epoch


def test_a_trial_failing_on_its_dataset_names_the_trial(cli, fraud, tmp_path):
    """An input width is a fine value on its own; the trial that gives it finds it does not fit
    the dataset, and says which trial of which config."""
    section = """\
  sampler: grid
  parameters:
    network.0.input.width: {choice: [29, 30]}
"""
    config = write_config(tmp_path / "w.yaml", fraud, section)
    result = cli("sweep", config, "--sweep-dir", tmp_path / "s")
    assert result.code == 0, result
    (failed,) = [t for t in load(tmp_path / "s").trials if t.state.name == "FAIL"]
    assert failed.user_attrs["reason"].startswith(f"w.yaml trial {failed.number}: network[0] (input")
    assert "takes 30 values" in failed.user_attrs["reason"]


def test_dataset_choices_are_kept_as_absolute_paths(fraud, tmp_path, monkeypatch):
    """A swept dataset path means the same folder when the sweep is resumed from elsewhere."""
    from nnrun.sweep.setup import new_sweep_info

    link = tmp_path / "also-fraud"
    link.symlink_to(fraud)
    monkeypatch.chdir(tmp_path)
    section = "  parameters:\n    data.path: {choice: [also-fraud, %s]}\n" % fraud
    info = new_sweep_info(write_config(tmp_path / "d.yaml", "also-fraud", section), [])
    assert info["config"]["data"] == str(fraud)
    assert info["config"]["sweep"]["parameters"]["data.path"] == {"choice": [str(link), str(fraud)]}


def test_the_pruner_stops_a_trial_as_ctrl_c_would():
    from types import SimpleNamespace

    from nnrun.sweep.trial import TrialObserver

    class Trial:
        reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return len(self.reported) == 2

    stopping = []
    observer = TrialObserver(Trial(), "f-beta", lambda: bool(stopping))
    trainer = SimpleNamespace(stop=SimpleNamespace(requested=None))
    observer.started(trainer)
    observer.epoch_finished(trainer, {"epoch": 1, "f-beta": 0.5}, None)
    observer.epoch_finished(trainer, {"epoch": 2, "f-beta": float("nan")}, None)  # not reported
    assert trainer.stop.requested is None
    observer.epoch_finished(trainer, {"epoch": 3, "f-beta": 0.25}, None)
    assert trainer.stop.requested == "pruned" and observer.pruned_at == 3
    assert Trial.reported == [(1, 0.5), (3, 0.25)]
    stopping.append(True)
    late = SimpleNamespace(stop=SimpleNamespace(requested=None))
    observer.started(late)  # Ctrl-C while the session was being built: the trial stops at once
    assert late.stop.requested == "sweep stopping"


GRID = """\
  sampler: grid
  pruner: none
  parameters:
    train.optimizer.learning-rate: {choice: [1.0e-3, 3.0e-3]}
    train.batch-size: {choice: [64, 128]}
"""


def test_two_jobs_never_share_a_folder_and_keep_the_study_whole(cli, fraud, tmp_path):
    config = write_config(tmp_path / "j.yaml", fraud, GRID)
    sweep = tmp_path / "s"
    result = cli("sweep", config, "--sweep-dir", sweep, "--jobs", "2")
    assert result.code == 0, result
    study = load(sweep)
    assert states(study) == ["COMPLETE"] * 4
    points = {(t.params["train.optimizer.learning-rate"], t.params["train.batch-size"]) for t in study.trials}
    assert len(points) == 4  # both jobs walk one grid: each point once
    folders = sorted(sweep.glob("trial-*"))
    assert [f.name for f in folders] == [f"trial-{n:04d}" for n in range(4)]
    pids = set()
    for folder in folders:
        assert json.loads((folder / "trial.json").read_text())["trial"] == int(folder.name[-4:])
        pids.add(json.loads((folder / "status.json").read_text())["pid"])
    assert len(pids) == 2  # two processes trained
    with sqlite3.connect(sweep / "study.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _start(config, sweep, *more):
    return subprocess.Popen([sys.executable, "-m", "nnrun", "sweep", str(config), "--sweep-dir", str(sweep), *more],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_running_after_complete(sweep, process, limit=90):
    """Until one trial has completed and another has finished its first epoch (of six)."""
    deadline = time.time() + limit
    while time.time() < deadline:
        assert process.poll() is None, process.stdout.read()
        if (sweep / "study.db").is_file():
            try:
                with sqlite3.connect(sweep / "study.db", timeout=30) as db:
                    rows = db.execute("SELECT number, state FROM trials").fetchall()
            except sqlite3.OperationalError:  # Optuna is still making its tables
                rows = []
            done = [n for n, s in rows if s == "COMPLETE"]
            running = [n for n, s in rows if s == "RUNNING"]
            if done and running and (sweep / f"trial-{running[0]:04d}" / "metrics.jsonl").is_file():
                return running[0]
        time.sleep(0.2)
    raise AssertionError("the sweep never got to its second trial")


def _check_resumed(sweep, trials):
    """After --resume: every trial judged, the wanted number completed, each interrupted trial's
    values run again under a new number, one folder per trial number."""
    study = load(sweep)
    found = study.get_trials(deepcopy=False)
    assert "RUNNING" not in states(study) and "WAITING" not in states(study)
    numbers = [t.number for t in found]
    assert numbers == list(range(len(found)))
    complete = [t for t in found if t.state.name == "COMPLETE"]
    assert len(complete) == trials
    interrupted = [t for t in found if t.user_attrs.get("interrupted")]
    for stopped in interrupted:
        retry = [t for t in found if t.user_attrs.get("retry-of") == stopped.number]
        assert len(retry) == 1 and retry[0].params == stopped.params and retry[0].state.name == "COMPLETE"
    for trial in complete:
        status = json.loads((sweep / f"trial-{trial.number:04d}" / "status.json").read_text())
        assert status["state"] == "finished"
    assert {p.name for p in sweep.glob("trial-*")} <= {f"trial-{n:04d}" for n in numbers}
    return interrupted


def _stop_mid_trial(fraud, tmp_path, how, *more):
    """A 3-trial sweep in its own process, sent `how` while its second trial trains."""
    config = write_config(tmp_path / "i.yaml", fraud, trials=3, epoch_size=10000)
    sweep = tmp_path / "s"
    process = _start(config, sweep, "--set", "train.epoch-count=6", *more)
    running = _wait_for_running_after_complete(sweep, process)
    process.send_signal(how)
    output = process.communicate(timeout=60)[0]
    return sweep, running, process.returncode, output


def test_ctrl_c_stops_cleanly_and_resume_loses_nothing(fraud, tmp_path):
    sweep, running, code, output = _stop_mid_trial(fraud, tmp_path, signal.SIGINT)
    assert code == 130, output
    assert f"go on with nnrun sweep --resume {sweep}" in output
    study = load(sweep)
    stopped = {t.number: t for t in study.trials}[running]
    assert stopped.state.name == "FAIL" and stopped.user_attrs["interrupted"] == "stopped"
    assert "RUNNING" not in states(study) and states(study).count("WAITING") == 1
    status = json.loads((sweep / f"trial-{running:04d}" / "status.json").read_text())
    assert status["state"] == "stopped"  # the trial's run stopped as `nnrun train` stops
    result = run_cli("sweep", "--resume", sweep)
    assert result.code == 0, result
    assert [t.number for t in _check_resumed(sweep, 3)] == [running]


def test_sigkill_then_resume_loses_nothing(fraud, tmp_path):
    killed, running, code, output = _stop_mid_trial(fraud, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    sweep = killed.rename(tmp_path / "moved")  # the study moves with its folder
    assert "RUNNING" in states(load(sweep))  # what a kill leaves: the study still opens
    result = run_cli("sweep", "--resume", sweep)
    assert result.code == 0, result
    assert f"trials {running} were left running by a sweep that was killed" in result.stdout
    assert [t.number for t in _check_resumed(sweep, 3)] == [running]


def test_a_killed_job_leaves_its_trial_interrupted_and_queued(fraud, tmp_path):
    """The out-of-memory killer ends one job with SIGKILL: its trial does not stay marked running;
    the other job goes on, and the sweep says it is short and how to go on."""
    config = write_config(tmp_path / "k.yaml", fraud, trials=3, epoch_size=10000)
    sweep = tmp_path / "s"
    process = _start(config, sweep, "--set", "train.epoch-count=6", "--jobs", "2")
    running = _wait_for_running_after_complete(sweep, process)
    job = json.loads((sweep / f"trial-{running:04d}" / "status.json").read_text())["pid"]
    os.kill(job, signal.SIGKILL)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 1, output
    assert "was ended by SIGKILL" in output and f"trial {running}, left running: recorded as interrupted" in output
    assert f"error: the sweep is short of its trials: go on with nnrun sweep --resume {sweep}" in output
    study = load(sweep)
    killed = {t.number: t for t in study.trials}[running]
    assert killed.state.name == "FAIL" and killed.user_attrs["interrupted"] == "killed"
    assert "RUNNING" not in states(study) and states(study).count("WAITING") == 1


@pytest.mark.slow
def test_ctrl_c_with_two_jobs_stops_both_and_resume_loses_nothing(fraud, tmp_path):
    sweep, running, code, output = _stop_mid_trial(fraud, tmp_path, signal.SIGINT, "--jobs", "2")
    assert code == 130, output
    study = load(sweep)
    assert "RUNNING" not in states(study)
    assert not subprocess.run(["pgrep", "-f", f"nnrun.sweep.worker {sweep}"], capture_output=True).stdout
    result = run_cli("sweep", "--resume", sweep, "--jobs", "2")
    assert result.code == 0, result
    assert running in [t.number for t in _check_resumed(sweep, 3)]
