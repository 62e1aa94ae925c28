"""One writer per run folder: RUN/.lock, held with flock for the whole run.

A second `nnrun train --resume RUN` while a process trains RUN would append to the same
metrics.jsonl and race on the checkpoints, so it is refused, naming the holder's process id
(written into the lock file). flock belongs to the open file: the kernel releases it when the
holder exits or is killed, so a dead run's lock never blocks a resume. The holder removes the file
as it ends; a taker checks that the file it locked is still the one in the folder, so two
processes can never hold two different lock files.
"""
import os

from nnrun.errors import UserError

LOCK = ".lock"


class RunLock:
    def __init__(self, folder, fd):
        self.folder, self._fd = folder, fd

    @classmethod
    def take(cls, folder):
        """Lock the run folder `folder` (a Path), or UserError naming the process that holds it."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one writer is the user's to ensure
            return cls(folder, None)
        path = folder / LOCK
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as problem:
                raise UserError(f"cannot lock the run folder {folder}: {problem.strerror or problem}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise UserError(f"{folder}: another process (pid {holder}) is training this run; "
                                f"wait for it to end or stop it first") from None
            except OSError:  # a file system without locks: go on unlocked, as before
                os.close(fd)
                return cls(folder, None)
            # the holder before us removes the file as it ends: ours counts only if it is still there
            try:
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the lock holds without the pid; only the message would be poorer
        return cls(folder, fd)

    def release(self):
        """Remove the lock file (while still holding it, so nobody has it open and locked) and
        unlock: a run that ended leaves no lock behind; a killed one leaves a file nobody holds."""
        if self._fd is not None:
            try:
                os.unlink(self.folder / LOCK)
            except OSError:
                pass
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
