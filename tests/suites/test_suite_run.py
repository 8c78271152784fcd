"""``visionbench suite run`` through the real command and the real SQLite MLflow store.

Two shards cover the suite disjointly; rerunning a shard (or the whole suite) runs nothing and logs
nothing; the shifted run's gap equals the difference of the two runs' metrics read back from MLflow,
and its interval equals an independent two-sample bootstrap recomputed from the per-sample
predictions files with numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from visionbench.tasks.data.opencv_digits import CELL, COLUMNS, HEIGHT, PER_DIGIT, WIDTH


def synthetic_opencv_digits(path: Path) -> Path:
    """A ``digits.png`` laid out as OpenCV's (5 rows of 100 cells per digit, in order) from sklearn's digits
    enlarged to 20x20: a shifted copy of the in-distribution data whose labels are known."""
    from PIL import Image

    from visionbench.tasks.data.digits import load_digits_split

    images, labels = load_digits_split("all")
    sheet = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for digit in range(10):
        pool = images[labels == digit]
        for j in range(PER_DIGIT):
            cell = np.asarray(Image.fromarray(pool[j % len(pool)]).resize((16, 16), Image.BILINEAR))
            position = digit * PER_DIGIT + j
            row, column = divmod(position, COLUMNS)
            sheet[row * CELL + 2 : row * CELL + 18, column * CELL + 2 : column * CELL + 18] = cell
    Image.fromarray(sheet).save(path)
    return path


def record_files(output: Path) -> set[Path]:
    return {p for p in output.rglob("record.json") if ".staging" not in p.parts}


def test_suite_shards_rerun_and_gap_in_mlflow(workdir: Path, cli) -> None:
    png = synthetic_opencv_digits(workdir / "digits.png")
    suite = workdir / "suite.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "name": "vb-suite-test",
                "runs": [{"models": ["zoo:digits-linear", "zoo:digits-mlp"], "task": "digits", "limit": 200}],
                "generalisation": [
                    {
                        "name": "digits-vs-synthetic",
                        "model": "zoo:digits-linear",
                        "in_distribution": "digits",
                        "shifted": f"classification:opencv-digits:{png}",
                        "bootstrap": 300,
                    }
                ],
            }
        )
    )
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    common = ["--tracking-uri", uri, "--device", "cpu", "--bootstrap", "50", "--no-checks", "--json"]

    def run(*extra: str) -> list[dict]:
        code, out, err = cli("suite", "run", str(suite), *extra, *common)
        assert code == 0, err
        return json.loads(out)["runs"]

    full = json.loads(cli("suite", "run", str(suite), "--dry-run", "--json")[1])["runs"]
    first, second = run("--shard", "0/2"), run("--shard", "1/2")
    key = lambda r: (r["model"], r["task"], json.dumps(r["options"], sort_keys=True))  # noqa: E731
    assert sorted(map(key, first + second)) == sorted(map(key, full)) and len(full) == 4  # disjoint cover
    assert {r["status"] for r in first + second} == {"ran"}
    assert sum(r["state"]["inferred"] for r in first + second) == 200 + 200 + 540 + 5000

    from visionbench.harness.tracking import client_for

    client = client_for(uri)
    experiment = client.get_experiment_by_name("vb-suite-test")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert len(runs) == 4
    folders = record_files(workdir / "results" / "runs")
    assert len(folders) == 4

    again = run("--shard", "0/2") + run()  # a repeated shard, then the whole suite (overlapping both)
    assert {r["status"] for r in again} == {"stored"}
    assert len(client.search_runs([experiment.experiment_id])) == 4  # nothing logged again
    assert record_files(workdir / "results" / "runs") == folders  # nothing run again

    # the gap in MLflow is the difference of the two runs' top-1 as MLflow holds them
    shifted = next(
        r for r in runs.values() if r.data.tags["vb.task"].startswith("classification:opencv-digits")
    )
    reference_fp = shifted.data.params["generalisation.in_distribution_run"]
    reference = next(r for r in runs.values() if r.data.tags["vb.run_fingerprint"] == reference_fp)
    assert reference.data.tags["vb.model"] == shifted.data.tags["vb.model"] == "zoo:digits-linear"
    assert reference.data.params["task.num_samples"] == "540"  # the pairing's own run: no limit
    gap = shifted.data.metrics["generalisation_gap"]
    assert gap == reference.data.metrics["top1"] - shifted.data.metrics["top1"]
    assert shifted.data.tags["vb.generalisation"] == "top1 vs classification:digits"
    assert shifted.data.params["generalisation.name"] == "digits-vs-synthetic"
    assert 0.0 < shifted.data.metrics["top1"] < reference.data.metrics["top1"]

    # the interval: an independent two-sample bootstrap of top-1 from the predictions files
    shifted_out = next(r for r in first if r["task"].startswith("classification:opencv-digits"))
    section = shifted_out["generalisation"]
    reference_dir = next(
        p.parent for p in folders if json.loads(p.read_text())["run_fingerprint"] == reference_fp
    )
    correct_a = (
        pq.read_table(reference_dir / "predictions.parquet").column("correct").to_numpy().astype(float)
    )
    shifted_dir = Path(shifted_out["record"]).parent
    correct_b = pq.read_table(shifted_dir / "predictions.parquet").column("correct").to_numpy().astype(float)
    stream_a, stream_b = np.random.SeedSequence(0).spawn(2)
    draws_a = correct_a[
        np.random.default_rng(stream_a).integers(0, len(correct_a), (300, len(correct_a)))
    ].mean(1)
    draws_b = correct_b[
        np.random.default_rng(stream_b).integers(0, len(correct_b), (300, len(correct_b)))
    ].mean(1)
    low, high = np.quantile(draws_a - draws_b, [0.025, 0.975])
    assert section["gap_ci_low"] == pytest.approx(low, abs=1e-12)
    assert section["gap_ci_high"] == pytest.approx(high, abs=1e-12)
    assert low < gap < high
    assert shifted.data.metrics["generalisation_gap_ci_low"] == pytest.approx(low, abs=1e-12)

    # the leaderboard's table of the shifted task shows the gap with its interval, and what it compares
    import pandas as pd

    from visionbench.leaderboard.data import finish
    from visionbench.leaderboard.rows import mlflow_rows
    from visionbench.leaderboard.views.overview import default_columns, display_table, ranked_table

    frame = finish(pd.DataFrame(mlflow_rows(uri)))
    table = ranked_table(frame[frame["task"] == shifted.data.tags["vb.task"]])
    columns = default_columns(table, "top1")
    assert columns[:5] == ["rank", "model name", "top1", "generalisation_gap", "generalisation"]
    shown = display_table(table, columns, "top1", "classification").iloc[0]
    assert shown["Generalisation gap (95% CI)"] == f"{gap:.4f} [{low:.4f}, {high:.4f}]"
    assert shown["Gap: in-distribution minus this task"] == "top1 vs classification:digits"
    plain = ranked_table(frame[frame["task"] == "classification:digits"])
    assert "generalisation_gap" not in default_columns(plain, "top1")


def test_bad_suite_run_input_exits_2_naming_it(workdir: Path, cli) -> None:
    suite = workdir / "suite.yaml"
    suite.write_text("runs:\n  - model: zoo:digits-linear\n    task: digits\n    limit: zero\n")
    code, _, err = cli("suite", "run", str(suite), "--no-track")
    assert code == 2 and f"suite file {suite}: runs[0].limit" in err and "Traceback" not in err
    code, _, err = cli("suite", "run", str(suite), "--shard", "4/4", "--no-track")
    assert code == 2 and "--shard '4/4': must be i/N with 0 <= i < N" in err
    code, _, err = cli("suite", "run", str(workdir / "missing.yaml"), "--no-track")
    assert code == 2 and "missing.yaml: file not found" in err


def test_missing_required_data_is_skipped_with_its_hint(workdir: Path, cli) -> None:
    suite = workdir / "suite.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "runs": [
                    {"model": "zoo:digits-linear", "task": "digits", "limit": 20},
                    {"model": "zoo:fashion-cnn", "task": "fashion-mnist", "requires": str(workdir / "nowhere"),
                     "hint": "apt-get install dataset-fashion-mnist"},
                ],
                "generalisation": [
                    {"model": "zoo:digits-linear", "in_distribution": "digits", "limit": 20,
                     "shifted": f"classification:opencv-digits:{workdir / 'absent.png'}",
                     "requires": str(workdir / "absent.png"), "hint": "apt-get install opencv-doc"}
                ],
            }
        )
    )  # fmt: skip
    code, out, err = cli(
        "suite", "run", str(suite), "--no-track", "--bootstrap", "0", "--no-checks", "--device", "cpu"
    )
    assert code == 0, err
    assert (
        f"skipped zoo:fashion-cnn on fashion-mnist: {workdir / 'nowhere'} not found (apt-get install dataset-fashion-mnist)"
        in out
    )
    assert "(apt-get install opencv-doc)" in out
    assert "(1 ran, 0 already stored, 2 skipped)" in out
