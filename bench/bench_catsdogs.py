#!/usr/bin/env python3
"""configs/resnet-catsdogs.yaml on ../shared/data/dogs-vs-cats: a 1,600/400 split per seed,
training for at most MINUTES, then accuracy and log-loss on the 400 held-out photos.

Per seed: `nnrun prepare images ... --size SIZE --test-size 400 --seed SEED`; `nnrun train` with
data.selection-split and data.test-split pointed away from the held-out photos (the training
split selects nothing: the run's last.nnrun, the weight average after the last epoch, is the
model), stopped by SIGTERM when MINUTES run out (the run keeps its last finished epoch); then
`nnrun evaluate last.nnrun --split test` plain and with `--tta mirror`. Prints the learning
curve (train loss and training-split accuracy per epoch), one result line per seed, and a
final JSON line. The issue's goal: accuracy ≥ 0.80 and log-loss ≤ 0.45 on each seed's 400.

Usage: python bench/bench_catsdogs.py [--seeds 1,2,3] [--minutes 15] [--size 64]
       [--config configs/resnet-catsdogs.yaml] [--set KEY=VALUE ...] [--work /tmp/nnrun-catsdogs]
Runtime: MINUTES per seed plus preparation and evaluation (a minute or two).
"""
import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables_common import ROOT, SHARED, nnrun  # noqa: E402

PHOTOS = SHARED / "data" / "dogs-vs-cats" / "train"


def train_for(config, data, run, minutes, sets):
    """nnrun train, sent SIGTERM after `minutes` (it stops after saving its last finished epoch)."""
    command = [sys.executable, "-m", "nnrun", "train", str(config), "--set", f"data.path={data}",
               "--set", "data.selection-split=train", "--set", "data.test-split=none",
               *[a for s in sets for a in ("--set", s)], "--run-dir", str(run), "--quiet"]
    started = time.monotonic()
    process = subprocess.Popen(command)
    try:
        process.wait(timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
    return time.monotonic() - started


def evaluate(run, data, tta):
    extra = ["--tta", "mirror"] if tta else []
    out = json.loads(nnrun("evaluate", run / "last.nnrun", data, "--split", "test", "--format", "json", *extra))
    return {"accuracy": out["accuracy"], "log-loss": out["loss"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--config", default=str(ROOT / "configs" / "resnet-catsdogs.yaml"))
    parser.add_argument("--set", action="append", default=[], dest="sets")
    parser.add_argument("--work", default="/tmp/nnrun-catsdogs")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        raise SystemExit(f"{PHOTOS}: not there (set NNRUN_SHARED)")
    work = Path(args.work)
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        data = work / f"catsdogs{args.size}-{seed}"
        if not (data / "dataset.json").exists():
            nnrun("prepare", "images", PHOTOS, data, "--size", args.size, "--test-size", "400", "--seed", seed)
        run = work / f"run-{Path(args.config).stem}-{seed}"
        seconds = train_for(args.config, data, run, args.minutes, args.sets + [f"train.seed={seed}"])
        curve = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for r in curve:
            print(f"  seed {seed} epoch {r['epoch']:>3}  train loss {r['train-loss']:.4f}  "
                  f"train-split accuracy {r.get('accuracy', float('nan')):.4f}  lr {r['learning-rate']:.2e}")
        plain, mirrored = evaluate(run, data, False), evaluate(run, data, True)
        results.append({"seed": seed, "epochs": len(curve), "seconds": round(seconds), "plain": plain,
                        "mirror-tta": mirrored})
        print(f"seed {seed}: {len(curve)} epochs in {seconds / 60:.1f} min; held-out 400: accuracy "
              f"{plain['accuracy']:.4f} log-loss {plain['log-loss']:.4f}; with mirror TTA accuracy "
              f"{mirrored['accuracy']:.4f} log-loss {mirrored['log-loss']:.4f}", flush=True)
    print(json.dumps({"config": args.config, "size": args.size, "minutes": args.minutes, "results": results}))


if __name__ == "__main__":
    main()
