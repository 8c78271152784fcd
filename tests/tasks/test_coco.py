"""COCO scoring: parity with pycocotools on randomised data, per-class numbers, validation errors.

Randomised tests draw a fresh seed each run and name it in every assertion
message; ``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import io
import json
import math
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO as PyCOCO
from pycocotools.cocoeval import COCOeval as PyCOCOeval

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.coco import (
    METRIC_KEYS,
    CocoPredictions,
    evaluate_coco,
    load_coco_gt,
    load_coco_predictions,
    per_image_stats,
    predictions_to_coco,
)

# ---------------------------------------------------------------- random data


def _polygon(rng, cx, cy, r, h, w) -> list[float]:
    n = int(rng.integers(5, 12))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.6, 1.0, n)
    aspect = np.exp(rng.normal(0, 0.3))
    pts = np.stack([cx + rad * np.cos(ang) * aspect, cy + rad * np.sin(ang) / aspect], 1)
    pts = np.clip(pts, 0, [w - 1, h - 1])
    return pts.ravel().tolist()


def _bounds(poly: list[float]) -> list[float]:
    xy = np.asarray(poly).reshape(-1, 2)
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _poly_rle(poly: list[float], h: int, w: int) -> dict:
    rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
    return {"size": [h, w], "counts": rle["counts"].decode("ascii")}


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd format: run lengths over the column-major mask, starting with zeros."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], edges])).tolist()
    return {"size": list(mask.shape), "counts": counts}


def make_dataset(seed: int, n_images: int = 36) -> tuple[dict, list[dict], list[dict]]:
    """(gt, bbox detections, segm detections) exercising the awkward cases.

    Non-contiguous category ids, one category with no ground truth, images with no
    annotations, crowd regions as uncompressed RLE, small/medium/large objects,
    one image with >100 detections of a class, jittered true positives, duplicates,
    score ties, detections on empty images and on crowds.
    """
    rng = np.random.default_rng(seed)
    image_ids = rng.choice(np.arange(1, 100_000), n_images, replace=False).tolist()
    cat_ids = np.sort(rng.choice(np.arange(1, 1000), 6, replace=False)).tolist()
    gt_cats = cat_ids[:-1]  # the last category has no ground truth
    ann_ids = iter(rng.choice(np.arange(1, 10**7), 10_000, replace=False).tolist())
    images, anns, objects = [], [], []
    for k, img in enumerate(image_ids):
        h, w = int(rng.integers(120, 260)), int(rng.integers(160, 320))
        images.append({"id": img, "height": h, "width": w, "file_name": f"{img}.jpg"})
        if k < 5:
            continue  # images without annotations
        for _ in range(int(rng.integers(1, 9))):
            r = float(rng.choice([rng.uniform(3, 14), rng.uniform(20, 45), rng.uniform(60, 110)]))
            poly = _polygon(rng, rng.uniform(0, w), rng.uniform(0, h), r, h, w)
            cat = int(rng.choice(gt_cats))
            area = float(mask_utils.area(_poly_rle(poly, h, w)))
            anns.append({"id": next(ann_ids), "image_id": img, "category_id": cat, "segmentation": [poly],
                         "bbox": _bounds(poly), "area": area, "iscrowd": 0})  # fmt: skip
            objects.append((img, h, w, cat, poly, r))
        if rng.random() < 0.25:
            mask = np.zeros((h, w), np.uint8)
            y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
            mask[y0 : y0 + int(rng.integers(10, h // 2)), x0 : x0 + int(rng.integers(10, w // 2))] = 1
            rle = _uncompressed_rle(mask)
            bbox = mask_utils.toBbox(mask_utils.encode(np.asfortranarray(mask))).tolist()
            cat = int(rng.choice(gt_cats))
            anns.append({"id": next(ann_ids), "image_id": img, "category_id": cat, "segmentation": rle,
                         "bbox": bbox, "area": float(mask.sum()), "iscrowd": 1})  # fmt: skip
            x, y, bw, bh = bbox
            poly = [x, y, x + bw, y, x + bw, y + bh, x, y + bh]
            objects.append((img, h, w, cat, poly, max(bw, bh) / 2))  # detections on crowds too
    dets: list[tuple] = []  # (img, h, w, cat, poly, score)
    for img, h, w, cat, poly, r in objects:
        for _ in range(int(rng.random() < 0.85) + int(rng.random() < 0.25)):
            xy = np.asarray(poly).reshape(-1, 2)
            c = xy.mean(0)
            xy = (xy - c) * np.exp(rng.normal(0, 0.12)) + c + rng.normal(0, 0.12 * r, 2)
            xy = np.clip(xy, 0, [w - 1, h - 1])
            d_cat = cat if rng.random() < 0.9 else int(rng.choice(cat_ids))
            dets.append((img, h, w, d_cat, xy.ravel().tolist(), float(rng.beta(4, 2))))
    dims = {im["id"]: (im["height"], im["width"]) for im in images}
    busy, n_true = image_ids[5], len(dets)
    for k in range(n_true + 150):  # false positives everywhere, then 150 more on one image and class
        img = busy if k >= n_true else int(rng.choice(image_ids))
        h, w = dims[img]
        cat = gt_cats[0] if k >= n_true else int(rng.choice(cat_ids))
        r = float(rng.uniform(3, 80))
        dets.append(
            (
                img,
                h,
                w,
                cat,
                _polygon(rng, rng.uniform(0, w), rng.uniform(0, h), r, h, w),
                float(rng.beta(1.5, 4)),
            )
        )
    bbox_dets, segm_dets = [], []
    for img, h, w, cat, poly, score in dets:
        if rng.random() < 0.3:
            score = round(score, 2)  # ties
        bbox_dets.append({"image_id": img, "category_id": cat, "bbox": _bounds(poly), "score": score})
        segm_dets.append(
            {"image_id": img, "category_id": cat, "segmentation": _poly_rle(poly, h, w), "score": score}
        )
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c, "name": f"cat{c}"} for c in cat_ids],
    }
    return gt, bbox_dets, segm_dets


def _pycocotools(gt: dict, dets: list[dict], iou_type: str, cat_ids: list[int] | None = None) -> PyCOCOeval:
    """Plain pycocotools, the way its README runs it, on private copies of the data."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = PyCOCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = PyCOCOeval(coco, coco.loadRes(copy.deepcopy(dets)), iou_type)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _stats(ev: PyCOCOeval) -> np.ndarray:
    return np.where(ev.stats == -1, np.nan, ev.stats)


def _values(result) -> np.ndarray:
    return np.array([result.metrics[k] for k in METRIC_KEYS])


# ---------------------------------------------------------------- parity


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_both_backends_equal_pycocotools_stats(seed, iou_type):
    gt, bbox_dets, segm_dets = make_dataset(seed)
    dets = bbox_dets if iou_type == "bbox" else segm_dets
    msg = f"seed={seed} iou_type={iou_type} (replay with VB_TEST_SEED={seed})"
    reference = _stats(_pycocotools(gt, dets, iou_type))
    checked = load_coco_gt(gt)
    preds = load_coco_predictions(dets, checked, iou_type=iou_type)
    for backend in ("faster", "pycocotools"):
        result = evaluate_coco(checked, preds, iou_type=iou_type, backend=backend)
        assert tuple(result.metrics) == METRIC_KEYS
        np.testing.assert_allclose(
            _values(result), reference, rtol=0, atol=1e-9, equal_nan=True, err_msg=f"{msg} {backend}"
        )
    assert np.isfinite(reference[:3]).all() and 0 < reference[0] < 1, msg  # the data is not degenerate
    pairs = collections.Counter((d["image_id"], d["category_id"]) for d in dets)
    assert max(pairs.values()) > 100, msg  # the maxDets=100 cut is exercised


def test_per_class_ap_equals_single_category_runs(seed):
    gt, dets, _ = make_dataset(seed)
    result = evaluate_coco(gt, dets)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    for cat in [gt["categories"][0]["id"], gt["categories"][2]["id"], gt["categories"][-1]["id"]]:
        s = _stats(_pycocotools(gt, dets, "bbox", cat_ids=[cat]))
        got = result.per_class[names[cat]]
        np.testing.assert_allclose(
            [got["ap"], got["ap_50"], got["ap_75"], got["ar_100"]],
            s[[0, 1, 2, 8]],
            rtol=0,
            atol=1e-9,
            equal_nan=True,
            err_msg=f"seed={seed} category {cat}",
        )
    assert all(math.isnan(v) for v in result.per_class[names[gt["categories"][-1]["id"]]].values())


def test_pr_curves_are_consistent_with_ap(seed):
    gt, dets, _ = make_dataset(seed)
    result = evaluate_coco(gt, dets)
    assert set(result.pr_curves) == set(result.per_class) | {"all"}
    curves = [
        c for n, c in result.pr_curves.items() if n != "all" and not math.isnan(result.per_class[n]["ap"])
    ]
    for name, c in result.pr_curves.items():
        assert len(c["recall"]) == len(c["precision_50"]) == len(c["precision_75"]) == 101
        if name != "all" and not math.isnan(result.per_class[name]["ap_50"]):
            assert np.mean(c["precision_50"]) == pytest.approx(result.per_class[name]["ap_50"], abs=1e-12), (
                seed
            )
    mean50 = np.mean([c["precision_50"] for c in curves], axis=0)
    np.testing.assert_allclose(
        result.pr_curves["all"]["precision_50"], mean50, atol=1e-12, err_msg=f"seed={seed}"
    )
    assert np.mean(result.pr_curves["all"]["precision_50"]) == pytest.approx(
        result.metrics["map_50"], abs=1e-12
    )


def test_per_image_stats_match_pycocotools_matches(seed):
    gt, dets, _ = make_dataset(seed)
    stats = per_image_stats(gt, dets)
    ev = _pycocotools(gt, dets, "bbox")
    tp = dict.fromkeys(stats.image_ids.tolist(), 0)
    for e in ev.evalImgs:  # IoU .50 row, area "all", maxDets 100
        if e is not None and e["aRng"] == ev.params.areaRng[0] and e["maxDet"] == 100:
            tp[e["image_id"]] += int(np.count_nonzero((e["dtMatches"][0] > 0) & ~e["dtIgnore"][0]))
    assert stats.tp.tolist() == [tp[i] for i in stats.image_ids.tolist()], f"seed={seed}"
    assert stats.num_dets.sum() == len(dets) and stats.num_gt.sum() + stats.num_crowd.sum() == len(
        gt["annotations"]
    )
    assert (stats.tp <= stats.num_gt).all() and stats.tp.sum() > 0, f"seed={seed}"
    json.dumps(stats.to_json())


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_empty_prediction_list_scores_zero(backend):
    gt, _, _ = make_dataset(1)
    result = evaluate_coco(gt, [], backend=backend)
    assert result.metrics["map"] == 0.0 and result.metrics["mar_100"] == 0.0
    assert all(v == 0.0 or math.isnan(v) for v in result.metrics.values())
    json.dumps(result.to_json(), allow_nan=False)


def test_ground_truth_without_annotations_gives_nan():
    gt = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [],
        "categories": [{"id": 3, "name": "a"}],
    }
    result = evaluate_coco(gt, [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5], "score": 0.5}])
    assert all(math.isnan(v) for v in result.metrics.values())
    assert result.to_json()["metrics"]["map"] is None


def test_annotation_id_zero_is_not_mistaken_for_unmatched():
    gt = {
        "images": [{"id": 1, "height": 100, "width": 100}],
        "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600}],
        "categories": [{"id": 1, "name": "a"}],
    }
    result = evaluate_coco(gt, [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9}])
    assert result.metrics["map"] == pytest.approx(1.0)


def test_inputs_are_not_mutated_and_libraries_print_nothing(capsys):
    gt, dets, segm = make_dataset(7, n_images=10)
    before = copy.deepcopy((gt, dets, segm))
    for backend in ("faster", "pycocotools"):
        evaluate_coco(gt, dets, backend=backend)
        evaluate_coco(gt, segm, iou_type="segm", backend=backend)
    assert (gt, dets, segm) == before
    assert capsys.readouterr().out == ""


def test_validated_predictions_are_reused_and_revalidated_for_other_ground_truth():
    gt, dets, _ = make_dataset(3, n_images=10)
    checked = load_coco_gt(gt)
    preds = load_coco_predictions(dets, checked, iou_type="bbox")
    assert isinstance(preds, CocoPredictions) and preds[0]["id"] == 1 and preds[0]["iscrowd"] == 0
    a = evaluate_coco(checked, preds)
    b = evaluate_coco(gt, dets)  # plain dicts: validated inside
    np.testing.assert_array_equal(_values(a), _values(b))
    other = copy.deepcopy(gt)
    other["images"] = other["images"][:3]
    other["annotations"] = [
        x for x in other["annotations"] if x["image_id"] in {i["id"] for i in other["images"]}
    ]
    with pytest.raises(DataError, match="is not an image of the ground truth"):
        evaluate_coco(other, preds)


def test_missing_area_is_computed_from_mask_or_box():
    poly = [10.0, 10.0, 60.0, 12.0, 50.0, 70.0, 12.0, 55.0]
    gt = load_coco_gt({
        "images": [{"id": 1, "height": 100, "width": 100}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 60], "segmentation": [poly]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1.5, 2, 3, 4]},
        ],
        "categories": [{"id": 1, "name": "a"}],
    })  # fmt: skip
    assert gt["annotations"][0]["area"] == float(mask_utils.area(_poly_rle(poly, 100, 100)))
    assert gt["annotations"][1]["area"] == 12.0 and gt["annotations"][1]["iscrowd"] == 0


def test_segm_needs_segmentation_but_bbox_does_not():
    gt = {
        "images": [{"id": 1, "height": 50, "width": 50}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9], "segmentation": []}],
        "categories": [{"id": 1, "name": "a"}],
    }
    dets = [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9], "score": 0.3}]
    assert evaluate_coco(gt, dets).metrics["map"] == pytest.approx(1.0)
    with pytest.raises(DataError, match=r"annotations\[0\] \(id 5\).*segmentation"):
        evaluate_coco(gt, dets, iou_type="segm")


def test_files_are_read_and_named_in_errors(tmp_path):
    gt, dets, _ = make_dataset(2, n_images=8)
    gt_path, det_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(json.dumps(gt))
    dets[4]["score"] = "high"
    det_path.write_text(json.dumps(dets))
    checked = load_coco_gt(gt_path)
    with pytest.raises(
        DataError,
        match=re.escape(str(det_path))
        + r": \[4\] \(image_id \d+, category_id \d+\): 'score' must be a number",
    ):
        load_coco_predictions(det_path, checked, iou_type="bbox")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        load_coco_gt(tmp_path / "bad.json")
    with pytest.raises(DataError, match="missing.json: file not found"):
        load_coco_gt(str(tmp_path / "missing.json"))


def test_options_are_checked():
    gt, dets, _ = make_dataset(4, n_images=6)
    with pytest.raises(ConfigError, match="iou_type"):
        evaluate_coco(gt, dets, iou_type="keypoints")
    with pytest.raises(ConfigError, match="backend"):
        evaluate_coco(gt, dets, backend="detectron")
    with pytest.raises(ConfigError, match="max_dets"):
        evaluate_coco(gt, dets, max_dets=(10, 1))


def test_custom_max_dets_name_their_recall_keys():
    gt, dets, _ = make_dataset(5, n_images=10)
    result = evaluate_coco(gt, dets, max_dets=(1, 5, 20))
    assert [k for k in result.metrics if k.startswith("mar_") and k[4:].isdigit()] == [
        "mar_1",
        "mar_5",
        "mar_20",
    ]
    assert "ar_20" in next(iter(result.per_class.values()))


# ---------------------------------------------------------------- conversion and plotting


def test_predictions_to_coco_keeps_float64_and_encodes_masks():
    boxes = np.array([[10.123456789, 20.5, 30.987654321, 40.25], [0, 0, 1, 1]], dtype=np.float64)
    masks = np.zeros((2, 30, 40), bool)
    masks[0, 5:9, 3:20] = True
    masks[1, 0, 0] = True
    entries = predictions_to_coco(
        7, {"boxes": boxes, "scores": np.array([0.9, 0.1]), "labels": np.array([3, 5]), "masks": masks}
    )
    assert entries[0]["bbox"] == [10.123456789, 20.5, 30.987654321 - 10.123456789, 40.25 - 20.5]
    assert [e["category_id"] for e in entries] == [3, 5] and entries[0]["image_id"] == 7
    for entry, mask in zip(entries, masks, strict=True):
        assert np.array_equal(
            mask_utils.decode({**entry["segmentation"], "counts": entry["segmentation"]["counts"].encode()}),
            mask,
        )
    json.dumps(entries)
    assert (
        predictions_to_coco(1, {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)})
        == []
    )
    with pytest.raises(DataError, match="image_id 7: detection 1"):
        predictions_to_coco(
            7, {"boxes": np.array([[0, 0, 1, 1], [5, 5, 1, 1.0]]), "scores": [0.5, 0.4], "labels": [1, 1]}
        )


def test_predictions_to_coco_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    entries = predictions_to_coco(
        1,
        {
            "boxes": torch.tensor([[1.5, 2.5, 3.5, 8.0]], dtype=torch.float64),
            "scores": torch.tensor([0.7]),
            "labels": torch.tensor([2]),
        },
    )
    assert entries == [
        {"image_id": 1, "category_id": 2, "bbox": [1.5, 2.5, 2.0, 5.5], "score": pytest.approx(0.7)}
    ]


def test_plot_pr_curves_writes_a_png(tmp_path):
    from visionbench.tasks.coco_plots import plot_pr_curves

    gt, dets, _ = make_dataset(6, n_images=10)
    path = plot_pr_curves(evaluate_coco(gt, dets), tmp_path / "plots" / "pr.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
