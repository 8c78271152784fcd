"""The static export without a browser: pages written, text escaped, nothing fetched from elsewhere."""

from __future__ import annotations

import re


def test_export_writes_escaped_self_contained_pages(seeded, tmp_path, cli) -> None:
    code, out, err = cli("leaderboard", "--source", str(seeded.runs), "--export", str(tmp_path / "site"))
    assert code == 0, err
    pages = {p.name: p.read_text() for p in (tmp_path / "site").glob("*.html")}
    assert "index.html" in pages and "model-zoo-digits-linear.html" in pages
    assert any(name.startswith("compare-zoo-alpha--") for name in pages)
    for name, text in pages.items():
        assert "<script" not in text, name  # the model named <script>... is text
        assert not re.search(r"""(src|href)=['"](https?:)?//""", text), name
        assert not re.search(r">\s*(None|nan)\s*<", text), name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["index.html"]


def test_export_into_a_file_is_refused(tmp_path, cli) -> None:
    target = tmp_path / "taken.txt"
    target.write_text("x")
    code, _, err = cli("leaderboard", "--source", str(tmp_path), "--export", str(target))
    assert code == 2 and "--export" in err and "not a folder" in err


def test_export_shows_each_runs_trust_checks_as_recorded(seeded, tmp_path, cli) -> None:
    import json

    code, _, err = cli("leaderboard", "--source", str(seeded.runs), "--export", str(tmp_path / "site"))
    assert code == 0, err
    records = [json.loads(p.read_text()) for p in seeded.runs.rglob("record.json")]
    real = [r for r in records if r["model"]["spec"] == seeded.real_model and "checks" in r]
    assert real, "the really evaluated run carries its trust checks"
    page = (tmp_path / "site" / "model-zoo-digits-linear.html").read_text()
    assert page.count("<h3>Trust checks: ") == len({r["task"]["id"] for r in real})
    checks = real[0]["checks"]
    assert f"{len(checks['findings'])} finding(s) · {len(checks['results'])} checks ran" in page
    assert not checks["findings"] and "No findings: the checks saw nothing wrong with this run." in page
    synthetic = (tmp_path / "site" / "model-zoo-gamma.html").read_text()  # records written without checks
    assert "Trust checks" not in synthetic


def test_export_lists_findings_most_serious_first_and_escaped(seeded, tmp_path, cli) -> None:
    import json
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(seeded.runs, runs)
    path = next(p for p in runs.rglob("record.json") if seeded.real_model in p.read_text())
    record = json.loads(path.read_text())
    findings = [
        {"check": "label_map", "severity": "warning", "message": "classes <b>3</b> & 5 never predicted"},
        {"check": "determinism", "severity": "error", "message": "two passes disagree on 4 samples"},
    ]
    record["checks"]["findings"], record["checks"]["worst"] = findings, "error"
    path.write_text(json.dumps(record))
    code, _, err = cli("leaderboard", "--source", str(runs), "--export", str(tmp_path / "site"))
    assert code == 0, err
    page = (tmp_path / "site" / "model-zoo-digits-linear.html").read_text()
    assert "worst: error · 2 finding(s)" in page
    error, warning = page.index("two passes disagree"), page.index("classes &lt;b&gt;3&lt;/b&gt; &amp; 5")
    assert error < warning and "<b>3</b>" not in page
    assert "<td>label map</td>" in page and "<td>determinism</td>" in page
