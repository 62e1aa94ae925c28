"""Shared test helpers: where the real data lives, and running the CLI in-process."""
import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NNRUN_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts):
    """A path under ../shared/data, or skip the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path}")
    return path


class CliResult:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return f"CliResult(code={self.code}, output={self.output[-2000:]!r})"


def run_cli(*args):
    """Run `nnrun ARGS...` in this process; return its exit code and what it printed."""
    from nnrun.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="module")
def one_thread():
    """Tests of tiny tensors: waking a second thread costs more than the work (ms per op)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Shipped configs that take shapes from the dataset (input width, an embedding's levels, a linear
# layer's class count): the tests that plan every config without a dataset give them these.
AUTO_DATASETS = {"tabular.yaml": ((29, 1, 1), [0] * 29, 2),           # the fraud table's 29 numbers
                 "resnet-catsdogs.yaml": ((64, 64, 3), None, 2)}


def shipped_overrides(path):
    """The --set overrides that let a shipped config plan without its dataset (usually none):
    each layer that waits for the dataset, written out as it would be resolved."""
    import json

    from nnrun.config.auto_input import DatasetFacts, auto_input_indices, resolve_auto_inputs
    from nnrun.config.read import read_config_file

    if Path(path).name not in AUTO_DATASETS:
        return []
    shape, levels, classes = AUTO_DATASETS[Path(path).name]
    network = read_config_file(path)["network"]
    features = [f"V{i + 1}" for i in range(len(levels))] if levels is not None else None
    resolved = resolve_auto_inputs(network, DatasetFacts(shape, levels, features, classes))
    return [f"network.{i}={json.dumps(resolved[i])}" for i in auto_input_indices(network)]

