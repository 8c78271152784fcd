"""COCO validation: malformed ground truth and predictions give errors that name the entry."""

from __future__ import annotations

import pytest
from pycocotools import mask as mask_utils
from test_coco import _poly_rle

from visionbench.errors import DataError
from visionbench.tasks.coco import load_coco_gt, load_coco_predictions

# ---------------------------------------------------------------- validation errors


def _gt() -> dict:
    return {
        "images": [{"id": 10, "height": 40, "width": 50}, {"id": 11, "height": 40, "width": 50}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [1, 2, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [[1, 2, 11, 2, 11, 12, 1, 12]]},
            {"id": 2, "image_id": 11, "category_id": 9, "bbox": [5, 5, 10, 20], "iscrowd": 1,
             "segmentation": {"size": [40, 50], "counts": [500, 20, 1480]}},
        ],
        "categories": [{"id": 7, "name": "cat"}, {"id": 9, "name": "dog"}],
    }  # fmt: skip


def _set(path: str, value):
    def apply(d: dict) -> dict:
        *keys, last = path.split(".")
        target = d
        for k in keys:
            target = target[int(k)] if k.isdigit() else target[k]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
        return d

    return apply


_DELETE = object()

GT_ERRORS = [
    (_set("categories", _DELETE), "missing top-level 'categories'"),
    (_set("images", {"id": 1}), "images must be a list"),
    (
        _set("annotations.1.bbox", _DELETE),
        r"annotations\[1\] \(id 2, image_id 11, category_id 9\): missing 'bbox'",
    ),
    (_set("annotations.0.bbox", [1, 2, 3]), r"annotations\[0\] \(id 1.*'bbox' must be a list"),
    (_set("annotations.0.bbox", [1, 2, "3", 4]), r"annotations\[0\].*'bbox' must hold 4 numbers"),
    (_set("annotations.1.bbox", [1, 2, -3, 4]), r"annotations\[1\].*width and height must be >= 0"),
    (_set("annotations.1.bbox", [1, 2, float("nan"), 4]), r"annotations\[1\].*'bbox' must be finite"),
    (_set("annotations.1.image_id", 99), r"annotations\[1\].*image_id 99 is not an image id"),
    (_set("annotations.0.category_id", 8), r"annotations\[0\].*category_id 8 is not a category id"),
    (_set("annotations.0.image_id", "10"), r"annotations\[0\].*'image_id' must be an integer"),
    (_set("annotations.1.id", 1), r"annotations\[1\].*duplicate id 1 \(also annotations\[0\]\)"),
    (_set("images.1.id", 10), r"images\[1\] \(id 10\): duplicate id 10"),
    (_set("categories.1.id", 7), r"categories\[1\] \(id 7\): duplicate id 7"),
    (_set("categories.1.name", "cat"), r"categories\[1\] \(id 9\): duplicate name 'cat'"),
    (_set("images.0.width", 0), r"images\[0\] \(id 10\): 'height' and 'width' must be positive"),
    (_set("annotations.0.iscrowd", 2), r"annotations\[0\].*'iscrowd' must be 0 or 1"),
    (_set("annotations.0.area", -1), r"annotations\[0\].*'area' must be >= 0"),
    (_set("annotations.0.segmentation", [[1, 2, 3, 4]]), r"annotations\[0\].*polygon 0 must be a flat list"),
    (_set("annotations.0.segmentation", "poly"), r"annotations\[0\].*'segmentation' must be polygons"),
    (_set("annotations.1.segmentation.size", [40, 51]), r"annotations\[1\].*size \[40, 51\] does not match"),
    (_set("annotations.1.segmentation.counts", [500, 20]), r"annotations\[1\].*counts sum to 520"),
    (_set("annotations.1.segmentation", {"counts": "abc"}), r"annotations\[1\].*needs 'counts' and 'size'"),
    (
        lambda d: _set("images.1.width", _DELETE)(_set("images.1.height", _DELETE)(d)),
        r"annotations\[1\].*needs its image's 'height' and 'width'",
    ),
    (_set("annotations.0", [1, 2]), r"annotations\[0\] must be an object"),
]


@pytest.mark.parametrize(("mutate", "message"), GT_ERRORS, ids=[f"gt{i}" for i in range(len(GT_ERRORS))])
def test_ground_truth_errors_name_the_entry(mutate, message):
    with pytest.raises(DataError, match=rf"^gt\.json: {message}"):
        load_coco_gt(mutate(_gt()), name="gt.json")


def _dets() -> list[dict]:
    return [
        {"image_id": 10, "category_id": 7, "bbox": [1, 2, 10, 10], "score": 0.9},
        {"image_id": 11, "category_id": 9, "bbox": [5, 5, 10, 20], "score": 0.5},
        {"image_id": 11, "category_id": 7, "bbox": [0, 0, 4, 4], "score": 0.1},
    ]


PRED_ERRORS = [
    (lambda d: {"detections": d}, "the top level must be a list"),
    (_set("1", "box"), r"\[1\] must be an object"),
    (_set("2.score", _DELETE), r"\[2\] \(image_id 11, category_id 7\): missing 'score'"),
    (_set("0.score", "0.9"), r"\[0\] .*'score' must be a number"),
    (_set("0.score", float("nan")), r"\[0\] .*'score' must be finite"),
    (_set("1.bbox", [1, 2, float("inf"), 4]), r"\[1\] .*'bbox' must be finite"),
    (_set("1.bbox", [1, 2, 3, -4]), r"\[1\] .*width and height must be >= 0"),
    (_set("2.bbox", (1, 2, 3)), r"\[2\] .*'bbox' must be a list"),
    (_set("0.image_id", 1.0), r"\[0\] .*'image_id' must be an integer"),
    (_set("0.category_id", True), r"\[0\] .*'category_id' must be an integer"),
    (
        _set("2.image_id", 424242),
        r"\[2\] \(image_id 424242, category_id 7\): image_id 424242 is not an image",
    ),
    (_set("1.category_id", 8), r"\[1\] \(image_id 11, category_id 8\): category_id 8 is not a category"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), PRED_ERRORS, ids=[f"pred{i}" for i in range(len(PRED_ERRORS))]
)
def test_prediction_errors_name_the_entry(mutate, message):
    with pytest.raises(DataError, match=rf"^dets\.json: {message}"):
        load_coco_predictions(mutate(_dets()), _gt(), iou_type="bbox", name="dets.json")


def test_segm_prediction_errors_name_the_entry():
    rle = _poly_rle([1, 1, 20, 1, 20, 20, 1, 20], 40, 50)
    dets = [
        {"image_id": 10, "category_id": 7, "segmentation": rle, "score": 0.9},
        {"image_id": 11, "category_id": 7, "score": 0.2},
    ]
    with pytest.raises(DataError, match=r"^p: \[1\] \(image_id 11, category_id 7\): missing 'segmentation'"):
        load_coco_predictions(dets, _gt(), iou_type="segm", name="p")
    dets[1]["segmentation"] = {"size": [41, 50], "counts": rle["counts"]}
    with pytest.raises(DataError, match=r"^p: \[1\] .*size \[41, 50\] does not match"):
        load_coco_predictions(dets, _gt(), iou_type="segm", name="p")
    dets[1]["segmentation"] = [[1, 1, 20, 1, 20, 20, 1, 20]]  # polygons are accepted and turned into RLE
    preds = load_coco_predictions(dets, _gt(), iou_type="segm", name="p")
    assert isinstance(preds[1]["segmentation"]["counts"], str) and preds[1]["area"] == preds[0]["area"]
    assert preds[0]["bbox"] == mask_utils.toBbox(rle).tolist()


def test_ground_truth_file_given_as_predictions_is_refused():
    with pytest.raises(DataError, match="looks like a ground-truth file"):
        load_coco_predictions(_gt(), _gt(), iou_type="bbox")
