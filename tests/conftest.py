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


# Shipped configs whose input width is auto (taken from the dataset): the tests that plan every
# config without a dataset give them these shapes.
AUTO_INPUT_SETS = {"tabular.yaml": ["network.0.input={width: 29, id: data}"],
                   "resnet-catsdogs.yaml": ["network.0.input={width: 64, height: 64, channels: 3, id: data}"]}


def shipped_overrides(path):
    """The --set overrides that let a shipped config plan without its dataset (usually none)."""
    return list(AUTO_INPUT_SETS.get(Path(path).name, []))

