"""`nnrun report`: one self-contained HTML file and the pictures in RUN/report/, opened in a real
headless browser too."""
import json
import re
import shutil

import pytest
from PIL import Image

from browser_fixtures import browser  # noqa: F401  (the headless chromium fixture)
from test_run_record import table  # noqa: F401  (the module's small table dataset fixture)
from train_fixtures import IMAGE_NETWORK, TABLE_NETWORK, bars, blobs, write_config

pytest.importorskip("matplotlib")
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A binary table run whose positive class is named EVIL, and a 3-class image run."""
    from conftest import run_cli
    root = tmp_path_factory.mktemp("report")
    evil = blobs(root / "evil", n=(400, 150, 0), classes=("a", EVIL), positives=0.3)
    images = bars(root / "bars", n=(240, 60, 20))
    made = {}
    for name, network, data in (("table", TABLE_NETWORK, evil), ("images", IMAGE_NETWORK, images)):
        config = write_config(root / f"{name}.yaml", network, data, epoch_count=2, threads=1)
        result = run_cli("train", config, "--run-dir", root / name, "--quiet")
        assert result.code == 0, result
        made[name] = root / name
    return made


def inline_images(page):
    return re.findall(r'<img src="data:image/(png|gif);base64,', page)


def test_report_of_a_binary_table_run(cli, runs, tmp_path):
    result = cli("report", runs["table"], "-o", tmp_path / "r.html")
    assert result.code == 0, result
    page = (tmp_path / "r.html").read_text()
    kinds = inline_images(page)
    assert len(kinds) >= 4 and "gif" in kinds
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched
    files = sorted(p.name for p in (runs["table"] / "report").iterdir())
    assert files == ["confusion-matrix.png", "curves.png", "first-layer.gif", "first-layer.png",
                     "per-class.png", "precision-recall.png"]
    for file in (runs["table"] / "report").iterdir():
        with Image.open(file) as picture:
            picture.load()
            assert picture.width > 50 and picture.height > 50
    with Image.open(runs["table"] / "report" / "first-layer.gif") as gif:
        assert gif.n_frames == 2


def test_report_of_an_image_run_shows_mistakes_and_filters(cli, runs):
    result = cli("report", runs["images"])
    assert result.code == 0, result
    page = (runs["images"] / "report.html").read_text()
    assert "most confident mistakes" in page and len(inline_images(page)) >= 5
    assert (runs["images"] / "report" / "mistakes.png").is_file()
    assert not (runs["images"] / "report" / "precision-recall.png").exists()  # three classes


def test_autoencoder_report_has_curves_only(cli, tmp_path, table):  # noqa: F811
    network = [{"input": {"width": 6, "id": "data"}}, {"linear->relu": 3},
               {"linear": {"output-size": 6, "target": "data"}}]
    config = write_config(tmp_path / "c.yaml", network, table, epoch_count=2, threads=1)
    assert cli("train", config, "--run-dir", tmp_path / "run", "--quiet").code == 0
    result = cli("report", tmp_path / "run")
    assert result.code == 0, result
    assert sorted(p.name for p in (tmp_path / "run" / "report").iterdir()) == \
        ["curves.png", "first-layer.gif", "first-layer.png"]


def test_bad_runs_are_one_line_errors_and_write_nothing(cli, tmp_path, runs):
    (tmp_path / "plain").mkdir()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "run.json").write_text(json.dumps({"started": "2026-01-01T00:00:00Z"}))
    (fresh / "metrics.jsonl").write_text("{damaged\n")
    for folder, message in ((tmp_path / "plain", "not a run folder"), (fresh, "no finished epoch yet"),
                            (tmp_path / "missing", "no such folder")):
        result = cli("report", folder)
        assert result.code == 2 and message in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) <= 2  # the damaged line's warning, the error
    assert not (fresh / "report").exists() and not (fresh / "report.html").exists()
    bad = cli("report", runs["table"], "-o", tmp_path / "nowhere" / "r.html")
    assert bad.code == 2 and "does not exist" in bad.stderr


def test_class_names_are_plain_text_in_pictures():
    from nnrun.report.confusion import confusion_figure, per_class_figure
    from nnrun.report.figures import png_bytes
    classes = ["a$b", "$\\frac{", "x" * 40]  # `$` would start matplotlib's mathtext
    assert png_bytes(confusion_figure([[3, 1, 0], [0, 2, 1], [1, 0, 5]], classes)).startswith(b"\x89PNG")
    per = {c: {"precision": 0.5, "recall": 0.5, "count": 3} for c in classes}
    assert png_bytes(per_class_figure(per)).startswith(b"\x89PNG")


def _mistakes(probabilities, labels, predicted):
    import numpy as np
    from nnrun.report.mistakes import confident_mistakes
    return confident_mistakes({"probabilities": np.array(probabilities, dtype=np.float32), "labels": np.array(labels),
                               "predicted": np.array(predicted), "index": np.arange(len(labels))})


def _captions_and_overlaps(fig):
    """The thumbnails' captions, and each caption that reaches into another thumbnail."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.images]
    captions = [ax.title.get_text() for ax in axes]
    overlaps = [ax.title.get_text() for ax in axes for other in axes if other is not ax
                and ax.title.get_window_extent(renderer).overlaps(other.get_window_extent(renderer))]
    return captions, overlaps


@pytest.mark.parametrize("rows", [2, 3])
def test_mistake_captions_name_their_probability_and_stay_above_their_thumbnail(rows):
    """Two classes with a positive class: each caption says the class predicted and P(positive),
    the figure the threshold decided on (0.75 < 0.8 made this dog a cat); more classes: the class
    predicted and its own probability. No caption reaches into the row above."""
    import numpy as np
    from nnrun.report.mistakes import mistakes_figure
    images = np.random.default_rng(0).integers(0, 255, (6, 3, 12, 12), dtype=np.uint8)
    found = _mistakes([[0.25, 0.75], [0.1, 0.9], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.95, 0.05]],
                      labels=[1, 0, 1, 0, 1, 0], predicted=[0, 1, 0, 0, 0, 0])
    fig = mistakes_figure(found, images, ["cat", "dog"], positive=1, threshold=0.8)
    captions, overlaps = _captions_and_overlaps(fig)
    assert captions == ["dog\nP(dog) 0.90", "cat\nP(dog) 0.40", "cat\nP(dog) 0.50", "cat\nP(dog) 0.75"]
    assert overlaps == [] and "threshold 0.80" in fig._suptitle.get_text()
    labels = [k for k in range(rows) for _ in range(8)]
    p = np.full((len(labels), rows), 0.1 / (rows - 1), dtype=np.float32)
    p[np.arange(len(labels)), [(k + 1) % rows for k in labels]] = 0.9
    found = _mistakes(p, labels, [(k + 1) % rows for k in labels])
    fig = mistakes_figure(found, np.zeros((len(labels), 1, 28, 28), np.uint8), [f"class {k}" for k in range(rows)])
    captions, overlaps = _captions_and_overlaps(fig)
    assert captions[0] == "class 1\nP(class 1) 0.90" and len(captions) == 8 * rows and overlaps == []


def test_the_html_opens_in_a_browser_with_every_picture(cli, runs, browser, tmp_path):  # noqa: F811
    for name in ("table", "images"):
        html = tmp_path / f"{name}.html"
        assert cli("report", runs[name], "-o", html).code == 0
        page = browser.new_page()
        fetched, dialogs = [], []
        page.on("request", lambda request: fetched.append(request.url))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        shown = page.eval_on_selector_all("img", "all => all.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        pictures = list((runs[name] / "report").iterdir())
        assert len(shown) == len(pictures) >= 5, (name, shown)
        assert all(complete and width > 50 and height > 50 for complete, width, height in shown), shown
        assert all(url.startswith(("file:", "data:")) for url in fetched), fetched  # nothing from elsewhere
        if name == "table":  # the class named <script>alert(1)</script> is text on the page
            assert EVIL in page.text_content("body") and page.locator("script").count() == 0
        assert dialogs == []
        page.close()


def moved_run(run, dataset, folder):
    """A copy of `run` (and of `dataset`), its run.json naming the copy of the dataset."""
    shutil.copytree(run, folder / "run")
    info = json.loads((folder / "run" / "run.json").read_text())
    shutil.copytree(dataset or info["dataset"]["path"], folder / "data")
    info["dataset"]["path"] = str(folder / "data")
    return folder / "run", folder / "data", info


def test_a_dataset_prepared_again_gives_no_wrong_pictures(cli, runs, tmp_path):
    run, data, info = moved_run(runs["images"], None, tmp_path)
    (run / "run.json").write_text(json.dumps(info))
    assert cli("report", run).code == 0 and (run / "report" / "mistakes.png").is_file()  # still its dataset
    (data / "dataset.json").write_text((data / "dataset.json").read_text() + "\n")  # prepared again
    result = cli("report", run)
    assert result.code == 0, result
    assert not (run / "report" / "mistakes.png").exists()
    assert "changed since this run (its dataset.json differs): no thumbnails of mistakes" in \
        (run / "report.html").read_text()


def test_a_run_without_the_manifest_digest_and_a_shorter_split(cli, runs, tmp_path):
    """A run folder whose run.json holds no digest of dataset.json: a split too short for its
    stored row numbers is not the one it saw."""
    run, data, info = moved_run(runs["images"], bars(tmp_path / "short", n=(30, 10, 5)), tmp_path)
    del info["dataset"]["manifest-sha256"]
    (run / "run.json").write_text(json.dumps(info))
    result = cli("report", run)
    assert result.code == 0 and "Traceback" not in result.output, result
    assert not (run / "report" / "mistakes.png").exists()
    assert "does not hold the run&#x27;s validation examples" in (run / "report.html").read_text()


@pytest.mark.parametrize("damage, warned, pictures", [
    ("layer.json", "first-layer/layer.json: unreadable (JSONDecodeError), ignored", 6),
    ("layer.json shape", "first-layer/layer.json: input-shape damaged, ignored", 6),
    ("epoch cut short", "first-layer/epoch-0001.npy: unreadable (", 5),
    ("epoch of one dimension", "first-layer/epoch-0002.npy: weights of shape [3], not a layer's", 5),
    ("epoch of another shape", "epoch 1 holds weights of shape [2, 5], the last epoch [8, 1, 3, 3]", 5),
    ("matrix of 1e300", "metrics.jsonl:2: confusion-matrix holds 1e+300, not a count of examples", 5),
])
def test_hand_damaged_run_files_are_a_warning_line_each(cli, runs, tmp_path, damage, warned, pictures):
    """The report of an image run whose files were edited by hand: what is damaged is left out
    with one warning line on stderr (and on the page), the rest is drawn; never a traceback. The
    live page says the same of a damaged matrix, and draws none."""
    import html

    import numpy as np
    from nnrun.live.site import Site
    run = tmp_path / "run"
    shutil.copytree(runs["images"], run)
    shutil.rmtree(run / "report", ignore_errors=True)
    layer = run / "first-layer"
    if damage == "layer.json":
        (layer / "layer.json").write_text("{not json")
    elif damage == "layer.json shape":
        (layer / "layer.json").write_text(json.dumps({"layer": "c", "input-shape": [1, "twelve", 12]}))
    elif damage == "epoch cut short":
        (layer / "epoch-0001.npy").write_bytes((layer / "epoch-0001.npy").read_bytes()[:100])
    elif damage == "epoch of one dimension":
        np.save(layer / "epoch-0002.npy", np.zeros(3, np.float32))
    elif damage == "epoch of another shape":
        np.save(layer / "epoch-0001.npy", np.ones((2, 5), np.float32))
    else:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        records[1]["confusion-matrix"][0][0] = 1e300
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = cli("report", run)
    assert result.code == 0 and "Traceback" not in result.output, result
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"warning: {run}") and warned in line
    page = html.unescape((run / "report.html").read_text())
    assert len(list((run / "report").iterdir())) == pictures and f"warning: {line[9:]}" in page
    view = Site(run).view(".")
    if damage == "matrix of 1e300":
        assert view["current"] is not None and "confusion-matrix" not in view["current"]
        assert len(view["warnings"]) == 1 and warned in view["warnings"][0]
