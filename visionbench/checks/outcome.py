"""Checks on a run's results: a headline within noise of chance, and labels that look permuted.

Both read what ``compute()`` already produced (the confusion matrix, the metrics and their
intervals), so they cost nothing at the end of a run.

* *chance level*: classification top-1 against the better of uniform guessing (1/C) and always
  answering the majority class; segmentation mIoU against answering the majority class everywhere
  (its pixel share over the classes present in the truth); detection mAP against zero. The noise is
  the metric's bootstrap interval when the run has one (its lower end at or below chance is
  flagged), else two binomial standard deviations.
* *label permutation* (classification and segmentation): the assignment of predicted to true
  classes that maximises agreement (Hungarian, ``scipy.optimize.linear_sum_assignment``); when it
  would lift accuracy to at least ``PERMUTED_ACCURACY`` and by ``PERMUTED_GAIN`` over the identity,
  the model's outputs are in another class order than the one used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionbench.checks.findings import CheckReport

PERMUTED_ACCURACY = 0.5
PERMUTED_GAIN = 0.25
PERMUTED_MIN_SAMPLES = 20
PAIRS_SHOWN = 20


def check_outcome(task: Any, result: Any, report: CheckReport) -> None:
    """Add the chance-level and permutation findings of one computed run to ``report``."""
    kind = task.kind
    if kind == "classification":
        _classification(task, result, report)
    elif kind == "segmentation":
        _segmentation(task, result, report)
    elif kind == "detection":
        _detection(result, report)
    else:
        report.skipped["chance_level"] = f"no chance level defined for {kind}"


def _noise_floor(metrics: dict[str, Any], key: str, chance: float, n: int) -> tuple[float, str]:
    """The value the metric must exceed chance by: its interval's lower end, or value - 2 binomial sd."""
    low = metrics.get(f"{key}_ci_low")
    if isinstance(low, float) and math.isfinite(low):
        return low, "95% bootstrap interval"
    sd = math.sqrt(max(chance * (1 - chance), 0.0) / max(n, 1))
    return float(metrics[key]) - 2 * sd, "two binomial standard deviations"


def _flag_chance(
    report: CheckReport, key: str, value: float, chance: float, floor: float, how: str, what: str
) -> None:
    report.results["chance_level"] = {
        "metric": key,
        "value": value,
        "chance": chance,
        "lower": floor,
        "noise": how,
    }
    if floor <= chance:
        report.add(
            "chance_level", "warning",
            f"{key} = {value:.4f} is within noise of chance ({what}: {chance:.4f}; lower end by {how} "
            f"{floor:.4f}): the pipeline may be broken (labels, preprocessing, weights not loaded)",
            metric=key, value=value, chance=chance, lower=floor,
        )  # fmt: skip


def _classification(task: Any, result: Any, report: CheckReport) -> None:
    labels = task.hard_labels() if hasattr(task, "hard_labels") else None
    if labels is None or "top1" not in result.metrics:
        report.skipped["chance_level"] = "the task gave no hard labels"
        return
    y_true, y_pred = (np.asarray(v, dtype=np.int64) for v in labels)
    classes, n = len(task.dataset.classes), len(y_true)
    support = np.bincount(y_true, minlength=classes)
    uniform, majority = 1.0 / max(classes, 1), float(support.max(initial=0)) / max(n, 1)
    chance = max(uniform, majority)
    what = "majority class" if majority > uniform else "uniform guessing"
    floor, how = _noise_floor(result.metrics, "top1", chance, n)
    _flag_chance(report, "top1", float(result.metrics["top1"]), chance, floor, how, what)
    answered = y_pred >= 0
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (y_true[answered], y_pred[answered]), 1)
    _permutation(cm, list(task.dataset.classes), n, report)


def _segmentation(task: Any, result: Any, report: CheckReport) -> None:
    """mIoU against answering the majority class everywhere: its IoU is that class's pixel share, the
    other classes present in the truth score 0."""
    cm = np.asarray((result.extra or {}).get("confusion_matrix", []), dtype=np.float64)
    if cm.ndim != 2 or not cm.size or "miou" not in result.metrics:
        report.skipped["chance_level"] = "the run has no confusion matrix"
        return
    support = cm.sum(axis=1)
    present = max(int((support > 0).sum()), 1)
    chance = float(support.max()) / max(float(cm.sum()), 1.0) / present
    images = int(task.num_updated()) if hasattr(task, "num_updated") else 1
    floor, how = _noise_floor(result.metrics, "miou", chance, images)
    _flag_chance(report, "miou", float(result.metrics["miou"]), chance, floor, how,
                 "the majority class everywhere")  # fmt: skip
    names = [str(c) for c in task.dataset.classes][: cm.shape[0]]
    names += [str(i) for i in range(len(names), cm.shape[0])]
    _permutation(cm, names, images, report, unit="pixels")


def _detection(result: Any, report: CheckReport) -> None:
    value = result.metrics.get("map")
    if not isinstance(value, float) or not math.isfinite(value):
        report.skipped["chance_level"] = "no mAP"
        return
    low = result.metrics.get("map_ci_low")
    floor = low if isinstance(low, float) and math.isfinite(low) else value - 0.01
    how = "95% bootstrap interval" if floor is low else "a margin of 0.01"
    _flag_chance(report, "map", value, 0.0, floor, how, "no detections matched")


def _permutation(
    cm: np.ndarray, names: list[str], samples: int, report: CheckReport, unit: str = "samples"
) -> None:
    from scipy.optimize import linear_sum_assignment

    total = float(cm.sum())
    if samples < PERMUTED_MIN_SAMPLES or total <= 0 or cm.shape[0] < 2:
        report.skipped["label_permutation"] = f"fewer than {PERMUTED_MIN_SAMPLES} samples"
        return
    rows, cols = linear_sum_assignment(-cm)
    best, plain = float(cm[rows, cols].sum()) / total, float(np.trace(cm)) / total
    moved = [(names[r], names[c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if r != c]
    report.results["label_permutation"] = {
        "accuracy": plain,
        "best_permuted_accuracy": best,
        "moved": len(moved),
    }
    if moved and best >= PERMUTED_ACCURACY and best - plain >= PERMUTED_GAIN:
        pairs = ", ".join(f"{t} -> {p}" for t, p in moved[:PAIRS_SHOWN])
        report.add(
            "label_permutation", "error",
            f"the predictions look like a permutation of the labels: matching predicted to true classes "
            f"({pairs}{', ...' if len(moved) > PAIRS_SHOWN else ''}) would lift accuracy over the {unit} from "
            f"{plain:.3f} to {best:.3f}; check the model's class order or pass --label-map",
            accuracy=plain, permuted_accuracy=best, pairs=[list(p) for p in moved[:PAIRS_SHOWN]],
        )  # fmt: skip
