"""Real MLflow components for the tracking tests: a tracking server, a PostgreSQL cluster, forked runs.

Everything here is started and stopped by the tests, on loopback and free ports, with bounded waits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORK_RUNS = Path(__file__).with_name("vbtest_fork_runs.py")
RUN_ARGS = ["--model", "zoo:digits-linear", "--task", "digits", "--limit", "100", "--bootstrap", "50"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_argv(output: Path, uri: str | None = None) -> list[str]:
    argv = ["run", *RUN_ARGS, "--output", str(output), "--quiet"]
    return argv + (["--tracking-uri", uri] if uri else [])


def fork_runs(tmp: Path, phases: list[list[dict[str, Any]]], timeout: float = 240) -> list[dict[str, Any]]:
    """Run jobs as forked children of one warmed-up interpreter (see ``vbtest_fork_runs.py``)."""
    spec = tmp / "jobs.json"
    spec.write_text(json.dumps({"scratch": str(tmp / "scratch"), "phases": phases}))
    done = subprocess.run(
        [sys.executable, str(FORK_RUNS), str(spec)], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def all_runs(uri: str) -> list[Any]:
    """Every run of every experiment (active and deleted runs alike are not needed: active only)."""
    from visionbench.harness.tracking import client_for

    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, max_results=1000)) if ids else []


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a given backend store and a file artifact root; restartable."""

    def __init__(self, backend: str, artifacts: Path, log: Path) -> None:
        self.backend, self.artifacts, self.log = backend, artifacts, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.backend,
               "--artifacts-destination", self.artifacts.as_uri(), "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", "1"]  # fmt: skip
        env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
        try:
            _wait_http(self.uri + "/health", self.proc, timeout)
        except Exception:
            self.kill()
            raise RuntimeError(f"mlflow server did not start: {self.log.read_text()[-2000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL the server and its workers (its own process group)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


@contextlib.contextmanager
def mlflow_server(backend: str, artifacts: Path, log: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(backend, artifacts, log)
    try:
        yield server.start()
    finally:
        server.kill()


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries (Debian layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@contextlib.contextmanager
def postgres_cluster(port: int) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1:``port``; yields a SQLAlchemy URI of its database.

    ``initdb`` refuses root, so when running as root the cluster runs as ``postgres`` in a folder it
    owns outside pytest's root-private tmp folders. Stopped and deleted on exit.
    """
    bin_dir = postgres_bin()
    assert bin_dir is not None
    root = Path(f"/tmp/vb-pg-{os.getuid()}-{port}")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700)
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"

    def pg(*args: str, timeout: float = 60) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{args[0]}: {done.stdout[-1500:]} {done.stderr[-1500:]}"

    try:
        pg(str(bin_dir / "initdb"), "-D", str(data), "-U", "vb", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        pg(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "vb", "mlflow")
        yield f"postgresql+psycopg2://vb@127.0.0.1:{port}/mlflow"  # SQLAlchemy 2.1: bare postgresql:// is psycopg 3
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
