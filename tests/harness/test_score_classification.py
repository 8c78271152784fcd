"""`visionbench score classification` against scikit-learn on random data with shuffled rows."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, top_k_accuracy_score

# score writes a run folder (default results/runs): keep it in a fresh folder
pytestmark = pytest.mark.usefixtures("workdir")


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("n_classes", [7, 12])
def test_scores_equal_sklearn(tmp_path: Path, cli, n_classes: int) -> None:
    seed = secrets.randbits(32)
    rng = np.random.default_rng(seed)
    n = 500
    classes = [f"class_{c}" for c in range(n_classes)]
    y = rng.integers(0, n_classes, n)
    scores = rng.normal(size=(n, n_classes))
    scores[np.arange(n), y] += rng.uniform(0, 2.5, n)  # better than chance, not perfect
    ids = [f"img{i:04d}" for i in range(n)]
    gt = _write(tmp_path / "gt.csv", ["id", "label"], [[ids[i], classes[y[i]]] for i in rng.permutation(n)])
    order = rng.permutation(n)
    pred = _write(
        tmp_path / "pred.csv",
        ["id", *classes],
        [[ids[i], *(repr(float(v)) for v in scores[i])] for i in order],
    )
    code, out, err = cli("score", "classification", "--gt", str(gt), "--pred", str(pred), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "classification"
    metrics = result["metrics"]
    y_pred = scores.argmax(axis=1)
    expected = {
        "top1": accuracy_score(y, y_pred),
        "top5": top_k_accuracy_score(y, scores, k=5, labels=np.arange(n_classes)),
        "f1_macro": f1_score(y, y_pred, average="macro"),
    }
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), f"{key} (seed {seed})"


def test_hard_labels_equal_sklearn(tmp_path: Path, cli) -> None:
    seed = secrets.randbits(32)
    rng = np.random.default_rng(seed)
    n = 300
    names = ["cat", "dog", "bird", "fish"]
    y = rng.integers(0, 4, n)
    y_pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
    gt = _write(tmp_path / "gt.csv", ["id", "label"], [[str(i), names[y[i]]] for i in range(n)])
    pred = _write(
        tmp_path / "pred.csv", ["id", "label"], [[str(i), names[y_pred[i]]] for i in rng.permutation(n)]
    )
    code, out, err = cli("score", "classification", "--gt", str(gt), "--pred", str(pred), "--json")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert metrics["top1"] == pytest.approx(accuracy_score(y, y_pred), abs=1e-9), seed
    assert metrics["f1_macro"] == pytest.approx(f1_score(y, y_pred, average="macro"), abs=1e-9), seed
    assert "top5" not in metrics  # needs scores


def test_json_output_is_only_json(tmp_path: Path, cli) -> None:
    gt = _write(tmp_path / "gt.csv", ["id", "label"], [["a", "x"], ["b", "y"]])
    pred = _write(tmp_path / "pred.csv", ["id", "label"], [["b", "y"], ["a", "y"]])
    code, out, _ = cli("score", "classification", "--gt", str(gt), "--pred", str(pred), "--json")
    assert code == 0
    assert out.count("\n") == 1
    assert {"task", "metrics"} <= set(json.loads(out))


@pytest.mark.parametrize(
    ("pred_rows", "needle"),
    [
        ([["a", "x"]], "no prediction for id 'b'"),
        ([["a", "x"], ["b", "y"], ["c", "x"]], "id 'c' is not in the ground truth"),
        ([["a", "x"], ["a", "y"], ["b", "x"]], "duplicate id 'a'"),
    ],
)
def test_mismatched_ids_are_named(tmp_path: Path, cli, pred_rows, needle) -> None:
    gt = _write(tmp_path / "gt.csv", ["id", "label"], [["a", "x"], ["b", "y"]])
    pred = _write(tmp_path / "pred.csv", ["id", "label"], pred_rows)
    code, _, err = cli("score", "classification", "--gt", str(gt), "--pred", str(pred))
    assert code == 2
    assert needle in err and "pred.csv" in err
    assert err.count("\n") == 1


def test_missing_score_column_is_named(tmp_path: Path, cli) -> None:
    gt = _write(tmp_path / "gt.csv", ["id", "label"], [["a", "x"], ["b", "z"]])
    pred = _write(tmp_path / "pred.csv", ["id", "x", "y"], [["a", "0.9", "0.1"], ["b", "0.2", "0.8"]])
    code, _, err = cli("score", "classification", "--gt", str(gt), "--pred", str(pred))
    assert code == 2 and "label 'z' has no score column" in err
