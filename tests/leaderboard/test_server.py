"""``visionbench leaderboard``: the command line it runs, Ctrl-C handling, and the background helper."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest

from visionbench.leaderboard import server


def test_command_line() -> None:
    cmd = server.command("sqlite:////x/mlflow.db", "0.0.0.0", 8600)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"] and cmd[4] == str(server.APP)
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert flags["--server.port"] == "8600" and flags["--server.address"] == "0.0.0.0"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert cmd[-3:] == ["--", "--source", "sqlite:////x/mlflow.db"]


def test_serve_prints_the_url_and_stops_cleanly_on_ctrl_c(workdir: Path, monkeypatch, capsys) -> None:
    started: list[list[str]] = []
    stopped: list[object] = []

    class FakeProcess:
        pid = 12345

        def __init__(self, cmd, **_kwargs) -> None:
            started.append(cmd)

        def wait(self, *_args):
            raise KeyboardInterrupt

    monkeypatch.setattr(server.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(server, "stop", lambda process: stopped.append(process) or 0)
    assert server.serve(None, "127.0.0.1", 8999) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8999" in out.splitlines()[1]
    assert started[0][-1] == f"sqlite:///{workdir / 'mlflow.db'}"  # resolved in the caller's directory
    assert len(stopped) == 1


def test_cli_rejects_a_source_that_does_not_exist(workdir: Path, cli) -> None:
    code, _, err = cli("leaderboard", "--source", "no/such/results")
    assert code == 2 and "no/such/results" in err and "Traceback" not in err


@pytest.mark.slow
def test_background_server_answers_and_stops(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    process = server.start_background(
        str(tmp_path / "results"), env={"VISIONBENCH_CACHE_DIR": str(tmp_path / "cache")}
    )
    try:
        with urllib.request.urlopen(f"{process.url}/_stcore/health", timeout=10) as answer:
            assert answer.read().strip() == b"ok"
        with urllib.request.urlopen(process.url, timeout=10) as answer:
            assert answer.status == 200 and b"<html" in answer.read().lower()
    finally:
        code = server.stop(process)
    assert process.poll() is not None and code == 0
