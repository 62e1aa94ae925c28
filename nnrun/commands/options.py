"""Options shared by several commands (infer and kaggle-submit share how they run), and the
option class that keeps a renamed option's old spelling working."""
import click


class Renamed(click.Option):
    """An option that had another spelling before: the old one (`old=("--label",)`) still
    parses, so command lines written for it keep working, but --help and the error messages
    show only the current one, so every command spells one concept one way."""

    def __init__(self, param_decls, old=(), **attrs):
        super().__init__([*param_decls, *old], **attrs)
        self.old = tuple(old)

    def get_help_record(self, ctx):
        every = self.opts
        self.opts = [o for o in every if o not in self.old]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = every


class CommandGroup(click.Group):
    """A group whose unknown command is one line naming it and the closest command."""

    group_class = type  # its subgroups (prepare demo) are such groups too

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from nnrun.errors import UserError, did_you_mean

            names = self.list_commands(ctx)
            raise UserError(f'{ctx.command_path}: no such command "{name}"{did_you_mean(name, names)}; '
                            f"the commands: {', '.join(names)}")
        return super().resolve_command(ctx, args)


def option_name(param):
    """How messages name an option or argument: its longest current spelling (--output rather
    than -o or an old spelling), or an argument's metavar (CONFIG)."""
    if isinstance(param, click.Option):
        current = [o for o in param.opts if o not in getattr(param, "old", ())] or param.opts
        return max(current, key=len)
    return param.human_readable_name.removesuffix("...") if param is not None else "a value"


set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a config value (the value is read as YAML), e.g. --set train.batch-size=64.")

DEVICE = click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
                      help="Where the network runs: auto takes the GPU when there is one.")
ENGINE = click.option("--engine", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
                      help="onnx: ONNX Runtime on the CPU, from the graph the checkpoint carries. torch: the "
                           "network's torch modules, CPU or GPU. auto: torch on a GPU, ONNX Runtime otherwise.")
BATCH = click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=None,
                     help="Inputs per forward pass (any number of inputs works) [default: 256 images, "
                          "8192 table rows].")
JOBS = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
                    help="Image worker processes (they decode, and with ONNX Runtime also predict) [default: all cores].")
SKIP_BAD = click.option("--skip-bad", is_flag=True,
                        help="Leave unreadable images out (and list them) instead of stopping.")
THRESHOLD = click.option("--threshold", type=float, default=None,
                         help="Decision threshold on P(positive class) [default: the checkpoint's].")
POSITIVE = click.option("--positive", metavar="CLASS", default=None,
                        help="The positive class for the threshold [default: the checkpoint's].")
QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


def run_options(command):
    """--batch-size, --device, --engine, --jobs, --skip-bad and --quiet: how infer and
    kaggle-submit run (nnrun.infer.model.PredictOptions)."""
    for option in reversed((BATCH, DEVICE, ENGINE, JOBS, SKIP_BAD, QUIET)):
        command = option(command)
    return command
