"""A tracking server's summary: the stored copy is served at once and replaced by a background reload."""

from __future__ import annotations

import time

import pandas as pd


def test_stored_copy_first_then_the_reloaded_summary(monkeypatch, tmp_path) -> None:
    from visionbench.leaderboard import background, data

    monkeypatch.setenv("VISIONBENCH_CACHE_DIR", str(tmp_path))
    source = data.Source("mlflow", "http://tracking.invalid:5000")
    old = data.finish(
        pd.DataFrame([{"model": "old", "kind": "classification", "created": "2025-01-01T00:00:00Z"}])
    )
    data._write_cache(source, {"count": None}, old)
    calls: list[str] = []

    def slow_rows(src, since_end=None):
        calls.append(src.uri)
        time.sleep(0.3)
        return [{"model": "new", "kind": "classification", "created": "2025-01-02T00:00:00Z"}]

    monkeypatch.setattr(data, "change_token", lambda src: {"count": None, "epoch": 1})
    monkeypatch.setattr(data.rows, "mlflow_rows", lambda uri, since_end=None: slow_rows(source))
    started = time.perf_counter()
    frame, _, reloading = background.summary(source, refresh_s=0)
    assert time.perf_counter() - started < 0.25, "the page waited for the server"
    assert list(frame["model"]) == ["old"] and reloading
    background.wait(source)
    frame, age, _ = background.summary(source, refresh_s=3600)
    assert list(frame["model"]) == ["new"] and age < 5 and calls == [source.uri]
