"""Progress bars for prepare, train and infer: on a terminal only, and never with --quiet."""
import sys


class _Silent:
    """Stands in for a tqdm bar when none is shown (and spares importing tqdm)."""

    def update(self, n=1):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def shown(quiet=False):
    """Whether a bar is drawn: on a terminal, without --quiet."""
    return not quiet and sys.stderr.isatty()


def bar(total, description, quiet=False, unit="img", **tqdm_options):
    """A tqdm bar on stderr (total None: a plain counter), or a silent stand-in."""
    if not shown(quiet):
        return _Silent()
    from tqdm import tqdm

    # No monitor thread: it would be copied into forked workers and it wakes up for nothing.
    tqdm.monitor_interval = 0
    return tqdm(total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True, **tqdm_options)
