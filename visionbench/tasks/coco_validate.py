"""Read and check COCO instance ground truth and COCO results files.

The COCO APIs (pycocotools, faster-coco-eval) trust their input: a missing key
surfaces as a ``KeyError`` deep inside ``evaluate()``, a negative width or an
unknown image id silently changes the score. These loaders turn every such
problem into a :class:`~visionbench.errors.DataError` that names the file, the
entry's index and ids and the field, and they hand back fresh dicts in the
exact shape the COCO APIs expect.

This module is the public face; the work is split by what is read:
:mod:`~visionbench.tasks.coco_ground_truth` (instances files),
:mod:`~visionbench.tasks.coco_predictions` (results files, checked column by column
with numpy) and the private checks both share (:mod:`visionbench.tasks._coco_checks`).
"""

from __future__ import annotations

from visionbench.tasks._coco_checks import gc_paused
from visionbench.tasks.coco_ground_truth import CocoGroundTruth, load_coco_gt
from visionbench.tasks.coco_predictions import (
    IOU_TYPES,
    SEGM_AREAS,
    CocoPredictions,
    check_iou_type,
    check_segm_area,
    ensure_predictions,
    load_coco_predictions,
)

__all__ = [
    "IOU_TYPES",
    "SEGM_AREAS",
    "CocoGroundTruth",
    "CocoPredictions",
    "check_iou_type",
    "check_segm_area",
    "ensure_predictions",
    "gc_paused",
    "load_coco_gt",
    "load_coco_predictions",
]
