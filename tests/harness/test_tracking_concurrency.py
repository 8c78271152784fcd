"""Concurrent runs into one fresh SQLite store, and processes SIGKILLed at each point of the write phase.

Real processes, a real SQLite MLflow store; every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vbtest_mlflow import all_runs, fork_runs, run_argv

from visionbench.harness.record import RECORD_FILE, iter_records, read_record
from visionbench.harness.tracking import PENDING_MARKER, RUN_KEY_TAG, pending_runs, run_key

pytestmark = pytest.mark.slow


def _published(output: Path) -> list[Path]:
    """Run folders (the ones holding a record), staged ones excluded."""
    return sorted(path.parent for path, _ in iter_records(output))


def _assert_complete(folder: Path) -> None:
    record = read_record(folder / RECORD_FILE)  # validates against the schema
    for name in record["artifacts"].values():
        assert (folder / name).is_file(), f"{folder}: {name} missing"


def _assert_one_finished_run_per_record(uri: str, folders: list[Path]) -> None:
    runs = all_runs(uri)
    assert not [r.info.run_id for r in runs if r.info.status == "RUNNING"], "RUNNING orphans left"
    by_key: dict[str, list] = {}
    for run in runs:
        by_key.setdefault(run.data.tags.get(RUN_KEY_TAG), []).append(run)
    for folder in folders:
        record = read_record(folder / RECORD_FILE)
        found = by_key.get(run_key(record, folder), [])
        assert [r.info.status for r in found] == ["FINISHED"], folder
        assert record["tracking"]["status"] == "logged"
        assert record["tracking"]["run_id"] == found[0].info.run_id
        assert not (folder / PENDING_MARKER).exists()
    assert len(runs) == len(folders)


def test_concurrent_runs_into_a_fresh_sqlite_store(tmp_path: Path) -> None:
    """8 ``visionbench run`` started together: 8 records, 8 FINISHED runs, a healthy store."""
    db = tmp_path / "fresh.db"
    uri = f"sqlite:///{db}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [sys.executable, "-m", "visionbench", *run_argv(tmp_path / "out", uri)]
    procs = [
        subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(8)
    ]
    try:
        outputs = [proc.communicate(timeout=300)[0].decode(errors="replace") for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0] * 8, "\n".join(o[-1500:] for o in outputs)
    folders = _published(tmp_path / "out")
    assert len(folders) == 8
    for folder in folders:
        _assert_complete(folder)
    assert not pending_runs(tmp_path / "out")
    _assert_one_finished_run_per_record(uri, folders)
    from mlflow.tracking import MlflowClient  # a plain client, no visionbench helper: the store is sound

    plain = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in plain.search_experiments() if e.name == "visionbench"]
    assert len(plain.search_runs([experiment.experiment_id])) == 8
    assert not [p for p in tmp_path.iterdir() if ".build-" in p.name], "a private build file was left"


KILL_POINTS = [
    "after_state_write",
    "staged_before_rename",
    "after_publish",
    "after_create_run",
    "before_terminate",
    "after_terminate",
]
PUBLISHED_AT = {"after_publish", "after_create_run", "before_terminate", "after_terminate"}


def test_sigkill_in_the_write_phase_never_leaves_a_partial_folder_or_a_duplicate_run(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed at each named point, then rerun and synced: folders whole or absent, one FINISHED run each."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    root = tmp_path / "results"
    kills = [{"argv": run_argv(root / point, uri), "kill_at": point} for point in KILL_POINTS]
    reruns = [{"argv": run_argv(root / point, uri), "kill_at": None} for point in ("after_create_run",)]
    outcomes = fork_runs(tmp_path, [kills, reruns])
    assert [o["signal"] for o in outcomes[: len(kills)]] == [9] * len(kills), outcomes
    assert [o["exit"] for o in outcomes[len(kills) :]] == [0], outcomes

    for point in KILL_POINTS:
        folders = _published(root / point)
        expected = (point in PUBLISHED_AT) + (point == "after_create_run")  # + the rerun
        assert len(folders) == expected, (point, folders)
        for folder in folders:
            _assert_complete(folder)
    states = {r.data.tags[RUN_KEY_TAG]: r.info.status for r in all_runs(uri)}
    assert sorted(states.values()) == ["FINISHED", "FINISHED", "RUNNING", "RUNNING"], states

    monkeypatch.chdir(tmp_path / "scratch")  # sync must log to the stored URI, not ./mlflow.db
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, out, err = cli("sync", "--output", str(root))
    assert code == 0, out + err
    assert out.count(": logged") == len(PUBLISHED_AT), out
    assert not (tmp_path / "scratch" / "mlflow.db").exists()
    _assert_one_finished_run_per_record(uri, _published(root))
    code, out, _ = cli("sync", "--output", str(root))
    assert code == 0 and "nothing to sync" in out
