"""Image classification: datasets, the task, and its artifacts (confusion matrix CSV + PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Task, TaskResult, TaskSpec
from visionbench.registry import register_dataset, register_task
from visionbench.tasks.classification_metrics import classification_metrics, fast_headline, to_probabilities


@register_dataset(
    "classification", "digits", "sklearn's handwritten digits (8x8), held-out split (split=test|train|all)"
)
def _digits(path: str | None = None, split: str = "test") -> Dataset:
    from visionbench.tasks.data.digits import DIGITS_CLASSES, load_digits_split
    from visionbench.tasks.data.files import ArrayClassificationDataset

    images, labels = load_digits_split(split)
    return ArrayClassificationDataset(
        f"digits-{split}", images, labels, DIGITS_CLASSES, prefix=f"digits-{split}-"
    )


@register_dataset(
    "classification", "fashion-mnist", "Fashion-MNIST from its IDX files (path: folder; split=test|train)"
)
def _fashion(path: str | None = None, split: str = "test") -> Dataset:
    from visionbench.tasks.data.files import ArrayClassificationDataset
    from visionbench.tasks.data.idx import (
        DEFAULT_FASHION_MNIST_DIR,
        FASHION_MNIST_CLASSES,
        load_fashion_mnist,
    )

    images, labels = load_fashion_mnist(path or DEFAULT_FASHION_MNIST_DIR, split)
    return ArrayClassificationDataset(
        f"fashion-mnist-{split}", images, labels, FASHION_MNIST_CLASSES, prefix=f"fmnist-{split}-"
    )


@register_dataset("classification", "imagefolder", "ImageFolder tree root/<class>/<image> (path required)")
def _imagefolder(path: str | None = None) -> Dataset:
    from visionbench.errors import ConfigError
    from visionbench.tasks.data.files import image_folder

    if not path:
        raise ConfigError("classification:imagefolder needs a path: classification:imagefolder:DIR")
    return image_folder(path)


@register_dataset("classification", "csv", "CSV manifest with columns path,label (path required)")
def _csv(path: str | None = None) -> Dataset:
    from visionbench.errors import ConfigError
    from visionbench.tasks.data.files import csv_manifest

    if not path:
        raise ConfigError("classification:csv needs a path: classification:csv:FILE.csv")
    return csv_manifest(path)


@register_task("classification")
class ClassificationTask(Task):
    """Top-k accuracy, macro precision/recall/F1, macro AUROC and ECE over ``[N, C]`` scores.

    Keeps one score row per sample (N x C floats: small for classification) so the
    same statistics feed the bootstrap and the per-sample predictions file.
    """

    version = "1"
    headline = ("top1", "f1_macro")

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        super().__init__(dataset, spec)
        self._scores: list[np.ndarray] = []
        self._targets: list[int] = []
        self._ids: list[str] = []
        self._y_pred: np.ndarray | None = None
        self._y_true: np.ndarray | None = None

    def update(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> None:
        import torch

        from visionbench.errors import ModelError

        scores = predictions.detach().to("cpu", dtype=torch.float64).numpy()
        if scores.ndim != 2 or scores.shape[1] != len(self.dataset.classes):
            raise ModelError(
                f"classification predictions must be [N, {len(self.dataset.classes)}] in dataset class order, got {list(scores.shape)}"
            )
        self._scores.append(scores)
        self._targets.extend(int(t) for t in targets)
        self._ids.extend(sample_ids)

    def num_updated(self) -> int:
        return len(self._targets)

    def compute(self) -> TaskResult:
        classes = list(self.dataset.classes)
        scores = np.concatenate(self._scores) if self._scores else np.zeros((0, len(classes)))
        y_true = np.asarray(self._targets, dtype=np.int64)
        metrics, per_class, cm = classification_metrics(y_true, classes, scores=scores)
        probs = to_probabilities(scores)
        y_pred = probs.argmax(axis=1)
        self._y_true, self._y_pred = y_true, y_pred
        per_sample = {
            "sample_id": list(self._ids),
            "target": [classes[t] for t in y_true],
            "prediction": [classes[p] for p in y_pred],
            "confidence": probs.max(axis=1).tolist(),
            "target_probability": probs[np.arange(len(y_true)), y_true].tolist(),
            "correct": (y_pred == y_true).tolist(),
        }
        for name, row in per_class.items():
            metrics[f"f1/{name}"] = row["f1"]
        return TaskResult(
            metrics=metrics,
            per_class=per_class,
            per_sample=per_sample,
            artifacts={
                "confusion_matrix.csv": lambda path: write_confusion_csv(cm, classes, path),
                "confusion_matrix.png": lambda path: plot_confusion(cm, classes, path),
            },
            extra={"confusion_matrix": cm.tolist()},
        )

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        if self._y_pred is None:
            return None
        return fast_headline(self._y_true[resample], self._y_pred[resample], len(self.dataset.classes))


def write_confusion_csv(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["truth\\prediction", *classes])
        for name, row in zip(classes, cm, strict=True):
            writer.writerow([name, *map(int, row)])


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Row-normalised confusion matrix heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = max(4.0, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    if len(classes) <= 20:
        for (i, j), value in np.ndenumerate(cm):
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
