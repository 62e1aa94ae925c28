"""A sweep job: ask the study for a trial, run it, tell the verdict, until the sweep has its
trials or is stopped. `nnrun sweep` runs one job in its own process, or --jobs J of them as
child processes (`python -m nnrun.sweep.worker SWEEP SLOT PARENT_PID THREADS`), each with its
share of the CPU threads.

Stopping: Ctrl-C / SIGTERM make the job finish the epoch in progress and stop the trial as
`nnrun train` stops (its run folder stays valid), record it as interrupted and ask for no more;
a second Ctrl-C stops at once (the study is still consistent: a trial left running by a process
that is gone is recovered by --resume). A child dies with its parent: Linux delivers SIGTERM to
it when the `nnrun sweep` process ends, however it ends.
"""
import contextlib
import os
import sys

import click

from nnrun.sweep import study as studies
from nnrun.sweep.space import shown
from nnrun.sweep.trial import run_trial


def trial_line(outcome, metric):
    values = " ".join(f"{path}={shown(v)}" for path, v in outcome.values.items())
    figure = f"{metric} {outcome.value:.6g}" if outcome.value is not None else ""
    reason = f"  ({outcome.reason})" if outcome.reason and outcome.state != "complete" else ""
    return (f"trial {outcome.number:04d}  {outcome.state:<11} {figure:<20} {values}  "
            f"{outcome.seconds:.1f} s{reason}")


def run_jobs_share(folder, parameters, slot=0, echo=click.echo):
    """This job's part of the sweep. Returns (outcomes, stopped)."""
    from nnrun.train.console import StopSignal

    info = folder.info
    study = studies.open_study(folder, parameters, slot)
    outcomes = []
    with StopSignal() as stop:
        trial = None
        try:
            while not stop():
                with folder.ask_lock():
                    if studies.counted(study) >= info["trials"]:
                        break
                    trial = study.ask()
                    trial.set_user_attr("host", studies.HOST)
                    trial.set_user_attr("pid", os.getpid())
                    # where its run folder is, for a sweep folder sharing the study on this machine
                    trial.set_user_attr("run", str(folder.trial_path(trial.number)))
                outcome = run_trial(study, trial, folder, parameters, stop)
                trial = None
                outcomes.append(outcome)
                echo(trial_line(outcome, info["metric"]))
                if outcome.state == "interrupted":
                    return outcomes, True
        except KeyboardInterrupt:  # a second Ctrl-C: leave at once, the study stays consistent
            if trial is not None:
                studies.interrupted(study, trial.number, trial._trial_id, trial.params, "stopped")
            return outcomes, True
    return outcomes, stop()


@contextlib.contextmanager
def recorded_as_resume(folder):
    """Each trial's run.json records, as the command that made it, the one that goes on with the
    sweep (`nnrun sweep --resume SWEEP`): the same for one job or J, and never the --storage URL
    given on the command line, whose password would then sit in every trial's folder."""
    given = sys.argv
    sys.argv = ["nnrun", "sweep", "--resume", str(folder.path)]
    try:
        yield
    finally:
        sys.argv = given


def _die_with_parent(parent):
    """SIGTERM this process when its parent ends (Linux prctl PR_SET_PDEATHSIG); elsewhere the
    job runs on to the end of its current trial."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent ended before prctl took effect
        sys.exit(130)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path, slot, parent, threads = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    _die_with_parent(parent)
    import torch

    torch.set_num_threads(threads)
    from nnrun.errors import UserError
    from nnrun.sweep.folder import SweepFolder
    from nnrun.sweep.section import sweep_section

    try:
        folder = SweepFolder.open(path)
        parameters = sweep_section(folder.info["config"]["sweep"])["parameters"]
        with recorded_as_resume(folder):
            outcomes, stopped = run_jobs_share(folder, parameters, slot, echo=lambda line: print(line, flush=True))
    except UserError as mistake:
        print(f"error: {mistake}", file=sys.stderr, flush=True)
        sys.exit(2)
    sys.exit(130 if stopped else 1 if any(o.bug for o in outcomes) else 0)


if __name__ == "__main__":
    main()
