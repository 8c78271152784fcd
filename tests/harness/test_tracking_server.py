"""Logging to a real ``mlflow server``: killed mid-run and right after creating the run, then restarted and
synced; and a PostgreSQL-backed server taking several clients at once, read back by the leaderboard.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vbtest_mlflow as procs
from vbtest_mlflow import MlflowServer, all_runs, fork_runs, run_argv

from visionbench.harness import runner, tracking
from visionbench.harness.record import RECORD_FILE, iter_records, read_record
from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

pytestmark = pytest.mark.slow


@pytest.fixture
def http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's HTTP client fails fast instead of retrying for minutes."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _execute(output: Path, uri: str) -> dict:
    spec = RunSpec(parse_model_spec("zoo:digits-linear"), parse_task_spec("digits"), "cpu", limit=100)
    return runner.execute(spec, output=output, tracking_uri=uri, quiet=True, bootstrap_reps=50).record


def test_server_killed_mid_run_and_after_run_creation_ends_with_one_finished_run_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_env: None
) -> None:
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    tracking.client_for(backend)  # the schema, built once under the lock: the server starts without migrating
    server = MlflowServer(backend, tmp_path / "artifacts", tmp_path / "server.log")
    output = tmp_path / "out"
    try:
        server.start()
        publish = runner.publish

        def publish_after_the_server_died(*args, **kwargs):
            server.kill()
            return publish(*args, **kwargs)

        monkeypatch.setattr(runner, "publish", publish_after_the_server_died)
        assert _execute(output, server.uri)["tracking"]["status"] == "pending"
        monkeypatch.setattr(runner, "publish", publish)

        server.start()
        create = tracking._create_run

        def create_then_kill_the_server(*args):
            run = create(*args)
            server.kill()
            return run

        monkeypatch.setattr(tracking, "_create_run", create_then_kill_the_server)
        assert _execute(output, server.uri)["tracking"]["status"] == "pending"
        monkeypatch.setattr(tracking, "_create_run", create)

        server.start()
        assert [r.info.status for r in all_runs(server.uri)] in (["RUNNING"], ["FAILED"])
        results = tracking.sync(output)  # to the URI stored with each record
        assert [t["status"] for _, t in results] == ["logged", "logged"], results
        runs = all_runs(server.uri)
        assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
        for folder, _ in results:
            record = read_record(folder / RECORD_FILE)
            [run] = [r for r in runs if r.data.tags[tracking.RUN_KEY_TAG] == tracking.run_key(record, folder)]
            assert record["tracking"]["run_id"] == run.info.run_id
            assert record["tracking"]["uri"] == server.uri
        assert not tracking.pending_runs(output)
    finally:
        server.kill()


@pytest.mark.skipif(
    procs.postgres_bin() is None,
    reason="PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are absent; .ci/run installs postgresql",
)
def test_postgres_backed_server_takes_concurrent_clients(tmp_path: Path, http_env: None) -> None:
    """4 runs log at once through a server on PostgreSQL; the leaderboard's queries read all 4 back."""
    from visionbench.leaderboard.rows import mlflow_rows

    with (
        procs.postgres_cluster(procs.free_port()) as database,
        procs.mlflow_server(database, tmp_path / "artifacts", tmp_path / "server.log") as server,
    ):
        jobs = [{"argv": run_argv(tmp_path / "out", server.uri), "kill_at": None} for _ in range(4)]
        outcomes = fork_runs(tmp_path, [jobs])
        assert [o["exit"] for o in outcomes] == [0] * 4, outcomes
        records = [record for _, record in iter_records(tmp_path / "out")]
        assert [r["tracking"]["status"] for r in records] == ["logged"] * 4
        rows = mlflow_rows(server.uri)
        assert sorted(row["run_id"] for row in rows) == sorted(r["tracking"]["run_id"] for r in records)
        for row in rows:
            assert row["model"] == "zoo:digits-linear" and row["kind"] == "classification"
            assert 0.5 < row["top1"] <= 1 and "f1/0" in row
