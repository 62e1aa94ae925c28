"""The live page's server over plain HTTP: what it serves, what it refuses (traversal, methods,
other hosts), and the bad-input cases of `nnrun watch` and `nnrun train --live`."""
import hashlib
import http.client
import json
import os
import shutil
import socket

import pytest
import yaml

from live_fixtures import append_epoch, make_run
from train_fixtures import TABLE_NETWORK, bars, blobs

from nnrun.live.server import parse_bind, start
from nnrun.live.site import Site
from nnrun.errors import UserError

CLASSES = ["vertical", "horizontal", "diagonal"]
M1 = [[30, 6, 4], [5, 30, 5], [3, 2, 35]]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    dataset = bars(base / "ds")
    root = base / "runs"
    make_run(root / "img", dataset, CLASSES, [M1])
    (base / "secret.txt").write_text("outside")
    (root / "img" / "link.txt").symlink_to(base / "secret.txt")
    (root / "img" / "linkdir").symlink_to(base)
    (root / "img" / "inside.txt").symlink_to(root / "img" / "run.json")
    return base, root


@pytest.fixture(scope="module")
def server(world):
    server = start(Site(world[1]), ("127.0.0.1", 0))
    yield server
    server.shutdown()
    server.server_close()


def request(server, method, path, host=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    headers = {"Host": host} if host else {}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, response


def test_serves_the_page_its_files_and_a_run(server):
    status, body, response = request(server, "GET", "/")
    assert status == 200 and b"/static/live.js" in body
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    assert request(server, "GET", "/static/live.js")[0] == 200
    assert request(server, "GET", "/files/img/run.json")[0] == 200
    assert request(server, "GET", "/files/img/inside.txt")[0] == 200  # a symlink that stays inside
    status, body, _ = request(server, "GET", "/api/run?run=img")
    view = json.loads(body)
    assert status == 200 and view["current"]["confusion-matrix"] == M1 and view["classes"] == CLASSES


@pytest.mark.parametrize("path", [
    "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/img/..%2f..%2fsecret.txt",
    "/files/img/%2e%2e/%2e%2e/secret.txt", "/files//etc/passwd", "/files/%2Fetc%2Fpasswd",
    "/files/img/link.txt", "/files/img/linkdir/secret.txt", "/files/img/nothing.txt", "/files/img",
    "/files/img/run.json%00", "/static/../server.py", "/static/%2e%2e/server.py", "/../../etc/passwd",
    "/api/run?run=..", "/api/run?run=/etc", "/api/run?run=img/..", "/api/run?run=%2e%2e",
    "/api/thumb?run=..&split=validation&index=0", "/api/examples?run=/tmp&which=last&actual=0&predicted=1",
])
def test_nothing_outside_the_runs_is_served(server, path):
    status, body, _ = request(server, "GET", path)
    assert status == 404, path
    assert b"outside" not in body and b"root:" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_read_only(server, method):
    status, _, response = request(server, method, "/files/img/run.json")
    assert status == 405 and response.getheader("Allow") == "GET, HEAD"


def test_head_and_foreign_host(server):
    status, body, _ = request(server, "HEAD", "/api/run?run=img")
    assert status == 200 and body == b""
    # DNS rebinding: a page on another site renamed to our address is not answered
    assert request(server, "GET", "/api/site", host="evil.example:8091")[0] == 403
    assert request(server, "GET", "/api/site", host=f"localhost:{server.server_port}")[0] == 200


def test_thumbnail_and_examples(server):
    status, body, _ = request(server, "GET", "/api/examples?run=img&which=last&actual=0&predicted=1")
    result = json.loads(body)
    assert status == 200 and result["total"] == 6 and result["kind"] == "images"
    probabilities = [e["probability"] for e in result["examples"]]
    assert probabilities == sorted(probabilities, reverse=True)
    status, png, response = request(server, "GET", result["examples"][0]["thumb"])
    assert status == 200 and png.startswith(b"\x89PNG") and response.getheader("Content-Type") == "image/png"


def test_table_examples_have_feature_values(tmp_path):
    dataset = blobs(tmp_path / "ds")
    run = make_run(tmp_path / "run", dataset, ["a", "b"], [[[250, 20], [5, 25]]], positive=1)
    server = start(Site(run), ("127.0.0.1", 0))
    try:
        result = json.loads(request(server, "GET", "/api/examples?run=.&which=best&actual=1&predicted=0")[1])
        assert result["total"] == 5 and result["features"] == [f"f{i}" for i in range(6)]
        assert all(len(e["features"]) == 6 for e in result["examples"])
    finally:
        server.shutdown()
        server.server_close()


def test_examples_of_a_dataset_prepared_again_have_no_pictures(tmp_path):
    """Stored predictions name examples by their row: in a dataset prepared again in the same
    folder, that row is another picture, so none is shown."""
    dataset = bars(tmp_path / "ds")
    run = make_run(tmp_path / "run", dataset, CLASSES, [M1])
    info = json.loads((run / "run.json").read_text())
    info["dataset"]["manifest-sha256"] = hashlib.sha256((dataset / "dataset.json").read_bytes()).hexdigest()
    (run / "run.json").write_text(json.dumps(info))
    server = start(Site(run), ("127.0.0.1", 0))
    try:
        query = "/api/examples?run=.&which=last&actual=0&predicted=1"
        before = json.loads(request(server, "GET", query)[1])
        thumb = before["examples"][0]["thumb"]
        assert before["kind"] == "images" and request(server, "GET", thumb)[0] == 200
        (dataset / "dataset.json").write_text((dataset / "dataset.json").read_text() + "\n")
        after = json.loads(request(server, "GET", query)[1])
        assert after["total"] == before["total"] and "changed since this run" in after["note"]
        assert not any("thumb" in example for example in after["examples"])
        assert request(server, "GET", thumb)[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_waiting_damaged_and_deleted(tmp_path, capsys):
    dataset = bars(tmp_path / "ds")
    root = tmp_path / "runs"
    make_run(root / "waiting", dataset, CLASSES, [], state="running")
    damaged = make_run(root / "damaged", dataset, CLASSES, [M1])
    with open(damaged / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "loss": \n')
    append_epoch(damaged, 3, M1, CLASSES)
    doomed = make_run(root / "doomed", dataset, CLASSES, [M1])
    site = Site(root)
    assert site.view("waiting")["waiting"] is True
    view = site.view("damaged")
    assert view["epochs"] == 2 and view["epoch"] == 3
    assert any("2: damaged line skipped" in w for w in view["warnings"])
    assert "damaged line skipped" in capsys.readouterr().err
    assert site.view("doomed")["state"] == "finished"
    shutil.rmtree(doomed)
    site._scanned = 0  # rescan now rather than in two seconds
    assert site.view("doomed")["state"] == "gone"
    assert {r["id"] for r in site.overview()["runs"]} == {"waiting", "damaged"}
    shutil.rmtree(root)
    site._scanned = 0
    overview = site.overview()
    assert overview["runs"] == [] and "gone" in overview["message"]


def test_parse_bind():
    assert parse_bind("8091") == ("127.0.0.1", 8091)
    assert parse_bind("0.0.0.0:0") == ("0.0.0.0", 0)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    with pytest.raises(UserError, match="--live configs/x.yaml: should be .* put CONFIG before --live, or give "
                                        "the address with --bind"):
        parse_bind("configs/x.yaml", "--live")


@pytest.fixture
def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_watch_port_in_use(cli, world, busy_port):
    result = cli("watch", world[1], "--bind", str(busy_port))
    assert result.code == 2 and "port is in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_train_live_port_in_use(cli, tmp_path, busy_port):
    dataset = blobs(tmp_path / "ds", n=(60, 20, 0))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"network": TABLE_NETWORK, "data": str(dataset),
                                      "train": {"epoch-count": 1}}))
    result = cli("train", config, "--run-dir", tmp_path / "run", "--live", "--bind", str(busy_port))
    assert result.code == 2 and f"--bind 127.0.0.1:{busy_port}: the port is in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_train_names_the_address_as_watch_does_and_the_old_spelling_still_works(cli, tmp_path, busy_port):
    """The address of the page is --bind [HOST:]PORT in train as in watch (--bind alone asks for
    the page); --live, a flag in --help, still takes the address as its value, as it first did."""
    from nnrun.commands.train import DEFAULT_BIND, _worker_argv, live_address
    from nnrun.train.request import TrainRequest
    from nnrun.live.launch import DEFAULT_BIND as SERVED

    assert DEFAULT_BIND == SERVED
    assert live_address(None, None) is None
    assert live_address(DEFAULT_BIND, None) == DEFAULT_BIND           # --live
    assert live_address(DEFAULT_BIND, "0") == "0"                     # --live --bind 0
    assert live_address(None, "0.0.0.0:9000") == "0.0.0.0:9000"       # --bind 0.0.0.0:9000
    assert live_address("8092", None) == "8092"                       # the old --live 8092
    assert _worker_argv(TrainRequest("c.yaml", live="0"))[-2:] == ["--bind", "0"]
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"network": TABLE_NETWORK, "data": str(blobs(tmp_path / "ds", n=(60, 20, 0))),
                                      "train": {"epoch-count": 1}}))
    port = str(busy_port)
    for args, said in (([config, "--live", port], f"--bind 127.0.0.1:{port}: the port is in use"),
                       ([config, "--bind", port], f"--bind 127.0.0.1:{port}: the port is in use"),
                       ([config, "--live", "1", "--bind", "2"], "--live 1 and --bind 2: two addresses"),
                       ([config, "--bind", "x.yaml"], "--bind x.yaml: should be [HOST:]PORT"),
                       (["--live", config], f"--live {config}: should be [HOST:]PORT")):  # CONFIG taken as its value
        result = cli("train", *args, "--run-dir", tmp_path / "run", "--quiet")
        assert result.code == 2 and said in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    shown = cli("train", "--help").stdout
    assert "--live  " in shown and "--bind [HOST:]PORT" in shown and "[[HOST:]PORT]" not in shown


def test_watch_refuses_what_is_not_a_run(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    os.mkfifo(tmp_path / "pipe")
    for path, words in ((tmp_path / "empty", "is not a run folder"), (tmp_path / "nope", "does not exist"),
                        (tmp_path / "file.txt", "is not a folder"), (tmp_path / "pipe", "is not a folder")):
        result = cli("watch", path, "--bind", "0")
        assert result.code == 2 and words in result.stderr, result
        assert "Traceback" not in result.output


def test_mid_epoch_only_the_status_is_read_again(tmp_path, capsys):
    run = make_run(tmp_path / "run", bars(tmp_path / "ds"), CLASSES, [M1], state="running")
    site = Site(run)
    first = site.view(".")
    status = json.loads((run / "status.json").read_text())
    status["in-progress"] = {"epoch": 2, "samples": 500, "of": 1000, "samples-per-second": 250.0}
    (run / "status.json").write_text(json.dumps(status))
    second = site.view(".")
    assert second["in_progress"]["samples"] == 500 and second["signature"] != first["signature"]
    assert second["content"] == first["content"] and second["series"] is first["series"]  # not rebuilt
    with open(run / "metrics.jsonl", "a") as f:  # an epoch's line caught half-written
        f.write('{"epoch": 2, "train-lo')
    third = site.view(".")
    assert third["content"] != first["content"] and third["epochs"] == 1 and third["warnings"] == []
    assert "damaged" not in capsys.readouterr().err


def test_a_non_local_bind_warns(world, capsys):
    server = start(Site(world[1]), ("0.0.0.0", 0))
    try:
        assert "warning: serving on 0.0.0.0:" in capsys.readouterr().err
        # bound to every address, it answers whatever name it is reached by
        assert request(server, "GET", "/api/site", host="my-machine.example:8091")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_runs_left_empty_or_killed_say_so_and_what_finishes_them(tmp_path):
    """A folder holding only run.json is empty (nothing to resume), not waiting for an epoch that
    will never come; a trainer killed mid-run changes no file, yet its run turns from running to
    stopped, with the command that goes on."""
    import subprocess
    import sys

    dataset = bars(tmp_path / "ds")
    root = tmp_path / "runs"
    only = root / "only"
    only.mkdir(parents=True)
    (only / "run.json").write_text(json.dumps({"started": "2026-01-01T00:00:00Z"}))
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run = make_run(root / "alive", dataset, CLASSES, [M1], state="running", epoch_count=5)
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**status, "pid": trainer.pid}))
    (run / "last.nnrun").write_bytes(b"stands for the checkpoint")
    site = Site(root)
    view = site.view("only")
    assert view["state"] == "empty" and "nothing to resume" in view["message"] and str(only) in view["message"]
    assert site.view("alive")["state"] == "running" and site.view("alive")["message"] is None
    trainer.kill()
    trainer.wait()
    view = site.view("alive")
    assert view["state"] == "stopped"
    assert view["message"] == f"{run}: stopped after epoch 1 of 5: go on with nnrun train --resume {run}"
