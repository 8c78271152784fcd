"""``visionbench score detection``: a COCO results file against a COCO instances file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def score_detection(gt_path: Path, pred_path: Path, *, iou_type: str = "bbox") -> dict[str, Any]:
    """COCO metrics of ``pred_path`` (results list) against ``gt_path`` (instances) for ``iou_type`` bbox or segm.

    Both files are validated first: any malformed entry (a missing key, a wrong type, a negative
    box size, an image or category id the ground truth does not have) raises
    :class:`~visionbench.errors.DataError` naming the file and the entry. ``metrics`` holds the
    twelve COCO keys (``map`` ... ``mar_large``, the ``COCOeval.stats`` order; ``nan`` where COCO
    prints -1) and ``ap/<class>`` for each category.
    """
    from visionbench.tasks.coco import evaluate_coco, load_coco_gt, load_coco_predictions

    gt = load_coco_gt(Path(gt_path))
    predictions = load_coco_predictions(Path(pred_path), gt, iou_type=iou_type)
    result = evaluate_coco(gt, predictions, iou_type=iou_type)
    metrics = dict(result.metrics)
    for name, row in result.per_class.items():
        metrics[f"ap/{name}"] = row["ap"]
    return {
        "task": "detection",
        "iou_type": iou_type,
        "num_images": len(gt["images"]),
        "num_predictions": len(predictions),
        "metrics": metrics,
        "per_class": result.per_class,
    }
