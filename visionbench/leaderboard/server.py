"""Serve the dashboard: ``visionbench leaderboard`` in the foreground, or a background server for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError

APP = Path(__file__).resolve().parent / "app.py"


def command(source: str, host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line for ``source`` (already resolved) on ``host:port``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", host, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--", "--source", source,
    ]  # fmt: skip


def _resolved(source: str | None) -> str:
    """Resolve the source in the caller's working directory (the server may not share it), failing early."""
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise ConfigError("the leaderboard needs Streamlit: pip install 'visionbench[leaderboard]'") from None
    from visionbench.leaderboard.data import resolve_source

    return resolve_source(source).uri


def serve(source: str | None = None, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Run the dashboard until Ctrl-C; returns the exit code for the CLI."""
    uri = _resolved(source)
    print(f"visionbench leaderboard: {uri}")
    print(f"  http://{host}:{port}", flush=True)
    process = subprocess.Popen(command(uri, host, port), start_new_session=True)
    previous = _interrupt_on_sigterm()
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop(process)
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm() -> Any:
    """Treat SIGTERM like Ctrl-C so the server (in its own session) is never left running; returns the old handler."""

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_background(
    source: str | None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 90.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start the server in the background and wait until ``/_stcore/health`` answers.

    The process gets a ``url`` attribute; call :func:`stop` when done. Output goes to a log
    file (``log_path`` attribute) so a full pipe can never block the server.
    """
    uri = _resolved(source)
    port = port or free_port(host)
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"visionbench-leaderboard-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - stays open for the life of the process
    process = subprocess.Popen(
        command(uri, host, port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    log.close()
    process.url = f"http://{host}:{port}"  # type: ignore[attr-defined]
    process.log_path = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the leaderboard server exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{process.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    stop(process)
    raise TimeoutError(f"the leaderboard server did not answer on {process.url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Interrupt the server (as Ctrl-C would), then terminate and kill it if it does not exit."""
    if process.poll() is None:
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
                break
    return int(process.returncode if process.returncode is not None else -1)
