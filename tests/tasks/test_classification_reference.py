"""The numpy classification metrics against their references on random data: scikit-learn and torchmetrics.

Every function of ``classification_metrics`` must give the reference's number (ECE: torchmetrics'
float32 value exactly; the scikit-learn metrics to 1e-12). Cases vary the sample count, the class
count, ties in the scores, absent and never-predicted classes. ``VB_TEST_SEED`` replays a seed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from visionbench.tasks import classification_metrics as cm

SEED = int(os.environ.get("VB_TEST_SEED", np.random.SeedSequence().entropy % 2**32))


def _case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, c = int(rng.integers(2, 1500)), int(rng.integers(2, 40))
    logits = rng.normal(size=(n, c)) * rng.uniform(0.05, 6.0)
    if rng.random() < 0.3:  # coarse scores: many ties within and across rows
        logits = np.round(logits, 1)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    classes = rng.choice(c, size=int(rng.integers(1, c + 1)), replace=False)  # some classes absent
    return rng.choice(classes, size=n), probs


def _cases(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    print(f"VB_TEST_SEED={SEED}")
    rng = np.random.default_rng(SEED)
    return [_case(rng) for _ in range(count)]


def test_ece_equals_torchmetrics() -> None:
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    for y, probs in _cases(80):
        for bins in (15, 7):
            want = multiclass_calibration_error(
                torch.from_numpy(probs),
                torch.from_numpy(y),
                num_classes=probs.shape[1],
                n_bins=bins,
                norm="l1",
            )
            assert cm.expected_calibration_error(y, probs, n_bins=bins) == float(want), (len(y), bins)


def test_bin_edges_equal_torch_linspace() -> None:
    import torch

    for bins in range(1, 100):
        assert np.array_equal(cm._bin_edges(bins), torch.linspace(0, 1, bins + 1).numpy()), bins


def test_sklearn_metrics_equal() -> None:
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
        top_k_accuracy_score,
    )

    for y, probs in _cases(60):
        c = probs.shape[1]
        names = [f"c{i}" for i in range(c)]
        metrics, per_class, matrix = cm.classification_metrics(y, names, scores=probs)
        pred = probs.argmax(axis=1)
        assert metrics["top1"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
        if c > 5:
            want = top_k_accuracy_score(y, probs, k=5, labels=np.arange(c))
            assert metrics["top5"] == pytest.approx(want, abs=1e-12)
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
        assert (metrics["precision_macro"], metrics["recall_macro"], metrics["f1_macro"]) == pytest.approx(
            (p, r, f), abs=1e-12
        )
        per_p, per_r, per_f, support = precision_recall_fscore_support(
            y, pred, labels=np.arange(c), average=None, zero_division=0
        )
        for i, name in enumerate(names):
            row = per_class[name]
            assert row["support"] == support[i]
            if support[i] or (pred == i).any():
                assert (row["precision"], row["f1"]) == pytest.approx((per_p[i], per_f[i]), abs=1e-12)
            if support[i]:
                assert row["recall"] == pytest.approx(per_r[i], abs=1e-12)
        assert np.array_equal(matrix, confusion_matrix(y, pred, labels=np.arange(c)))
        aucs = [roc_auc_score(y == k, probs[:, k]) for k in range(c) if 0 < (y == k).sum() < len(y)]
        want_auc = float(np.mean(aucs)) if aucs else float("nan")
        assert metrics["auroc_macro"] == pytest.approx(want_auc, abs=1e-12, nan_ok=True)


def test_hard_labels_only() -> None:
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(SEED + 1)
    y, pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    metrics, _, _ = cm.classification_metrics(y, [str(i) for i in range(7)], y_pred=pred)
    assert set(metrics) == {"top1", "precision_macro", "recall_macro", "f1_macro"}
    _, _, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    assert metrics["f1_macro"] == pytest.approx(f, abs=1e-12)
