#!/usr/bin/env python3
"""Data-parallel speed on the CPU: `nnrun train --nproc 2` against one process, MNIST-conv.

Both train configs/mnist-conv.yaml (global batch 128, no augmentation) with one thread per
process (train.threads=1, OMP_NUM_THREADS=1), alternately (the machine is shared and noisy), and

    images/s of 2 processes / images/s of 1 process          (the issue asks >= 1.6)

is printed from the medians over the epochs after the first of each run. Images/s is metrics.jsonl's
samples-per-second: training only (evaluation is timed apart), counting the whole global batch.

What limits it is printed too: per step, the 2-process run's time minus half the 1-process time
is the cost of being two (the gradient all-reduce over gloo, and waiting for the slower rank); a
gloo all-reduce of the same gradient between two bare processes is timed alone, and the load
average says how much of the machine's cores others were using meanwhile.

One process on half the batch is timed as well: that is one rank's share of the computation, and
with the all-reduce it bounds the ratio this machine can reach.

Usage: python bench/bench_distributed.py [--repeats 2] [--epochs 3] [--epoch-size 5120]
Real MNIST from ../shared/data/mnist when present, else synthetic 28x28 images.
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
BATCH = 128


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def prepare(folder):
    mnist = SHARED / "data" / "mnist"
    if (mnist / "train-images-idx3-ubyte.gz").exists():
        # a small validation split: its evaluation is not what this measures
        run(["nnrun", "prepare", "mnist", str(mnist), str(folder), "--validation-size", "1000", "-q"])
        return folder, "MNIST"
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_train import synthetic_mnist
    synthetic_mnist(folder)
    return folder, "synthetic 28x28"


def images_per_second(data, run_dir, nproc, epochs, epoch_size, batch=BATCH):
    command = ["nnrun", "train", str(ROOT / "configs" / "mnist-conv.yaml"), "--set", f"data={data}",
               "--run-dir", str(run_dir), "--quiet", "--set", f"train.epoch-count={epochs}",
               "--set", f"train.epoch-size={epoch_size}", "--set", f"train.batch-size={batch}",
               "--set", "train.augmentation=[]", "--set", "train.threads=1", "--set", "train.device=cpu"]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    run(command)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["samples-per-second"] for r in records[1:] or records)


def _allreduce_worker(rank, size, port, count, repeats, out):
    import time

    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    gradient = torch.ones(count)
    for _ in range(3):
        dist.all_reduce(gradient)
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(gradient)
    if rank == 0:
        out.put((time.perf_counter() - start) / repeats)
    dist.destroy_process_group()


def allreduce_seconds(repeats=30):
    """Seconds of one gloo all-reduce of this network's gradient between 2 local processes."""
    import socket

    import torch.multiprocessing as mp

    from nnrun.config.spec import load_spec
    from nnrun.network.build import build_network
    network = build_network(load_spec(ROOT / "configs" / "mnist-conv.yaml", []).plan)
    count = sum(p.numel() for p in network.parameters() if p.requires_grad)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = mp.get_context("spawn")
    out = context.Queue()
    mp.start_processes(_allreduce_worker, args=(2, port, count, repeats, out), nprocs=2, start_method="spawn")
    return out.get(), count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="alternating pairs of runs")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not counted)")
    parser.add_argument("--epoch-size", type=int, default=BATCH * 40, help="images per epoch")
    args = parser.parse_args()
    one, two, half, loads = [], [], [], [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        data, what = prepare(Path(tmp) / "mnist")
        for repeat in range(args.repeats):
            one.append(images_per_second(data, Path(tmp) / f"one-{repeat}", 1, args.epochs, args.epoch_size))
            two.append(images_per_second(data, Path(tmp) / f"two-{repeat}", 2, args.epochs, args.epoch_size))
            # one rank's share of the work: one process on half the batch
            half.append(images_per_second(data, Path(tmp) / f"half-{repeat}", 1, args.epochs, args.epoch_size,
                                          BATCH // 2))
            loads.append(os.getloadavg()[0])
    reduce_seconds, count = allreduce_seconds()
    a, b, h = statistics.median(one), statistics.median(two), statistics.median(half)
    ratio = b / a
    step_one, step_two, step_half = BATCH / a, BATCH / b, (BATCH // 2) / h
    overhead = step_two - step_one / 2
    print(f"mnist-conv ({what}), batch {BATCH}, 1 thread per process, cores here: {os.cpu_count()}")
    print(f"1 process   {a:8.1f} images/s   runs {[round(v, 1) for v in one]}")
    print(f"2 processes {b:8.1f} images/s   runs {[round(v, 1) for v in two]}")
    print(f"ratio {ratio:.2f}x  ({'meets' if ratio >= 1.6 else 'below'} the 1.6x asked)")
    print(f"per step: 1 process {step_one * 1000:.1f} ms, 2 processes {step_two * 1000:.1f} ms; "
          f"being two costs {overhead * 1000:.1f} ms a step over half the 1-process step "
          f"(all-reduce of the gradients, waiting for the slower rank, and cores shared with other work: "
          f"load average {min(loads):.1f}..{max(loads):.1f} during the runs)")
    print(f"one gloo all-reduce of the gradient ({count:,} float32, {count * 4 / 2**20:.1f} MiB) alone: "
          f"{reduce_seconds * 1000:.1f} ms")
    bound = step_one / (step_half + reduce_seconds)
    print(f"one rank's share, one process on batch {BATCH // 2}: {step_half * 1000:.1f} ms a step "
          f"(not half of {step_one * 1000:.1f} ms: a one-thread convolution is less efficient on a smaller "
          f"batch, and every rank still runs the whole optimizer step); that share plus the all-reduce "
          f"bounds the ratio at {bound:.2f}x on two otherwise idle cores")
    print(json.dumps({"one-process": round(a, 1), "two-processes": round(b, 1), "ratio": round(ratio, 3),
                      "overhead-ms-per-step": round(overhead * 1000, 2), "data": what,
                      "half-batch-step-ms": round(step_half * 1000, 2), "bound": round(bound, 3),
                      "allreduce-ms": round(reduce_seconds * 1000, 2), "gradient-floats": count,
                      "load-average": [round(v, 2) for v in loads]}))


if __name__ == "__main__":
    main()
