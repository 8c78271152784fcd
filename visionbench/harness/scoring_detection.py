"""``visionbench score detection``: a COCO results file against a COCO instances file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def score_detection(
    gt_path: Path, pred_path: Path, *, iou_type: str = "bbox", segm_area: str | None = None
) -> dict[str, Any]:
    """COCO metrics of ``pred_path`` (results list) against ``gt_path`` (instances) for ``iou_type`` bbox or segm.

    Both files are validated first: any malformed entry (a missing key, a wrong type, a negative
    box size, an image or category id the ground truth does not have) raises
    :class:`~visionbench.errors.DataError` naming the file and the entry. ``metrics`` holds the
    twelve COCO keys (``map`` ... ``mar_large``, the ``COCOeval.stats`` order; ``nan`` where COCO
    prints -1) and ``ap/<class>`` for each category.

    ``segm_area`` (segm only) picks where a detection's area, hence its small / medium / large
    range, comes from: ``None`` does exactly what pycocotools' ``loadRes`` does with the file
    (the box's ``w * h`` when the first detection carries a ``bbox``, else the mask's area),
    ``"mask"`` or ``"box"`` choose explicitly. The result names the one used (``segm_area``).
    """
    from visionbench.errors import ConfigError
    from visionbench.tasks.coco import evaluate_coco, load_coco_gt, load_coco_predictions

    if segm_area is not None and iou_type != "segm":
        raise ConfigError("--segm-area applies to --iou-type segm only")
    gt = load_coco_gt(Path(gt_path))
    predictions = load_coco_predictions(
        Path(pred_path), gt, iou_type=iou_type, segm_area=segm_area or "pycocotools"
    )
    result = evaluate_coco(gt, predictions, iou_type=iou_type)
    metrics = dict(result.metrics)
    for name, row in result.per_class.items():
        metrics[f"ap/{name}"] = row["ap"]
    out: dict[str, Any] = {"task": "detection", "iou_type": iou_type}
    if iou_type == "segm":
        out["segm_area"] = {"requested": segm_area or "pycocotools", "used": predictions.area_source}
    return {
        **out,
        "num_images": len(gt["images"]),
        "num_predictions": len(predictions),
        "metrics": metrics,
        "per_class": result.per_class,
    }
