"""A headless browser for the tests of what people look at (the live page, the report): Debian's
chromium driven by Playwright, launched with the system browser (Playwright downloads none).
Without either, the tests that use it skip and say why."""
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    try:
        playwright = sync_api.sync_playwright().start()
    except Exception as problem:  # noqa: BLE001 - any failure to start means: skip, say why
        pytest.skip(f"playwright cannot start: {problem}")
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    except Exception as problem:  # noqa: BLE001
        playwright.stop()
        pytest.skip(f"no headless browser can start ({CHROMIUM}): {str(problem).splitlines()[0]}")
    yield browser
    browser.close()
    playwright.stop()
