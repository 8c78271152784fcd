"""Metric keys MLflow refuses, ``sync`` (stored URI, one corrupt record, exit code), and the SQLite build."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionbench.harness import tracking
from visionbench.harness.mlflow_keys import mlflow_key, restore, sanitise
from visionbench.harness.record import RECORD_FILE, read_record
from visionbench.harness.runner import execute
from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

NASTY = [
    "f1/dog (husky)",
    "f1/jack-o'-lantern",
    "iou/a:b",
    "ap/",
    "ap/.",
    "ap/..",
    "a//b",
    "/x",
    "é/ü",
    "x" * 300,
]


def _run(output: Path, **kwargs) -> tuple[dict, Path]:
    spec = RunSpec(parse_model_spec("zoo:digits-linear"), parse_task_spec("digits"), "cpu", limit=60)
    outcome = execute(spec, output=output, quiet=True, bootstrap_reps=20, **kwargs)
    return outcome.record, outcome.directory


@pytest.mark.parametrize("name", NASTY)
def test_mlflow_key_passes_mlflows_own_validation(name: str) -> None:
    from mlflow.utils.validation import _validate_metric_name

    _validate_metric_name(mlflow_key(name))
    assert mlflow_key(mlflow_key(name)) == mlflow_key(name)


def test_sanitised_keys_stay_distinct_and_restore() -> None:
    metrics = {"f1/a(b)": 1.0, "f1/a_b_": 2.0, "f1/a[b]": 3.0, "top1": 0.5}
    out, changed = sanitise(metrics)
    assert len(out) == 4 and out["top1"] == 0.5 and out["f1/a_b_"] == 2.0
    assert set(changed) == {"f1/a(b)", "f1/a[b]"}
    from visionbench.harness.mlflow_keys import key_map_tags

    assert restore(out, key_map_tags(changed)) == metrics


def test_a_class_mlflow_refuses_is_logged_and_read_back_under_its_name(workdir: Path) -> None:
    """``f1/dog (husky)`` used to leave an empty FAILED run; now it is logged and the leaderboard shows it."""
    from visionbench.leaderboard.rows import mlflow_rows

    record, directory = _run(workdir / "results", track=False)
    record["metrics"]["f1/dog (husky)"] = 0.25
    uri = f"sqlite:///{workdir / 'keys.db'}"
    tracking_section = tracking.log_record(record, directory, uri)
    assert tracking_section["status"] == "logged", tracking_section
    assert tracking_section["key_map"] == {"f1/dog (husky)": "f1/dog _husky_"}
    assert read_record(directory / RECORD_FILE)["tracking"]["key_map"]  # the schema takes it
    client = tracking.client_for(uri)
    run = client.get_run(tracking_section["run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["f1/dog _husky_"] == 0.25
    [row] = mlflow_rows(uri)
    assert row["f1/dog (husky)"] == 0.25 and "f1/dog _husky_" not in row
    assert tracking.PENDING_MARKER not in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_sync_logs_to_the_stored_uri_reports_a_corrupt_record_and_exits_nonzero(
    workdir: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = workdir / "stores" / "team.db"
    uri = f"sqlite:///{store}"

    def store_down(*_args):
        raise ConnectionError("store down")

    log = tracking._log
    monkeypatch.setattr(tracking, "_log", store_down)
    good = _run(workdir / "results", tracking_uri=uri)[1]
    bad = _run(workdir / "results", tracking_uri=uri)[1]
    monkeypatch.setattr(tracking, "_log", log)
    assert tracking.pending_runs(workdir / "results") == sorted([good, bad])
    assert (good / tracking.PENDING_MARKER).read_text().strip() == uri
    (bad / RECORD_FILE).write_text("{ not json")
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'env.db'}")  # stored URI wins

    code, out, _ = cli("sync", "--output", str(workdir / "results"))
    assert code == 1
    assert f"{good}: logged" in out and f"{bad}: error" in out and "cannot read results record" in out
    assert not (elsewhere / "mlflow.db").exists() and not (workdir / "env.db").exists()
    client = tracking.client_for(uri)
    runs = client.search_runs([client.get_experiment_by_name("visionbench").experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"]
    assert (bad / tracking.PENDING_MARKER).exists() and not (good / tracking.PENDING_MARKER).exists()


def test_a_failed_store_build_leaves_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema is built in a private file and renamed into place: a failure leaves nothing half-built."""
    from visionbench.harness import mlflow_sqlite

    def broken(*_args, **_kwargs):
        raise RuntimeError("killed mid-migration")

    monkeypatch.setattr(mlflow_sqlite, "_open_store", broken)
    with pytest.raises(RuntimeError):
        mlflow_sqlite.ensure_schema(f"sqlite:///{tmp_path / 'new.db'}", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db.lock"]
