"""`nnrun train CONFIG`: train a network on a prepared dataset into a run folder.

A thin wrapper: the options, `--nproc N` handed to torch's launcher, and the rest to
nnrun/train/start.py (the config resolved, the job's processes joined, the run started).
"""
import os
import sys

import click

from nnrun.commands.options import set_option
from nnrun.errors import UserError

DEFAULT_BIND = "127.0.0.1:8091"  # nnrun.live.launch.DEFAULT_BIND, without importing the server here


class FlagWithOldValue(click.Option):
    """--live: a flag in --help, as it now is (the address is --bind, spelt as nnrun watch spells
    it); it still takes the address as its value, as it first did (--live 8092), so command
    lines of that time keep working."""

    def get_help_record(self, ctx):
        return "--live", self.help


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@set_option
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="The run folder [default: runs/<config name>/<time>/].")
@click.option("--resume", "resume_run", metavar="RUN", type=click.Path(file_okay=False), default=None,
              help="Continue the run in folder RUN from its last.nnrun (CONFIG defaults to RUN/config.yaml).")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N (same as --set train.device=...).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-epoch lines; the final lines only.")
@click.option("--cortex-block", is_flag=True,
              help="Also print each epoch as Cortex's block (Epoch, Precision, Recall, F1 unrounded) above its line.")
@click.option("--tensorboard", is_flag=True, default=None,
              help="Also write TensorBoard event files in RUN/tensorboard/ (same as --set train.tensorboard=true).")
@click.option("--live", cls=FlagWithOldValue, is_flag=False, flag_value=DEFAULT_BIND, default=None,
              help=f"Serve the live page while training, at {DEFAULT_BIND} unless --bind says where.")
@click.option("--bind", default=None, metavar="[HOST:]PORT",
              help="Where --live serves, as for nnrun watch; 0 as the port picks a free one (implies --live).")
@click.option("--print-config", is_flag=True, help="Print the resolved config (every default filled in) and exit.")
@click.option("--nproc", type=int, default=None, metavar="N",
              help="Train with N processes on this machine (DistributedDataParallel, started by torch's "
                   "launcher as torchrun would); train.batch-size stays the global batch.")
@click.option("--max-restarts", type=int, default=0, show_default=True, metavar="K",
              help="With --nproc: when a process dies, start the job again from last.nnrun, up to K times.")
def train(config, overrides, run_dir, resume_run, device, quiet, tensorboard, print_config, live=None, bind=None,
          nproc=None, max_restarts=0, cortex_block=False):
    """Train the network of CONFIG on its prepared dataset.

    Every epoch evaluates the whole selection split, keeps the best epoch in best.nnrun and the
    latest (with optimizer, sampler and random state) in last.nnrun. Ctrl-C stops cleanly;
    `nnrun train --resume RUN` goes on from there.
    """
    from nnrun.train.console import remembering_stops
    from nnrun.train.request import TrainRequest

    request = TrainRequest(config, tuple(overrides), run_dir, resume_run, device, quiet, tensorboard, print_config,
                           live_address(live, bind), cortex_block)
    with remembering_stops():  # before the imports below, which take seconds
        return _train(request, nproc, max_restarts)


def _train(request, nproc, max_restarts):
    from nnrun.train.distributed import RankError, launched
    from nnrun.train.start import train_command
    if max_restarts and nproc is None:
        raise UserError("--max-restarts goes with --nproc N (under torchrun, give it to torchrun)")
    if nproc is not None and launched():
        raise UserError("--nproc: this process is already a rank of a torchrun job; leave --nproc out")
    if nproc is not None and not request.print_config:
        from nnrun.train.launch import launch
        sys.exit(launch(nproc, max_restarts, _worker_argv(request)))
    if launched() and os.environ.get("RANK") != "0":
        try:  # rank 0 says what went wrong; the other ranks' identical lines would only repeat it
            return train_command(request)
        except RankError:
            raise
        except UserError:
            sys.exit(2)
    return train_command(request)


def _worker_argv(r):
    """The command line each worker of `--nproc` runs (after `nnrun train`) for request `r`."""
    argv = [r.config] if r.config else []
    for override in r.overrides:
        argv += ["--set", override]
    for flag, value in (("--run-dir", r.run_dir), ("--resume", r.resume_run), ("--device", r.device),
                        ("--bind", r.live)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + (["--quiet"] if r.quiet else []) + (["--tensorboard"] if r.tensorboard else []) \
        + (["--cortex-block"] if r.cortex_block else [])


def live_address(live, bind):
    """Where the live page is served ([HOST:]PORT), or None for no page: --bind's address (which
    asks for the page by itself), else the old --live ADDRESS, else the default of a bare --live."""
    from nnrun.live.server import parse_bind

    if live not in (None, DEFAULT_BIND):
        parse_bind(live, "--live")  # `--live CONFIG`: the config taken for an address, said as such
        if bind is not None and live != bind:
            raise UserError(f"--live {live} and --bind {bind}: two addresses for the live page; give it once, "
                            f"with --bind")
    return bind if bind is not None else live
