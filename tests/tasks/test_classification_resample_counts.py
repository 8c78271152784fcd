"""The resampled top-1 and macro precision/recall/F1 equal scikit-learn's on each resample.

Both ways of counting are checked: the (truth, prediction) pair codes used with few classes and
the three label ``bincount`` calls used with many (forced by lowering the cell limit).
"""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from visionbench.tasks import classification_resample

KEYS = ("top1", "precision_macro", "recall_macro", "f1_macro")


@pytest.mark.parametrize("pair_limit", [classification_resample.PAIR_MAX_CELLS, 0])
def test_resampled_counts_equal_sklearn(monkeypatch: pytest.MonkeyPatch, pair_limit: int) -> None:
    seed = int(os.environ.get("VB_TEST_SEED", secrets.randbits(32)))
    print(f"seed {seed} (replay with VB_TEST_SEED={seed})")
    monkeypatch.setattr(classification_resample, "PAIR_MAX_CELLS", pair_limit)
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(20, 400)), int(rng.integers(2, 30))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    rows = rng.integers(0, n, (25, n))
    got = classification_resample.ClassificationResampler(y_true, y_pred, k).block(rows, KEYS)
    for r, row in enumerate(rows):
        t, p = y_true[row], y_pred[row]
        expected = {
            "top1": accuracy_score(t, p),
            "precision_macro": precision_score(t, p, average="macro", zero_division=0),
            "recall_macro": recall_score(t, p, average="macro", zero_division=0),
            "f1_macro": f1_score(t, p, average="macro", zero_division=0),
        }
        for key, value in expected.items():
            assert got[key][r] == pytest.approx(value, abs=1e-12), f"{key}, resample {r} (seed {seed})"
