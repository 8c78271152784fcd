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
