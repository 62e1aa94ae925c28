"""The live page in a real headless browser (Debian's chromium driven by Playwright): it shows the
last epoch's matrix, follows new epochs without a reload, lists a cell's examples, shows hostile
names as text, says so when a run is waiting, damaged or deleted, shows many classes whole, and
overlays the curves of the runs ticked."""
import json
import shutil

import numpy as np
import pytest

from browser_fixtures import browser  # noqa: F401  (the headless chromium fixture)
from live_fixtures import append_epoch, make_run
from train_fixtures import bars, blobs

from nnrun.live.server import start, url_of
from nnrun.live.site import Site

CLASSES = ["vertical", "horizontal", "diagonal"]
M1 = [[30, 6, 4], [5, 30, 5], [3, 2, 35]]
M2 = [[36, 3, 1], [2, 37, 1], [1, 1, 38]]
EVIL = "<script>alert(1)</script>"
EVIL_FILE = "<img src=x onerror=alert(3)>"
EVIL_RUN = "f-<img src=x onerror=alert(4)>"
MANY = 60
WAIT_MS = 8000


def serving(root):
    """(root, its URL) while the live page serves the runs under root (for a module fixture)."""
    server = start(Site(root), ("127.0.0.1", 0))
    yield root, url_of(server)
    server.shutdown()
    server.server_close()


def many_classes_matrix(k, seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.integers(0, 2, (k, k))
    np.fill_diagonal(matrix, rng.integers(5, 9, k))
    return matrix.tolist()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("page")
    root = base / "runs"
    images = bars(base / "images")
    table = blobs(base / "table")
    make_run(root / "a-images", images, CLASSES, [M1], state="running", epoch_count=5)
    make_run(root / "b-table", table, ["legit", EVIL], [[[250, 20], [5, 25]]], positive=1)
    (root / "b-table" / "config.yaml").write_text(f"name: '{EVIL}'\nnote: <img src=x onerror=alert(2)>\n")
    make_run(root / "c-waiting", images, CLASSES, [], state="running")
    make_run(root / "d-damaged", images, CLASSES, [M1])
    with open(root / "d-damaged" / "metrics.jsonl", "a") as f:
        f.write("this is not json\n")
    append_epoch(root / "d-damaged", 2, M2, CLASSES)
    make_run(root / "e-doomed", images, CLASSES, [M1])
    named = base / "named"  # the images again, with hostile file names as their ids
    shutil.copytree(images, named)
    manifest = json.loads((named / "dataset.json").read_text())
    manifest["splits"]["validation"]["ids"] = "validation.ids.json"
    count = manifest["splits"]["validation"]["count"]
    (named / "validation.ids.json").write_text(json.dumps([f"{EVIL_FILE}{i}.png" for i in range(count)]))
    (named / "dataset.json").write_text(json.dumps(manifest))
    make_run(root / EVIL_RUN, named, CLASSES, [M1])
    make_run(root / "g-many", images, [f"class {i}" for i in range(MANY)], [many_classes_matrix(MANY)])
    narrow = make_run(root / "h-narrow", table, ["legit", "fraud"], [[[250, 20], [5, 25]]] * 3, positive=1)
    records = [json.loads(line) for line in (narrow / "metrics.jsonl").read_text().splitlines()]
    for record, threshold in zip(records, (0.009902, 0.009905, 0.009916)):  # apart in the 4th digit
        record["threshold"] = threshold
    (narrow / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    yield from serving(root)


@pytest.fixture
def page(browser, world):
    # bypass_csp: the tests' own probes evaluate strings, and the escaping test is stricter
    # without the page's Content-Security-Policy (an injected script would run).
    page = browser.new_page(viewport={"width": 1300, "height": 900}, bypass_csp=True)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.close()


def open_run(page, url, run_id):
    page.goto(f"{url}#run={run_id}")
    page.wait_for_function(f"document.getElementById('run-name').textContent === {run_id!r}", timeout=WAIT_MS)


def matrix_values(page, card):
    return page.eval_on_selector_all(
        f"#{card} td.cell", "cells => cells.map(c => Number(c.textContent.replace(/,/g, '')))")


def test_shows_the_last_epoch_and_follows_new_ones(page, world):
    root, url = world
    open_run(page, url, "a-images")
    page.wait_for_selector("#card-last td.cell", timeout=WAIT_MS)
    assert matrix_values(page, "card-last") == [v for row in M1 for v in row]
    assert page.text_content("#card-last h2") == "Latest: epoch 1"
    page.evaluate("window.notReloaded = true")
    append_epoch(root / "a-images", 2, M2, CLASSES)
    page.wait_for_function("document.querySelector('#card-last h2').textContent === 'Latest: epoch 2'",
                           timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    assert matrix_values(page, "card-last") == [v for row in M2 for v in row]
    assert page.locator("#curves .chart").count() >= 3
    href = page.get_attribute('#run-facts dd.files a:text-is("metrics.jsonl")', "href")
    assert page.request.get(world[1].rstrip("/") + href).text().count("\n") == 2  # the run's own file


def test_cell_click_lists_thumbnails(page, world):
    open_run(page, world[1], "a-images")
    page.click('#card-best td[data-actual="1"][data-predicted="0"]')
    page.wait_for_selector("#examples .thumbs figure", timeout=WAIT_MS)
    expected = page.eval_on_selector('#card-best td[data-actual="1"][data-predicted="0"]',
                                     "td => Number(td.textContent)")
    assert page.locator("#examples .thumbs figure").count() == expected
    page.wait_for_function("[...document.querySelectorAll('#examples img')].every(i => i.complete && i.naturalWidth > 0)",
                           timeout=WAIT_MS)
    assert "actual horizontal, predicted vertical" in page.text_content("#examples-title")


def test_cell_click_lists_table_rows_and_hostile_names_stay_text(page, world):
    open_run(page, world[1], "b-table")
    page.wait_for_selector("#card-last td.cell", timeout=WAIT_MS)
    headers = page.eval_on_selector_all("#card-last th.row", "ths => ths.map(t => t.textContent)")
    assert EVIL in headers
    assert page.locator("#card-last th script").count() == 0
    assert EVIL in page.text_content("#config") and page.locator("#config img").count() == 0
    page.click('#card-last td[data-actual="1"][data-predicted="0"]')
    page.wait_for_selector("#examples table.rows tbody tr", timeout=WAIT_MS)
    assert page.locator("#examples table.rows tbody tr").count() == 5
    assert page.locator("#examples table.rows thead th").count() == 2 + 6  # id, P, six features
    assert page.dialogs == []


def test_waiting_damaged_and_deleted_runs(page, world):
    root, url = world
    open_run(page, url, "c-waiting")
    page.wait_for_selector("#notice:not([hidden])", timeout=WAIT_MS)
    assert "waiting for the first epoch" in page.text_content("#notice")

    open_run(page, url, "d-damaged")
    page.wait_for_selector("#warnings li", timeout=WAIT_MS)
    assert "damaged line skipped" in page.text_content("#warnings")
    page.wait_for_selector("#card-last td.cell", timeout=WAIT_MS)
    assert matrix_values(page, "card-last") == [v for row in M2 for v in row]

    open_run(page, url, "e-doomed")
    page.wait_for_selector("#card-last td.cell", timeout=WAIT_MS)
    shutil.rmtree(root / "e-doomed")
    page.wait_for_function("document.getElementById('notice').textContent.includes('is gone')", timeout=WAIT_MS)
    assert page.text_content("#state") == "gone"
    assert page.text_content("#connection") == "live"  # the server is still up and answering


def test_hostile_file_and_run_names_stay_text(page, world):
    open_run(page, world[1], EVIL_RUN)
    links = page.eval_on_selector_all("#runs a", "links => links.map(a => a.textContent)")
    assert EVIL_RUN in links
    page.click('#card-last td[data-actual="0"][data-predicted="1"]')
    page.wait_for_selector("#examples .thumbs figure", timeout=WAIT_MS)
    captions = page.eval_on_selector_all("#examples .id", "spans => spans.map(s => s.textContent)")
    assert captions and all(c.startswith(EVIL_FILE) for c in captions)
    assert page.locator('img[src="x"]').count() == 0
    assert page.dialogs == []


def test_many_classes_show_whole_as_a_heat_map(page, world):
    open_run(page, world[1], "g-many")
    page.wait_for_selector("#card-last td.cell", timeout=WAIT_MS)
    assert page.locator("#card-last td.cell").count() == MANY * MANY
    assert page.locator("#card-last tr.precision td.stat").count() == MANY + 1  # and the accuracy
    assert page.locator("#card-last tbody tr").count() == MANY + 1
    box = "document.querySelector('#card-last .matrix-box')"
    assert page.evaluate(f"{box}.scrollWidth <= {box}.clientWidth")  # N x N, no scrolling sideways
    cell = '#card-last td[data-actual="3"][data-predicted="3"]'
    assert page.get_attribute(cell, "title").startswith("actual class 3, predicted class 3: ")
    page.click(cell)
    page.wait_for_selector("#examples:not([hidden])", timeout=WAIT_MS)
    assert page.text_content("#examples-title") == "actual class 3, predicted class 3"


def test_tick_labels_of_a_narrow_range_differ(page, world):
    open_run(page, world[1], "h-narrow")
    page.wait_for_selector("#curves .chart", timeout=WAIT_MS)
    charts = dict(page.eval_on_selector_all("#curves .chart", """charts => charts.map(c => [
        c.querySelector('.chart-title').textContent,
        [...c.querySelectorAll('text.tick[text-anchor=end]')].map(t => t.textContent)])"""))
    assert len(charts["decision threshold"]) >= 3, charts
    for title, ticks in charts.items():
        assert len(set(ticks)) == len(ticks), (title, ticks)


def test_ticked_runs_are_overlaid(page, world):
    open_run(page, world[1], "d-damaged")
    page.wait_for_selector("#curves .chart", timeout=WAIT_MS)
    page.check('#runs tr:has(a[title="h-narrow"]) input[type=checkbox]')
    page.wait_for_function("document.querySelectorAll('#curves-legend .key').length === 2", timeout=WAIT_MS)
    assert sorted(page.eval_on_selector_all("#curves-legend .key", "keys => keys.map(k => k.textContent)")) == \
        ["d-damaged", "h-narrow"]
    loss = page.locator("#curves .chart").first
    assert loss.locator("path.series").count() == 4  # each run's training and selection loss
    assert loss.locator(".chart-key .key").all_text_contents() == ["train", "selection"]
    assert page.locator("#curves .chart-title", has_text="decision threshold").count() == 1  # h-narrow's


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """A folder of runs named as `nnrun train` names them (CONFIG/TIME), whose path order is not
    their age: the newest run sorts neither first nor last. Each run's learning rate halves per
    epoch (0.1 to 0.1/2^11, three decades), but the mnist run's stays at 0.001."""
    base = tmp_path_factory.mktemp("dated")
    root = base / "runs"
    table = blobs(base / "table")
    started = {"catsdogs-resnet-long-name/2026-11-22_18-30-45": "2026-11-22T18:30:45Z",
               "fraud/2026-11-21_09-14-02": "2026-11-21T09:14:02Z",
               "fraud/2026-11-23_04-02-01": "2026-11-23T04:02:01Z",  # the newest
               "mnist/2026-11-20_11-00-00": "2026-11-20T11:00:00Z"}
    for name, at in started.items():
        run = make_run(root / name, table, ["legit", "fraud"], [[[250, 20], [5, 25]]] * 12, positive=1,
                       epoch_count=16)
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "started": at}))
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for k, record in enumerate(records):
            record["learning-rate"] = 0.001 if name.startswith("mnist") else 0.1 * 0.5 ** k
            record["f-beta"] = 0.812345 + k / 1000
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    yield from serving(root)


@pytest.fixture
def page_1280(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # the probes evaluate strings
    yield page
    page.close()


def test_a_folder_of_runs_opens_its_newest_and_shows_every_column_at_1280_px(page_1280, dated):
    page = page_1280
    page.goto(dated[1])
    page.wait_for_function("document.getElementById('run-name').textContent !== ''", timeout=WAIT_MS)
    assert page.text_content("#run-name") == "fraud/2026-11-23_04-02-01"
    assert page.text_content("#runs tr.selected a") == "fraud/2026-11-23_04-02-01"
    page.wait_for_selector("#runs tbody tr", timeout=WAIT_MS)
    # the list needs no scrolling sideways: each row's best figure lies wholly inside the panel
    assert page.evaluate("(a => a.scrollWidth <= a.clientWidth)(document.querySelector('aside'))")
    panel = page.locator("aside").bounding_box()
    for cell in page.locator("#runs tbody td:last-child").all():
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= panel["x"] + panel["width"], cell.text_content()
        assert cell.text_content() == "F1 0.8233 @12"
    # names wrap after a "/", the time stamps whole
    heights = page.eval_on_selector_all("#runs td.name span.whole", "spans => spans.map(s => s.getClientRects().length)")
    assert heights and set(heights) == {1}


def _chart(page, title):
    return page.eval_on_selector(f"#curves .chart:has(.chart-title:text-is('{title}')) svg, "
                                 f"#curves .chart:has(.chart-title:has-text('{title}')) svg", """svg => [
        svg.dataset.scale, [...svg.querySelectorAll('text.tick[text-anchor=end]')].map(t => t.textContent)]""")


def test_learning_rates_spanning_decades_get_a_log_axis(page_1280, dated):
    page = page_1280
    page.goto(dated[1] + "#run=fraud/2026-11-21_09-14-02")
    page.wait_for_selector("#curves .chart", timeout=WAIT_MS)
    scale, ticks = _chart(page, "learning rate")
    assert scale == "log" and ticks == ["1e-4", "0.001", "0.01", "0.1"], ticks
    assert _chart(page, "loss")[0] == "linear"
    page.goto("about:blank")  # a fresh page: the first run's curves would stay overlaid
    page.goto(dated[1] + "#run=mnist/2026-11-20_11-00-00")  # a constant rate: linear
    page.wait_for_function("document.getElementById('run-name').textContent.startsWith('mnist')", timeout=WAIT_MS)
    page.wait_for_selector("#curves .chart", timeout=WAIT_MS)
    assert _chart(page, "learning rate")[0] == "linear"
