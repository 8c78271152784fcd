"""Image classification: datasets, the task, and its artifacts (confusion matrix CSV + PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.contracts import NO_ANSWER, Dataset, Task, TaskResult, TaskSpec, check_batch_length
from visionbench.registry import register_dataset, register_task
from visionbench.tasks import dataset_options as opts
from visionbench.tasks.classification_metrics import classification_metrics, fast_headline, to_probabilities


@register_dataset(
    "classification",
    "digits",
    "sklearn's handwritten digits (8x8), held-out split (split=test|train|all)",
    options=opts.DIGITS,
)
def _digits(path: str | None = None, split: str = "test") -> Dataset:
    from visionbench.tasks.data.digits import DIGITS_CLASSES, load_digits_split
    from visionbench.tasks.data.files import ArrayClassificationDataset

    images, labels = load_digits_split(split)
    return ArrayClassificationDataset(
        f"digits-{split}", images, labels, DIGITS_CLASSES, prefix=f"digits-{split}-"
    )


@register_dataset(
    "classification",
    "fashion-mnist",
    "Fashion-MNIST from its IDX files (path: folder; split=test|train)",
    options=opts.FASHION_MNIST,
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


@register_dataset(
    "classification", "imagefolder", "ImageFolder tree root/<class>/<image> (path required)", options={}
)
def _imagefolder(path: str | None = None) -> Dataset:
    from visionbench.errors import ConfigError
    from visionbench.tasks.data.files import image_folder

    if not path:
        raise ConfigError("classification:imagefolder needs a path: classification:imagefolder:DIR")
    return image_folder(path)


@register_dataset(
    "classification",
    "csv",
    "CSV manifest with columns path,label (path required; allow_outside_root=true lets paths leave its folder)",
    options=opts.CSV_MANIFEST,
)
def _csv(path: str | None = None, allow_outside_root: str | bool = False) -> Dataset:
    from visionbench.errors import ConfigError
    from visionbench.tasks.data.files import csv_manifest, outside_root_flag

    if not path:
        raise ConfigError("classification:csv needs a path: classification:csv:FILE.csv")
    return csv_manifest(path, allow_outside_root=outside_root_flag(allow_outside_root, "classification:csv"))


# Beyond this many classes a state row keeps the top-k scores and the true class's score instead of
# the whole score row (ImageNet-22k: 21,843 floats a sample); AUROC and ECE are then absent.
FULL_SCORE_MAX_CLASSES = 2048
TOP_K = 10


@register_task("classification")
class ClassificationTask(Task):
    """Top-k accuracy, macro precision/recall/F1, macro AUROC and ECE over ``[N, C]`` scores.

    State per sample: the target, the predicted label and the float32 score row (or, for
    more than ``FULL_SCORE_MAX_CLASSES`` classes, the top-k scores with their columns and
    the true class's score). A generative classifier may give hard labels only (an
    integer tensor ``[N]``): top-1 and the macro precision/recall/F1 are then computed
    and the score-based metrics (top-5, AUROC, ECE) are absent, never invented. A hard
    label of ``NO_ANSWER`` (-1: the model's answer named no class) counts as wrong; such
    samples are listed in ``TaskResult.extra["unanswered"]``.
    """

    version = "1"
    metric_version = "2"  # 2: nll and brier added (every earlier number unchanged)

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        self.num_classes = len(dataset.classes)
        self.compact = self.num_classes > FULL_SCORE_MAX_CLASSES
        super().__init__(dataset, spec)
        self._y_pred: np.ndarray | None = None
        self._y_true: np.ndarray | None = None
        self._resampler: Any = None
        self._resample_inputs: dict[str, Any] = {}

    def state_schema(self) -> Any:
        import pyarrow as pa

        from visionbench.state import base_fields

        fields = [*base_fields(), pa.field("target", pa.int64()), pa.field("label", pa.int64())]
        if self.compact:
            k = min(TOP_K, self.num_classes)
            fields += [
                pa.field("top_index", pa.list_(pa.int32(), k)),
                pa.field("top_score", pa.list_(pa.float32(), k)),
                pa.field("target_score", pa.float32()),
            ]
        else:
            fields.append(pa.field("scores", pa.list_(pa.float32(), self.num_classes)))
        return pa.schema(fields)

    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> dict[str, Any]:
        import pyarrow as pa

        from visionbench.errors import ModelError
        from visionbench.state import fixed_rows

        values = _as_numpy(predictions)
        c = self.num_classes
        first = sample_ids[0] if len(sample_ids) else "?"
        if values.dtype.kind not in "biuf" or values.ndim not in (1, 2):
            raise ModelError(
                f"classification predictions for the batch starting at sample '{first}' must be numeric "
                f"[N, {c}] scores (or [N] integer labels), got {type(predictions).__name__} of shape "
                f"{list(values.shape)} and dtype {values.dtype}"
            )
        check_batch_length(len(values), sample_ids, "prediction rows")
        finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if not finite.all():
            raise ModelError(
                f"NaN or infinite scores for sample '{sample_ids[int(np.flatnonzero(~finite)[0])]}'"
            )
        target = np.asarray([int(t) for t in targets], dtype=np.int64)
        columns: dict[str, Any] = {"index": list(indices), "sample_id": list(sample_ids), "target": target}
        if values.ndim == 1 and values.dtype.kind in "iu":
            if values.size and (values.min() < NO_ANSWER or values.max() >= c):
                bad = int(np.flatnonzero((values < NO_ANSWER) | (values >= c))[0])
                raise ModelError(
                    f"hard label {int(values[bad])} of sample '{sample_ids[bad]}' is not a class index "
                    f"in [0, {c}) nor {NO_ANSWER} (no answer)"
                )
            columns["label"] = values.astype(np.int64)
            # placeholder rows (-1 columns, NaN scores), not nulls: Parquet does not read back null
            # rows of a fixed-size list column; real score rows are finite, so NaN marks a hard label
            n, k = len(values), min(TOP_K, c)
            if self.compact:
                columns.update(
                    top_index=fixed_rows(np.full((n, k), -1, np.int32), k, pa.int32()),
                    top_score=fixed_rows(np.full((n, k), np.nan, np.float32), k, pa.float32()),
                    target_score=[None] * n,
                )
            else:
                columns["scores"] = fixed_rows(np.full((n, c), np.nan, np.float32), c, pa.float32())
            return columns
        if values.ndim != 2 or values.shape[1] != c:
            raise ModelError(
                f"classification predictions must be [N, {c}] in dataset class order, got {list(values.shape)}"
            )
        scores = values.astype(np.float32)
        columns["label"] = scores.argmax(axis=1).astype(np.int64)
        if self.compact:
            k = min(TOP_K, c)
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            columns["top_index"] = fixed_rows(top.astype(np.int32), k, pa.int32())
            columns["top_score"] = fixed_rows(np.take_along_axis(scores, top, axis=1), k, pa.float32())
            columns["target_score"] = scores[np.arange(len(scores)), target]
        else:
            columns["scores"] = fixed_rows(scores, c, pa.float32())
        return columns

    def _scores(self, table: Any) -> np.ndarray | None:
        """The float64 score rows, or None when any sample has only a hard label (or in compact mode)."""
        from visionbench.state import rows_of

        if self.compact or self._hard_label_rows(table):
            return None
        return rows_of(table.column("scores"), self.num_classes).astype(np.float64)

    def _hard_label_rows(self, table: Any) -> bool:
        """Whether any sample has only a hard label (placeholder score rows; nulls in older states)."""
        from visionbench.state import rows_of

        name = "top_index" if self.compact else "scores"
        column = table.column(name)
        if column.null_count:
            return True
        rows = rows_of(column, min(TOP_K, self.num_classes) if self.compact else self.num_classes)
        return bool((rows < 0).any()) if self.compact else bool(np.isnan(rows).any())

    def compute(self) -> TaskResult:
        classes = list(self.dataset.classes)
        table = self.state.table()
        y_true = np.array(table.column("target").to_numpy())
        scores = self._scores(table)
        if scores is not None:
            metrics, per_class, cm = classification_metrics(y_true, classes, scores=scores)
            probs = to_probabilities(scores)
            y_pred = probs.argmax(axis=1)
            confidence = probs.max(axis=1).tolist()
            target_probability = probs[np.arange(len(y_true)), y_true].tolist()
        else:
            y_pred = np.array(table.column("label").to_numpy())
            metrics, per_class, cm = classification_metrics(y_true, classes, y_pred=y_pred)
            if self.compact:
                metrics.update(self._compact_topk(table, y_true))
            confidence = target_probability = [None] * len(y_true)
        self._y_true, self._y_pred = y_true, y_pred
        self._resampler, self._resample_inputs = None, {"probs": probs if scores is not None else None}
        if scores is None and self.compact and not self._hard_label_rows(table):
            from visionbench.state import rows_of

            self._resample_inputs["top_index"] = rows_of(
                table.column("top_index"), min(TOP_K, self.num_classes)
            )
        per_sample = {
            "sample_id": self.state.sample_ids(),
            "target": [classes[t] for t in y_true],
            "prediction": [classes[p] if p >= 0 else None for p in y_pred],
            "confidence": confidence,
            "target_probability": target_probability,
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
                **(_reliability(y_true, probs, metrics.get("ece")) if scores is not None else {}),
            },
            extra={"confusion_matrix": cm.tolist(), **self._unanswered(table, y_pred)},
        )

    def _unanswered(self, table: Any, y_pred: np.ndarray) -> dict[str, Any]:
        """The samples a generative classifier gave no class for (label -1), from the state alone."""
        where = np.flatnonzero(y_pred == NO_ANSWER)
        if not len(where):
            return {}
        index, ids = table.column("index").to_numpy(), table.column("sample_id").to_pylist()
        return {"unanswered": [{"index": int(index[i]), "sample_id": str(ids[i])} for i in where]}

    def _compact_topk(self, table: Any, y_true: np.ndarray) -> dict[str, float]:
        """top-5 from the stored top-k columns (rows with only a hard label make it absent)."""
        from visionbench.state import rows_of

        if self._hard_label_rows(table) or not len(y_true):
            return {}
        top = rows_of(table.column("top_index"), min(TOP_K, self.num_classes))
        k = min(5, self.num_classes)
        return {"top5": float(np.mean(np.any(top[:, :k] == y_true[:, None], axis=1)))}

    def hard_labels(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(y_true, y_pred)`` of the evaluated samples in state order, after :meth:`compute` (else None)."""
        if self._y_pred is None:
            return None
        return self._y_true, self._y_pred

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        if self._y_pred is None:
            return None
        return fast_headline(self._y_true[resample], self._y_pred[resample], self.num_classes)

    def bootstrap_block(
        self, rows: np.ndarray, keys: Sequence[str] | None = None
    ) -> dict[str, np.ndarray] | None:
        """``keys`` (default: the headline pair) for each resample (row of positions), all at once.

        Every declared metric the state supports can be asked for; see
        :mod:`visionbench.tasks.classification_resample` (``bootstrap_notes`` says why one cannot).
        """
        resampler = self._resample()
        if resampler is None:
            return None
        return resampler.block(rows, tuple(keys) if keys is not None else self.headline)

    @property
    def bootstrap_notes(self) -> dict[str, str]:
        """Metrics the stored state cannot recompute per resample, with the reason."""
        resampler = self._resample()
        return dict(resampler.notes) if resampler is not None else {}

    def _resample(self) -> Any:
        if self._y_pred is None:
            return None
        if self._resampler is None:
            from visionbench.tasks.classification_resample import ClassificationResampler

            self._resampler = ClassificationResampler(
                self._y_true, self._y_pred, self.num_classes, **self._resample_inputs
            )
        return self._resampler


def _reliability(y_true: np.ndarray, probs: np.ndarray, ece: float | None) -> dict[str, Any]:
    """The reliability diagram's artifacts: its bins as JSON and the picture."""
    from visionbench.tasks.reliability import draw_reliability, reliability_bins, write_bins

    bins = reliability_bins(y_true, probs)
    return {
        "reliability.json": lambda path: write_bins(bins, path),
        "reliability_diagram.png": lambda path: draw_reliability(bins, path, ece=ece),
    }


def _as_numpy(predictions: Any) -> np.ndarray:
    if hasattr(predictions, "detach"):
        predictions = predictions.detach().to("cpu")
        if predictions.is_floating_point():
            predictions = predictions.float()
        return predictions.numpy()
    try:
        return np.asarray(predictions)
    except (TypeError, ValueError):  # ragged rows, tensors on a device, ...: reported by the caller
        return np.asarray(None)


def write_confusion_csv(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["truth\\prediction", *classes])
        for name, row in zip(classes, cm, strict=True):
            writer.writerow([name, *map(int, row)])


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Row-normalised confusion matrix heat map (PNG, drawn with Pillow)."""
    from visionbench.tasks.confusion_image import draw_confusion

    draw_confusion(cm, classes, path)


from visionbench.tasks import classification_sources  # noqa: E402,F401  (registers cifar10, cifar100, hf)
