"""`nnrun runs`: the table of runs, its sorting and formats, and --diff."""
import csv
import io
import json

from test_runs_reader import fake_run


def make_runs(tmp_path):
    root = tmp_path / "runs"
    a = fake_run(root / "fraud" / "a", epochs=3, status={"state": "finished", "pid": 1, "epoch": 3,
                                                          "updated": "2026-01-02T03:05:05Z"})
    b = fake_run(root / "fraud" / "b", epochs=2, damaged=True)
    (b / "config.yaml").write_text("name: fake\ntrain:\n  epoch-count: 5\n  batch-size: 64\n  metric: {name: f-beta}\n")
    lines = [json.dumps({"epoch": 1, "f-beta": 0.9, "best": True, "threshold": 0.25, "train-seconds": 2.0,
                         "eval-seconds": 0.5})]
    (b / "metrics.jsonl").write_text("\n".join(lines) + "\n{damaged\n")
    (b / "test.json").write_text(json.dumps({"f-beta": 0.88}))
    return root, a, b


def test_table_lists_every_run(cli, tmp_path):
    root, a, b = make_runs(tmp_path)
    result = cli("runs", root)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "start", "status", "epochs"]
    row_a = lines[1].split()
    assert row_a[:5] == ["fraud/a", "2026-01-02T03:04:05Z", "finished", "3", "f-beta"]
    assert row_a[5:7] == ["0.7000", "2"] and row_a[-1] == "60.0"  # best f-beta of epoch 2; wall 1 min
    assert lines[2].split()[0] == "fraud/b" and "0.8800" in lines[2]  # the test figure
    assert "metrics.jsonl:2: damaged line skipped" in result.stderr


def test_sort_and_formats(cli, tmp_path):
    root, a, b = make_runs(tmp_path)
    rows = list(csv.DictReader(io.StringIO(cli("runs", root, "--sort", "f-beta", "--format", "csv").stdout)))
    assert [r["name"] for r in rows] == ["fraud/b", "fraud/a"] and rows[0]["threshold"] == "0.25"
    parsed = json.loads(cli("runs", root, "--sort", "name", "--format", "json").stdout)
    assert [r["name"] for r in parsed] == ["fraud/a", "fraud/b"]
    assert parsed[1]["best"] == 0.9 and parsed[1]["test"] == 0.88 and parsed[1]["wall"] == 2.5
    bad = cli("runs", root, "--sort", "nonsense")
    assert bad.code == 2 and "--sort nonsense" in bad.stderr and "Traceback" not in bad.output


def test_diff_shows_differing_keys_and_best_metrics(cli, tmp_path):
    root, a, b = make_runs(tmp_path)
    result = cli("runs", "--diff", a, b)
    assert result.code == 0, result
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["train.batch-size", "<absent>", "64"] in lines
    assert not any(line and line[0] == "train.epoch-count" for line in lines)
    assert ["f-beta", "0.7000", "0.9000"] in lines and ["epoch", "2", "1"] in lines


def test_diff_names_the_layers_that_differ(cli, tmp_path):
    root, a, b = make_runs(tmp_path)
    layers = [{"input": [28, 28, 1, {"id": "data"}]}] + ["relu"] * 9 + [{"linear->relu": 1000}, {"linear": 10}]
    for run, width, side in ((a, 1000, 28), (b, 500, 32)):
        layers[10], layers[0] = {"linear->relu": width}, {"input": [side, side, 1, {"id": "data"}]}
        (run / "config.yaml").write_text(json.dumps({"network": layers, "train": {"epoch-count": 5}}))
    result = cli("runs", "--diff", a, b)
    assert result.code == 0, result
    keys = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()]
    assert keys[:2] == ["network.0.input", "network.10.linear->relu"]  # in the network's order
    assert ["network.10.linear->relu", "1000", "500"] in [line.split() for line in result.stdout.splitlines()]
    assert '[28, 28, 1, {"id": "data"}]' in result.stdout  # a list of values stays one value


def test_bad_folders(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in ((["runs", tmp_path / "empty"], "no run folders"),
                          (["runs", tmp_path / "missing"], "no such folder"),
                          (["runs", "--diff", tmp_path / "empty", tmp_path / "empty"], "not a run folder")):
        result = cli(*args)
        assert result.code == 2 and message in result.stderr and "Traceback" not in result.output


def test_runs_left_stopped_or_empty_get_their_true_name_and_what_finishes_them(cli, tmp_path, monkeypatch):
    """A folder holding only run.json (killed before its first epoch ended) is "empty", not
    "stopped": there is nothing to resume. A run killed after epoch 2 of 5 goes on with --resume."""
    from test_runs_reader import dead_pid

    monkeypatch.chdir(tmp_path)
    only = tmp_path / "runs" / "only-run-json"
    only.mkdir(parents=True)
    (only / "run.json").write_text(json.dumps({"started": "2026-01-02T03:04:05Z"}))
    killed = fake_run(tmp_path / "runs" / "killed", epochs=2, status={"state": "running", "pid": dead_pid(), "epoch": 2})
    (killed / "last.nnrun").write_bytes(b"stands for the checkpoint")
    fake_run(tmp_path / "runs" / "killed-in-epoch-1", epochs=0, status={"state": "running", "pid": dead_pid()})
    fake_run(tmp_path / "runs" / "done", epochs=2, status={"state": "finished", "pid": 1, "epoch": 2})
    result = cli("runs", "runs")
    assert result.code == 0, result
    status = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines()[1:5]}
    assert status == {"done": "finished", "killed": "stopped", "killed-in-epoch-1": "empty", "only-run-json": "empty"}
    assert result.stdout.splitlines()[5:] == [
        "runs/killed: stopped after epoch 2 of 5: go on with nnrun train --resume runs/killed",
        f"runs/killed-in-epoch-1: empty: it stopped before its first epoch finished, so there is nothing to "
        f"resume; remove it (rm -r runs/killed-in-epoch-1) and train again",
        f"runs/only-run-json: empty: it stopped before its first epoch finished, so there is nothing to "
        f"resume; remove it (rm -r runs/only-run-json) and train again"]
    assert "go on with" not in cli("runs", "runs", "--format", "csv").stdout  # machine formats stay data
