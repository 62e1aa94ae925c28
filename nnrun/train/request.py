"""What `nnrun train` was asked to do, as one value: the command line's options travel from the
click command (nnrun.commands.train) through the launcher's workers to nnrun.train.start together,
rather than as a dozen positional arguments each function must keep in order."""
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainRequest:
    config: str = None            # the config file (None: --resume's run has its own)
    overrides: tuple = ()         # --set KEY=VALUE, in order
    run_dir: str = None           # --run-dir
    resume_run: str = None        # --resume RUN
    device: str = None            # --device (None: the config's)
    quiet: bool = False
    tensorboard: bool = False
    print_config: bool = False    # print the resolved config and stop
    live: str = None              # the live page's [HOST:]PORT, or None for no page
    cortex_block: bool = False    # also print Cortex's block of figures each epoch
