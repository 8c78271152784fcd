"""Semantic segmentation: datasets, the task, and its artifacts (confusion matrix CSV + PNG).

Predictions are per-image ``int64 [H, W]`` class maps at the original image size. The task
streams each image into a confusion matrix and keeps only that image's ``K x K`` counts, never
the masks, so the same statistics give the metrics, the per-image rows and the bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Task, TaskResult, TaskSpec, check_batch_length
from visionbench.registry import register_dataset, register_task
from visionbench.tasks import dataset_options as opts

# Per-image counts are stacked densely for the bootstrap up to this size; beyond it the
# sparse per-image cells are summed instead (slower, but memory stays proportional to the data).
DENSE_BOOTSTRAP_BYTES = 256 * 1024 * 1024


@register_dataset(
    "segmentation",
    "folder",
    "image + mask folders, VOC style (path: root; images=, masks=, classes=FILE|num_classes=K, ignore_index=255, "
    "reduce_zero_label=false, split=)",
    options=opts.SEGMENTATION_FOLDER,
)
def _folder(path: str | None = None, **options: Any) -> Dataset:
    from visionbench.tasks.segmentation_datasets import folder_dataset

    return folder_dataset(path, **options)


@register_dataset(
    "segmentation",
    "hf",
    "Hugging Face dataset saved with save_to_disk (path: dir; split=, image_column=, mask_column=, classes=|num_classes=)",
    options=opts.SEGMENTATION_HF,
)
def _hf(path: str | None = None, **options: Any) -> Dataset:
    from visionbench.tasks.segmentation_datasets import hf_dataset

    return hf_dataset(path, **options)


@register_dataset(
    "segmentation",
    "shapes",
    "built-in shapes scenes, semantic masks (split=test|val|train, n=, style=default|shifted)",
    options=opts.SHAPES_SEGMENTATION,
)
def _shapes(path: str | None = None, **options: Any) -> Dataset:
    from visionbench.tasks.segmentation_datasets import shapes_dataset

    return shapes_dataset(path, **options)


def image_scores(cm: np.ndarray) -> tuple[float, float]:
    """``(pixel_accuracy, miou)`` of one image's confusion matrix; mIoU over the classes present in it.

    A class is present when it is in the image's ground truth or prediction; an image with no
    valid pixel scores nan on both.
    """
    tp = np.diag(cm).astype(np.float64)
    gt = cm.sum(axis=1)
    union = gt + cm.sum(axis=0) - tp
    total = gt.sum()
    if total == 0:
        return math.nan, math.nan
    present = union > 0
    return float(tp.sum() / total), float(np.mean(tp[present] / union[present]))


def headline_from_confusion(cm: np.ndarray) -> dict[str, float]:
    """``miou`` (nan-mean over classes in truth or prediction) and ``pixel_accuracy``: the bootstrapped pair."""
    tp = np.diag(cm)
    gt = cm.sum(axis=1)
    union = gt + cm.sum(axis=0) - tp
    total = gt.sum()
    present = union > 0
    if total == 0:
        return {"miou": math.nan, "pixel_accuracy": math.nan}
    return {"miou": float(np.mean(tp[present] / union[present])), "pixel_accuracy": float(tp.sum() / total)}


@register_task("segmentation")
class SegmentationTask(Task):
    """Pixel accuracy, mean class accuracy, mIoU and frequency-weighted IoU over per-image class maps.

    Edge-case policy (the nan-mean convention of mmseg, see :mod:`visionbench.tasks.segmetrics`):
    pixels whose ground truth is the dataset's ignore index count nowhere, whatever was predicted
    there; a class absent from both ground truth and prediction has IoU nan, is left out of
    ``miou`` and is listed as absent (``absent`` in its per-class row, ``absent_classes`` in the
    extras); a class predicted but absent from ground truth has IoU 0 and counts in ``miou``.
    Per-image rows use the same rule over the classes present in that image. Confidence
    intervals resample images and sum their confusion matrices.
    """

    version = "1"
    headline = ("miou", "pixel_accuracy")

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        self.ignore_index = getattr(dataset, "ignore_index", 255)
        self.class_names = [str(c) for c in dataset.classes]
        super().__init__(dataset, spec)
        self._accumulator: Any = None
        self._per_image: np.ndarray | tuple[np.ndarray, ...] | None = None
        self._resampler: Any = None

    def state_schema(self) -> Any:
        """Per image: the non-zero cells of its ``K x K`` confusion matrix (flat index) and their counts."""
        import pyarrow as pa

        from visionbench.state import base_fields

        return pa.schema(
            [
                *base_fields(),
                pa.field("cells", pa.list_(pa.int64())),
                pa.field("counts", pa.list_(pa.int64())),
            ]
        )

    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> dict[str, Any]:
        from visionbench.errors import ModelError
        from visionbench.tasks.segmetrics import ConfusionAccumulator

        first = sample_ids[0] if len(sample_ids) else "?"
        if isinstance(predictions, str | dict) or not hasattr(predictions, "__len__"):
            raise ModelError(
                f"segmentation predictions for the batch starting at sample '{first}' must be a list of "
                f"[H, W] class maps, got {type(predictions).__name__}"
            )
        check_batch_length(len(predictions), sample_ids, "class maps")
        k = len(self.class_names)
        cells, counts = [], []
        for sample_id, prediction, target in zip(sample_ids, predictions, targets, strict=True):
            pred = _to_numpy(prediction)
            target = np.asarray(target)
            if pred.shape != target.shape:
                raise ModelError(
                    f"sample '{sample_id}': predicted class map is {list(pred.shape)} but the image is "
                    f"{list(target.shape)}; segmentation predictions must be [H, W] at the original size"
                )
            one = ConfusionAccumulator(k, self.ignore_index, self.class_names)
            one.update(pred, target, sample_id=str(sample_id))
            flat = one.confusion.reshape(-1)
            nonzero = np.flatnonzero(flat)
            cells.append(nonzero.astype(np.int64))
            counts.append(flat[nonzero].astype(np.int64))
        return {
            "index": list(indices),
            "sample_id": [str(s) for s in sample_ids],
            "cells": cells,
            "counts": counts,
        }

    def _accumulate(self) -> Any:
        """The confusion accumulator rebuilt from the state rows, in sample order."""
        from visionbench.state import ragged
        from visionbench.tasks.segmetrics import ConfusionAccumulator

        table = self.state.table()
        accumulator = ConfusionAccumulator(len(self.class_names), self.ignore_index, self.class_names)
        for sample_id, cells, counts in zip(
            table.column("sample_id").to_pylist(),
            ragged(table.column("cells")),
            ragged(table.column("counts")),
            strict=True,
        ):
            accumulator.add_counts(cells, counts, sample_id=sample_id)
        self._accumulator, self._per_image, self._resampler = accumulator, None, None
        return accumulator

    def compute(self) -> TaskResult:
        from visionbench.tasks.segmetrics import plot_confusion, save_confusion_csv

        accumulator = self._accumulate()
        result = accumulator.compute()
        metrics = dict(result.metrics)
        absent = set(result.absent_classes)
        per_class = {}
        for name, row in result.per_class.items():
            metrics[f"iou/{name}"] = row["iou"]
            metrics[f"dice/{name}"] = row["dice"]
            per_class[name] = {**row, "absent": name in absent}
        cm, names = result.confusion, list(self.class_names)
        return TaskResult(
            metrics=metrics,
            per_class=per_class,
            per_sample=self._per_sample_rows(accumulator),
            artifacts={
                "confusion_matrix.csv": lambda path: save_confusion_csv(cm, names, path),
                "confusion_matrix.png": lambda path: plot_confusion(cm, names, path),
            },
            extra={"absent_classes": list(result.absent_classes), "confusion_matrix": cm.tolist()},
        )

    def _per_sample_rows(self, accumulator: Any) -> dict[str, list[Any]]:
        names = np.asarray(self.class_names)
        rows: dict[str, list[Any]] = {
            key: []
            for key in (
                "sample_id",
                "pixel_accuracy",
                "miou",
                "valid_pixels",
                "target_classes",
                "predicted_classes",
            )
        }
        for sample_id, cm in accumulator.per_image:
            pixel_accuracy, miou = image_scores(cm)
            rows["sample_id"].append(sample_id)
            rows["pixel_accuracy"].append(pixel_accuracy)
            rows["miou"].append(miou)
            rows["valid_pixels"].append(int(cm.sum()))
            rows["target_classes"].append(names[cm.sum(axis=1) > 0].tolist())
            rows["predicted_classes"].append(names[cm.sum(axis=0) > 0].tolist())
        return rows

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        if self._accumulator is None:
            self._accumulate()
        n = self._accumulator.num_images
        if n == 0:
            return None
        weights = np.bincount(np.asarray(resample), minlength=n)
        return headline_from_confusion(self._resampled_confusion(weights))

    def bootstrap_block(
        self, rows: np.ndarray, keys: Sequence[str] | None = None
    ) -> dict[str, np.ndarray] | None:
        """``keys`` (default: the headline pair) of many image resamples at once, from summed per-image
        confusion counts (:mod:`visionbench.tasks.segmentation_resample`)."""
        from visionbench.state import ragged
        from visionbench.tasks.segmentation_resample import SegmentationResampler

        n = len(self.state)
        if n == 0:
            return None
        if self._resampler is None:
            table = self.state.table()
            cells = [np.asarray(c, dtype=np.int64) for c in ragged(table.column("cells"))]
            counts = [np.asarray(c, dtype=np.int64) for c in ragged(table.column("counts"))]
            image = np.repeat(np.arange(n), [len(c) for c in cells])
            flat_cells = np.concatenate(cells) if cells else np.zeros(0, np.int64)
            flat_counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
            self._resampler = SegmentationResampler(image, flat_cells, flat_counts, n, len(self.class_names))
        return self._resampler.block(rows, tuple(keys) if keys is not None else tuple(self.headline))

    def _resampled_confusion(self, weights: np.ndarray) -> np.ndarray:
        """Sum of per-image confusion matrices, image ``i`` counted ``weights[i]`` times.

        Sums run in float64 (exact while counts stay below 2**53): a BLAS vector-matrix product
        when most cells are filled, a weighted bincount over the non-zero cells when images hold
        few classes each (the usual case), the accumulator's sparse sum when a dense stack is too big.
        """
        n, k = self._accumulator.num_images, len(self.class_names)
        if n * k * k * 8 > DENSE_BOOTSTRAP_BYTES:
            return self._accumulator.weighted_confusion(weights)
        if self._per_image is None:
            dense = self._accumulator.per_image_array().reshape(n, k * k)
            image, cell = np.nonzero(dense)
            if image.size * 8 < dense.size:
                self._per_image = (image, cell, dense[image, cell].astype(np.float64))
            else:
                self._per_image = dense.astype(np.float64)
        if isinstance(self._per_image, tuple):
            image, cell, counts = self._per_image
            flat = np.bincount(cell, weights=counts * weights[image], minlength=k * k)
        else:
            flat = weights.astype(np.float64) @ self._per_image
        return flat.reshape(k, k)


def _to_numpy(prediction: Any) -> np.ndarray:
    if hasattr(prediction, "detach"):
        prediction = prediction.detach().to("cpu").numpy()
    return np.asarray(prediction)
