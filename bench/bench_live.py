"""Benchmark: what serving the live page costs training (`nnrun train --live`).

Trains the fraud network on the demo fraud table as fresh processes, alternating (so the
machine's load affects every condition alike):

    plain      nnrun train configs/fraud.yaml ...
    live       the same with --live 0 and a client asking what the page asks, as often as the
               page asks it: /api/run?since=... every second, /api/site every three seconds
    live-10hz  the same client, ten times as often (a stress case)
    browser    --live 0 with the real page open in headless chromium (optional: --browser)
    watch      no --live: `nnrun watch` in another process serves the same page to chromium
               (with --browser; the difference to `browser` is what serving in the training
               process costs, the rest is the page's own work competing for the cores)

The figure is the training time the run itself measures (metrics.jsonl's train-seconds;
start-up and evaluation excluded): the median run's total and the fastest single epoch of each
condition, and their overhead against plain. The issue asks for at most 2%.

On a shared machine the timings of whole runs are noisy; `--cost` measures instead the CPU time
each kind of request costs, which does not depend on the machine's other load:

    python bench/bench_live.py [--repeat 5] [--epochs 5] [--browser] [--no-stress]
    python bench/bench_live.py --cost
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def poll(url, period, stop):
    """Ask what the page asks: the run every `period` seconds, the list of runs every 3 periods."""
    signature, n = None, 0
    while not stop.is_set():
        try:
            if n % 3 == 0:
                urllib.request.urlopen(url + "api/site", timeout=5).read()
            query = f"api/run?run=.&since={signature}" if signature else "api/run?run=."
            view = json.loads(urllib.request.urlopen(url + query, timeout=5).read())
            signature = view.get("signature", signature)
        except OSError:
            pass
        n += 1
        stop.wait(period)


def browse(url, stop):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        while not stop.is_set():
            page.wait_for_timeout(200)
        browser.close()


def train(dataset, run_dir, epochs, condition):
    command = [sys.executable, "-m", "nnrun", "train", str(ROOT / "configs" / "fraud.yaml"), "--quiet",
               "--set", f"data={dataset}", "--set", f"train.epoch-count={epochs}", "--run-dir", str(run_dir)]
    if condition not in ("plain", "watch"):
        command += ["--live", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop, client, watcher = threading.Event(), None, None
    if condition == "watch":
        while not (run_dir / "run.json").exists() and process.poll() is None:
            time.sleep(0.05)
        watcher = subprocess.Popen([sys.executable, "-m", "nnrun", "watch", str(run_dir), "--bind", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = watcher.stdout.readline().rsplit(" at ", 1)[1].split()[0]
        client = threading.Thread(target=lambda: browse(url, stop), daemon=True)
        client.start()
    elif condition != "plain":
        line = process.stderr.readline()
        url = line.split("live page: ", 1)[1].strip()
        target = {"live": lambda: poll(url, 1.0, stop), "live-10hz": lambda: poll(url, 0.1, stop),
                  "browser": lambda: browse(url, stop)}[condition]
        client = threading.Thread(target=target, daemon=True)
        client.start()
    err = process.stderr.read()
    # The training process's own CPU time (all its threads, the server's included) hardly
    # depends on what else the machine runs, unlike its wall-clock time.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    if client is not None:
        client.join(timeout=10)
    if watcher is not None:
        watcher.terminate()
        watcher.wait()
    if process.returncode != 0:
        raise SystemExit(f"{condition}: nnrun train failed ({process.returncode}):\n{err[-2000:]}")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["train-seconds"] for r in records], usage.ru_utime + usage.ru_stime


def request_cost(run, count=300):
    """CPU milliseconds per request (client and server together, so an upper bound of the
    server's share) for the page's three kinds of poll: nothing changed, only status.json
    changed (mid-epoch), an epoch ended (metrics.jsonl changed: the view is built again)."""
    import http.client

    from nnrun.live.server import start
    from nnrun.live.site import Site

    server = start(Site(run), ("127.0.0.1", 0))
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)

    def ask(query):
        connection.request("GET", "/api/run?run=." + query)
        return json.loads(connection.getresponse().read())

    signature = ask("")["signature"]
    costs = {}
    for kind, touched in (("unchanged", None), ("status changed", "status.json"), ("epoch ended", "metrics.jsonl")):
        started = time.process_time()
        for n in range(count):
            if touched:
                os.utime(run / touched, ns=(n * 1000 + 7, n * 1000 + 7))
            signature = ask(f"&since={signature}").get("signature", signature)
        costs[kind] = 1000 * (time.process_time() - started) / count
    server.shutdown()
    server.server_close()
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also measure with the page open in chromium")
    parser.add_argument("--cost", action="store_true",
                        help="instead: the CPU time one request of each kind costs (steady on a busy machine)")
    parser.add_argument("--no-stress", action="store_true", help="leave out the 10-per-second client")
    args = parser.parse_args()
    conditions = ["plain", "live"] + ([] if args.no_stress else ["live-10hz"]) + (
        ["browser", "watch"] if args.browser else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "nnrun", "prepare", "demo", "fraud", str(tmp / "ds")],
                       check=True, stdout=subprocess.DEVNULL)
        if args.cost:
            train(tmp / "ds", tmp / "cost", args.epochs, "plain")
            for kind, ms in request_cost(tmp / "cost").items():
                print(f"  {kind:15s} {ms:6.3f} ms CPU per request: {ms / 10:.3f}% of a core at one request a second")
            return
        times, cpus = {c: [] for c in conditions}, {c: [] for c in conditions}
        for r in range(args.repeat):
            for c in conditions:
                epochs, cpu = train(tmp / "ds", tmp / f"{c}-{r}", args.epochs, c)
                times[c].append(epochs)
                cpus[c].append(cpu)
                print(f"repeat {r + 1} {c:10s} {sum(epochs):7.3f} s training, {cpu:7.3f} s CPU", flush=True)
    # On a shared machine other work only ever adds time: the median run shows the typical
    # figure, the fastest epoch the figure least disturbed by anything but the condition itself.
    median = {c: statistics.median(sum(e) for e in times[c]) for c in conditions}
    fastest = {c: min(min(e) for e in times[c]) for c in conditions}
    print(f"\ntraining seconds, {args.repeat} repeats of {args.epochs} epochs "
          f"(median run; fastest epoch), against plain:")
    for c in conditions:
        print(f"  {c:10s} {median[c]:7.3f} s {100 * (median[c] / median['plain'] - 1):+6.2f}%   "
              f"{fastest[c]:6.3f} s {100 * (fastest[c] / fastest['plain'] - 1):+6.2f}%")
    cpu = {c: statistics.median(cpus[c]) for c in conditions}
    print("CPU seconds of the whole training process (start-up included), median, against plain:")
    for c in conditions:
        print(f"  {c:10s} {cpu[c]:7.3f} s {cpu[c] - cpu['plain']:+7.3f} s {100 * (cpu[c] / cpu['plain'] - 1):+6.2f}%")


if __name__ == "__main__":
    main()
