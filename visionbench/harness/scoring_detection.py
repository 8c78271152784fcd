"""``visionbench score detection``: a COCO results file against a COCO instances file, no model needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_LAST: dict[tuple, dict[str, Any]] = {}  # the last box evaluation, by the files' identity


def _files_key(gt_path: Path, pred_path: Path) -> tuple:
    out = []
    for path in (Path(gt_path), Path(pred_path)):
        stat = path.stat()
        out.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def last_evaluation(gt_path: Path, pred_path: Path) -> dict[str, Any] | None:
    """The box evaluation :func:`score_detection` made of these very files (unchanged since), if any:
    the validated ``gt`` and ``preds``, the ``result`` and its ``matches``."""
    try:
        return _LAST.get(_files_key(gt_path, pred_path))
    except OSError:
        return None


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
    from visionbench.tasks.coco_native import evaluate_boxes, preferred_backend

    if preferred_backend(iou_type) == "native":
        result, matches = evaluate_boxes(gt, predictions)
        _LAST.clear()  # the run folder written next (scoring_runs.detection_task) reuses this evaluation
        _LAST[_files_key(gt_path, pred_path)] = {
            "gt": gt,
            "preds": predictions,
            "result": result,
            "matches": matches,
        }
    else:
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
