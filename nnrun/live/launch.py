"""`nnrun train --live [--bind [HOST:]PORT]`: the live page served from a background thread of the training process.

The server only reads the run folder's files, like `nnrun watch`; training tells it the folder
once it exists (a new run's folder is made after every check has passed). Serving costs the
training thread little: the page asks once a second, and an unchanged run is answered from a
few `stat` calls.
"""
import sys

from nnrun.live.server import DEFAULT_HOST, DEFAULT_PORT, parse_bind, start, url_of
from nnrun.live.site import Site

DEFAULT_BIND = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


def serve_training(bind, resume_run=None):
    """Start serving (a port in use is a UserError, before any training); returns the training
    hooks that hand the run folder over."""
    site = Site(resume_run)
    server = start(site, parse_bind(bind, "--bind"), "--bind")  # the address is --bind's (--live alone: the default)
    print(f"live page: {url_of(server)}", file=sys.stderr, flush=True)
    return {"run-folder": site.set_root}
