"""Starting a parallel job, and starting it again.

`nnrun train CONFIG --nproc N` runs torch's own launcher (torch.distributed.run, what `torchrun`
is) in this process: it starts N workers `python -m nnrun train CONFIG ...` on this machine,
watches them, forwards Ctrl-C / SIGTERM to them, and ends the job when one dies. This module
turns how the job ended into one line naming the rank, and the exit status.

With `--max-restarts K` (here or on torchrun) the launcher starts the workers again after a
failure; `previous_attempt` lets the new workers find the run folder of the attempt before (by
--run-dir, or by the launcher's run id recorded in run.json) and resume from its last.nnrun.
"""
import json
import os
import shutil
import signal
from pathlib import Path

from nnrun.errors import UserError
from nnrun.train.run_folder import LAST, RUN


def launch(nproc, max_restarts, argv):
    """Run `nnrun train ARGV` as `nproc` processes on this machine; returns the exit status."""
    if nproc < 1:
        raise UserError(f"--nproc {nproc}: give 1 or more processes")
    if max_restarts < 0:
        raise UserError(f"--max-restarts {max_restarts}: give 0 or more")
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # the launcher's own log says what the one line below says, at length
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    # one thread per process unless told otherwise: what torchrun does, without its warning
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}",
                                         f"--max-restarts={max_restarts}", "-m", "nnrun", "train", *argv])
    try:
        run(args)
    except ChildFailedError as failed:
        return _report(failed)
    except SignalException as stopped:
        import click
        click.echo(f"stopped ({signal.Signals(stopped.sigval).name}): every process was asked to stop "
                   f"after its current step; the run folder's checkpoints hold the last finished epoch",
                   err=True)
        return 130
    return 0


def _report(failed):
    """One line for a job that failed: the first rank that failed, and how."""
    import click

    rank, failure = failed.get_first_failure()
    code = failure.exitcode
    if code in (2, 130):  # rank 0 has said why (a user mistake), or the job was stopped
        return code
    if code < 0:
        how = f"was killed by {failure.signal_name()}"
    else:
        how = f"failed (exit status {code}; its error is above)"
    click.echo(f"error: rank {rank} (pid {failure.pid}) {how}; every other rank was stopped. "
               f"The run folder's last.nnrun holds the last finished epoch: continue with "
               f"nnrun train --resume RUN (with any number of processes)", err=True)
    return 1


def job_facts():
    """What run.json records of a parallel job: its size, the launcher's run id and attempt."""
    return {"world-size": int(os.environ.get("WORLD_SIZE", "1")),
            "run-id": os.environ.get("TORCHELASTIC_RUN_ID"),
            "attempt": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) + 1}


def restarted():
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


def previous_attempt(name, run_dir, root="runs"):
    """After the launcher restarted the job: the run folder of the attempt before, when it holds a
    last.nnrun to resume from; None to start afresh (a folder of ours with no finished epoch is
    cleared). Rank 0 only."""
    if not restarted():
        return None
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_dir is not None:
        candidates = [Path(run_dir)]
    else:
        candidates = sorted(Path(root, name).glob("*/")) if Path(root, name).is_dir() else []
    for folder in candidates:
        info = _run_info(folder)
        ours = (info.get("job") or {}).get("run-id") == run_id and run_id is not None
        if (folder / LAST).is_file() and (ours or run_dir is not None):
            return folder
        if ours and folder.is_dir():  # our own first attempt, stopped before its first checkpoint
            shutil.rmtree(folder, ignore_errors=True)
    return None


def _run_info(folder):
    try:
        return json.loads((Path(folder) / RUN).read_text())
    except (OSError, ValueError):
        return {}
