#!/usr/bin/env python3
"""`nnrun prepare csv` on a large mixed-type table against pandas reading it, same run; then
`nnrun infer` on raw rows of it.

The table is bench/make_table.py's (1,000,000 rows: 10 number columns, 5 word columns of 3 to
5,000 levels, blanks, a 0/1 label), made in this run unless --table names one. Then, each as a
fresh process (Python start-up and imports included, as a user runs them), alternating so that
the machine's load falls on both alike:

  (a) nnrun   nnrun prepare csv TABLE OUT --label label --test-size 0.2 --quiet --force
  (b) pandas  pd.read_csv(TABLE), then astype("category").cat.codes of each word column

and for each the wall time and the peak resident memory: the larger of the kernel's peak RSS
(ru_maxrss of the largest single process, taken by a small launcher process) and the largest
sum over the process tree seen by sampling /proc every 50 ms (so worker processes running side
by side count together). The launcher's start-up (about 20 ms) is in both times. Prints the
medians and the ratios nnrun / pandas (issue 19 wants time <= 3x and memory <= 1x).

  (c) infer   a tiny model trained briefly on OUT (configs/tabular.yaml, one epoch of
              --train-samples rows, no warm-up), then
              nnrun infer R/best.nnrun RAW.csv --format csv -o FILE --quiet
              on the first --infer-rows (200,000) rows of the table without the label column.
Prints rows/s end to end (start-up included: the figure a user sees; the issue wants >= 100,000)
and rows/s past start-up (the big run's time less that of a 1,000-row run).

When an nnrun step fails (before issue 19, `prepare csv` refused word columns) a line says
"nnrun ... failed" with its error, the steps that need it are skipped, and the pandas figures
still print.

Usage: python bench/bench_prepare_tables.py [--rows 1000000] [--table FILE.csv] [--repeat 3]
       [--infer-rows 200000] [--train-samples 20000] [--work DIR]
Runtime on 2 cores: about 4 minutes with the default --repeat 3 on a busy machine (load 6-9):
making the table 15-45 s, a pandas read 6-9 s, an nnrun prepare (in progress, issue 19) 15-17 s,
then (c): the short training about 2 minutes (it still evaluates whole splits), each infer run
15 s. Absolute times on a shared machine are noise; the ratios are the figures.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_table import CATEGORY_COLUMNS, LABEL, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tabular.yaml"
NNRUN = [sys.executable, "-m", "nnrun"]

# The peer: what "reading the file and coding its categories" costs with pandas' defaults.
PANDAS_PEER = """
import sys
import pandas as pd
path, *words = sys.argv[1:]
frame = pd.read_csv(path)
codes = {name: frame[name].astype("category").cat.codes for name in words}
print(len(frame), "rows,", sum(int(c.max()) + 1 for c in codes.values()), "levels")
"""


# ---- a child's wall time and peak memory ------------------------------------------------------

# Runs a command and writes its peak RSS to a file. A fresh small process on purpose: on Linux a
# child's ru_maxrss starts from the high-water mark of the process it was forked from (the kernel
# carries it over at exec), so measured straight from this script, which just held a million-row
# frame, every command would seem to need at least that much.
SHIM = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
sys.exit(code)
"""


def tree_rss(root):
    """Resident bytes of the descendants of `root` (not `root` itself: the shim), from /proc."""
    parents, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name in parentheses may hold spaces: the fields after the last ")" are fixed
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21]) * page
    total, stack = 0, [child for child, parent in parents.items() if parent == root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def measured(command, log):
    """Run `command` (output to `log`); (wall seconds, peak bytes, None or its last error line).
    The peak is the larger of the kernel's (the largest single process of the command's tree)
    and the largest sum over its tree sampled every 50 ms (worker processes side by side)."""
    peak_file = Path(log).with_suffix(".peak")
    with open(log, "w") as out:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", SHIM, str(peak_file), *command], stdout=out,
                                 stderr=subprocess.STDOUT)
        sampled, done = [0], threading.Event()

        def sample():
            while not done.wait(0.05):
                sampled[0] = max(sampled[0], tree_rss(child.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        child.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    kernel = int(peak_file.read_text()) if peak_file.exists() else 0
    peak = max(sampled[0], kernel)
    if child.returncode != 0:
        lines = Path(log).read_text(errors="replace").strip().splitlines() or [f"exit status {child.returncode}"]
        return seconds, peak, lines[-1][:300]
    return seconds, peak, None


def timed(command):
    """(wall seconds, None or the last error line) of a command run for its time alone."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
        return seconds, lines[-1][:300]
    return seconds, None


def mib(n):
    return n / 2**20


# ---- the steps --------------------------------------------------------------------------------

def compare_prepare(table, work, repeat):
    """(a) against (b), alternating; returns the prepared folder when nnrun's last run worked."""
    runs = {"nnrun": [], "pandas": []}
    out, failed = work / "prepared", None
    for rep in range(repeat):
        if failed is None:
            seconds, peak, error = measured([*NNRUN, "prepare", "csv", str(table), str(out), "--label", LABEL,
                                             "--test-size", "0.2", "--quiet", "--force"], work / "prepare.log")
            if error:
                failed = error
                print(f"  nnrun prepare csv failed ({seconds:.1f} s): {error}", flush=True)
            else:
                runs["nnrun"].append((seconds, peak))
                print(f"  run {rep + 1}: nnrun prepare csv {seconds:6.2f} s, peak {mib(peak):7.0f} MiB", flush=True)
        seconds, peak, error = measured([sys.executable, "-c", PANDAS_PEER, str(table), *CATEGORY_COLUMNS],
                                        work / "pandas.log")
        if error:
            sys.exit(f"the pandas peer failed: {error}")
        runs["pandas"].append((seconds, peak))
        print(f"  run {rep + 1}: pandas read+codes  {seconds:6.2f} s, peak {mib(peak):7.0f} MiB  "
              f"({(work / 'pandas.log').read_text().strip()})", flush=True)

    medians = {name: (statistics.median(s for s, _ in r), statistics.median(p for _, p in r))
               for name, r in runs.items() if r}
    pandas_s, pandas_peak = medians["pandas"]
    print(f"median of {len(runs['pandas'])}:")
    print(f"  pandas read_csv + category codes  {pandas_s:7.2f} s  {mib(pandas_peak):7.0f} MiB")
    if "nnrun" not in medians:
        print(f"  nnrun prepare csv                 failed: {failed}")
        return None
    nnrun_s, nnrun_peak = medians["nnrun"]
    print(f"  nnrun prepare csv                 {nnrun_s:7.2f} s  {mib(nnrun_peak):7.0f} MiB")
    print(f"  time   nnrun / pandas  {nnrun_s / pandas_s:5.2f}x  (want <= 3)")
    print(f"  memory nnrun / pandas  {nnrun_peak / pandas_peak:5.2f}x  (want <= 1)")
    return out


def infer_speed(table, data, work, infer_rows, train_samples, repeat):
    """(c): train a tiny model briefly, then time `nnrun infer` on raw rows."""
    import pandas as pd

    run = work / "run"
    # one short epoch: a model is needed, not a good one (warm-up off: it needs a second epoch)
    seconds, error = timed([*NNRUN, "train", str(CONFIG), "--set", f"data={data}", "--set", "train.epoch-count=1",
                            "--set", f"train.epoch-size={train_samples}", "--set", "train.schedule.warmup-epochs=0",
                            "--run-dir", str(run), "--quiet"])
    if error:
        print(f"  nnrun train failed ({seconds:.1f} s): {error}")
        return
    print(f"  trained a model for inference in {seconds:.1f} s ({train_samples:,} samples)")

    # the raw rows as the file has them (strings kept as written, blanks blank), label dropped
    raw = pd.read_csv(table, nrows=infer_rows, dtype=str, keep_default_na=False).drop(columns=[LABEL])
    big, small = work / "raw.csv", work / "raw-1000.csv"
    raw.to_csv(big, index=False)
    raw.head(1000).to_csv(small, index=False)
    rows = len(raw)
    del raw

    times = {"big": [], "small": []}
    for _ in range(repeat):
        for name, path in (("big", big), ("small", small)):
            seconds, error = timed([*NNRUN, "infer", str(run / "best.nnrun"), str(path), "--format", "csv",
                                    "-o", str(work / "predictions.csv"), "--quiet"])
            if error:
                print(f"  nnrun infer failed ({seconds:.1f} s): {error}")
                return
            times[name].append(seconds)
    big_s, small_s = statistics.median(times["big"]), statistics.median(times["small"])
    print(f"nnrun infer on {rows:,} raw rows, median of {repeat}: {big_s:.2f} s; 1,000 rows: {small_s:.2f} s")
    print(f"  end to end        {rows / big_s:10,.0f} rows/s  (want >= 100,000)")
    if big_s > small_s:
        print(f"  past start-up     {(rows - 1000) / (big_s - small_s):10,.0f} rows/s")


def main():
    # a kill (SIGTERM) ends as an exception, so the temporary folder is still removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated table")
    parser.add_argument("--seed", type=int, default=0, help="the generated table's seed")
    parser.add_argument("--table", type=Path, default=None, help="use this table (make_table.py's columns) "
                        "instead of generating one")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--infer-rows", type=int, default=200_000)
    parser.add_argument("--train-samples", type=int, default=20_000, help="samples of the short training")
    parser.add_argument("--work", type=Path, default=None, help="keep the files here (default: a temporary "
                        "folder, removed at the end)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="nnrun-prepare-tables-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        table = args.table
        if table is None:
            start = time.perf_counter()
            table = write_table(work / "table.csv", args.rows, args.seed)
            print(f"made {table}: {args.rows:,} rows, {mib(table.stat().st_size):.0f} MiB in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
        elif not table.exists():
            sys.exit(f"{table}: no such file")
        print(f"prepare csv against pandas on {table.name}, {os.cpu_count()} cores:", flush=True)
        data = compare_prepare(table, work, args.repeat)
        if data is None:
            print("inference speed: skipped (no prepared dataset)")
        else:
            infer_speed(table, data, work, args.infer_rows, args.train_samples, args.repeat)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
