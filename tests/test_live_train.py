"""The live page served by real processes: `nnrun train --live --bind 0` while it trains (the page's data
comes from the run folder the training writes), and `nnrun watch` until Ctrl-C."""
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from train_fixtures import TABLE_NETWORK, blobs


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_for(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def two_epochs(url):
    """The run's view once two epochs have ended; None before (404 until the run folder exists)."""
    try:
        view = get_json(url + "api/run?run=.")
    except urllib.error.HTTPError:
        return None
    return view if view.get("epochs", 0) >= 2 else None


def test_train_live_serves_the_run_it_writes(tmp_path):
    dataset = blobs(tmp_path / "ds")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"network": TABLE_NETWORK, "data": str(dataset),
                                      "train": {"epoch-size": 600, "batch-size": 50}}))  # until stopped
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "nnrun", "train", str(config), "--run-dir", str(run),
                                "--live", "--bind", "0", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        assert line.startswith("live page: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        view = wait_for(lambda: two_epochs(url))
        assert view["state"] == "running" and view["classes"] == ["a", "b"]
        assert view["current"]["confusion-matrix"] and view["kind"] == "table"
        matrix = view["current"]["confusion-matrix"]
        cell = next((a, p) for a in range(2) for p in range(2) if matrix[a][p])
        if view["predictions"]["last"]:
            examples = get_json(url + f"api/examples?run=.&which=last&actual={cell[0]}&predicted={cell[1]}")
            assert examples["total"] >= 1 and len(examples["examples"][0]["features"]) == 6
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err


def test_watch_serves_until_interrupted(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    process = subprocess.Popen([sys.executable, "-m", "nnrun", "watch", str(run), "--bind", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.rsplit(" at ", 1)[1].split()[0]
        view = get_json(url + "api/run?run=.")
        assert view["waiting"] is True and view["epochs"] == 0
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err
