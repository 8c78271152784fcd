"""Classification metrics from scikit-learn (float64, exact) and torchmetrics (calibration).

Edge-case policy:

* ``top1``/``top5``: fraction of samples whose label is among the k highest scores
  (``top5`` uses k = min(5, C)); ties are broken as scikit-learn does.
* ``precision_macro``/``recall_macro``/``f1_macro``: unweighted mean over the classes
  present in the ground truth or the predictions (scikit-learn's default label set); a
  class never predicted has precision 0 (``zero_division=0``). Per-class ``f1/<class>``
  is reported for every class and is NaN for a class absent from both.
* ``auroc_macro``: one-vs-rest ROC AUC averaged over the classes that have both
  positive and negative samples; NaN when no class qualifies.
* ``ece``: expected calibration error, 15 equal-width bins, L1 (torchmetrics), on the
  top-1 confidence of the probabilities. With a single class every confidence is 1 and
  every prediction right, so the ECE is 0.
Scores that are not already probabilities (non-negative rows summing to one) are
passed through a softmax first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from visionbench.errors import DataError


def to_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows as probabilities: kept when already a distribution, softmax otherwise."""
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        bad = int(np.argwhere(~np.isfinite(scores))[0][0])
        raise DataError(f"non-finite score in row {bad}")
    if scores.size and scores.min() >= 0 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4):
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classification_metrics(
    y_true: np.ndarray,
    classes: Sequence[str],
    *,
    scores: np.ndarray | None = None,
    y_pred: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]], np.ndarray]:
    """Headline metrics, per-class table and confusion matrix (rows = truth, columns = prediction).

    Give ``scores`` ``[N, C]`` (all metrics) or only hard ``y_pred`` (top-k, AUROC and
    ECE are then omitted, since they need scores).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    n_classes = len(classes)
    probs = to_probabilities(scores) if scores is not None else None
    if probs is not None:
        if probs.shape != (len(y_true), n_classes):
            raise DataError(f"scores have shape {probs.shape}, expected ({len(y_true)}, {n_classes})")
        y_pred = probs.argmax(axis=1)
    if y_pred is None:
        raise ValueError("give scores or y_pred")
    y_pred = np.asarray(y_pred, dtype=np.int64)
    metrics: dict[str, float] = {"top1": float(accuracy_score(y_true, y_pred))}
    if probs is not None:
        metrics["top5"] = top_k_accuracy(y_true, probs, min(5, n_classes))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    metrics.update(precision_macro=float(p), recall_macro=float(r), f1_macro=float(f))
    if probs is not None:
        metrics["auroc_macro"] = auroc_macro(y_true, probs)
        metrics["ece"] = expected_calibration_error(y_true, probs)
    labels = np.arange(n_classes)
    per_p, per_r, per_f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    predicted = np.bincount(y_pred, minlength=n_classes)
    per_class = {}
    for i, name in enumerate(classes):
        present = support[i] > 0 or predicted[i] > 0
        per_class[name] = {
            "precision": float(per_p[i]) if present else float("nan"),
            "recall": float(per_r[i]) if support[i] > 0 else float("nan"),
            "f1": float(per_f[i]) if present else float("nan"),
            "support": int(support[i]),
        }
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return metrics, per_class, cm


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    from sklearn.metrics import top_k_accuracy_score

    if probs.shape[1] <= k:
        return 1.0
    return float(top_k_accuracy_score(y_true, probs, k=k, labels=np.arange(probs.shape[1])))


def auroc_macro(y_true: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    values = []
    for c in range(probs.shape[1]):
        positive = y_true == c
        if 0 < positive.sum() < len(y_true):
            values.append(roc_auc_score(positive, probs[:, c]))
    return float(np.mean(values)) if values else float("nan")


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    if probs.shape[1] < 2:  # torchmetrics refuses one class; confidence 1, accuracy 1 (see the policy)
        return 0.0
    return float(
        multiclass_calibration_error(
            torch.from_numpy(probs),
            torch.from_numpy(y_true),
            num_classes=probs.shape[1],
            n_bins=n_bins,
            norm="l1",
        )
    )


def fast_headline(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """top1 and f1_macro from hard predictions with one bincount (used by the bootstrap, same policy as above)."""
    cm = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        "top1": float(tp.sum() / max(len(y_true), 1)),
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
    }
