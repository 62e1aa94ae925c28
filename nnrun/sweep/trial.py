"""One trial: its sampled values set into the config, trained as an ordinary run folder
(SWEEP/trial-NNNN/, by nnrun.train.start.run_training), judged and told to the study.

    complete     the trial's value: the sweep's metric at its best epoch
    pruned       the median pruner stopped it on an epoch's metric, or its loss went non-finite
    failed       its config is invalid (the one-line reason is kept), or training raised
    interrupted  Ctrl-C / SIGTERM / a kill stopped it: no verdict, its values are queued again
"""
import contextlib
import io
import time
import traceback
from pathlib import Path

from nnrun.errors import UserError
from nnrun.sweep import study as studies
from nnrun.sweep.space import sample, set_values


class TrialObserver:
    """A training-loop observer (nnrun.train.run_record.Observers): reports each epoch's metric to
    the study and asks the loop to stop, as Ctrl-C would, when the pruner says so or the sweep is
    stopping. The loop then finishes as a stopped run: its checkpoints and test.json stay valid."""

    def __init__(self, trial, metric, stopping):
        self.trial, self.metric, self.stopping = trial, metric, stopping
        self.pruned_at = None

    def started(self, trainer):
        if self.stopping():  # the signal came while the session was being built
            trainer.stop.requested = "sweep stopping"

    def epoch_finished(self, trainer, record, outputs):
        value = record.get(self.metric)
        if not studies.finite(value):
            return
        self.trial.report(float(value), record["epoch"])
        if self.trial.should_prune():
            self.pruned_at = record["epoch"]
            trainer.stop.requested = "pruned"


def trial_spec(raw, values, info, number):
    """The validated Spec of trial `number` (UserError: its config is invalid)."""
    from nnrun.config.spec import spec_from_data

    source = f"{Path(info['source']).name} trial {number}"  # in its reason, and as run.json's config
    return spec_from_data(set_values(raw, values), source=source, default_name=info["name"])


def _non_finite(mistake):
    from nnrun.train.step import NonFiniteLoss

    return isinstance(mistake.__context__, NonFiniteLoss)


def _named(mistake, source):
    """A trial's one-line reason, naming the trial as a mistake in its config does: the checks
    made as the run starts (the dataset against the network) name only their place."""
    text = str(mistake)
    return text if text.startswith(f"{source}:") else f"{source}: {text}"


class Outcome:
    def __init__(self, number, state, values, value=None, reason=None, seconds=0.0, bug=False):
        self.number, self.state, self.values, self.value = number, state, values, value
        self.reason, self.seconds, self.bug = reason, seconds, bug


def run_trial(study, trial, folder, parameters, stopping):
    """Run the asked `trial` to its verdict, tell the study, return an Outcome."""
    from nnrun.train.start import run_training
    from nnrun.runs import read_run

    info, number, started = folder.info, trial.number, time.perf_counter()
    values = sample(trial, parameters)

    def verdict(state, value=None, reason=None, bug=False):
        if reason is not None:
            trial.set_user_attr("reason", reason)
        if state == "complete":
            study.tell(trial, value)
        elif state == "interrupted":
            studies.interrupted(study, number, trial._trial_id, trial.params, reason or "stopped")
        else:
            states = studies.load_optuna().trial.TrialState
            study.tell(trial, state=states.PRUNED if state == "pruned" else states.FAIL)
        return Outcome(number, state, values, value, reason, time.perf_counter() - started, bug)

    try:
        spec = trial_spec(info["config"], values, info, number)
    except UserError as mistake:
        return verdict("failed", reason=str(mistake))
    observer = TrialObserver(trial, info["metric"], stopping)
    run_path = folder.trial_path(number)
    hooks = {"run-folder": lambda path: folder.write_trial_info(path, number, values)}
    try:
        with _silenced():
            outcome = run_training(spec, run_dir=run_path, quiet=True, hooks=hooks, observers=[observer])
    except KeyboardInterrupt:
        return verdict("interrupted", reason="stopped")
    except UserError as mistake:
        if _non_finite(mistake):
            return verdict("pruned", reason=str(mistake).split(";")[0])
        return verdict("failed", reason=_named(mistake, spec.source))
    except Exception as bug:  # a bug, or the machine (out of memory): recorded, shown, the sweep goes on
        traceback.print_exc()
        return verdict("failed", reason=f"{type(bug).__name__}: {bug}".splitlines()[0], bug=True)
    if observer.pruned_at is not None:
        return verdict("pruned", reason=f"pruned after epoch {observer.pruned_at}")
    if outcome == "interrupted":
        return verdict("interrupted", reason="stopped")
    best = read_run(run_path).best if Path(run_path).is_dir() else None
    value = (best or {}).get(info["metric"])
    if not studies.finite(value):
        return verdict("failed", reason=f"no epoch gave a usable {info['metric']}")
    return verdict("complete", value=float(value))


@contextlib.contextmanager
def _silenced():
    """A trial's own lines go to its train.log only; the sweep prints one line per trial."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
