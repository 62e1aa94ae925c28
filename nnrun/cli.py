"""The `nnrun` command line: a click group whose commands live in nnrun/commands/.

Each command module is imported only when its command runs, so `nnrun --help` and quick
commands do not pay for importing torch. User mistakes (`UserError`, and click's own usage
errors: a missing argument, an unknown option, a value out of range) print one line and exit 2;
anything else is a bug and keeps its traceback (exit 1).
"""
import importlib
import signal
import sys
import threading

import click

from nnrun.atomic import FULL_OR_READ_ONLY
from nnrun.commands.options import CommandGroup, option_name
from nnrun.errors import UserError, did_you_mean, one_line, os_problem

# command name -> (module in nnrun.commands, attribute, one-line help)
COMMANDS = {
    "check": ("check", "check", "Show a config's layers, output shapes and parameter counts."),
    "prepare": ("prepare", "prepare", "Turn CSV tables, image folders and MNIST files into datasets."),
    "train": ("train", "train", "Train a network from a config on a prepared dataset."),
    "evaluate": ("evaluate", "evaluate", "Metrics of a checkpoint on a prepared dataset split."),
    "infer": ("infer", "infer", "Probability map and class per input from a checkpoint."),
    "kaggle-submit": ("submit", "kaggle_submit", "Write a competition submission for a test set."),
    "watch": ("watch", "watch", "Serve a live page of a run folder or a folder of runs."),
    "report": ("report", "report", "Write one HTML report with pictures of a run."),
    "runs": ("runs", "runs", "List the runs below a folder, or compare two runs."),
    "sweep": ("sweep", "sweep", "Search hyperparameters declared in a config, on Optuna."),
    "export": ("export", "export", "Write a checkpoint as ONNX, safetensors or TorchScript."),
}


# Commands that stop on SIGTERM their own documented way (train: after the epoch, exit 130;
# sweep: every trial so); every other one is stopped by it as by Ctrl-C (see below).
OWN_STOP = ("train", "sweep")


def _terminate_as_interrupt():
    """SIGTERM stops a command as Ctrl-C does: a KeyboardInterrupt, so the temporaries of its
    atomic outputs are removed, and exit 130 with one line. The system's default would end the
    process where it stands (exit 143), a half-written `.NAME.*.partial` left beside its output."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class LazyGroup(CommandGroup):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if name not in OWN_STOP:
            _terminate_as_interrupt()
        module, attribute, _ = COMMANDS[name]
        try:
            loaded = importlib.import_module(f"nnrun.commands.{module}")
        except ModuleNotFoundError as missing:
            if missing.name != f"nnrun.commands.{module}":
                raise
            return None
        return getattr(loaded, attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nnrun")
def cli():
    """nnrun: describe a network and its experiment as data, and run it."""


def main(argv=None):
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if on_main_thread else None
    try:
        _main(argv)
    finally:  # called in-process (tests, a sweep's trials): SIGTERM as the caller had it
        if on_main_thread and signal.getsignal(signal.SIGTERM) is _interrupt:
            signal.signal(signal.SIGTERM, previous)


def _main(argv):
    try:
        cli.main(args=argv, prog_name="nnrun", standalone_mode=False)
    except UserError as mistake:
        click.echo(f"error: {one_line(mistake)}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except NO_ARGS_IS_HELP as asked:  # `nnrun prepare` alone: its help, as click shows it
        asked.show()
        sys.exit(2)
    except click.ClickException as mistake:
        click.echo(f"error: {one_line(usage_line(mistake))}", err=True)
        sys.exit(2 if mistake.exit_code in (1, 2) else mistake.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except OSError as problem:
        # A full disk or a read-only file system met where no command turned it into a message
        # of its own (the commands remove what they were writing): still one line, not a traceback.
        if problem.errno not in FULL_OR_READ_ONLY:
            raise
        click.echo(f"error: {one_line(os_problem(problem, 'a file'))}", err=True)
        sys.exit(2)



# click 8.2 raises this for a group called without a command; older versions print the help themselves
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def usage_line(mistake):
    """Click's usage error as the one line every other mistake gets, naming the option or argument
    first (click's own form is three lines: the usage, a hint, then the error)."""
    ctx = getattr(mistake, "ctx", None)
    command = ctx.command_path if ctx is not None else "nnrun"
    usage = ctx.get_usage().removeprefix("Usage: ").strip() if ctx is not None else command
    if isinstance(mistake, click.MissingParameter):
        name = option_name(mistake.param)
        if isinstance(mistake.param, click.Argument):
            return f"{name} is missing (usage: {usage})"
        return f"{name} is missing: {command} needs it"
    if isinstance(mistake, click.BadParameter):
        name = option_name(mistake.param) if mistake.param is not None else mistake.param_hint or command
        return f"{name}: {_plain(mistake.message)}"
    if isinstance(mistake, click.NoSuchOption):
        given = mistake.option_name
        known = [o for p in ctx.command.params if isinstance(p, click.Option)
                 for o in p.opts if o not in getattr(p, "old", ())] + ["--help"] if ctx is not None else []
        return f"{given}: {command} has no such option{did_you_mean(given, known)}"
    if isinstance(mistake, click.BadOptionUsage):  # "Option '--split' requires an argument."
        said = _plain(mistake.message).replace(f"option '{mistake.option_name}' ", "", 1)
        return f"{mistake.option_name}: {said}"
    if isinstance(mistake, click.UsageError):  # extra arguments, and the like
        return f"{command}: {_plain(mistake.message)} (usage: {usage})"
    return _plain(mistake.format_message())


def _plain(message):
    """Click's sentence as a clause of our line: no capital first letter (unless a word in capitals
    starts it) and no closing full stop."""
    text = str(message).strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text
