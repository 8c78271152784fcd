"""End to end: the real server on a free port, opened in headless Chromium through Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "leaderboard.png"
EVIL = "<script>alert(1)</script>"
TIMEOUT_MS = 120_000  # the first page of a fresh server imports MLflow and reads the store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture
def server(seeded, tmp_path):
    from visionbench.leaderboard.server import start_background, stop

    process = start_background(seeded.uri, env={"VISIONBENCH_CACHE_DIR": str(tmp_path / "cache")})
    yield process
    assert stop(process) is not None
    assert process.poll() is not None, "the server is still running"


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 1800})
            dialogs: list[str] = []
            tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            yield tab, dialogs
        finally:
            browser.close()


def table_rows(page, key: str) -> list[list[str]]:
    """Cell texts of a dataframe, read from the accessible table the grid keeps in the DOM."""
    rows = page.locator(f".st-key-{key} table tr")
    rows.first.wait_for(state="attached", timeout=TIMEOUT_MS)
    return [[cell.text_content() or "" for cell in row.locator("td, th").all()] for row in rows.all()]


def test_dashboard_in_a_real_browser(server, page) -> None:
    page, dialogs = page
    page.goto(server.url)
    page.get_by_role("heading", name="Leaderboard").wait_for(timeout=TIMEOUT_MS)
    header, *rows = table_rows(page, "overview_table")
    ranks = {row[header.index("Model")]: row[header.index("Rank")] for row in rows}
    assert ranks["alpha-net"] == "=1" and ranks["beta-net"] == "=1", ranks  # one tie group, marked shared
    assert int(ranks["gamma-net"]) > 1 and EVIL in ranks
    kinds = [row[0] for row in table_rows(page, "tasks_found")[1:]]
    assert kinds == ["classification", "detection", "segmentation", "captioning", "robustness"]
    page.wait_for_timeout(1000)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.goto(f"{server.url}/pareto")
    chart = page.locator(".st-key-pareto_chart [data-testid='stVegaLiteChart']")
    chart.wait_for(timeout=TIMEOUT_MS)
    page.locator(".st-key-pareto_chart canvas, .st-key-pareto_chart svg").first.wait_for(timeout=TIMEOUT_MS)

    page.goto(f"{server.url}/model?model=callable:evil:factory")
    page.get_by_role("heading", name=EVIL).wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text(EVIL, exact=True).first.is_visible()
    assert page.locator("script", has_text="alert(1)").count() == 0
    page.wait_for_timeout(1000)
    assert dialogs == [], "a script from the data ran"
