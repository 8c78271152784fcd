"""Streaming semantic segmentation metrics built on a confusion matrix.

:class:`ConfusionAccumulator` folds one ``int [H, W]`` prediction / target pair at
a time into a ``K x K`` count matrix (rows: ground truth, columns: prediction) and
keeps each image's own counts, so a bootstrap can resample images without
touching the masks again. :func:`metrics_from_confusion` turns any such matrix
into the published metrics (``pixel_accuracy mean_accuracy miou fwiou`` and per
class ``iou dice accuracy support``).

Edge-case policy (the mmseg "nan-mean" convention, not torchvision's plain mean):

* Pixels whose target is ``ignore_index`` count nowhere, whatever was predicted
  there; an image whose pixels are all ignored contributes nothing.
* A class absent from both ground truth and prediction has IoU, Dice and
  accuracy ``nan``, is left out of every mean, and is listed in
  ``absent_classes``.
* A class predicted but absent from ground truth has IoU 0 and Dice 0 (both
  count in ``miou``) and accuracy ``nan`` (left out of ``mean_accuracy``).
* ``fwiou`` weights each class's IoU by its ground-truth pixel frequency, so
  classes absent from ground truth carry no weight.
* With no valid pixel at all every metric is ``nan``.

torchmetrics agrees: ``MulticlassJaccardIndex(average="macro")`` also drops
classes with no ground truth and no prediction; ``MulticlassAccuracy(average=
"macro")`` differs only for a class predicted but absent from ground truth,
which it scores 0 and keeps in the mean where this module drops it.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError

HEADLINE_KEYS = ("pixel_accuracy", "mean_accuracy", "miou", "fwiou")

# Above this many bins the ignore band is filtered with a mask instead of counted.
_MAX_BINS = 1 << 22


@dataclass
class SegResult:
    """Metrics derived from one confusion matrix (fractions in [0, 1], nan where undefined)."""

    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    absent_classes: list[str]
    confusion: np.ndarray = field(repr=False)

    def flat_metrics(self) -> dict[str, float]:
        """Headline metrics plus ``iou/<class>`` for every class, as published in results records."""
        out = dict(self.metrics)
        for name, row in self.per_class.items():
            out[f"iou/{name}"] = row["iou"]
        return out


def _check_names(num_classes: int, class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ConfigError(f"got {len(names)} class names for {num_classes} classes")
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ConfigError(f"duplicate class names: {', '.join(dupes)}")
    return names


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def metrics_from_confusion(cm: np.ndarray, class_names: Sequence[str] | None = None) -> SegResult:
    """Compute segmentation metrics from a ``K x K`` count matrix (rows: target, columns: prediction).

    Follows the module's edge-case policy: classes absent from both target and
    prediction are nan and excluded from the means; a class predicted but absent
    from the target has IoU 0 and accuracy nan.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ConfigError(f"confusion matrix must be square K x K, got shape {cm.shape}")
    k = cm.shape[0]
    names = _check_names(k, class_names)
    cm = cm.astype(np.int64, copy=False)
    tp = np.diag(cm).astype(np.float64)
    gt = cm.sum(axis=1).astype(np.float64)
    pred = cm.sum(axis=0).astype(np.float64)
    union = gt + pred - tp
    total = float(gt.sum())

    iou = _ratio(tp, union)
    dice = _ratio(2.0 * tp, gt + pred)
    acc = _ratio(tp, gt)
    if total > 0:
        present = gt > 0
        fwiou = float(np.sum(gt[present] / total * iou[present]))
        pixel_accuracy = float(tp.sum() / total)
    else:
        fwiou = pixel_accuracy = math.nan
    metrics = {
        "pixel_accuracy": pixel_accuracy,
        "mean_accuracy": _nanmean(acc),
        "miou": _nanmean(iou),
        "fwiou": fwiou,
    }
    per_class = {
        name: {
            "iou": float(iou[i]),
            "dice": float(dice[i]),
            "accuracy": float(acc[i]),
            "support": int(gt[i]),
        }
        for i, name in enumerate(names)
    }
    absent = [name for i, name in enumerate(names) if union[i] == 0]
    return SegResult(metrics=metrics, per_class=per_class, absent_classes=absent, confusion=cm)


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _unsigned(x: np.ndarray) -> np.ndarray:
    return x.view(np.dtype(f"u{x.dtype.itemsize}")) if x.dtype.kind == "i" else x


def _describe(values: np.ndarray, limit: int = 10) -> str:
    vals = [int(v) for v in np.unique(values)[:limit]]
    more = " ..." if np.unique(values).size > limit else ""
    return ", ".join(map(str, vals)) + more


class ConfusionAccumulator:
    """Fold ``int [H, W]`` prediction / target maps into a confusion matrix, one image at a time.

    Rows index the target class, columns the predicted class. Target pixels equal
    to ``ignore_index`` are dropped before counting. With ``keep_per_image`` each
    image's counts are kept (sparse: only non-zero cells), which is what a
    bootstrap over images resamples. See the module docstring for the nan policy.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = 255,
        class_names: list[str] | None = None,
        keep_per_image: bool = True,
    ) -> None:
        if int(num_classes) < 1:
            raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
        self.num_classes = int(num_classes)
        if ignore_index is not None and 0 <= ignore_index < self.num_classes:
            raise ConfigError(
                f"ignore_index {ignore_index} is also a class id (num_classes={self.num_classes}); "
                "pick a value outside [0, num_classes)"
            )
        self.ignore_index = ignore_index
        self.class_names = _check_names(self.num_classes, class_names)
        self.keep_per_image = keep_per_image
        self._total = np.zeros(self.num_classes * self.num_classes, dtype=np.int64)
        self._ids: list[str] = []
        self._cells: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._flat: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.num_images = 0

    # ------------------------------------------------------------------ update
    def update(self, pred: Any, target: Any, *, sample_id: str = "") -> None:
        """Count one image. ``pred`` and ``target`` are integer maps of the same shape (numpy or torch).

        Without ``sample_id`` the image is known by its update index ("0", "1", ...).
        """
        k = self.num_classes
        who = f"sample {sample_id!r}" if sample_id else f"sample #{self.num_images}"
        p = _as_numpy(pred)
        t = _as_numpy(target)
        if p.shape != t.shape:
            raise DataError(f"{who}: prediction shape {p.shape} does not match target shape {t.shape}")
        for arr, role in ((p, "prediction"), (t, "target")):
            if arr.dtype.kind not in "biu":
                raise DataError(f"{who}: {role} must be an integer class map, got dtype {arr.dtype}")
        p = p.ravel()
        t = t.ravel()
        counts = self._count(p, t, who) if p.size else np.zeros(k * k, dtype=np.int64)

        self._total += counts
        self.num_images += 1
        if self.keep_per_image:
            cells = np.flatnonzero(counts)
            self._ids.append(str(sample_id) if sample_id else str(self.num_images - 1))
            self._cells.append(cells.astype(np.int32 if k * k < 2**31 else np.int64))
            self._counts.append(counts[cells])
            self._flat = None

    def add_counts(self, cells: np.ndarray, counts: np.ndarray, *, sample_id: str = "") -> None:
        """Fold in one image given as its non-zero confusion cells (flat ``target * K + pred``) and counts."""
        k = self.num_classes
        cells = np.asarray(cells, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        if cells.shape != counts.shape or (cells.size and (cells.min() < 0 or cells.max() >= k * k)):
            raise DataError(f"sample {sample_id!r}: stored confusion cells do not fit {k} classes")
        np.add.at(self._total, cells, counts)
        self.num_images += 1
        if self.keep_per_image:
            self._ids.append(str(sample_id) if sample_id else str(self.num_images - 1))
            self._cells.append(cells.astype(np.int32 if k * k < 2**31 else np.int64))
            self._counts.append(counts)
            self._flat = None

    def _count(self, p: np.ndarray, t: np.ndarray, who: str) -> np.ndarray:
        k = self.num_classes
        # Viewed as unsigned, negative values become huge, so one max() checks both ends.
        if int(_unsigned(p).max()) >= k:
            bad = p[(p < 0) | (p >= k)]
            raise DataError(f"{who}: predicted class ids outside [0, {k}): {_describe(bad)}")
        tmax = int(_unsigned(t).max())

        if (tmax + 1) * k <= _MAX_BINS:
            # Every target value (ignored or out of range) gets its own band of k bins,
            # so one bincount over all pixels replaces a boolean mask and two gathers.
            idx = np.multiply(t, k, dtype=np.intp, casting="unsafe")
            np.add(idx, p, out=idx, casting="unsafe")
            nrows = max(tmax + 1, k)
            rows = np.bincount(idx, minlength=nrows * k).reshape(nrows, k)
            if tmax >= k:
                extra = rows[k:].sum(axis=1)
                bad_rows = np.flatnonzero(extra) + k
                if self.ignore_index is not None:
                    bad_rows = bad_rows[bad_rows != self.ignore_index]
                if bad_rows.size:
                    raise DataError(f"{who}: target class ids outside [0, {k}): {_describe(bad_rows)}")
            return rows[:k].ravel().astype(np.int64, copy=False)

        valid = t != self.ignore_index if self.ignore_index is not None else np.ones(t.shape, dtype=bool)
        tv = t[valid]
        bad = tv[(tv < 0) | (tv >= k)]
        if bad.size:
            raise DataError(f"{who}: target class ids outside [0, {k}): {_describe(bad)}")
        idx = np.multiply(tv, k, dtype=np.intp, casting="unsafe")
        np.add(idx, p[valid], out=idx, casting="unsafe")
        return np.bincount(idx, minlength=k * k).astype(np.int64, copy=False)

    # ------------------------------------------------------------------ results
    @property
    def confusion(self) -> np.ndarray:
        """The running ``K x K`` count matrix (a copy)."""
        return self._total.reshape(self.num_classes, self.num_classes).copy()

    def compute(self) -> SegResult:
        """Metrics over every image seen so far."""
        return metrics_from_confusion(self.confusion, self.class_names)

    @property
    def sample_ids(self) -> list[str]:
        return list(self._ids)

    @property
    def per_image(self) -> list[tuple[str, np.ndarray]]:
        """``(sample_id, K x K counts)`` for every image, in update order (dense copies)."""
        self._require_per_image()
        k = self.num_classes
        out = []
        for sid, cells, counts in zip(self._ids, self._cells, self._counts, strict=True):
            dense = np.zeros(k * k, dtype=np.int64)
            dense[cells] = counts
            out.append((sid, dense.reshape(k, k)))
        return out

    @property
    def per_image_nbytes(self) -> int:
        """Bytes held by the kept per-image counts (sparse cells and their counts)."""
        return sum(c.nbytes + n.nbytes for c, n in zip(self._cells, self._counts, strict=True))

    def per_image_array(self) -> np.ndarray:
        """Per-image counts stacked as ``int64 [N, K, K]`` (needs ``N * K * K * 8`` bytes)."""
        self._require_per_image()
        k = self.num_classes
        out = np.zeros((len(self._ids), k * k), dtype=np.int64)
        for i, (cells, counts) in enumerate(zip(self._cells, self._counts, strict=True)):
            out[i, cells] = counts
        return out.reshape(-1, k, k)

    def weighted_confusion(self, weights: Sequence[int] | np.ndarray) -> np.ndarray:
        """Sum of per-image matrices, image ``i`` counted ``weights[i]`` times (a bootstrap resample).

        ``weights`` are non-negative integers, e.g. ``np.bincount(resampled_indices, minlength=N)``.
        """
        self._require_per_image()
        w = np.asarray(weights)
        if w.shape != (len(self._ids),):
            raise ConfigError(f"expected {len(self._ids)} weights, one per image, got shape {w.shape}")
        if w.dtype.kind not in "biu" or (w.size and w.min() < 0):
            raise ConfigError("weights must be non-negative integers")
        k = self.num_classes
        if self._flat is None:
            image = np.repeat(np.arange(len(self._cells)), [c.size for c in self._cells])
            cells = np.concatenate(self._cells) if self._cells else np.zeros(0, dtype=np.int64)
            counts = np.concatenate(self._counts) if self._counts else np.zeros(0, dtype=np.int64)
            self._flat = (image, cells, counts)
        image, cells, counts = self._flat
        # Integer arithmetic keeps the counts exact (float weights would round above 2**53).
        out = np.zeros(k * k, dtype=np.int64)
        np.add.at(out, cells, counts * w.astype(np.int64)[image])
        return out.reshape(k, k)

    def merge(self, other: ConfusionAccumulator) -> None:
        """Fold in another accumulator's counts (e.g. from another rank), keeping its per-image entries."""
        if (other.num_classes, other.ignore_index, other.class_names) != (
            self.num_classes,
            self.ignore_index,
            self.class_names,
        ):
            raise ConfigError("cannot merge accumulators with different classes or ignore_index")
        if self.keep_per_image and not other.keep_per_image and other.num_images:
            raise ConfigError("cannot merge an accumulator without per-image counts into one that keeps them")
        self._total += other._total
        self.num_images += other.num_images
        if self.keep_per_image:
            self._ids.extend(other._ids)
            self._cells.extend(other._cells)
            self._counts.extend(other._counts)
            self._flat = None

    def _require_per_image(self) -> None:
        if not self.keep_per_image:
            raise ConfigError("per-image counts were not kept (keep_per_image=False)")


# ---------------------------------------------------------------------- files
def save_confusion_csv(cm: np.ndarray, names: Sequence[str], path: str | Path) -> Path:
    """Write the count matrix as CSV: a header row of predicted classes, one row per target class."""
    cm = np.asarray(cm)
    names = _check_names(cm.shape[0], names)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["target\\pred", *names])
        for name, row in zip(names, cm, strict=True):
            writer.writerow([name, *(int(v) for v in row)])
    return path


def plot_confusion(cm: np.ndarray, names: Sequence[str], path: str | Path) -> Path:
    """Save a row-normalised confusion heatmap (each row: where that target class's pixels went)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(cm, dtype=np.float64)
    names = _check_names(cm.shape[0], names)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(names)
    size = min(4 + 0.35 * k, 30)
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("target")
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if norm[i, j] >= 0.005:
                    color = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6, color=color)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
