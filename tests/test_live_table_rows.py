"""Table rows shown as the file had them: a table with words, blanks and dates is prepared and
trained for real, then the live page's examples of a confusion-matrix cell (its JSON, and the
page in a headless browser) and the report's most confident mistakes must show each example's
raw values (the words, a blank, the date) of the right rows, not the encoded feature vector."""
import csv
import json
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

from browser_fixtures import browser  # noqa: F401  (the headless chromium fixture)
from conftest import ROOT, run_cli

from nnrun.live.server import start, url_of
from nnrun.live.site import Site

LONG = "Port of Saint-Malo-de-la-Lande, the harbour across the bay"
PORTS = ["Southampton", "Cherbourg", "Queenstown", LONG]
COLUMNS = ["age", "port", "boarded", "fare"]  # the raw feature columns, in the file's order
NUMERIC = [True, False, False, True]
WAIT_MS = 8000


def write_passengers(path, count=240, seed=3):
    """A CSV of passengers: an id, a number with blanks, a category with blanks and one long
    level, a date, a number, and a two-class label that follows the port, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        port = PORTS[rng.integers(0, len(PORTS))]
        survived = (port in ("Cherbourg", LONG)) != (rng.random() < 0.25)
        rows.append({"passenger": f"P{i:03d}", "age": "" if rng.random() < 0.15 else str(rng.integers(1, 80)),
                     "port": "" if rng.random() < 0.1 else port,
                     "boarded": f"1912-04-{rng.integers(1, 15):02d}", "fare": f"{rng.random() * 100:.2f}",
                     "y": "survived" if survived else "died"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {row["passenger"]: row for row in rows}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("words")
    raw = write_passengers(base / "passengers.csv")
    prepared = run_cli("prepare", "csv", base / "passengers.csv", base / "data", "--label-column", "y",
                       "--id-column", "passenger", "--validation-size", "0.3", "--quiet")
    assert prepared.code == 0, prepared
    trained = run_cli("train", ROOT / "configs" / "tabular.yaml", "--set", f"data={base / 'data'}",
                      "--set", "train.epoch-count=2", "--set", "train.threads=1", "--run-dir", base / "run", "--quiet")
    assert trained.code == 0, trained
    return base, raw


def cell_ids(run, data, actual, predicted, which="best"):
    """The ids of cell (actual, predicted)'s examples, most confident first, read from the run's
    predictions and the dataset's id file, not through the code under test."""
    with np.load(run / "predictions" / f"{which}.npz") as arrays:
        p, labels, chosen, index = (arrays[k] for k in ("probabilities", "labels", "predicted", "index"))
    ids = json.loads((data / "validation.ids.json").read_text())
    rows = np.flatnonzero((labels == actual) & (chosen == predicted))
    order = rows[np.argsort(-p[rows, predicted], kind="stable")]
    return [ids[int(index[r])] for r in order]


def mistaken_cell(world):
    """An off-diagonal cell (actual, predicted) with examples, one of them from the long-named port."""
    base, raw = world
    for actual, predicted in ((0, 1), (1, 0)):
        ids = cell_ids(base / "run", base / "data", actual, predicted)
        if any(raw[i]["port"] == LONG for i in ids):
            return actual, predicted, ids
    pytest.fail("no mistake from the long-named port: change the seed of write_passengers")


def assert_raw(values, raw_row, blank=""):
    """`values` (as shown, in COLUMNS order) are the file's cells of `raw_row`."""
    assert len(values) == len(COLUMNS)
    for value, column, numeric in zip(values, COLUMNS, NUMERIC):
        cell = raw_row[column]
        if cell == "":
            assert value == blank, (column, value)
        elif numeric:  # stored as float32: the same number, not always the same digits ("9.30")
            assert float(value) == pytest.approx(float(cell), rel=1e-6), (column, value, cell)
        else:
            assert value == cell, (column, value, cell)


@pytest.fixture(scope="module")
def served(world):
    server = start(Site(world[0] / "run"), ("127.0.0.1", 0))
    yield url_of(server)
    server.shutdown()
    server.server_close()


def examples(url, actual, predicted, which="best"):
    from urllib.request import urlopen
    with urlopen(f"{url}api/examples?run=.&which={which}&actual={actual}&predicted={predicted}", timeout=10) as r:
        return json.loads(r.read())


def test_examples_of_a_cell_are_rows_of_raw_values(world, served):
    actual, predicted, ids = mistaken_cell(world)
    result = examples(served, actual, predicted)
    assert result["kind"] == "table" and result["columns"] == COLUMNS and result["numeric"] == NUMERIC
    assert "features" not in result  # the encoded feature names (age (missing), boarded year, ...) are not shown
    shown = [item["id"] for item in result["examples"]]
    assert shown == ids and result["total"] == len(ids)
    raw = world[1]
    classes = ["died", "survived"]
    for item in result["examples"]:
        assert raw[item["id"]]["y"] == classes[actual]  # the row the file labels with the cell's actual class
        assert "features" not in item
        assert_raw(item["values"], raw[item["id"]])
    assert any(item["values"][1] == LONG for item in result["examples"])
    assert any("" in item["values"] for item in result["examples"])  # a blank cell is blank, not the filled-in median


def test_a_damaged_encoding_shows_feature_values_and_says_so(world, tmp_path):
    """An older run folder (run.json without the manifest's digest) whose dataset.json was edited:
    its encoding is refused when the dataset is opened (as any damaged manifest field is), so the
    page and the report say which field, in one line, and show no rows."""
    base, _ = world
    shutil.copytree(base / "data", tmp_path / "data")
    shutil.copytree(base / "run", tmp_path / "run")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    info["dataset"]["path"] = str(tmp_path / "data")
    del info["dataset"]["manifest-sha256"]
    (tmp_path / "run" / "run.json").write_text(json.dumps(info))
    manifest = json.loads((tmp_path / "data" / "dataset.json").read_text())
    manifest["encoding"]["columns"] = "damaged by hand"
    (tmp_path / "data" / "dataset.json").write_text(json.dumps(manifest))
    actual, predicted, ids = mistaken_cell(world)

    server = start(Site(tmp_path / "run"), ("127.0.0.1", 0))
    try:
        result = examples(url_of(server), actual, predicted)
    finally:
        server.shutdown()
        server.server_close()
    assert "encoding.columns: must be a non-empty list" in result["note"], result
    assert "features" not in result and "columns" not in result
    assert all("features" not in item and "values" not in item for item in result["examples"])

    report = run_cli("report", tmp_path / "run")
    assert report.code == 0 and "Traceback" not in report.output, report
    page = (tmp_path / "run" / "report.html").read_text()
    assert "encoding.columns: must be a non-empty list" in page
    assert not TableRows.of(page).rows


class TableRows(HTMLParser):
    """The header texts and the body's cells (text, title, class) of the page's table.rows."""

    @classmethod
    def of(cls, page):
        parser = cls()
        parser.feed(page)
        return parser

    def __init__(self):
        super().__init__()
        self.headers, self.rows, self._in, self._cell = [], [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "rows" in (attrs.get("class") or "").split():
            self._in = True
        elif self._in and tag == "tbody":
            self._body = True
        elif self._in and tag == "thead":
            self._body = False
        elif self._in and tag == "tr" and self._body:
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = ["", attrs.get("title"), attrs.get("class") or ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            if self._body:
                self.rows[-1].append(tuple(self._cell))
            else:
                self.headers.append(self._cell[0])
            self._cell = None


def test_report_lists_the_most_confident_mistakes_as_rows_of_words(world, tmp_path):
    base, raw = world
    result = run_cli("report", base / "run", "-o", tmp_path / "r.html")
    assert result.code == 0 and result.stderr == "", result
    page = (tmp_path / "r.html").read_text()
    assert "<h2>most confident mistakes</h2>" in page
    table = TableRows.of(page)
    assert table.headers == ["id", "actual", "predicted", "probability"] + COLUMNS
    classes = ["died", "survived"]
    # per actual class, the 8 mistakes the best epoch was surest of, surest first
    expected = [(i, classes[k]) for k in (0, 1) for i in cell_ids(base / "run", base / "data", k, 1 - k)[:8]]
    assert [(row[0][0], row[1][0]) for row in table.rows] == expected
    probabilities = {}
    for row in table.rows:
        (passenger, _, _), (actual, _, _), (predicted, _, _), (probability, _, _) = row[:4]
        assert raw[passenger]["y"] == actual != predicted
        probabilities.setdefault(actual, []).append(float(probability))
        assert_raw([text for text, _, _ in row[4:]], raw[passenger], blank="–")
        for (text, title, css), numeric in zip(row[4:], NUMERIC):
            assert ("num" in css.split()) == numeric  # numbers right-aligned, words left
            if not numeric and text not in ("", "–"):
                assert title == text  # the whole word, even when the style sheet cuts it short
    assert all(p == sorted(p, reverse=True) for p in probabilities.values())
    assert any(text == LONG for row in table.rows for text, _, _ in row[4:])
    assert not (base / "run" / "report" / "mistakes.png").exists()  # no thumbnails of a table


def test_page_shows_a_cell_as_rows_of_words(world, served, browser):  # noqa: F811
    """A narrow window: the table scrolls sideways inside its panel, the page does not."""
    actual, predicted, ids = mistaken_cell(world)
    raw = world[1]
    page = browser.new_page(viewport={"width": 520, "height": 900})
    try:
        page.goto(served)
        page.wait_for_selector("#card-best td.cell", timeout=WAIT_MS)
        page.click(f'#card-best td[data-actual="{actual}"][data-predicted="{predicted}"]')
        page.wait_for_selector("#examples table.rows tbody tr", timeout=WAIT_MS)
        headers = page.eval_on_selector_all("#examples table.rows thead th", "ths => ths.map(t => t.textContent)")
        assert headers == ["id", "P(predicted)"] + COLUMNS
        cells = page.eval_on_selector_all("#examples table.rows tbody tr", """rows => rows.map(r =>
            [...r.cells].map(c => ({text: c.textContent, title: c.title, align: getComputedStyle(c).textAlign,
                                    cut: c.scrollWidth > c.clientWidth})))""")
        assert [row[0]["text"] for row in cells] == ids
        for row in cells:
            assert_raw([c["text"] for c in row[2:]], raw[row[0]["text"]], blank="–")
            for c, numeric in zip(row[2:], NUMERIC):
                if c["text"] != "–":
                    assert c["align"] == ("right" if numeric else "left"), c
        long_cells = [c for row in cells for c in row[2:] if c["title"] == LONG]
        # cut short by the style sheet, whole in the title
        assert long_cells and all(c["cut"] and c["text"] == LONG for c in long_cells)
        box = "document.querySelector('#examples .rows-box')"
        assert page.evaluate(f"{box}.scrollWidth > {box}.clientWidth")
        assert page.evaluate("document.querySelector('#examples').getBoundingClientRect().right <= innerWidth")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    finally:
        page.close()
