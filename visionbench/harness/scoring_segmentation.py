"""``visionbench score segmentation``: a folder of predicted label PNGs against a folder of ground-truth ones.

Files are matched by name; a ground-truth mask without a prediction (or the reverse) is an
error naming it, as is a prediction whose size differs from its ground truth, a value outside
the class range (``ignore_index`` is allowed in ground truth only), or an unreadable file.
Metrics and the nan policy are those of the segmentation task (:mod:`visionbench.tasks.segmetrics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError, DataError


def score_segmentation(
    gt_dir: Path,
    pred_dir: Path,
    *,
    num_classes: int,
    ignore_index: int | None = 255,
    class_names: str | Path | list[str] | None = None,
) -> dict[str, Any]:
    """Pixel accuracy, mean accuracy, mIoU, fwIoU and per-class IoU over every matched pair of masks.

    Returns ``{"task": "segmentation", "num_images", "metrics", "per_class", "absent_classes"}``;
    ``metrics`` holds the headline keys and ``iou/<class>``.
    """
    from visionbench.tasks.data.masks import pair_mask_dirs, read_class_names, read_mask
    from visionbench.tasks.segmetrics import ConfusionAccumulator

    if num_classes < 1:
        raise ConfigError(f"--num-classes must be at least 1, got {num_classes}")
    names = _names(class_names, num_classes, read_class_names)
    accumulator = ConfusionAccumulator(num_classes, ignore_index, names, keep_per_image=False)
    pairs = pair_mask_dirs(gt_dir, pred_dir)
    for stem, gt_path, pred_path in pairs:
        target = read_mask(gt_path, num_classes=num_classes, ignore_index=ignore_index)
        prediction = read_mask(pred_path, num_classes=num_classes, ignore_index=None)
        if prediction.shape != target.shape:
            raise DataError(
                f"{pred_path}: prediction is {prediction.shape[1]}x{prediction.shape[0]} but ground truth "
                f"{gt_path} is {target.shape[1]}x{target.shape[0]}"
            )
        accumulator.update(prediction, target, sample_id=stem)
    result = accumulator.compute()
    return {
        "task": "segmentation",
        "num_images": len(pairs),
        "metrics": result.flat_metrics(),
        "per_class": result.per_class,
        "absent_classes": list(result.absent_classes),
    }


def _names(class_names: Any, num_classes: int, read_class_names: Any) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    if isinstance(class_names, (str, Path)):
        names = read_class_names(class_names)
        if len(names) != num_classes:
            raise DataError(f"{class_names}: {len(names)} class names but --num-classes is {num_classes}")
        return names
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ConfigError(f"{len(names)} class names but num_classes is {num_classes}")
    return names
