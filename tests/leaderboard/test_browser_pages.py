"""In headless Chromium: the galleries show the pictures a run wrote, numbers read without None/nan, unknown links
warn, the overview fits 1400 px, and the static export opens with the network off and shows the records' numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_browser import ARGS, CHROMIUM, TIMEOUT_MS, table_rows

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(seeded, tmp_path_factory):
    from visionbench.leaderboard.server import start_background, stop

    cache = tmp_path_factory.mktemp("cache")
    process = start_background(str(seeded.runs), env={"VISIONBENCH_CACHE_DIR": str(cache)})
    yield process
    assert stop(process) is not None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_pages_in_a_real_browser(server, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(server.url)
    page.get_by_role("heading", name="Leaderboard").wait_for(timeout=TIMEOUT_MS)
    header, *rows = table_rows(page, "overview_table")
    assert "Top-1 accuracy (95% CI)" in header and any(r[header.index("Rank")] == "=1" for r in rows)
    text = page.locator("section.main, [data-testid='stMain']").first.inner_text()
    assert not re.search(r"\b(None|nan|NaN)\b", text), "a missing value printed raw"
    assert "throughput_ips" not in text and "top1_ci_low" not in text
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the overview scrolls sideways by {overflow} px at 1400 px"
    grid = page.locator(".st-key-overview_table [data-testid='stDataFrameResizable']").first
    box = grid.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1400
    inner = page.locator(".st-key-overview_table .dvn-scroller").first
    sideways = inner.evaluate("e => e.scrollWidth - e.clientWidth")
    assert sideways <= 1, f"the default columns scroll sideways inside the table by {sideways} px"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "leaderboard-1400.png"), full_page=True)

    for model, panels in (("zoo:shapes-centernet-tiny", 1), ("zoo:shapes-fcn", 3)):
        page.goto(f"{server.url}/model?model={model}")
        page.get_by_role("tab", name="Gallery").click(timeout=TIMEOUT_MS)
        images = page.locator(".st-key-gallery img")
        images.first.wait_for(timeout=TIMEOUT_MS)
        sizes = images.evaluate_all("els => els.map(e => [e.naturalWidth, e.complete])")
        assert len(sizes) == 8 * panels and all(w > 0 and done for w, done in sizes), sizes
        page.screenshot(path=str(SHOTS / f"gallery-{model.split(':')[1]}.png"), full_page=True)

    for path in ("model?model=zoo:digits-linear", "compare?a=zoo:alpha&b=zoo:beta", "pareto"):
        page.goto(f"{server.url}/{path}")
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(1500)
        text = page.locator("[data-testid='stMain']").first.inner_text()
        cells = " ".join(
            c.text_content() or "" for c in page.locator("[data-testid='stDataFrame'] table td").all()
        )
        assert not re.search(r"\b(None|nan|NaN)\b", text + " " + cells), f"{path} prints a missing value raw"

    page.goto(f"{server.url}/model?model=zoo:nonexistent")
    page.get_by_text("No runs of a model zoo:nonexistent").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("[data-testid='stSelectbox'], [data-testid='stDataFrame']").count() == 0
    page.goto(f"{server.url}/compare?a=zoo:alpha&b=zoo:nothing")
    page.get_by_text("No runs of a model zoo:nothing").wait_for(timeout=TIMEOUT_MS)
    page.close()


def test_static_export_offline_matches_the_records(seeded, browser, tmp_path, cli) -> None:
    from visionbench.harness.record import iter_records
    from visionbench.leaderboard.data import latest_per_config, load_summary, resolve_source

    code, out, err = cli("leaderboard", "--source", str(seeded.runs), "--export", str(tmp_path / "site"))
    assert code == 0, err
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.goto((tmp_path / "site" / "index.html").as_uri())
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    cells = page.locator("table.task-classification-digits tr").all()
    header = [c.inner_text() for c in cells[0].locator("th").all()]
    shown = {}
    for row in cells[1:]:
        values = [c.inner_text() for c in row.locator("td").all()]
        shown[(values[header.index("Model")], values[header.index("Hardware")])] = values[
            header.index("Top-1 accuracy (95% CI)")
        ]
    latest = latest_per_config(load_summary(resolve_source(str(seeded.runs)), disk_cache=False))
    wanted = set(zip(latest.loc[latest["task"] == "classification:digits", "record_path"], strict=False))
    checked = 0
    for path, record in iter_records(seeded.runs):
        if (str(path),) not in wanted:
            continue
        metrics = record["metrics"]
        key = (record["model"]["name"] or record["model"]["spec"], record["environment"]["hardware"])
        numbers = [float(x) for x in re.findall(r"\d+\.\d+", shown[key])]
        expected = [metrics["top1"]] + (
            [metrics["top1_ci_low"], metrics["top1_ci_high"]]
            if metrics.get("top1_ci_low") is not None
            else []
        )
        assert numbers == pytest.approx(expected, abs=5e-5), (key, shown[key], expected)
        checked += 1
    assert checked == len(shown) >= 5
    assert page.locator("svg circle").count() >= checked
    page.goto((tmp_path / "site" / "model-zoo-shapes-fcn.html").as_uri())
    assert page.locator(".gallery img").count() == 24
    assert page.locator(".gallery img").evaluate_all("els => els.every(e => e.naturalWidth > 0)")
    context.close()
