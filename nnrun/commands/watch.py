"""`nnrun watch PATH`: serve the live page for a run folder or a folder of runs.

The page follows the files only, so the runs may be finished or still training in another
process. Thin wrapper around nnrun/live/.
"""
import threading

import click


@click.command()
@click.argument("path", type=click.Path())
@click.option("--bind", default="127.0.0.1:8091", show_default=True, metavar="[HOST:]PORT",
              help="Where to serve; 0 as the port picks a free one. A non-local host is reachable by others.")
def watch(path, bind):
    """Serve a live page of the run in PATH (or of every run below PATH, e.g. runs/): confusion
    matrices with examples per cell, curves per epoch, config and run facts, updated as epochs end.
    Read-only. Ctrl-C stops."""
    from nnrun.live.server import parse_bind, start, url_of
    from nnrun.live.site import Site, check_watch_path

    folder = check_watch_path(path)
    server = start(Site(folder), parse_bind(bind, "--bind"), "--bind")
    click.echo(f"serving {folder} at {url_of(server)}  (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
