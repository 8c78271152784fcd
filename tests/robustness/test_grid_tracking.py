"""The corruption grid's summary as an MLflow run: its mPC and rPC agree with the cells' own MLflow runs,
logging it again adds nothing, the leaderboard does not rank it, and an unreachable store loses nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

GRID = {"corruptions": ("gaussian_noise", "contrast"), "severities": (1, 4), "limit": 60}


def _grid(tmp_path: Path, uri: str, seed: int) -> dict:
    from visionbench.robustness.grid import run_grid

    return run_grid(
        "zoo:digits-linear",
        "digits",
        output=tmp_path / "runs",
        seed=seed,
        track=True,
        tracking_uri=uri,
        **GRID,
    )


def test_grid_summary_run_agrees_with_its_cells_runs(workdir: Path, test_seed: int) -> None:
    from mlflow.tracking import MlflowClient

    from visionbench.leaderboard.data import Source, load_summary

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    summary = _grid(workdir, uri, test_seed)
    assert summary["tracking"]["status"] == "logged", summary["tracking"]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("visionbench").experiment_id
    grids = client.search_runs([experiment], "tags.`vb.grid` = 'corruption'")
    assert [g.info.run_id for g in grids] == [summary["tracking"]["run_id"]]
    grid = grids[0]
    assert grid.info.status == "FINISHED" and grid.data.tags["vb.cells"] == "4"
    # the headline of every cell, read back from the cell's own MLflow run
    logged = {(c["corruption"], c["severity"]): client.get_run(c["mlflow_run_id"]).data.metrics["top1"]
              for c in summary["runs"]}  # fmt: skip
    clean = logged.pop((None, None))
    assert len(logged) == 4
    for (corruption, severity), value in logged.items():
        assert grid.data.metrics[f"corrupt_top1/{corruption}/{severity}"] == value
    assert math.isclose(grid.data.metrics["mpc"], float(np.mean(list(logged.values()))), rel_tol=1e-12)
    assert math.isclose(grid.data.metrics["rpc"], grid.data.metrics["mpc"] / clean, rel_tol=1e-12)
    assert (
        grid.data.params["corruptions"] == "gaussian_noise,contrast"
        and grid.data.params["severities"] == "1,4"
    )
    names = {a.path for a in client.list_artifacts(grid.info.run_id)}
    assert names == {Path(summary["files"]["summary"]).name, Path(summary["files"]["heatmap"]).name}
    on_disk = json.loads(Path(summary["files"]["summary"]).read_text())
    assert on_disk["tracking"]["run_id"] == grid.info.run_id

    again = _grid(workdir, uri, test_seed)  # unchanged: served from the store, logged once
    assert again["tracking"]["run_id"] == grid.info.run_id
    assert len(client.search_runs([experiment], "tags.`vb.grid` = 'corruption'")) == 1
    frame = load_summary(Source("mlflow", uri), disk_cache=False)
    assert len(frame) == len(client.search_runs([experiment], "tags.`vb.kind` != ''"))
    assert not frame["model_name"].astype(str).str.contains("corruption grid").any()


def test_grid_summary_survives_an_unreachable_store(workdir: Path, test_seed: int) -> None:
    uri = "http://127.0.0.1:9"  # nothing listens on the discard port
    summary = _grid(workdir, uri, test_seed)
    assert summary["tracking"]["status"] == "failed" and summary["tracking"]["error"]
    on_disk = json.loads(Path(summary["files"]["summary"]).read_text())
    assert (
        on_disk["metrics"] == pytest.approx(summary["metrics"]) and on_disk["tracking"]["status"] == "failed"
    )
    assert Path(summary["files"]["heatmap"]).is_file()
