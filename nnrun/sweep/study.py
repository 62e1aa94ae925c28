"""The Optuna study behind a sweep: opened from sweep.json's settings, in any process.

Each trial carries user attributes: host and pid (who runs it), reason (why it failed or was
pruned) and interrupted (it was stopped by Ctrl-C, SIGTERM or a kill, not judged). An
interrupted trial does not count toward the sweep's trials, and its parameters are queued again
(Optuna's enqueue_trial), so stopping and resuming loses no point of the search and a trial
number is never used twice.
"""
import logging
import math
import os
import socket

from nnrun.errors import UserError
from nnrun.runs import pid_alive
from nnrun.sweep.folder import STUDY

HOST = socket.gethostname()


def load_optuna():
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)  # the sweep prints its own line per trial
    return optuna


def make_sampler(settings, parameters, slot=0, known=0):
    """The sampler of sweep.json's settings. Each job seeds its own, from the sweep's seed, its
    slot and the trials the study already holds (`known`), so two jobs, or a resumed sweep and
    the run before it, do not draw the same random points again. The grid is the exception: it
    shuffles its points by its seed and records each trial's point as an index into that order,
    so every job and every resume must shuffle alike, or two of them take one point twice."""
    optuna = load_optuna()
    if settings["sampler"] == "grid":
        from nnrun.sweep.space import grid_space
        return _grid_class()(grid_space(parameters, "sweep"), seed=settings["seed"] % 2**32)
    seed = (settings["seed"] * 1_000_003 + slot * 10_007 + known) % 2**32
    if settings["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _grid_class():
    optuna = load_optuna()

    class Grid(optuna.samplers.GridSampler):
        """Optuna's grid sampler, minus its Study.stop() once every point is taken: that works only
        inside study.optimize(), and a sweep asks and tells, stopping at the grid's size itself."""

        def after_trial(self, study, trial, state, values):
            pass
    return Grid


def make_pruner(pruner):
    optuna = load_optuna()
    if pruner["type"] == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=pruner["startup-trials"],
                                       n_warmup_steps=pruner["warmup-epochs"])


def without_password(url):
    """The URL to print: a database password never reaches the terminal or a log."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: it is shown as given (and refused when opened)
        return url


def storage(url):
    """An RDB storage for `url`; SQLite waits for a busy database instead of failing at once
    (several jobs write one study file)."""
    optuna = load_optuna()
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as problem:  # sqlalchemy's errors for a bad URL, a missing driver, no server
        first = str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
        raise UserError(f"--storage {without_password(url)}: cannot open the study there: {first}") from None


def open_study(folder, parameters, slot=0, create=False):
    """The sweep's study (created when `create`, joined when another machine made it first)."""
    optuna = load_optuna()
    info, url = folder.info, folder.storage_url
    if folder.own_study and not create and not (folder.path / STUDY).is_file():
        # SQLite would make an empty database there, and then find no study in it
        raise UserError(f"{folder.path}: {STUDY} is missing: the sweep's study is gone (its trial folders stay)")
    try:
        if create:
            study = optuna.create_study(storage=storage(url), study_name=info["study"],
                                        direction=info["direction"], load_if_exists=True)
        else:
            study = optuna.load_study(study_name=info["study"], storage=storage(url))
    except KeyError:
        raise UserError(f"{without_password(url)}: holds no study named {info['study']!r}") from None
    except ValueError as problem:  # a shared study made with another direction, say
        raise UserError(f"study {info['study']!r} at {without_password(url)}: {problem}") from None
    study.sampler = make_sampler(info["settings"], parameters, slot, len(study.get_trials(deepcopy=False)))
    study.pruner = make_pruner(info["settings"]["pruner"])
    return study


def check_direction(study, folder):
    info, wanted = folder.info, folder.info["direction"]
    have = study.direction.name.lower()
    if have != wanted:
        raise UserError(f"study {info['study']!r} at {without_password(folder.storage_url)} is {have}d, but "
                        f"this sweep would {wanted} {info['metric']} (is it another sweep's study?)")


def counted(study):
    """Trials that count toward the sweep: judged (complete, pruned, failed) or running now."""
    states = load_optuna().trial.TrialState
    n = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (states.COMPLETE, states.PRUNED, states.RUNNING):
            n += 1
        elif trial.state == states.FAIL and not trial.user_attrs.get("interrupted"):
            n += 1
    return n


def jobs_wanted(study, trials, jobs):
    """The jobs worth starting: no more than the trials still to run (a resume of a sweep short of
    one trial starts one job, not --jobs of them), and one when none is left (it finds nothing to
    run, and the summary is written)."""
    return max(1, min(jobs, trials - counted(study)))


def interrupted(study, number, trial_id, params, why):
    """Record trial `number` as stopped without a verdict and queue its parameters again."""
    optuna = load_optuna()
    if any(t.number == number and t.state.is_finished() for t in study.get_trials(deepcopy=False)):
        return  # already judged (a second Ctrl-C just after its verdict)
    optuna.trial.Trial(study, trial_id).set_user_attr("interrupted", why)
    study.tell(number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    if params:
        study.enqueue_trial(dict(params), user_attrs={"retry-of": number})


def recover_stale(study, own):
    """Trials left running by a sweep on this machine whose process is gone (SIGKILL, a crash, a
    power cut): recorded as interrupted and queued again. Returns their numbers. Trials of other
    machines sharing the study are theirs to finish; in a study of this sweep's own (`own`: its
    study.db, which one machine uses), a running trial killed before it was stamped with host and
    pid is stale too, and so is one stamped on another host (the folder was moved there)."""
    states = load_optuna().trial.TrialState
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        attrs = trial.user_attrs
        pid = attrs.get("pid")
        unstamped = own and attrs.get("host") != HOST
        if unstamped or (attrs.get("host") == HOST and isinstance(pid, int) and pid != os.getpid()
                         and not pid_alive(pid)):
            interrupted(study, trial.number, trial._trial_id, trial.params, "killed")
            stale.append(trial.number)
    return stale


def finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
