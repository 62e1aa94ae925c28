"""Running independent tasks on all cores, and stopping cleanly.

Workers are forked where the platform allows it (no re-import, so they start in milliseconds).
They ignore Ctrl-C: the parent alone handles it, cancels what has not started, waits for the
tasks in flight (each is small and writes its results atomically), then re-raises so the caller
can leave a resumable state. A `kill` (SIGTERM) is turned into the same clean stop. Should the
parent die without cleaning up (SIGKILL), each worker notices within half a second and exits.
"""
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from nnrun.errors import UserError


def run_tasks(function, tasks, jobs, done):
    """Call function(*task) for every task, in `jobs` processes; done(result) as each finishes.

    With one job or one task everything runs in this process (no pool to start).
    """
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            done(function(*task))
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                               initializer=_worker_start, initargs=(os.getpid(),))
    previous = _terminate_as_interrupt()
    try:
        futures = [pool.submit(function, *task) for task in tasks]
        for future in as_completed(futures):
            done(future.result())
    except BrokenProcessPool:
        pool.shutdown(wait=True, cancel_futures=True)
        raise UserError("a worker process died (out of memory, or a crash in a decoder on a bad file); "
                        "run again with --jobs 1 to see which") from None
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        _restore(previous)


def _worker_start(parent):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _terminate_as_interrupt():
    """While the pool runs, SIGTERM stops like Ctrl-C (so workers are cleaned up too)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _restore(previous):
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
