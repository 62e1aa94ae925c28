"""`nnrun train CONFIG`: train a network on a prepared dataset into a run folder.

Thin wrapper: read and check the config, build the session (every check before anything is
written), make the run folder, run the loop (nnrun/train/loop.py). `--resume RUN` continues a
run from its last.nnrun.
"""
import sys
from pathlib import Path

import click

from nnrun.commands.options import set_option
from nnrun.errors import UserError


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@set_option
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="The run folder [default: runs/<config name>/<time>/].")
@click.option("--resume", "resume_run", metavar="RUN", type=click.Path(file_okay=False), default=None,
              help="Continue the run in folder RUN from its last.nnrun (CONFIG defaults to RUN/config.yaml).")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N (same as --set train.device=...).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-epoch lines; the final lines only.")
@click.option("--tensorboard", is_flag=True, default=None,
              help="Also write TensorBoard event files in RUN/tensorboard/ (same as --set train.tensorboard=true).")
@click.option("--live", is_flag=False, flag_value="127.0.0.1:8091", default=None, metavar="[[HOST:]PORT]",
              help="Serve the live page while training (default 127.0.0.1:8091; 0 picks a free port).")
@click.option("--print-config", is_flag=True, help="Print the resolved config (every default filled in) and exit.")
def train(config, overrides, run_dir, resume_run, device, quiet, tensorboard, print_config, live=None):
    """Train the network of CONFIG on its prepared dataset.

    Every epoch evaluates the whole selection split, keeps the best epoch in best.nnrun and the
    latest (with optimizer, sampler and random state) in last.nnrun. Ctrl-C stops cleanly;
    `nnrun train --resume RUN` goes on from there.
    """
    import yaml

    from nnrun.config.sections import _device
    from nnrun.config.spec import load_spec

    payload = None
    if resume_run is not None:
        run = Path(resume_run)
        if run_dir is not None:
            raise UserError("--resume continues in its own folder; leave out --run-dir")
        from nnrun.train.loop import load_resume_payload
        from nnrun.train.run_folder import CONFIG, LAST
        if not (run / LAST).is_file():
            raise UserError(f"--resume {run}: no {LAST} there (not a run folder, or no epoch finished)")
        payload = load_resume_payload(run / LAST)
        source = config or run / CONFIG
        if not Path(source).is_file():
            raise UserError(f"--resume {run}: no {CONFIG} there; give the config file too")
        spec = load_spec(source, overrides)
    else:
        if config is None:
            raise UserError("give a CONFIG file (or --resume RUN)")
        spec = load_spec(config, overrides)
    if device is not None:
        spec.train["device"] = _device(device, "--device")
    if tensorboard:
        spec.train["tensorboard"] = True
    if spec.data.get("path"):
        spec.data["path"] = str(Path(spec.data["path"]).expanduser().resolve())
    if spec.train.get("init-from"):
        spec.train["init-from"] = str(Path(spec.train["init-from"]).expanduser().resolve())
    if print_config:
        click.echo(yaml.safe_dump(spec.resolved(), sort_keys=False, allow_unicode=True,
                                  default_flow_style=None), nl=False)
        return
    hooks = None
    if live is not None:
        from nnrun.live.launch import serve_training
        hooks = serve_training(live, resume_run)
    outcome = run_training(spec, run_dir=run_dir, resume_run=resume_run, payload=payload, quiet=quiet,
                           hooks=hooks)
    if outcome == "interrupted":
        sys.exit(130)


def run_training(spec, *, run_dir=None, resume_run=None, payload=None, quiet=False, hooks=None):
    """Train `spec` (a new run, or the run folder `resume_run` from its last checkpoint `payload`)."""
    import datetime
    import shlex

    import torch

    from nnrun.train.loop import Trainer
    from nnrun.train.run_folder import RunFolder, environment, new_run_path
    from nnrun.train.session import open_session
    from nnrun.train.state import check_resumable

    threads_before = torch.get_num_threads()
    try:
        if payload is not None:
            check_resumable(payload["config"], spec.resolved(), resume_run)
        session = open_session(spec)
        if payload is not None:
            saved = (payload.get("dataset") or {}).get("manifest-sha256")
            if saved and saved != session.manifest_sha256:
                raise UserError(f"--resume {resume_run}: the dataset {session.dataset.path} is not the one this "
                                f"run trained on (its dataset.json changed)")
            folder = RunFolder.existing(resume_run)
            done = int(payload["resume"]["epoch"])
            count = spec.train["epoch-count"]
            if count is not None and done >= count:
                click.echo(f"{resume_run} has already trained {done} epochs (train.epoch-count {count}); "
                           f"raise it to go on, e.g. --set train.epoch-count={count + 10}")
                return "finished"
            folder.keep_metrics_through(done)
        else:
            folder = RunFolder.create(new_run_path(spec.name, run_dir))
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        command = shlex.join(["nnrun", *sys.argv[1:]]) if sys.argv and "nnrun" in sys.argv[0] else None
        try:
            folder.write_config(spec.resolved())
            info = folder.read_run_info() if payload is not None else {}
            if payload is None:
                info = {**environment(session.device, spec.train["seed"], session.threads),
                        "config": spec.source, "command": command, "started": started,
                        "dataset": {"path": str(session.dataset.path), "manifest-sha256": session.manifest_sha256,
                                    "train-split": session.task.train_split,
                                    "selection-split": session.task.selection_split,
                                    "test-split": session.task.test_split}}
            else:
                info.setdefault("resumed", []).append(
                    {"at-epoch": int(payload["resume"]["epoch"]), "started": started, "command": command,
                     **environment(session.device, spec.train["seed"], session.threads)})
            folder.write_run_info(info)
            if hooks and "run-folder" in hooks:  # the live page learns where the run is
                hooks["run-folder"](folder.path)
            trainer = Trainer(session, folder, quiet=quiet, resume=payload, hooks=hooks)
            outcome = trainer.run()
            folder.discard_if_uncommitted()  # stopped before the first checkpoint: nothing to keep
            return outcome
        except BaseException:
            folder.discard_if_uncommitted()
            raise
        finally:
            folder.close()
    finally:
        torch.set_num_threads(threads_before)
