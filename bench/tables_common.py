"""Shared by bench/bench_thresholds.py and bench/bench_xgboost.py: imbalanced tables split by seed,
nnrun trainings on them, and each split's P(positive) from a trained model.

Tables:
  creditcard  ../shared/data/creditcard/creditcard-10k.csv.gz (label Class, Time dropped)
  demo        `nnrun prepare demo fraud` (synthetic, fraud-like; its own seed)
Each seed prepares a stratified 60/20/20 train/validation/test split with that seed.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NNRUN_SHARED", ROOT.parent / "shared"))
CREDITCARD = SHARED / "data" / "creditcard" / "creditcard-10k.csv.gz"


def nnrun(*args):
    result = subprocess.run([sys.executable, "-m", "nnrun", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"nnrun {' '.join(map(str, args))}: {result.stderr.strip()[-500:]}")
    return result.stdout


def prepare(table, seed, folder):
    """The table split with `seed` into `folder` (made once)."""
    folder = Path(folder)
    if (folder / "dataset.json").exists():
        return folder
    if table == "creditcard":
        if not CREDITCARD.exists():
            raise SystemExit(f"{CREDITCARD}: not there (set NNRUN_SHARED)")
        nnrun("prepare", "csv", CREDITCARD, folder, "--label", "Class", "--drop", "Time", "--test-size", "0.2",
              "--validation-size", "0.2", "--seed", seed)
    elif table == "demo":
        nnrun("prepare", "demo", "fraud", folder, "--seed", seed, "--test-size", "0.2", "--validation-size", "0.2")
    else:
        raise SystemExit(f"unknown table {table} (creditcard, demo)")
    return folder


def train(config, data, run, sets=()):
    """Train `config` on `data` into `run` (skipped when run/test.json exists); the test.json."""
    run = Path(run)
    if not (run / "test.json").exists():
        extra = [a for s in sets for a in ("--set", s)]
        nnrun("train", config, "--set", f"data={data}", *extra, "--run-dir", run, "--quiet")
    return json.loads((run / "test.json").read_text())


def arrays(data, split):
    """(x, y) of a prepared split, as stored."""
    return np.load(Path(data) / f"{split}.x.npy"), np.load(Path(data) / f"{split}.y.npy")


def probabilities(checkpoint, data, split):
    """P(positive) of each example of `split`, from the model file, and the labels."""
    import torch

    from nnrun.data.dataset import open_dataset
    from nnrun.model_io import load_model
    from nnrun.train.data import Inputs, SplitData
    from nnrun.train.evaluation import needs_one_hot, predict_split
    from nnrun.train.task import model_task

    loaded = load_model(checkpoint, device="cpu")
    dataset = open_dataset(data)
    task = model_task(loaded, dataset, split)
    inputs = Inputs(loaded.preprocessing, torch.device("cpu"), torch.float32)
    split_data = SplitData(dataset, split, inputs, torch.device("cpu"),
                           input_dims=loaded.plan.inputs[0].out_shape.batch_dims(),
                           one_hot=any(needs_one_hot(leaf) for leaf in task.leaves))
    _, outputs = predict_split(loaded.network, task, split_data, 4096)
    return outputs[:, task.positive], split_data.labels_np == task.positive


def f1_at(scores, is_positive, threshold):
    predicted = scores >= threshold
    tp = np.sum(predicted & is_positive)
    if tp == 0:
        return 0.0
    precision, recall = tp / predicted.sum(), tp / is_positive.sum()
    return float(2 * precision * recall / (precision + recall))
