"""Findings travel: record section (schema-valid), MLflow tag and artifacts, leaderboard card and run tabs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import vbtest_broken_models as broken

APP = Path(__file__).resolve().parents[2] / "visionbench" / "leaderboard" / "app.py"


def test_findings_reach_the_record_mlflow_and_the_leaderboard(tmp_path: Path, monkeypatch: Any) -> None:
    import visionbench
    from visionbench.harness.record import read_record, row_from_record, validate
    from visionbench.harness.tracking import client_for
    from visionbench.leaderboard.views.card import check_rows, checks_summary

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    record = visionbench.evaluate(
        broken.DoubleSoftmax(), "digits", output=tmp_path / "runs", tracking_uri=uri, bootstrap=50,
        limit=60, classes=broken.DIGITS_CLASSES, name="double-softmax",
    )  # fmt: skip
    validate(record)
    assert record["checks"]["worst"] == "warning"
    [stored] = list((tmp_path / "runs").rglob("record.json"))
    on_disk = read_record(stored)
    assert on_disk["checks"] == record["checks"]
    assert json.loads((stored.parent / "findings.json").read_text()) == record["checks"]
    assert row_from_record(on_disk, stored)["checks"] == "warning"

    client = client_for(uri)
    run = client.get_run(record["tracking"]["run_id"])
    assert run.data.tags["vb.checks"] == "warning"
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"findings.json", "reliability_diagram.png", "reliability.json"} <= logged
    assert {"nll", "brier", "ece"} <= set(run.data.metrics)

    rows = check_rows(on_disk)
    assert rows["severity"][0] == "warning" and rows["check"][0] == "output schema"
    assert any("already probabilities" in text for text in rows["finding"])
    assert checks_summary(on_disk).startswith("worst: warning")
    assert checks_summary({}) == "this run was recorded without trust checks"

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VISIONBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VISIONBENCH_LEADERBOARD_SOURCE", uri)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("screens/model.py")
    at.query_params["model"] = record["model"]["spec"]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Checks" in [tab.label for tab in at.tabs] and "Calibration" in [tab.label for tab in at.tabs]
    captions = [c.value for c in at.caption]
    assert any(c.startswith("worst: warning") for c in captions)
    assert any("Negative log-likelihood" in c and "Brier score" in c for c in captions)
    frames = [node.value for node in at.main if node.type == "dataframe"]
    [found] = [f for f in frames if "finding" in getattr(f, "columns", [])]
    assert list(found["severity"]) == rows["severity"] and list(found["finding"]) == rows["finding"]


def test_no_checks_leaves_the_record_without_a_section(tmp_path: Path, cli) -> None:
    code, out, err = cli(
        "run", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "30", "--no-track",
        "--no-checks", "--json", "--output", str(tmp_path), "--bootstrap", "0",
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(Path(json.loads(out)["record"]).read_text())
    assert "checks" not in record
    code, out, err = cli(
        "run", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "30", "--no-track",
        "--json", "--output", str(tmp_path), "--bootstrap", "0",
    )  # fmt: skip
    record = json.loads(Path(json.loads(out)["record"]).read_text())
    assert record["checks"]["worst"] == "ok" and record["metrics"] == json.loads(out)["metrics"]
