#!/usr/bin/env python3
"""Training speed of `nnrun train` against the hand-written loops of ../shared/bench, in one run.

For each workload the reference loop (`reference_loops.py WORKLOAD`) and `nnrun train` with the
matching shipped config are run alternately (the machine is shared and noisy), and the ratio

    nnrun training seconds per sample / reference seconds per sample      (<= 1.0: nnrun is as fast)

is printed from the medians. nnrun's figure is `train-seconds` / `samples` of metrics.jsonl, so
evaluation (timed separately there) is not counted, just as the reference loops do not evaluate.

  fraud       configs/fraud.yaml, forced to the reference's settings: class-balanced sampling,
              Adam 1e-3, batch 100, epochs of 200,000 samples (the real credit-card table when
              ../shared/data has it, else `nnrun prepare demo fraud`)
  nielsen     configs/nielsen.yaml: 784-30-10 sigmoid, SGD 3.0, batch 10, epochs of 50,000 (MNIST,
              or synthetic 28×28 images)
  mnist-conv  configs/mnist-conv.yaml: the Cortex MNIST network, Adam, batch 128 (images per second)

Usage: python bench/bench_train.py [--repeats 3] [--only fraud,nielsen,mnist-conv] [--threads auto|N]
`--threads` sets train.threads for nnrun (default: the config's, i.e. auto); the reference loops
always use torch's default. Prints one line per workload and a final JSON line.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NNRUN_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "bench" / "reference_loops.py"

WORKLOADS = {
    "fraud": {"config": "configs/fraud.yaml", "batch": 100, "epoch": 200_000,
              "set": ["train.sampling=class-balanced", "train.optimizer={type: adam, learning-rate: 0.001}",
                      "train.batch-size=100", "train.epoch-size=200000", "train.augmentation=[]"]},
    "nielsen": {"config": "configs/nielsen.yaml", "batch": 10, "epoch": 50_000,
                "set": ["train.batch-size=10", "train.epoch-size=50000"]},
    "mnist-conv": {"config": "configs/mnist-conv.yaml", "batch": 128, "epoch": 128 * 40,
                   "set": ["train.batch-size=128", "train.epoch-size=5120", "train.augmentation=[]"]},
}


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def reference_seconds_per_sample(workload):
    out = json.loads(run([sys.executable, str(REFERENCE), workload]).strip().splitlines()[-1])
    if "seconds-per-epoch" in out:
        return out["seconds-per-epoch"] / WORKLOADS[workload]["epoch"]
    return 1.0 / out["images-per-second"]


def nnrun_seconds_per_sample(workload, data, folder, threads, epochs=3):
    spec = WORKLOADS[workload]
    run_dir = Path(folder) / f"run-{workload}-{len(list(Path(folder).iterdir()))}"
    command = ["nnrun", "train", str(ROOT / spec["config"]), "--set", f"data={data}", "--run-dir", str(run_dir),
               "--quiet", "--set", f"train.epoch-count={epochs}", "--set", "train.device=cpu",
               "--set", "train.early-stopping=null"]
    for item in spec["set"]:
        command += ["--set", item]
    if threads is not None:
        command += ["--set", f"train.threads={threads}"]
    run(command, cwd=ROOT)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    per_sample = [r["train-seconds"] / r["samples"] for r in records]
    return statistics.median(per_sample), records[0].get("train-seconds")


def prepare(folder):
    """{workload: prepared dataset folder}: the real data when present, else synthetic look-alikes."""
    folder = Path(folder)
    data = {}
    creditcard = SHARED / "data" / "creditcard" / "creditcard-10k.csv.gz"
    if creditcard.exists():
        run(["nnrun", "prepare", "csv", str(creditcard), str(folder / "fraud"), "--label", "Class", "--drop", "Time",
             "--test-size", "0.2", "--validation-size", "0.2", "--seed", "7", "-q"])
    else:
        run(["nnrun", "prepare", "demo", "fraud", str(folder / "fraud"), "-q"])
    data["fraud"] = folder / "fraud"
    mnist = SHARED / "data" / "mnist"
    if (mnist / "train-images-idx3-ubyte.gz").exists():
        run(["nnrun", "prepare", "mnist", str(mnist), str(folder / "mnist"), "--validation-size", "10000", "-q"])
    else:
        synthetic_mnist(folder / "mnist")
    data["nielsen"] = data["mnist-conv"] = folder / "mnist"
    return data


def synthetic_mnist(folder, seed=0):
    """MNIST-shaped random data (1×28×28 uint8, 10 classes), for machines without the real files."""
    import numpy as np
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    splits = {}
    for name, count in (("train", 50_000), ("validation", 2_000), ("test", 2_000)):
        np.save(folder / f"{name}.x.npy", rng.integers(0, 256, (count, 1, 28, 28), dtype=np.uint8))
        y = rng.integers(0, 10, count).astype(np.int64)
        np.save(folder / f"{name}.y.npy", y)
        splits[name] = {"count": count, "x": f"{name}.x.npy", "y": f"{name}.y.npy",
                        "class-counts": {str(c): int((y == c).sum()) for c in range(10)}}
    manifest = {"format": "nnrun-dataset", "version": 1, "kind": "images", "synthetic": True, "labelled": True,
                "classes": [str(c) for c in range(10)], "image": {"size": 28, "channels": 1},
                "normalisation": {"mean": [127.5], "std": [73.9]}, "splits": splits}
    (folder / "dataset.json").write_text(json.dumps(manifest))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating pairs per workload")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--threads", default=None, help="train.threads for nnrun (auto or a number)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        data = prepare(Path(tmp) / "data")
        runs = Path(tmp) / "runs"
        runs.mkdir()
        for workload in args.only.split(","):
            reference, ours = [], []
            for _ in range(args.repeats):  # alternate, so both see the same machine
                reference.append(reference_seconds_per_sample(workload))
                ours.append(nnrun_seconds_per_sample(workload, data[workload], runs, args.threads)[0])
            ratio = statistics.median(ours) / statistics.median(reference)
            epoch = WORKLOADS[workload]["epoch"]
            results[workload] = {"ratio": round(ratio, 3),
                                 "nnrun-seconds-per-epoch": round(statistics.median(ours) * epoch, 3),
                                 "reference-seconds-per-epoch": round(statistics.median(reference) * epoch, 3),
                                 "epoch-samples": epoch, "nnrun-runs": [round(v * epoch, 3) for v in ours],
                                 "reference-runs": [round(v * epoch, 3) for v in reference]}
            print(f"{workload:<11} nnrun {statistics.median(ours) * epoch:8.3f} s  reference "
                  f"{statistics.median(reference) * epoch:8.3f} s  per {epoch:,} samples   ratio {ratio:.3f}"
                  f"  {'ok' if ratio <= 1.0 else 'SLOWER'}", flush=True)
    print(json.dumps({"bench": "train", "threads": args.threads or "config", "results": results}))


if __name__ == "__main__":
    main()
