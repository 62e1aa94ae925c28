"""A training run, start to finish, as `nnrun train` (and `nnrun sweep`'s trials) start it.

`train_command` resolves the config (or the run to resume), joins the job's processes when
torchrun started this one, and runs `run_training`: the session built and checked before
anything is written, the run folder made, the loop run (loop.py).

Started by torchrun (or `--nproc N`, which runs torch's launcher) this process is one rank of a
parallel job: every rank loads the config and opens the session; rank 0 alone reads a checkpoint
to resume from (and hands it to the others), makes and writes the run folder, prints and serves
--live; setup checks that fail on any rank stop every rank (distributed.py).
"""
import os
import sys
from pathlib import Path

import click

from nnrun.errors import UserError


def train_command(request):
    """`nnrun train` with its options (a TrainRequest, nnrun.commands.train): what to train, then
    this process's part of the job: the whole of it, or one rank's."""
    spec, payload, resume_run, run_dir, folder = _resolve(request, lock=not request.print_config)
    try:
        if request.print_config:
            import yaml

            click.echo(yaml.safe_dump(spec.resolved(), sort_keys=False, allow_unicode=True,
                                      default_flow_style=None), nl=False)
            return
        outcome, parallel = _train_job(spec, payload, resume_run, run_dir, folder, request.quiet, request.live,
                                       request.cortex_block)
    finally:
        if folder is not None:  # a resume refused before training: the lock goes, nothing was written
            folder.close()
    code = 130 if outcome == "interrupted" else 0
    if parallel:
        from nnrun.train.distributed import leave_job
        leave_job(code)
    if code:
        sys.exit(code)


def _train_job(spec, payload, resume_run, run_dir, folder, quiet, live, cortex_block=False):
    """This process's part of the job (the whole of it, or one rank's): (its outcome, whether the
    job has several processes)."""
    from nnrun.train.distributed import open_world
    world = open_world(spec.train["device"])
    try:
        if world.parallel:  # every rank resumes from rank 0's checkpoint, or none does
            payload = world.broadcast(payload)
            resume_run = world.broadcast(resume_run)
            run_dir = None if resume_run is not None else run_dir
            if resume_run is not None:
                _same_config_everywhere(spec, resume_run, world)
        hooks = None
        if live is not None and world.main:
            from nnrun.live.launch import serve_training
            hooks = serve_training(live, resume_run)
        outcome = run_training(spec, run_dir=run_dir, resume_run=resume_run, payload=payload, quiet=quiet,
                               hooks=hooks, world=world, folder=folder, cortex_block=cortex_block)
        return outcome, world.parallel
    except RuntimeError as problem:
        if not (world.parallel and _lost_peer(problem)):
            raise
        if world.main:  # the launcher names the rank that died
            click.echo(f"error: rank {world.rank}: lost contact with another rank of the job, which "
                       f"stopped; this rank stops too (the launcher's report names it)", err=True)
        sys.exit(1)
    finally:
        world.close()


def _resolve(request, lock=True):
    """(spec, resume payload or None, run to resume or None, run_dir, the resumed run's folder or
    None): what to train, with the command line's settings applied and its paths made absolute.

    A resume takes the run's lock (`lock`; rank 0 of a job) before it reads anything of the run:
    what it read before would be what another writer had left at that moment, and a trainer that
    went on and then stopped would have its later epochs cut away by a resume from the older
    checkpoint. The folder returned is locked; the caller releases it (RunFolder.close)."""
    from nnrun.config.sections import device_value
    from nnrun.config.spec import load_spec
    from nnrun.train.distributed import launched
    from nnrun.train.launch import previous_attempt

    config, overrides, run_dir, resume_run = request.config, request.overrides, request.run_dir, request.resume_run
    payload = folder = None
    if resume_run is None and launched() and os.environ.get("RANK") == "0" and config is not None:
        # the launcher restarted the job (--max-restarts): go on from the attempt before
        previous = previous_attempt(load_spec(config, overrides).name, run_dir)
        if previous is not None:
            resume_run, run_dir = str(previous), None
            click.echo(f"the launcher restarted the job: going on from {previous / 'last.nnrun'}", err=True)
    if resume_run is not None:
        run = Path(resume_run)
        if run_dir is not None:
            raise UserError("--resume continues in its own folder; leave out --run-dir")
        from nnrun.train.loop import load_resume_payload
        from nnrun.train.run_folder import CONFIG, LAST, RunFolder
        rank0 = not (launched() and os.environ.get("RANK") != "0")  # the other ranks get rank 0's payload
        if rank0 and not (run / LAST).is_file():
            raise UserError(f"--resume {run}: no {LAST} there (not a run folder, or no epoch finished)")
        if rank0 and lock:
            folder = RunFolder.existing(run)
            folder.lock()  # one writer: refused here, naming the holder, while another process trains it
    elif config is None:
        raise UserError("give a CONFIG file (or --resume RUN)")
    try:
        if resume_run is not None:
            payload = load_resume_payload(run / LAST) if rank0 else None
            source = config or run / CONFIG
            if not Path(source).is_file():
                raise UserError(f"--resume {run}: no {CONFIG} there; give the config file too")
            spec = load_spec(source, overrides)
        else:
            spec = load_spec(config, overrides)
        if request.device is not None:
            spec.train["device"] = device_value(request.device, "--device")
        if request.tensorboard:
            spec.train["tensorboard"] = True
        for section, key in ((spec.data, "path"), (spec.train, "init-from")):
            if section.get(key):
                section[key] = str(Path(section[key]).expanduser().resolve())
    except BaseException:
        if folder is not None:  # a resume refused here: the lock goes, nothing was written
            folder.close()
        raise
    return spec, payload, resume_run, run_dir, folder


def _same_config_everywhere(spec, run, world):
    """A parallel resume: rank 0 read the run's config.yaml holding the lock, the other ranks
    before it was taken. Should another resume have rewritten the file in between (another
    train.epoch-count), the ranks would train different runs and wait on each other at the end:
    refused instead."""
    digests = world.gather(config_digest(spec))
    for rank, digest in enumerate(digests):
        if digest != digests[0]:
            raise UserError(f"--resume {run}: rank {rank} read another config.yaml than rank 0 (another process "
                            f"resumed the run as this job started); start the job again")


def config_digest(spec):
    """A digest of what every rank of a job must agree on: the network and the train section."""
    import hashlib
    import json

    what = {"network": spec.resolved()["network"], "train": spec.train}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _lost_peer(problem):
    """Whether a collective failed because another rank of the job went away."""
    import torch.distributed as dist
    text = str(problem)
    return isinstance(problem, getattr(dist, "DistError", ())) or any(
        word in text for word in ("gloo", "Connection reset", "Connection closed", "NCCL"))


def run_training(spec, *, run_dir=None, resume_run=None, payload=None, quiet=False, hooks=None, world=None,
                 observers=None, folder=None, cortex_block=False):
    """Train `spec` (a new run, or the run folder `resume_run` from its last checkpoint `payload`),
    as one process or as a rank of the parallel job `world`. A resume's `folder` is the run's
    RunFolder, locked before `payload` was read from it (rank 0; nnrun.train.start._resolve)."""
    import torch

    from nnrun.train.distributed import World, wrap_for_training
    from nnrun.train.loop import Trainer

    world = world or World()
    threads_before = torch.get_num_threads()
    try:
        session = _checked_session(spec, payload, resume_run, world)
        if payload is not None:
            done, count = int(payload["resume"]["epoch"]), spec.train["epoch-count"]
            if count is not None and done >= count:
                if world.main:
                    click.echo(f"{resume_run} has already trained {done} epochs (train.epoch-count {count}); "
                               f"raise it to go on, e.g. --set train.epoch-count={count + 10}")
                return "finished"
        folder = _run_folder(spec, payload, run_dir, world, folder)
        session.parallel = wrap_for_training(session.network, world)
        try:
            # restore the checkpoint before writing anything: a resume that fails changes nothing
            trainer = Trainer(session, folder, quiet=quiet, resume=payload, hooks=hooks, observers=observers,
                              cortex_block=cortex_block)
            if world.main:
                if payload is not None:
                    # until its first checkpoint, a resume that fails puts back every file it replaced
                    folder.keep_for_undo()
                    # metrics.jsonl to agree with last.nnrun (a kill can split them)
                    folder.keep_metrics_through(int(payload["resume"]["epoch"]), payload["resume"].get("record"))
                _write_run_facts(folder, spec, session, payload)
                if hooks and "run-folder" in hooks:  # the live page learns where the run is
                    hooks["run-folder"](folder.path)
            outcome = trainer.run()
            if folder is not None:
                folder.discard_if_uncommitted()  # stopped before the first checkpoint: nothing to keep
            return outcome
        except BaseException:
            if folder is not None:
                folder.undo_uncommitted_resume()  # a failed resume changes nothing, a full disk's too
                folder.discard_if_uncommitted()
            raise
        finally:
            if folder is not None:
                folder.close()
    finally:
        torch.set_num_threads(threads_before)


def _checked_session(spec, payload, resume_run, world):
    """The training session of `spec`, checked against the checkpoint to resume from; a setup
    mistake on any rank stops every rank (before anything is written)."""
    from nnrun.train.session import open_session
    from nnrun.train.state import check_resumable

    problem = session = None
    try:
        if payload is not None:
            check_resumable(payload["config"], spec.resolved(), resume_run)
        session = open_session(spec, world=world)
        saved = (payload.get("dataset") or {}).get("manifest-sha256") if payload is not None else None
        if saved and saved != session.manifest_sha256:
            raise UserError(f"--resume {resume_run}: the dataset {session.dataset.path} is not the one this "
                            f"run trained on (its dataset.json changed)")
    except UserError as mistake:
        problem = mistake
    world.agree(problem)
    _same_dataset_everywhere(session, world)
    return session


def _run_folder(spec, payload, run_dir, world, locked):
    """The run folder, made new or the resumed one (`locked`), locked to this writer: rank 0's
    (the other ranks write nothing: None)."""
    from nnrun.train.run_folder import RunFolder, new_run_path

    folder, problem = None, None
    if world.main:
        try:
            if payload is not None:  # locked before the checkpoint was read (_resolve)
                folder = locked
            else:
                folder = RunFolder.create(new_run_path(spec.name, run_dir))
                folder.lock()  # one writer: a second process training this folder is refused here
        except UserError as mistake:
            problem = mistake
            if folder is not None:
                folder.discard_if_uncommitted()
    world.agree(problem)
    return folder


def _same_dataset_everywhere(session, world):
    """Every rank of a job (on any machine) must train on the same prepared dataset."""
    digests = world.gather(session.manifest_sha256)
    for rank, digest in enumerate(digests):
        if digest != digests[0]:
            raise UserError(f"rank {rank}: the dataset {session.dataset.path} is not rank 0's "
                            f"(their dataset.json differ); prepare it once and copy it to every machine")


def _write_run_facts(folder, spec, session, payload):
    """config.yaml, and run.json: what ran where (one entry more per resume)."""
    import datetime
    import shlex

    from nnrun.train.launch import job_facts
    from nnrun.train.run_folder import environment

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = shlex.join(["nnrun", *sys.argv[1:]]) if sys.argv and "nnrun" in sys.argv[0] else None
    job = {"job": job_facts()} if session.world.parallel else {}
    folder.write_config(spec.resolved())
    if payload is None:
        info = {**environment(session.device, spec.train["seed"], session.threads),
                "config": spec.source, "command": command, "started": started, **job,
                "dataset": {"path": str(session.dataset.path), "manifest-sha256": session.manifest_sha256,
                            "train-split": session.task.train_split,
                            "selection-split": session.task.selection_split,
                            "test-split": session.task.test_split}}
    else:
        info = folder.read_run_info()
        info.setdefault("resumed", []).append(
            {"at-epoch": int(payload["resume"]["epoch"]), "started": started, "command": command,
             **environment(session.device, spec.train["seed"], session.threads), **job})
    folder.write_run_info(info)
