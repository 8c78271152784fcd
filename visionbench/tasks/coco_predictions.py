"""COCO results (detections): read and check them against a validated ground truth.

Predictions are checked column by column with numpy (one list comprehension per key, one
pass over the set of Python types seen), so that validating half a million detections
costs a small fraction of evaluating them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError
from visionbench.tasks._coco_checks import (
    Table,
    check_rle_strings,
    check_segmentation,
    checked_exactly,
    gc_paused,
    to_rle,
)
from visionbench.tasks.coco_ground_truth import CocoGroundTruth, load_coco_gt

IOU_TYPES = ("bbox", "segm")
# Where the area of a segm detection comes from (it decides the small/medium/large ranges):
# "pycocotools" does what ``COCO.loadRes`` does with the file as given, "mask" always takes
# the mask's area (detectron2, torchvision's references), "box" always the given box's w*h.
SEGM_AREAS = ("pycocotools", "mask", "box")


class CocoPredictions(list):
    """COCO results entries that passed :func:`load_coco_predictions`; treat it as read-only.

    Each entry is a fresh dict with ``image_id``, ``category_id``, ``bbox``, ``score``
    (and a compressed-RLE ``segmentation`` for segm) plus the ``id`` (1-based
    index), ``area`` and ``iscrowd`` keys that ``COCO.loadRes`` would add.
    """

    iou_type: str = "bbox"
    gt: CocoGroundTruth | None = None
    segm_area: str | None = None  # the convention asked for (segm only)
    area_source: str | None = None  # what it resolved to for this file: "mask" or "box" (segm only)
    columns: dict[str, Any] | None = None  # bbox: the checked columns as arrays (image_id, category_id, ...)


def check_iou_type(iou_type: str) -> None:
    if iou_type not in IOU_TYPES:
        raise ConfigError(f"iou_type must be one of {', '.join(IOU_TYPES)}; got {iou_type!r}")


def check_segm_area(segm_area: str) -> None:
    if segm_area not in SEGM_AREAS:
        raise ConfigError(f"segm_area must be one of {', '.join(SEGM_AREAS)}; got {segm_area!r}")


def load_coco_predictions(
    source: str | Path | list,
    gt: dict,
    *,
    iou_type: str,
    name: str = "<predictions>",
    segm_area: str = "pycocotools",
) -> CocoPredictions:
    """Read and validate COCO results (``[{image_id, category_id, bbox, score, ...}]``) against ``gt``.

    ``bbox`` is required for ``iou_type="bbox"``; for ``"segm"`` a ``segmentation``
    (RLE or polygons, sized like the image) is required. Segmentations come back as
    compressed RLE. Scores must be finite numbers; ids must name an image / category
    of ``gt``. An empty list is valid and scores 0 everywhere. Keys other than those
    above are dropped.

    For segm, ``segm_area`` says where a detection's ``area`` (hence its small / medium /
    large range) comes from. ``"pycocotools"`` (default) does what ``COCO.loadRes`` does
    with the file as given: when the *first* detection carries a non-empty ``bbox``, every
    area is that detection's box ``w * h`` (then every detection needs a valid box),
    otherwise every area is the mask's. ``"mask"`` always takes the mask's area and box
    (detectron2, torchvision's references); ``"box"`` always the given box's ``w * h``
    (mmdetection keeps both). ``area_source`` on the result says which one was used.
    """
    check_iou_type(iou_type)
    check_segm_area(segm_area)
    gt = load_coco_gt(gt)
    with gc_paused():
        return checked_exactly(
            source, name, lambda data, label: _check_predictions(data, gt, iou_type, label, segm_area)
        )


def _area_source(table: Table, segm_area: str) -> str:
    """``mask`` or ``box``: ``segm_area`` with ``pycocotools`` resolved as ``COCO.loadRes`` resolves it."""
    if segm_area != "pycocotools":
        return segm_area
    first = table.entries[0]
    return "box" if "bbox" in first and first["bbox"] != [] else "mask"


def _given_boxes(table: Table, segm_area: str) -> tuple[list, list]:
    """The given boxes and their ``w * h`` areas, for the box-area convention; names an entry without one."""
    missing = next((i for i, e in enumerate(table.entries) if "bbox" not in e), None)
    if missing is not None:
        why = (
            "COCO.loadRes takes every area from 'bbox' when the first detection has one"
            if segm_area == "pycocotools"
            else "segm_area='box' takes every area from 'bbox'"
        )
        raise DataError(
            f"{table.where(missing)}: missing 'bbox' ({why}); give every detection a box "
            "or choose the mask's area (--segm-area mask)"
        )
    raw = table.column("bbox")
    boxes, plain = table.boxes(raw)
    return (raw if plain else boxes.tolist()), (boxes[:, 2] * boxes[:, 3]).tolist()


def _check_predictions(
    data: Any, gt: CocoGroundTruth, iou_type: str, name: str, segm_area: str = "pycocotools"
) -> CocoPredictions:
    if isinstance(data, dict) and "annotations" in data:
        raise DataError(
            f"{name}: this looks like a ground-truth file; COCO results are a JSON list of detections"
        )
    table = Table(name, "", data, "detections")
    out = CocoPredictions()
    out.iou_type, out.gt = iou_type, gt
    if iou_type == "segm":
        out.segm_area = segm_area
    n = len(table.entries)
    if n == 0:
        return out

    image_ids = table.ints("image_id")
    table.known(
        "image_id",
        image_ids,
        np.fromiter((im["id"] for im in gt["images"]), np.int64),
        "an image of the ground truth",
    )
    cat_ids = table.ints("category_id")
    table.known(
        "category_id",
        cat_ids,
        np.fromiter((c["id"] for c in gt["categories"]), np.int64),
        "a category of the ground truth",
    )
    score_arr = table.reals("score", table.column("score"))
    scores = score_arr.tolist()
    img_list, cat_list = image_ids.tolist(), cat_ids.tolist()

    if iou_type == "bbox":
        raw = table.column("bbox")
        boxes, plain = table.boxes(raw)
        box_list = raw if plain else boxes.tolist()
        area_arr = boxes[:, 2] * boxes[:, 3]
        areas = area_arr.tolist()
        # the checked columns, for evaluators that work on arrays (visionbench.tasks.coco_native)
        out.columns = {
            "image_id": image_ids,
            "category_id": cat_ids,
            "bbox": boxes,
            "area": area_arr,
            "score": score_arr,
        }
        out.extend(
            {"id": k, "image_id": i, "category_id": c, "bbox": b, "score": s, "area": a, "iscrowd": 0}
            for k, i, c, b, s, a in zip(
                range(1, n + 1), img_list, cat_list, box_list, scores, areas, strict=True
            )
        )
        return out

    from pycocotools import mask as mask_utils

    out.area_source = _area_source(table, segm_area)
    sizes = {im["id"]: (im["height"], im["width"]) if "height" in im else None for im in gt["images"]}
    segs = table.column("segmentation")
    rles = []
    for k, (seg, img) in enumerate(zip(segs, img_list, strict=True)):
        where = table.where(k)
        rles.append(to_rle(check_segmentation(where, seg, sizes[img], strings=False), sizes[img]))
    check_rle_strings(table.where, list(enumerate(rles)))  # all compressed strings at once
    if out.area_source == "box":
        box_list, areas = _given_boxes(table, segm_area)
    else:
        # pycocotools' area() overflows a uint8 for lists longer than 255 under numpy 2: go in chunks.
        areas = (
            np.concatenate([mask_utils.area(rles[i : i + 255]) for i in range(0, n, 255)])
            .astype(np.float64)
            .tolist()
        )
        box_list = mask_utils.toBbox(rles).tolist()
    out.extend(
        {
            "id": k,
            "image_id": i,
            "category_id": c,
            "segmentation": r,
            "bbox": b,
            "score": s,
            "area": a,
            "iscrowd": 0,
        }
        for k, i, c, r, b, s, a in zip(
            range(1, n + 1), img_list, cat_list, rles, box_list, scores, areas, strict=True
        )
    )
    return out


def ensure_predictions(
    predictions: Sequence[dict], gt: CocoGroundTruth, iou_type: str, segm_area: str | None = None
) -> CocoPredictions:
    """Validated predictions for (gt, iou_type): reuse a matching :class:`CocoPredictions`, else validate.

    ``segm_area=None`` accepts validated predictions of any area convention (and means
    ``"pycocotools"`` when they must be validated).
    """
    if (
        isinstance(predictions, CocoPredictions)
        and predictions.gt is gt
        and predictions.iou_type == iou_type
        and (segm_area is None or iou_type != "segm" or predictions.segm_area == segm_area)
    ):
        return predictions
    return load_coco_predictions(
        list(predictions), gt, iou_type=iou_type, segm_area=segm_area or "pycocotools"
    )
