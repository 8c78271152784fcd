"""Intervals drawn in a thread: the same percentiles as drawing them in line, errors handed back, and a
score run's box intervals equal to the ones its task draws itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_coco import make_dataset

from visionbench.harness.statistics import IntervalsInBackground


def test_background_percentiles_equal_numpy_by_hand(seed: int) -> None:
    # whole numbers: every resample's sum is exact in any order, so the means match to the bit
    values = np.random.default_rng(seed).integers(0, 1000, 37).astype(np.float64)
    reps, n = 500, len(values)
    pending = IntervalsInBackground(n, lambda rows: {"mean": values[rows].mean(axis=1)}, reps=reps, seed=seed)
    draws = np.random.default_rng(seed).integers(0, n, size=(reps, n))  # one stream, row by row
    means = values[draws].mean(axis=1)
    low, high = pending.result()["mean"]
    alpha = (1 - 0.95) / 2  # the harness's tails: 0.025000000000000022, not the literal 0.025
    assert (low, high) == (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))), seed


def test_background_error_reaches_the_caller() -> None:
    def broken(rows: np.ndarray) -> dict[str, np.ndarray]:
        raise ValueError("resampling failed on purpose")

    pending = IntervalsInBackground(5, broken, reps=10, seed=0)
    with pytest.raises(ValueError, match="on purpose"):
        pending.result()


def test_score_run_intervals_equal_the_tasks_own(seed: int, tmp_path: Path) -> None:
    from visionbench.harness import scoring_runs
    from visionbench.harness.scoring_detection import score_detection
    from visionbench.harness.statistics import add_task_intervals
    from visionbench.tasks import coco_native

    if not coco_native.available():
        pytest.skip("numba is not installed")
    gt, dets, _ = make_dataset(seed, 30)
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(dets))
    score_detection(gt_path, pred_path)
    pending = scoring_runs.detection_intervals(gt_path, pred_path, reps=300, seed=seed % 1000)
    assert pending is not None  # the native evaluation was there to start from
    task, _ = scoring_runs.detection_task(gt_path, pred_path)
    result = task.compute()
    add_task_intervals(task, result.metrics, reps=300, seed=seed % 1000)
    got = pending.result()
    assert set(got) == {"map", "map_50"}, seed
    for key, (low, high) in got.items():
        assert (low, high) == (result.metrics[f"{key}_ci_low"], result.metrics[f"{key}_ci_high"]), (seed, key)


def test_failed_intervals_leave_no_drawn_files_behind(seed: int, tmp_path: Path) -> None:
    from visionbench.harness import scoring_runs

    gt, dets, _ = make_dataset(seed, 8)
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(dets))
    task, spec = scoring_runs.detection_task(gt_path, pred_path)

    class Broken:
        def result(self) -> None:
            raise ValueError("the intervals' thread failed")

    output = tmp_path / "runs"
    with pytest.raises(ValueError, match="thread failed"):
        scoring_runs.publish_score_run(task, spec, pred_path, output, intervals=Broken())
    assert not list(output.glob(".artifacts-*"))  # the plots drawn ahead went with the failure
    assert not list(output.rglob("record.json"))  # and no run folder claims a record
