"""Benchmark: `nnrun prepare images` against a plain single-process Pillow loop, same run.

Both run as fresh processes, as a user would run them, Python start-up included, alternating
so that the machine's load affects both alike:

    nnrun prepare images SRC OUT --size 52        (decodes each JPEG at reduced scale, all cores)
    plain: for each file, sorted: Image.open(f).convert("RGB").resize((52, 52)).save(f.png)

Prints the median time of each and their ratio (plain / nnrun; the issue asks for >= 1.8 on
2 cores). Absolute times on shared machines are noise; the ratio is the figure.

    python bench/bench_prepare.py [--src ../shared/data/dogs-vs-cats/train] [--repeat 3]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "dogs-vs-cats" / "train"

PLAIN_LOOP = """
import os, sys
from PIL import Image
src, dst = sys.argv[1:]
os.makedirs(dst)
for f in sorted(os.listdir(src)):
    Image.open(os.path.join(src, f)).convert("RGB").resize((52, 52)).save(os.path.join(dst, f[:-4] + ".png"))
"""


def nnrun_command():
    script = shutil.which("nnrun")
    return [script] if script else [sys.executable, "-m", "nnrun"]


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=52)
    args = parser.parse_args()
    if not args.src.is_dir():
        sys.exit(f"no images at {args.src} (see ../shared/data/PROVENANCE.md)")
    files = len(os.listdir(args.src))
    nnrun_times, plain_times = [], []
    with tempfile.TemporaryDirectory() as work:
        for rep in range(args.repeat):
            out = Path(work) / f"nnrun-{rep}"
            nnrun_times.append(timed([*nnrun_command(), "prepare", "images", str(args.src), str(out),
                                      "--size", str(args.size), "--quiet"]))
            plain = Path(work) / f"plain-{rep}"
            plain_times.append(timed([sys.executable, "-c", PLAIN_LOOP, str(args.src), str(plain)]))
            print(f"  run {rep + 1}: nnrun {nnrun_times[-1]:.2f} s, plain Pillow loop {plain_times[-1]:.2f} s",
                  flush=True)
    nnrun_s, plain_s = statistics.median(nnrun_times), statistics.median(plain_times)
    print(f"prepare images, {files} files at {args.size}x{args.size}, {os.cpu_count()} cores, "
          f"median of {args.repeat}:")
    print(f"  nnrun prepare images  {nnrun_s:6.2f} s  ({files / nnrun_s:7.1f} images/s)")
    print(f"  plain Pillow loop     {plain_s:6.2f} s  ({files / plain_s:7.1f} images/s)")
    print(f"  ratio                 {plain_s / nnrun_s:6.2f}x  (want >= 1.8)")


if __name__ == "__main__":
    main()
