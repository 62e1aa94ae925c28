"""What surrounds the training loop: the stop signal it polls (Ctrl-C / SIGTERM) and the console
it speaks through (the terminal unless quiet, and always the run's log)."""
import signal
import threading
from contextlib import contextmanager

import click

# A stop asked for before `nnrun train`'s loop started (see `remembering_stops`).
_EARLY = {"signal": None}


@contextmanager
def remembering_stops():
    """Around `nnrun train`: a Ctrl-C or SIGTERM that comes before the loop's StopSignal takes over
    (during the imports, which take seconds, or while the data loads) is remembered, and the loop
    stops before its first epoch (exit 130, the new folder removed). Without this a SIGTERM then
    killed the process (exit 143), and a KeyboardInterrupt raised inside an import could be
    swallowed or leave a module half made. A second Ctrl-C stops at once, as in the loop."""
    def handle(signum, frame):
        if _EARLY["signal"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        _EARLY["signal"] = signal.Signals(signum).name
    _EARLY["signal"] = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _EARLY["signal"] = None


class StopSignal:
    """Turns SIGINT/SIGTERM into a flag the loop polls; a second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def __call__(self):
        return self.requested is not None

    def _handle(self, signum, frame):
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        self.requested = self.requested or _EARLY["signal"]
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class Console:
    """What the run says: to the terminal (unless quiet) and always to the run's log. Without a
    folder (a parallel job's other ranks) it says nothing."""

    def __init__(self, folder, quiet):
        self.folder, self.quiet = folder, quiet

    def say(self, text, always=False, err=False, screen=True):
        """Log `text`; print it too unless quiet (`always` prints even then, `screen=False` never)."""
        if self.folder is None:
            return
        self.folder.log(text)
        if screen and (always or not self.quiet):
            click.echo(text, err=err)
