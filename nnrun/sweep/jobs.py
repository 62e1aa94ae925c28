"""--jobs J: J child processes, each a sweep job (nnrun.sweep.worker) with its share of the CPU
threads. The children run in their own session, so a terminal's Ctrl-C reaches only this process,
which passes each signal on exactly once (a second Ctrl-C still stops them at once). Their lines
come back through pipes, a whole line at a time, so J jobs never print into each other's lines.
"""
import os
import signal
import subprocess
import sys
import threading

import click

from nnrun.cores import available_cores


def threads_per_job(jobs):
    return max(1, available_cores() // jobs)


def _relay(stream, err):
    for line in iter(stream.readline, ""):
        click.echo(line.rstrip("\n"), err=err)
    stream.close()


def run_children(folder, jobs):
    """Run J jobs to the end; returns (stopped, exit codes)."""
    threads = threads_per_job(jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "nnrun.sweep.worker", str(folder.path)]
    children, relays, stopped = [], [], []

    def forward(signum, frame):
        stopped.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for slot in range(jobs):
            child = subprocess.Popen(command + [str(slot), str(os.getpid()), str(threads)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
            children.append(child)
            for stream, err in ((child.stdout, False), (child.stderr, True)):
                relay = threading.Thread(target=_relay, args=(stream, err), daemon=True)
                relay.start()
                relays.append(relay)
        codes = [child.wait() for child in children]
        for relay in relays:
            relay.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:  # only when this process itself is failing: leave no job behind
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
    return bool(stopped) or any(code == 130 for code in codes), codes


def killed(codes):
    """[(slot, signal name)] of the jobs that a signal ended without their own say (SIGKILL from
    the out-of-memory killer, say): the trial such a job ran is still marked running."""
    out = []
    for slot, code in enumerate(codes):
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            out.append((slot, name))
    return out
