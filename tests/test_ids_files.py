"""A prepared split's ids file (NAME.ids.json) that is damaged: not JSON, an id listed twice, another
count than the split's rows, or gone. Every command that reads it names the file and what is
wrong: infer and kaggle-submit stop (exit 2, one line, nothing written), since rows without their
ids, or a submission refused for want of them, would hide it; the report and the live page,
whose run is still worth showing, name the examples by position and say why. A split that keeps
no ids at all (made by hand or by an older nnrun) is still read as such."""
import json
import shutil

import numpy as np
import pytest

from conftest import run_cli

DAMAGE = {  # name: (what to do to the list of ids as written, or to the file; what the line says)
    "not JSON": (lambda path, ids: path.write_text(json.dumps(ids)[:-5]), "is not readable JSON"),
    "an id twice": (lambda path, ids: path.write_text(json.dumps([ids[0]] + ids[:-1])),
                    "is listed twice; each example needs its own id"),
    "one id short": (lambda path, ids: path.write_text(json.dumps(ids[:-1])), "but lists"),
    "gone": (lambda path, ids: path.unlink(), "is missing"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A table prepared by `nnrun prepare csv` with an id column (so its ids files are as nnrun
    writes them), and a run trained on it for one epoch."""
    base = tmp_path_factory.mktemp("ids")
    rng = np.random.default_rng(0)
    lines = ["Id,a,b,c,y"] + [f"T{i:03d},{x[0]:.3f},{x[1]:.3f},{x[2]:.3f},{int(x[0] + x[1] > 0)}"
                              for i, x in enumerate(rng.normal(size=(200, 3)))]
    (base / "rows.csv").write_text("\n".join(lines) + "\n")
    prepared = run_cli("prepare", "csv", base / "rows.csv", base / "data", "--label-column", "y",
                       "--id-column", "Id", "--test-size", "40", "--validation-size", "40", "--quiet")
    assert prepared.code == 0, prepared
    width = len(json.loads((base / "data" / "dataset.json").read_text())["features"])
    (base / "c.yaml").write_text(json.dumps({
        "network": [{"input": {"width": width, "id": "data"}}, {"linear->relu": 8},
                    {"linear->softmax": {"output-size": 2, "id": "label"}}],
        "data": str(base / "data"), "train": {"epoch-count": 1, "threads": 1}}))
    trained = run_cli("train", base / "c.yaml", "--run-dir", base / "run", "--quiet")
    assert trained.code == 0, trained
    return base


@pytest.fixture
def copy(world, tmp_path):
    """A copy of the dataset and the run, pointed at each other, to damage."""
    shutil.copytree(world / "data", tmp_path / "data")
    shutil.copytree(world / "run", tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    info["dataset"]["path"] = str(tmp_path / "data")
    (tmp_path / "run" / "run.json").write_text(json.dumps(info))
    return tmp_path


def damage(folder, split, name):
    path = folder / "data" / f"{split}.ids.json"
    ids = json.loads(path.read_text())
    DAMAGE[name][0](path, ids)
    return path, DAMAGE[name][1]


def one_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("name", DAMAGE)
def test_infer_and_kaggle_submit_name_the_file_and_write_nothing(copy, name):
    path, said = damage(copy, "test", name)
    model = copy / "run" / "best.nnrun"
    for args in (["infer", model, copy / "data", "--split", "test"],
                 ["infer", model, copy / "data", "--split", "test", "-o", copy / "out.csv"],
                 ["kaggle-submit", model, copy / "data", "--split", "test", "-o", copy / "sub.csv"]):
        result = run_cli(*args)
        line = one_line(result)
        assert str(path) in line and said in line, (args, line)
        assert result.stdout == ""  # not one row without its id
    assert not (copy / "out.csv").exists() and not (copy / "sub.csv").exists()
    assert not list(copy.glob(".*.partial"))


@pytest.mark.parametrize("name", ["an id twice", "one id short"])
def test_the_report_and_the_live_page_say_which_file_and_name_rows_by_position(copy, name):
    from urllib.request import urlopen

    from nnrun.live.server import start, url_of
    from nnrun.live.site import Site

    path, said = damage(copy, "validation", name)  # the run's selection split
    result = run_cli("report", copy / "run", "-o", copy / "r.html")
    assert result.code == 0, result
    warned = [line for line in result.stderr.splitlines() if str(path) in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ") and said in warned[0], result.stderr
    assert "by their position" in warned[0] and said in (copy / "r.html").read_text()

    server = start(Site(copy / "run"), ("127.0.0.1", 0))
    try:
        for actual, predicted in ((0, 0), (1, 1), (0, 1), (1, 0)):
            query = f"api/examples?run=.&which=best&actual={actual}&predicted={predicted}"
            with urlopen(url_of(server) + query, timeout=10) as response:
                cell = json.loads(response.read())
            if cell["examples"]:
                break
    finally:
        server.shutdown()
        server.server_close()
    assert str(path) in cell["note"] and said in cell["note"], cell.get("note")
    assert all(item["id"] == f"row {item['index']}" for item in cell["examples"])


def test_intact_ids_are_used_and_a_split_without_ids_is_still_read_as_such(copy):
    model = copy / "run" / "best.nnrun"
    ids = json.loads((copy / "data" / "test.ids.json").read_text())
    result = run_cli("infer", model, copy / "data", "--split", "test")
    assert result.code == 0, result
    assert [json.loads(line)["input"] for line in result.stdout.splitlines()] == ids

    manifest = json.loads((copy / "data" / "dataset.json").read_text())
    del manifest["splits"]["test"]["ids"]  # a labelled split made without ids
    (copy / "data" / "dataset.json").write_text(json.dumps(manifest))
    (copy / "data" / "test.ids.json").unlink()
    result = run_cli("infer", model, copy / "data", "--split", "test")
    assert result.code == 0, result
    assert [json.loads(line)["input"] for line in result.stdout.splitlines()] == \
        [f"{copy / 'data'}:test:{i}" for i in range(len(ids))]
    submitted = run_cli("kaggle-submit", model, copy / "data", "--split", "test", "-o", copy / "sub.csv")
    assert "keeps no ids" in one_line(submitted) and "--id-column" in submitted.stderr
