"""Small prepared datasets and configs for the training tests, written directly (numpy + a
manifest following docs/formats.md), so the tests need neither `nnrun prepare` nor real data."""
import json
import signal
from pathlib import Path

import numpy as np
import yaml


def write_dataset(folder, kind, splits, classes, *, features=None, image=None, labelled=True):
    """splits: {name: (x, y)}; writes the arrays and dataset.json; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, (x, y) in splits.items():
        np.save(folder / f"{name}.x.npy", x)
        entry = {"count": int(len(x)), "x": f"{name}.x.npy"}
        if labelled:
            np.save(folder / f"{name}.y.npy", y.astype(np.int64))
            entry["y"] = f"{name}.y.npy"
            entry["class-counts"] = {c: int(np.sum(y == i)) for i, c in enumerate(classes)}
        entries[name] = entry
    train_x = splits["train"][0].astype(np.float64)
    if kind == "table":
        normalisation = {"mean": train_x.mean(0).tolist(), "std": train_x.std(0).tolist()}
    else:
        normalisation = {"mean": train_x.mean((0, 2, 3)).tolist(), "std": train_x.std((0, 2, 3)).tolist()}
    manifest = {"format": "nnrun-dataset", "version": 1, "kind": kind, "synthetic": True,
                "labelled": labelled, "classes": list(classes), "normalisation": normalisation,
                "splits": entries, "sources": [], "skipped": [], "command": "tests", "seed": 0}
    if features is not None:
        manifest["features"] = list(features)
    if image is not None:
        manifest["image"] = dict(image)
    (folder / "dataset.json").write_text(json.dumps(manifest))
    return folder


def blobs(folder, n=(1200, 300, 300), features=6, classes=("a", "b"), positives=0.1, seed=0, shift=2.0):
    """A table: class k is a Gaussian blob shifted by `shift` along feature k; class 1 is rare."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name, count in zip(("train", "validation", "test"), n):
        if count == 0:
            continue
        if len(classes) == 2:
            y = (rng.random(count) < positives).astype(np.int64)
        else:
            y = rng.integers(0, len(classes), count)
        x = rng.normal(size=(count, features)).astype(np.float32)
        x[np.arange(count), y % features] += shift
        x *= np.linspace(1, 50, features, dtype=np.float32)  # unequal scales: standardisation matters
        splits[name] = (x, y)
    return write_dataset(folder, "table", splits, classes, features=[f"f{i}" for i in range(features)])


def bars(folder, n=(480, 120, 120), size=12, channels=1, seed=0):
    """Images: a bright vertical, horizontal or diagonal bar on a noisy background (3 classes)."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name, count in zip(("train", "validation", "test"), n):
        y = rng.integers(0, 3, count)
        x = rng.integers(0, 60, size=(count, channels, size, size)).astype(np.uint8)
        for i in range(count):
            p = rng.integers(2, size - 2)
            if y[i] == 0:
                x[i, :, :, p] = 250
            elif y[i] == 1:
                x[i, :, p, :] = 250
            else:
                idx = np.arange(size)
                x[i, :, idx, idx] = 250
        splits[name] = (x, y)
    return write_dataset(folder, "images", splits, ("vertical", "horizontal", "diagonal"),
                         image={"size": size, "channels": channels})


TABLE_NETWORK = [{"input": {"width": 6, "id": "data"}}, {"linear->relu": 16}, {"linear": 2},
                 {"softmax": {"id": "label"}}]

IMAGE_NETWORK = [{"input": [12, 12, 1, {"id": "data"}]}, {"convolutional": [3, 0, 1, 8]},
                 {"max-pooling": [2, 0, 2]}, "relu", {"linear->softmax": {"output-size": 3, "id": "label"}}]


def write_config(path, network, data, **train):
    """A YAML config; `train` keys use underscores for dashes (epoch_count -> epoch-count)."""
    config = {"network": network, "data": str(data),
              "train": {k.replace("_", "-"): v for k, v in train.items()}}
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
    return Path(path)


def interrupt_at_step(monkeypatch, step):
    """Deliver a real SIGINT to this process during training step `step` (counted over the run)."""
    import nnrun.train.step as step_module
    original = step_module._updater
    calls = {"n": 0}

    def wrapped(session):
        update = original(session)

        def counting(loss):
            calls["n"] += 1
            if calls["n"] == step:
                signal.raise_signal(signal.SIGINT)
            update(loss)
        return counting
    monkeypatch.setattr(step_module, "_updater", wrapped)


def wait_for_first_epoch(process, run, seconds=60):
    """Wait until the `nnrun train` subprocess `process` has written its first metrics line to `run`."""
    import time
    deadline = time.time() + seconds
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text().strip():
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)


def wait_for_handler(process, sig, seconds=60):
    """Wait until `process` catches `sig` (Linux: its SigCgt mask in /proc; elsewhere a second).
    Before that a signal meets the system's default, not nnrun: on a busy machine the Python
    interpreter alone can take half a second to start."""
    import time
    from pathlib import Path
    status = Path(f"/proc/{process.pid}/status")
    if not status.exists():
        time.sleep(1)
        return
    deadline = time.time() + seconds
    while True:
        caught = next((line.split()[1] for line in status.read_text().splitlines() if line.startswith("SigCgt:")), "0")
        if int(caught, 16) >> (int(sig) - 1) & 1:
            return
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.005)
