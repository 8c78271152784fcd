"""Classification metrics in numpy: the same numbers as scikit-learn (float64) and torchmetrics (ECE).

The two libraries cost about two seconds of imports for a few array operations, so the
operations are written here in the libraries' own order (a test compares each function with
its reference on random data: ``tests/tasks/test_classification_reference.py``).

Edge-case policy:

* ``top1``/``top5``: fraction of samples whose label is among the k highest scores
  (``top5`` uses k = min(5, C)); ties are broken as scikit-learn does (the higher class
  index first).
* ``precision_macro``/``recall_macro``/``f1_macro``: unweighted mean over the classes
  present in the ground truth or the predictions (scikit-learn's default label set); a
  class never predicted has precision 0 (``zero_division=0``). Per-class ``f1/<class>``
  is reported for every class and is NaN for a class absent from both.
* ``auroc_macro``: one-vs-rest ROC AUC averaged over the classes that have both
  positive and negative samples; NaN when no class qualifies.
* ``ece``: expected calibration error, 15 equal-width bins, L1 (torchmetrics), on the
  top-1 confidence of the probabilities. With a single class every confidence is 1 and
  every prediction right, so the ECE is 0.
* ``nll``: mean negative log-likelihood of the true class, probabilities clipped to
  ``[eps, 1 - eps]`` (float64 machine epsilon) and not renormalised: scikit-learn's ``log_loss``
  with ``labels=range(C)``.
* ``brier``: multiclass Brier score, the mean over samples of ``sum_c (p_c - y_c)^2`` (range
  [0, 2], never halved, also for two classes): scikit-learn's ``brier_score_loss`` with
  ``labels=range(C), scale_by_half=False``.
* no answer (hard label -1, a generative classifier whose answer named no class): wrong for
  ``top1``; a false negative of the true class for recall and F1; it adds no class to the
  macro averages and no column to the confusion matrix (whose rows then sum to less than
  the support).
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
    metrics: dict[str, float] = {"top1": float(np.mean(y_true == y_pred))}
    if probs is not None:
        metrics["top5"] = top_k_accuracy(y_true, probs, min(5, n_classes))
    size = max(n_classes, int(y_true.max(initial=-1)) + 1, int(y_pred.max(initial=-1)) + 1)
    answered = y_pred >= 0  # -1: no answer (wrong; a false negative of the true class, no column)
    cm = np.bincount(y_true[answered] * size + y_pred[answered], minlength=size * size).reshape(size, size)
    tp, support, predicted = np.diag(cm), np.bincount(y_true, minlength=size), cm.sum(axis=0)
    present = (support + predicted) > 0  # scikit-learn's default label set for an average
    per_p, per_r, per_f = _prf(tp, predicted, support)
    metrics.update(
        precision_macro=_macro(per_p[present]),
        recall_macro=_macro(per_r[present]),
        f1_macro=_macro(per_f[present]),
    )
    if probs is not None:
        metrics["auroc_macro"] = auroc_macro(y_true, probs)
        metrics["ece"] = expected_calibration_error(y_true, probs)
        metrics["nll"] = float(np.mean(sample_nll(y_true, probs)))
        metrics["brier"] = float(np.mean(sample_brier(y_true, probs)))
    per_class = {}
    for i, name in enumerate(classes):
        shown = bool(present[i])
        per_class[name] = {
            "precision": float(per_p[i]) if shown else float("nan"),
            "recall": float(per_r[i]) if support[i] > 0 else float("nan"),
            "f1": float(per_f[i]) if shown else float("nan"),
            "support": int(support[i]),
        }
    return metrics, per_class, cm[:n_classes, :n_classes]


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` in float64, 0 where the denominator is 0 (``zero_division=0``)."""
    denominator = denominator.astype(np.float64)
    empty = denominator == 0
    denominator[empty] = 1
    out = numerator.astype(np.float64) / denominator
    out[empty] = 0.0
    return out


def _prf(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-class precision, recall and F1 (F1 = 2 tp / (support + predicted), as scikit-learn writes it)."""
    f1 = _divide(2.0 * tp.astype(np.float64), 1.0 * support.astype(np.float64) + predicted.astype(np.float64))
    return _divide(tp, predicted), _divide(tp, support), f1


def _macro(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else float("nan")


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Fraction of samples whose class is among the ``k`` highest scores; among equal scores the
    higher class index ranks first (a stable ascending sort, reversed)."""
    if probs.shape[1] <= k:
        return 1.0
    ranked = np.argsort(probs, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return float(np.mean((ranked == np.asarray(y_true)[:, None]).any(axis=1)))


def binary_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of one class against the rest: the trapezoid rule over the curve's
    corners (one per distinct score, collinear corners dropped), the curve scikit-learn draws."""
    order = np.argsort(score, kind="stable")[::-1]
    score, hit = score[order], positive[order]
    cut = np.concatenate([np.flatnonzero(np.diff(score)), [hit.size - 1]])
    tps = np.cumsum(hit, dtype=np.float64)[cut]
    fps = 1 + cut.astype(np.float64) - tps
    if fps.size > 2:
        keep = np.flatnonzero(
            np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]])
        )
        fps, tps = fps[keep], tps[keep]
    fpr = np.concatenate([[0.0], fps]) / fps[-1]
    tpr = np.concatenate([[0.0], tps]) / tps[-1]
    return float(np.add.reduce(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def auroc_macro(y_true: np.ndarray, probs: np.ndarray) -> float:
    values = []
    for c in range(probs.shape[1]):
        positive = y_true == c
        if 0 < positive.sum() < len(y_true):
            values.append(binary_auroc(positive, probs[:, c]))
    return float(np.mean(values)) if values else float("nan")


def sample_nll(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per sample ``-log p_true``, the probability clipped to ``[eps, 1 - eps]`` as scikit-learn clips it."""
    eps = np.finfo(np.float64).eps
    p = np.clip(np.asarray(probs, dtype=np.float64)[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return -np.log(p)


def sample_brier(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per sample ``sum_c (p_c - y_c)^2`` with ``y`` the one-hot true class."""
    diff = np.array(probs, dtype=np.float64)
    diff[np.arange(len(y_true)), y_true] -= 1.0
    return np.sum(diff * diff, axis=1)


ECE_LANES = 8  # torch sums the 16 bin terms as 8 lane-wise pairs, then the lanes in order


def _bin_edges(n_bins: int) -> np.ndarray:
    """``torch.linspace(0, 1, n_bins + 1)`` in float32: each edge one fused multiply-add, the upper
    half counted down from 1."""
    step = float(np.float32(1.0) / np.float32(n_bins))
    count = n_bins + 1
    return np.array(
        [i * step if i < count // 2 else 1.0 - step * (count - 1 - i) for i in range(count)],
        dtype=np.float32,
    )


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-1 expected calibration error, L1, ``n_bins`` equal-width bins: torchmetrics'
    ``multiclass_calibration_error`` step for step in float32 (bins by ``bucketize(right=True)``,
    sums in sample order), so the value is the same number."""
    if probs.shape[1] < 2:  # torchmetrics refuses one class; confidence 1, accuracy 1 (see the policy)
        return 0.0
    confidence = probs.max(axis=1).astype(np.float32)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float32)
    edges = _bin_edges(n_bins)
    which = np.searchsorted(edges, confidence, side="right") - 1
    count = np.zeros(edges.size, dtype=np.float32)
    conf_sum = np.zeros(edges.size, dtype=np.float32)
    hit_sum = np.zeros(edges.size, dtype=np.float32)
    np.add.at(count, which, np.float32(1.0))
    np.add.at(conf_sum, which, confidence)
    np.add.at(hit_sum, which, correct)
    with np.errstate(divide="ignore", invalid="ignore"):
        conf_bin = np.nan_to_num(conf_sum / count)
        hit_bin = np.nan_to_num(hit_sum / count)
    total = np.float32(0.0)
    for value in count:
        total = np.float32(total + value)
    terms = (np.abs(hit_bin - conf_bin) * (count / total)).astype(np.float32)
    whole = terms.size // ECE_LANES * ECE_LANES
    lanes = np.zeros(ECE_LANES, dtype=np.float32)
    for start in range(0, whole, ECE_LANES):
        lanes = (lanes + terms[start : start + ECE_LANES]).astype(np.float32)
    out = np.float32(0.0)
    for value in (*terms[whole:], *lanes):
        out = np.float32(out + value)
    return float(out)


def fast_headline(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """top1 and f1_macro from hard predictions with one bincount (used by the bootstrap, same policy as above)."""
    answered = y_pred >= 0
    cm = np.bincount(
        y_true[answered] * n_classes + y_pred[answered], minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support, predicted = np.bincount(y_true, minlength=n_classes), cm.sum(axis=0)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        "top1": float(tp.sum() / max(len(y_true), 1)),
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
    }
