"""The live page's HTTP server: the standard library's ThreadingHTTPServer, read-only.

    /                      the page (static files from nnrun/live/static/, no build step)
    /static/NAME           its script and style sheet
    /api/site              one run or a folder of runs; the list of runs
    /api/run?run=ID        everything the page shows of one run; &since=SIGNATURE answers
                           {"unchanged": true} when nothing changed (the page polls every second)
    /api/examples?run=ID&which=last|best&actual=A&predicted=P   a confusion-matrix cell's examples
    /api/thumb?run=ID&split=S&index=N                           one image of the dataset, as PNG
    /files/PATH            a file of one of the runs (config.yaml, metrics.jsonl, train.log, ...)

Only GET and HEAD; every other method is 405. Nothing is written anywhere.
"""
import ipaddress
import json
import socket
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote

from nnrun.errors import UserError
from nnrun.live import examples, run_view

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8091
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    # The page runs only its own script and fetches only from this server.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def parse_bind(text, option="--bind"):
    """"[HOST:]PORT" -> (host, port); the host defaults to 127.0.0.1."""
    text = str(text).strip()
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        hint = "; put CONFIG before --live, or give the address with --bind" if option == "--live" else ""
        raise UserError(f"{option} {text}: should be [HOST:]PORT, e.g. 8091, 0 (any free port) or "
                        f"0.0.0.0:8091{hint}")
    return host, int(port)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's open connection never keeps the program alive

    def server_bind(self):
        # HTTPServer.server_bind asks for the host's full DNS name, which can hang for seconds
        # on a machine without a resolver; the page does not need it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def start(site, bind=(DEFAULT_HOST, DEFAULT_PORT), option="--bind"):
    """Bind (a port in use is a UserError) and serve `site` from a daemon thread."""
    host, port = bind
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("LiveServer", (LiveServer,), {"address_family": family})
    try:
        server = server_class((host, port), make_handler(site, is_loopback(host)))
    except OSError as problem:
        if problem.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise UserError(f"{option} {host}:{port}: the port is in use; choose another "
                            f"(or 0 for any free port)") from None
        raise UserError(f"{option} {host}:{port}: cannot serve there ({problem.strerror or problem})") from None
    if not is_loopback(host):
        print(f"warning: serving on {host}:{server.server_port}, reachable from other machines: anyone "
              f"who can reach it can read these runs", file=sys.stderr, flush=True)
    thread = threading.Thread(target=server.serve_forever, name="nnrun-live", daemon=True)
    thread.start()
    return server


def url_of(server):
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


def make_handler(site, local_only):
    class Handler(LiveHandler):
        pass
    Handler.site, Handler.local_only = site, local_only
    return Handler


class LiveHandler(BaseHTTPRequestHandler):
    site = None
    local_only = True
    _head = False
    server_version = "nnrun-live"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002  - no line per request on the training terminal
        pass

    def __getattr__(self, name):
        # Any method other than GET and HEAD (POST, PUT, DELETE, made-up ones) is refused.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self):
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: GET and HEAD only\n",
                   "text/plain; charset=utf-8", {"Allow": "GET, HEAD"})

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    # ---- answering
    def _answer(self, head):
        self._head = head
        try:
            if self.local_only and not self._local_host():
                return self._send(HTTPStatus.FORBIDDEN, b"unknown host\n", "text/plain; charset=utf-8")
            path, _, query = self.path.partition("?")
            params = {k: v[0] for k, v in parse_qs(query).items()}
            route = ROUTES.get(path)
            if route is not None:
                return route(self, params)
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if path.startswith("/files/"):
                return self._file(unquote(path[len("/files/"):]))
            return self._not_found()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as problem:  # a bug must not take the page down; say it in one line
            print(f"warning: live page: {type(problem).__name__}: {problem}", file=sys.stderr, flush=True)
            try:
                self._json({"error": f"{type(problem).__name__}: {problem}"}, HTTPStatus.INTERNAL_SERVER_ERROR)
            except OSError:
                pass

    def _local_host(self):
        # A page on another site cannot reach us by renaming itself to 127.0.0.1 (DNS rebinding):
        # on a local bind, only requests addressed to a local name are answered.
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.strip("[]").lower() in LOCAL_NAMES

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if not self._head:
            self.wfile.write(body)

    def _json(self, value, status=HTTPStatus.OK):
        self._send(status, run_view.to_json(value).encode(), "application/json; charset=utf-8")

    def _not_found(self, what="not found"):
        self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": what}).encode(), "application/json; charset=utf-8")

    # ---- routes
    def _page(self, params):
        self._static("index.html")

    def _static(self, name):
        if name not in _static_names():
            return self._not_found()
        body = resources.files("nnrun.live").joinpath("static", name).read_bytes()
        suffix = name[name.rfind("."):]
        self._send(HTTPStatus.OK, body, STATIC_TYPES.get(suffix, "application/octet-stream"))

    def _site(self, params):
        self._json(self.site.overview())

    def _run(self, params):
        view = self.site.view(params.get("run", ""))
        if view is None:
            return self._not_found("no such run")
        if params.get("since") == view["signature"]:
            return self._json({"unchanged": True, "signature": view["signature"]})
        self._json(view)

    def _examples(self, params):
        folder = self.site.run_folder(params.get("run", ""))
        which = params.get("which")
        actual, predicted = _int(params.get("actual")), _int(params.get("predicted"))
        if folder is None or which not in ("last", "best") or actual is None or predicted is None:
            return self._not_found()
        self._json(examples.cell_examples(folder, which, actual, predicted, params["run"]))

    def _thumb(self, params):
        folder = self.site.run_folder(params.get("run", ""))
        index = _int(params.get("index"))
        png = examples.thumbnail_png(folder, params.get("split", ""), index) if folder and index is not None else None
        if png is None:
            return self._not_found()
        self._send(HTTPStatus.OK, png, "image/png", {"Cache-Control": "max-age=3600"})

    def _file(self, relative):
        path = self.site.file(relative)
        if path is None:
            return self._not_found()
        try:
            body = path.read_bytes()
        except OSError:
            return self._not_found()
        text = path.suffix in (".json", ".jsonl", ".yaml", ".log", ".txt", ".csv")
        self._send(HTTPStatus.OK, body, "text/plain; charset=utf-8" if text else "application/octet-stream")


ROUTES = {"/": LiveHandler._page, "/index.html": LiveHandler._page, "/api/site": LiveHandler._site,
          "/api/run": LiveHandler._run, "/api/examples": LiveHandler._examples, "/api/thumb": LiveHandler._thumb}


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


_names = None


def _static_names():
    """The page's own files, listed once: only these names are ever served from /static/."""
    global _names
    if _names is None:
        folder = resources.files("nnrun.live").joinpath("static")
        _names = frozenset(entry.name for entry in folder.iterdir() if entry.is_file())
    return _names
