#!/usr/bin/env python3
"""What the run record (status.json, predictions/*.npz, first-layer/*.npy) costs a training run.

Trains configs/fraud.yaml in this process on the real credit-card table (../shared/data; else
`nnrun prepare demo fraud`), with every call into the run record timed, and prints

    seconds spent in the run record / the run's wall seconds

It also runs the same training with the run record switched off, alternating (the machine is
shared and noisy), and prints both runs' median wall seconds for comparison.

Usage: python bench/bench_run_record.py [--epochs 10] [--repeats 3] [--tensorboard]
"""
import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NNRUN_SHARED", ROOT.parent / "shared"))


def prepare(work):
    data = work / "fraud"
    table = SHARED / "data" / "creditcard" / "creditcard-10k.csv.gz"
    if table.exists():
        args = ["csv", str(table), str(data), "--label", "Class", "--drop", "Time", "--test-size", "0.2",
                "--validation-size", "0.2", "--seed", "7"]
    else:
        args = ["demo", "fraud", str(data)]
    subprocess.run([sys.executable, "-m", "nnrun", "prepare", *args], check=True, stdout=subprocess.DEVNULL)
    return data


def train(data, run, epochs, record_on, tensorboard):
    import nnrun.train.loop as loop
    from nnrun.train.start import run_training
    from nnrun.config.spec import load_spec
    from nnrun.train import run_record

    spent = [0.0]

    def timed(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        return wrapper

    original = loop.default_observers

    def observers(session, folder):
        if not record_on:
            return []
        made = original(session, folder)
        for observer in made:
            for name in ("started", "progress", "epoch_finished", "ended"):
                if hasattr(observer, name):
                    setattr(observer, name, timed(getattr(observer, name)))
        return made
    loop.default_observers = observers
    try:
        overrides = [f"data={data}", f"train.epoch-count={epochs}", f"train.tensorboard={str(tensorboard).lower()}"]
        spec = load_spec(ROOT / "configs" / "fraud.yaml", overrides)
        start = time.perf_counter()
        run_training(spec, run_dir=run, quiet=True)
        wall = time.perf_counter() - start
    finally:
        loop.default_observers = original
    assert record_on == (run / run_record.STATUS).exists()
    return wall, spent[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tensorboard", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = prepare(work)
        on, off, shares = [], [], []
        for i in range(args.repeats):
            for record_on in ((True, False) if i % 2 == 0 else (False, True)):  # alternate who goes first
                wall, spent = train(data, work / f"{record_on}-{i}", args.epochs, record_on, args.tensorboard)
                (on if record_on else off).append(wall)
                if record_on:
                    shares.append(spent / wall)
        print(f"fraud, {args.epochs} epochs: run record {statistics.median(shares):.2%} of the run's wall time "
              f"(median of {args.repeats}); wall with {statistics.median(on):.2f} s, "
              f"without {statistics.median(off):.2f} s")


if __name__ == "__main__":
    main()
