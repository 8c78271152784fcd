"""``visionbench score classification`` runs without importing torch, and its numpy ECE is torchmetrics'.

The score path is a whole process whose start-up is most of its cost, so it must not load torch
(nor scikit-learn). The check runs the real command in a fresh interpreter, reads its
``sys.modules`` at exit, and compares the metrics it printed with scikit-learn and torchmetrics
computed here on the same random files.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HEAVY = ("torch", "torchmetrics", "torchvision", "sklearn", "mlflow", "transformers")

PROBE = """
import json, sys
from visionbench.harness.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
"""


def _files(folder: Path, rng: np.random.Generator, rows: int, n_classes: int) -> tuple[Path, Path, dict]:
    classes = [f"c{k}" for k in range(n_classes)]
    truth = rng.integers(0, n_classes, rows)
    scores = rng.random((rows, n_classes)) + rng.uniform(0, 2, rows)[:, None] * np.eye(n_classes)[truth]
    scores /= scores.sum(axis=1, keepdims=True)
    scores = np.round(scores, 6)
    gt, pred = folder / "gt.csv", folder / "pred.csv"
    gt.write_text("id,label\n" + "".join(f"s{i},{classes[t]}\n" for i, t in enumerate(truth)))
    pred.write_text(
        "id," + ",".join(classes) + "\n"
        + "".join(f"s{i}," + ",".join(f"{v:.6f}" for v in row) + "\n" for i, row in enumerate(scores))
    )  # fmt: skip
    return gt, pred, {"truth": truth, "scores": scores}


def test_score_classification_imports_no_torch(tmp_path: Path) -> None:
    seed = int(os.environ.get("VB_TEST_SEED", secrets.randbits(32)))
    print(f"seed {seed} (replay with VB_TEST_SEED={seed})")
    rng = np.random.default_rng(seed)
    gt, pred, data = _files(tmp_path, rng, rows=300, n_classes=7)
    argv = ["score", "classification", "--gt", str(gt), "--pred", str(pred), "--json"]
    argv += ["--output", str(tmp_path / "scored")]
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    probe = json.loads(done.stderr.rsplit("PROBE ", 1)[1])
    assert probe["code"] == 0, done.stderr[-2000:]
    assert probe["heavy"] == [], f"the score path imported {probe['heavy']}"
    out = json.loads(done.stdout)
    metrics = out["metrics"]

    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from torchmetrics.functional.classification import multiclass_calibration_error

    truth, scores = data["truth"], data["scores"]
    ece = multiclass_calibration_error(
        torch.from_numpy(scores), torch.from_numpy(truth), num_classes=scores.shape[1], n_bins=15, norm="l1"
    )
    assert metrics["ece"] == pytest.approx(float(ece), abs=1e-7), f"seed {seed}"
    assert metrics["top1"] == pytest.approx(accuracy_score(truth, scores.argmax(1)), abs=1e-12)
    assert metrics["f1_macro"] == pytest.approx(f1_score(truth, scores.argmax(1), average="macro"), abs=1e-12)
    # the run folder records the installed torch's version although torch was never imported
    record = json.loads(Path(out["record"]).read_text())
    assert record["environment"]["torch"] == torch.__version__
    assert record["environment"]["num_threads"] is None  # no model ran: no thread count to report
    assert record["metrics"]["top1_ci_low"] <= metrics["top1"] <= record["metrics"]["top1_ci_high"]
