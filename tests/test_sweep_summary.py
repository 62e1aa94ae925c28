"""The pieces of `nnrun sweep` that need no training: the samplers and pruners a section names,
and the table of trials (a trial that did not complete is shown at its run's best epoch)."""
import json

import optuna
import pytest

from test_runs_reader import fake_run

from nnrun.sweep import study as studies
from nnrun.sweep.folder import SweepFolder
from nnrun.sweep.section import sweep_section
from nnrun.sweep.space import sample
from nnrun.sweep.summary import trial_rows

PARAMETERS = sweep_section({"parameters": {"train.batch-size": {"choice": [64, 128, 256]},
                                           "train.seed": {"int": [1, 4]}}})["parameters"]


@pytest.mark.parametrize("name, kind", [("tpe", "TPESampler"), ("random", "RandomSampler"), ("grid", "GridSampler")])
def test_each_sampler_is_optunas(name, kind):
    sampler = studies.make_sampler({"sampler": name, "seed": 1}, PARAMETERS)
    assert kind in [cls.__name__ for cls in type(sampler).__mro__]


def test_pruners():
    assert isinstance(studies.make_pruner({"type": "none"}), optuna.pruners.NopPruner)
    median = studies.make_pruner({"type": "median", "startup-trials": 2, "warmup-epochs": 1})
    assert isinstance(median, optuna.pruners.MedianPruner)


def test_a_log_int_range_draws_whole_numbers_uniform_in_their_logarithm():
    """{log-int: [16, 1024]}: half the draws below the geometric middle 128 (a plain int range
    would put 11% there), a quarter below 45 and above 362, every draw a whole number in range."""
    parameters = sweep_section({"parameters": {"train.batch-size": {"log-int": [16, 1024]}}})["parameters"]
    study = optuna.create_study(sampler=studies.make_sampler({"sampler": "random", "seed": 1}, parameters))
    draws = []
    for _ in range(2000):
        trial = study.ask()
        draws.append(sample(trial, parameters)["train.batch-size"])
        study.tell(trial, 0.0)
    assert study.trials[0].distributions["train.batch-size"] == optuna.distributions.IntDistribution(16, 1024, log=True)
    assert all(isinstance(v, int) and 16 <= v <= 1024 for v in draws) and min(draws) == 16 and max(draws) > 900
    below = lambda limit: sum(v < limit for v in draws) / len(draws)  # noqa: E731
    assert below(128) == pytest.approx(0.5, abs=0.04)
    assert below(45) == pytest.approx(0.25, abs=0.04) and 1 - below(363) == pytest.approx(0.25, abs=0.04)


def test_every_job_and_resume_walks_one_grid():
    """The grid records each trial's point as an index into its shuffled points: two jobs, or a
    resumed sweep, shuffling differently would take one point twice and miss another."""
    def first_points(slot, known):
        study = optuna.create_study()
        study.sampler = studies.make_sampler({"sampler": "grid", "seed": 7}, PARAMETERS, slot, known)
        walk = []
        for _ in range(12):
            trial = study.ask()
            walk.append(tuple(sample(trial, PARAMETERS).values()))
            study.tell(trial, 0.0)
        return walk

    walk = first_points(0, 0)
    assert len(set(walk)) == 12
    assert first_points(1, 0) == walk and first_points(0, 5) == walk


def test_a_trial_that_did_not_complete_is_shown_at_its_best_epoch(tmp_path):
    """Its run stopped after epoch 3, but its best epoch was 2: the row says epoch 2 and that
    epoch's f-beta, as `nnrun runs` does, not the last epoch's figure."""
    folder = SweepFolder(tmp_path, {"metric": "f-beta", "direction": "maximize"})
    fake_run(tmp_path / "trial-0000", epochs=3)  # f-beta 0.6, 0.7 (best), 0.8
    study = optuna.create_study(direction="maximize")
    distributions = {"train.batch-size": optuna.distributions.CategoricalDistribution([64, 128, 256])}
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED, params={"train.batch-size": 64}, distributions=distributions,
        intermediate_values={1: 0.6, 2: 0.7, 3: 0.8}))
    study.add_trial(optuna.trial.create_trial(  # never made a run folder: its last report is all there is
        state=optuna.trial.TrialState.PRUNED, params={"train.batch-size": 128}, distributions=distributions,
        intermediate_values={1: 0.65}))
    rows = {row["number"]: row for row in trial_rows(study, folder, PARAMETERS)}
    assert (rows[0]["f-beta"], rows[0]["epoch"], rows[0]["where"]) == (0.7, 2, "trial-0000")
    assert (rows[1]["f-beta"], rows[1]["epoch"], rows[1]["where"]) == (0.65, None, None)


def test_a_trial_of_another_sweep_folder_here_is_found_where_its_job_ran_it(tmp_path):
    """A study shared by two sweep folders on one machine: each trial names its run folder (the
    user attribute its job set), so the table and the best checkpoint point at it."""
    other = fake_run(tmp_path / "first" / "trial-0000", epochs=2)
    folder = SweepFolder(tmp_path / "second", {"metric": "f-beta", "direction": "maximize"})
    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE, value=0.7, params={"train.seed": 1},
        distributions={"train.seed": optuna.distributions.IntDistribution(1, 4)},
        user_attrs={"host": studies.HOST, "run": str(other)}))
    (row,) = trial_rows(study, folder, PARAMETERS)
    assert row["run"] == other and row["where"] == str(other) and row["epoch"] == 2
    json.dumps({k: v for k, v in row.items() if k != "run"})  # the rest stays plain data


def _trial_folders(root, direction):
    """A sweep folder of three finished trials with f-beta 0.3, 0.9 and 0.6 at their best epoch,
    judged in `direction`, whose summary never ran (no best.yaml)."""
    root.mkdir()
    (root / "sweep.json").write_text(json.dumps({
        "format": "nnrun-sweep", "metric": "f-beta", "direction": direction, "trials": 3,
        "config": {"sweep": {"parameters": {"train.seed": {"int": [1, 4]}}}}}))
    for n, best in enumerate((0.3, 0.9, 0.6)):
        run = fake_run(root / f"trial-{n:04d}", epochs=1, status={"state": "finished", "pid": 1, "epoch": 1})
        (run / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "f-beta": best, "best": True}) + "\n")
        (run / "trial.json").write_text(json.dumps({"trial": n, "parameters": {"train.seed": n + 1}}))
    return root


@pytest.mark.parametrize("direction, order", [("minimize", ["trial-0000", "trial-0002", "trial-0001"]),
                                              ("maximize", ["trial-0001", "trial-0002", "trial-0000"])])
def test_runs_of_a_sweep_sort_its_metric_its_way_and_say_how_to_write_best_yaml(cli, tmp_path, direction, order):
    sweep = _trial_folders(tmp_path / "sweep", direction)
    for extra in ([], ["--sort", "f-beta"]):
        result = cli("runs", sweep, *extra)
        assert result.code == 0, result
        assert [line.split()[0] for line in result.stdout.splitlines()[1:4]] == order, (extra, result.stdout)
    lines = cli("runs", sweep).stdout.splitlines()
    assert lines[-2].startswith(f"best trial: {order[0]} (f-beta ")
    assert lines[-1] == (f"no best.yaml: the sweep stopped before its summary; nnrun sweep --resume {sweep} "
                         f"writes it (after any trials still to run)")
    (sweep / "best.yaml").write_text("name: x\n")
    assert cli("runs", sweep).stdout.splitlines()[-1] == f"best config: {sweep / 'best.yaml'}"


def test_a_resume_starts_no_more_jobs_than_trials_remain():
    study = optuna.create_study(direction="maximize")
    distributions = {"train.seed": optuna.distributions.IntDistribution(1, 4)}
    for state in ("COMPLETE", "PRUNED", "FAIL"):
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState[state], params={"train.seed": 1},
                                                  distributions=distributions,
                                                  value=0.5 if state == "COMPLETE" else None))
    assert studies.jobs_wanted(study, 5, 4) == 2   # two trials remain of five
    assert studies.jobs_wanted(study, 10, 4) == 4
    assert studies.jobs_wanted(study, 3, 4) == 1   # none remains: one job finds that, the summary is written
