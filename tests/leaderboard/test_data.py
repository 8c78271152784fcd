"""Sources, change tokens, the summary table, its on-disk copy, and per-run files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from visionbench.errors import ConfigError
from visionbench.leaderboard import artifacts, data
from visionbench.leaderboard.data import Source


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("VISIONBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def store_copy(seeded, tmp_path: Path) -> Source:
    """A private copy of the seeded store, safe to add runs to (artifacts stay where the original put them)."""
    shutil.copy2(Path(seeded.uri[len("sqlite:///") :]), tmp_path / "copy.db")
    return Source("mlflow", f"sqlite:///{tmp_path / 'copy.db'}")


def test_resolve_source(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="no MLflow store at .*mlflow.db"):
        data.resolve_source(None)  # nothing logged yet: say so instead of serving an empty board
    with pytest.raises(ConfigError, match="no MLflow store"):
        data.resolve_source(f"sqlite:///{workdir / 'absent.db'}")
    assert not (workdir / "absent.db").exists()
    (workdir / "mlflow.db").write_bytes(b"")
    assert data.resolve_source(None) == Source("mlflow", f"sqlite:///{workdir / 'mlflow.db'}")
    assert data.resolve_source("http://mlflow:5000").kind == "mlflow"
    (workdir / "other.db").write_bytes(b"")
    assert data.resolve_source("other.db") == Source("mlflow", f"sqlite:///{workdir / 'other.db'}")
    (workdir / "results").mkdir()
    assert data.resolve_source("results") == Source("folder", str(workdir / "results"))
    with pytest.raises(ConfigError, match="neither"):
        data.resolve_source("no-such-folder")


def test_missing_sqlite_store_is_empty_and_not_created(tmp_path: Path, cache: Path) -> None:
    source = Source("mlflow", f"sqlite:///{tmp_path / 'absent.db'}")
    assert data.change_token(source)["missing"]
    frame = data.load_summary(source)
    assert frame.empty and set(data.IDENTITY_COLUMNS) <= set(frame.columns)
    assert not (tmp_path / "absent.db").exists()


def test_summary_of_an_mlflow_store(seeded, cache: Path) -> None:
    frame = data.load_summary(Source("mlflow", seeded.uri))
    assert len(frame) == 13 + 2 and frame["run_id"].is_unique  # 12 synthetic, digits and the two gallery runs
    assert frame["created"].is_monotonic_decreasing and str(frame["created"].dt.tz) == "UTC"
    real = frame[frame["model"] == seeded.real_model].iloc[0]
    assert real["kind"] == "classification" and real["headline_key"] == "top1"
    assert (
        real["headline"] == real["top1"]
        and real["headline_ci_low"] <= real["headline"] <= real["headline_ci_high"]
    )
    assert real["artifact_uri"].startswith("file:") and real["throughput_ips"] > 0
    detection = frame[frame["kind"] == "detection"]
    synthetic = detection[
        detection["model"] != "zoo:shapes-centernet-tiny"
    ]  # the synthetic ones have no interval
    assert (detection["headline"] == detection["map"]).all() and synthetic["headline_ci_low"].isna().all()


def test_static_folder_matches_the_store(seeded, cache: Path) -> None:
    from_store = data.load_summary(Source("mlflow", seeded.uri)).set_index(
        ["model", "task", "hardware", "precision"]
    )
    from_folder = data.load_summary(Source("folder", str(seeded.runs))).set_index(
        ["model", "task", "hardware", "precision"]
    )
    assert sorted(from_store.index) == sorted(from_folder.index)
    assert from_folder["record_path"].notna().all()
    for column in ("headline", "headline_ci_low", "throughput_ips", "f1_macro"):
        pd.testing.assert_series_equal(
            from_store[column].sort_index(), from_folder[column].sort_index(), check_names=False
        )


def test_disk_copy_is_reused_then_extended_then_rebuilt(
    store_copy: Source, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from visionbench.leaderboard.synthetic import fast_seed, synthetic_record

    first = data.load_summary(store_copy)
    calls: list[int | None] = []
    real_rows = data._store_rows  # the SQLite store is read directly; a server through search_runs
    monkeypatch.setattr(
        data, "_store_rows", lambda src, since_end=None: calls.append(since_end) or real_rows(src, since_end)
    )

    pd.testing.assert_frame_equal(data.load_summary(store_copy), first)
    assert calls == [], "an unchanged store is not searched again"

    [new_id] = fast_seed([synthetic_record("zoo:newcomer", seed=99)], store_copy.uri)
    extended = data.load_summary(store_copy)
    assert len(calls) == 1 and calls[0] is not None, "only runs finished after the cached copy are fetched"
    assert len(extended) == len(first) + 1 and extended.iloc[0]["run_id"] == new_id

    MlflowClient(store_copy.uri).delete_run(new_id)
    rebuilt = data.load_summary(store_copy)
    assert calls[-1] is None, "a deletion forces a full reload"
    assert sorted(rebuilt["run_id"]) == sorted(first["run_id"])


def test_runs_of_other_tools_are_ignored(store_copy: Source, cache: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store_copy.uri)
    run = client.create_run(client.create_experiment("someone-else"))
    client.log_metric(run.info.run_id, "loss", 0.1)
    client.set_terminated(run.info.run_id)
    assert run.info.run_id not in set(data.load_summary(store_copy)["run_id"])


def test_run_files_only_by_plain_name(seeded) -> None:
    source = Source("folder", str(seeded.runs))
    frame = data.load_summary(source, disk_cache=False)
    row = frame[frame["model"] == seeded.real_model].iloc[0].to_dict()
    assert artifacts.run_file(source, row, "record.json").is_file()
    for bad in ("../record.json", "a/b", "", "..", None):
        assert artifacts.run_file(source, row, bad) is None
    record = artifacts.load_record(source, row)
    assert record["model"]["spec"] == seeded.real_model
    assert artifacts.find_artifact(record, contains="confusion", suffix=".png") == "confusion_matrix.png"
    predictions = artifacts.load_predictions(source, row, record)
    assert len(predictions) == 100 and "correct" in predictions.columns


@pytest.mark.slow
def test_tracking_server_source(tmp_path: Path, cache: Path) -> None:
    """Against a real ``mlflow server``: the token comes from the REST API and files are downloaded on demand."""
    from visionbench.harness.tracking import log_record
    from visionbench.leaderboard.server import free_port
    from visionbench.leaderboard.synthetic import synthetic_record, write_run_folder

    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, (
                    tmp_path / "server.log"
                ).read_text()[-2000:]
                time.sleep(0.5)
        record = synthetic_record("zoo:served", seed=5)
        write_run_folder(record, tmp_path / "run")
        assert log_record(record, tmp_path / "run", uri)["status"] == "logged"
        source = Source("mlflow", uri)
        token = data.change_token(source)
        assert token["max_end"] > 0 and token["count"] is None
        frame = data.load_summary(source, token)
        assert list(frame["model"]) == ["zoo:served"] and frame["artifact_uri"].iloc[0].startswith(
            "mlflow-artifacts:"
        )
        row = frame.iloc[0].to_dict()
        loaded = artifacts.load_record(source, row)
        assert loaded["run_fingerprint"] == record["run_fingerprint"]
        assert len(artifacts.load_predictions(source, row, loaded)) == record["task"]["num_samples"]
        assert artifacts.run_file(source, row, "absent.json") is None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()


def test_folder_summary_names_unreadable_records_in_one_pass(cache: Path, tmp_path: Path) -> None:
    """The skipped list comes with the summary, from the first read and from its on-disk copy."""
    from visionbench.leaderboard.synthetic import many_records, write_run_folder

    root = tmp_path / "runs"
    for i, record in enumerate(many_records(5)):
        write_run_folder(record, root / f"run-{i}")
    (root / "run-bad").mkdir()
    (root / "run-bad" / "record.json").write_text('{"schema_version": 2')
    source = Source("folder", str(root))
    first = data.load_summary(source)
    assert len(first) == 5
    [(path, reason)] = first.attrs[data.SKIPPED]
    assert path.endswith("run-bad/record.json") and "cannot read results record" in reason
    again = data.load_summary(source)  # from the stored copy
    assert again.attrs[data.SKIPPED] == [(path, reason)]
