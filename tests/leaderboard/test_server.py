"""``visionbench leaderboard``: the command line it runs, Ctrl-C handling, and the background helper."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
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


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the server process through /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_leaderboard_command_serves_then_stops_its_real_server(workdir: Path, sig: signal.Signals) -> None:
    """`visionbench leaderboard` starts Streamlit in its own session; Ctrl-C (SIGINT) or SIGTERM to the
    command must stop that server too, leave no process behind and free the port."""
    from visionbench.harness.tracking import client_for

    client_for(f"sqlite:///{workdir / 'mlflow.db'}").search_experiments()  # the store a run would have made
    port = server.free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["VISIONBENCH_CACHE_DIR"] = str(workdir / "cache")
    log = workdir / "leaderboard.log"
    with log.open("wb") as out:
        command = subprocess.Popen(
            [sys.executable, "-m", "visionbench.harness.cli", "leaderboard", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            # a shell without job control starts background jobs with SIGINT ignored, and Python then
            # never raises KeyboardInterrupt; a terminal's Ctrl-C reaches a default handler
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    streamlit: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while not _answers(f"http://127.0.0.1:{port}/_stcore/health"):
            assert command.poll() is None, f"exited with {command.returncode}: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no answer on port {port}: {log.read_text()[-2000:]}"
            time.sleep(0.25)
        assert _answers(f"http://127.0.0.1:{port}/")
        streamlit = [pid for pid in _children(command.pid) if "streamlit" in _cmdline(pid)]
        assert len(streamlit) == 1, [_cmdline(pid) for pid in _children(command.pid)]
        # the default source is resolved in the caller's directory, which the server does not share
        assert _cmdline(streamlit[0])[-2:] == ["--source", f"sqlite:///{workdir / 'mlflow.db'}"]

        command.send_signal(sig)
        assert command.wait(timeout=30) == 0, log.read_text()[-2000:]
        deadline = time.monotonic() + 10
        while Path(f"/proc/{streamlit[0]}").exists() or _port_open(port):
            assert time.monotonic() < deadline, "the Streamlit server outlived the command or kept the port"
            time.sleep(0.1)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.wait(10)
        for pid in streamlit:
            if "streamlit" in _cmdline(pid):
                os.killpg(pid, signal.SIGKILL)
    lines = log.read_text().splitlines()
    assert lines[0] == f"visionbench leaderboard: sqlite:///{workdir / 'mlflow.db'}"
    assert lines[1].strip() == f"http://127.0.0.1:{port}"


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
