"""The leaderboard shows user strings as text: a model name carrying HTML or Markdown stays inert.

HTML (``<script>``, ``<img onerror>``), Markdown emphasis (``**x**``) and links with a
``javascript:`` target, in a model's name, spec and licence, driven through Streamlit's AppTest
on a static results folder: tables hold the string verbatim, and everything Streamlit renders as
Markdown carries it backslash-escaped, so no tag, emphasis or link forms and no element allows HTML.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from apptest_tools import assert_no_html, dataframe, markdown_texts  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "visionbench" / "leaderboard" / "app.py"
NAME = "<script>alert(1)</script> **x** [a](javascript:alert(2)) <img src=x onerror=alert(3)>"
SPEC = "callable:evil:**bold**"
LICENCE = "[click](javascript:alert(4))"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    from visionbench.harness.record import run_dir
    from visionbench.leaderboard.synthetic import synthetic_record, write_run_folder

    runs = tmp_path / "runs"
    for spec, name, licence, seed in ((SPEC, NAME, LICENCE, 1), ("zoo:plain", "plain-net", "MIT", 2)):
        record = synthetic_record(
            spec, "classification", name=name, family="callable", licence=licence, seed=seed
        )
        directory = run_dir(
            runs, record["task"]["id"], record["model"]["spec"], record["environment"]["precision"]
        )
        write_run_folder(record, directory)
    return runs


@pytest.fixture
def app(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VISIONBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VISIONBENCH_LEADERBOARD_SOURCE", str(results))
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=120)


def _run(at):
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _assert_inert(at) -> None:
    assert_no_html(at)
    for body in markdown_texts(at):
        assert not re.search(r"(?<!\\)<", body), f"an unescaped '<' could open a tag: {body!r}"
        assert not re.search(r"(?<!\\)\*(?<!\\)\*x", body), f"Markdown emphasis would form: {body!r}"
        assert not re.search(r"(?<!\\)\]\(javascript", body), f"a javascript: link would form: {body!r}"
        assert "javascript:" not in body, f"an unescaped javascript: target: {body!r}"


def test_markup_in_names_is_text_on_every_page(app) -> None:
    at = _run(app)
    names = list(dataframe(at, "overview_table")["Model"])
    assert NAME in names, names  # verbatim in the (inert) table cell
    _assert_inert(at)
    at.switch_page("screens/pareto.py")
    _assert_inert(_run(at))
    at.switch_page("screens/model.py")
    _run(at)
    at.selectbox(key="model").set_value(SPEC)
    _run(at)
    _assert_inert(at)
    shown = [body for body in markdown_texts(at) if "script" in body]
    assert shown and all("\\<script\\>" in body and "\\*\\*x\\*\\*" in body for body in shown), shown
    at.switch_page("screens/compare.py")
    _run(at)
    at.selectbox(key="a").set_value(SPEC)
    _assert_inert(_run(at))
