"""COCO evaluation split by category over processes gives the numbers of one evaluator, and pycocotools'."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os

import numpy as np

from visionbench.tasks.coco import METRIC_KEYS, evaluate_coco, load_coco_gt, load_coco_predictions
from visionbench.tasks.coco_parallel import category_groups

SEED = int(os.environ.get("VB_TEST_SEED", np.random.SeedSequence().entropy % 2**32))


def _data(rng: np.random.Generator) -> tuple[dict, list[dict]]:
    cats = sorted(rng.choice(np.arange(1, 30), 7, replace=False).tolist())
    images = [{"id": i, "width": 200, "height": 150, "file_name": f"{i}.jpg"} for i in range(1, 41)]
    anns, dets = [], []
    for k in range(160):
        x, y = rng.uniform(0, 150), rng.uniform(0, 100)
        w, h = rng.uniform(2, 50), rng.uniform(2, 50)
        img, cat = int(rng.integers(1, 41)), int(rng.choice(cats[:-1]))  # the last class has no objects
        anns.append({"id": k + 1, "image_id": img, "category_id": cat, "bbox": [x, y, w, h],
                     "area": w * h, "iscrowd": int(rng.random() < 0.05)})  # fmt: skip
        for _ in range(int(rng.integers(0, 3))):
            j = rng.normal(0, 0.15, 4)
            dets.append({"image_id": img, "category_id": cat if rng.random() < 0.85 else int(rng.choice(cats)),
                         "bbox": [x + j[0] * w, y + j[1] * h, w * math.exp(j[2]), h * math.exp(j[3])],
                         "score": float(np.round(rng.random(), 2))})  # fmt: skip
    for _ in range(120):  # background detections
        dets.append({"image_id": int(rng.integers(1, 41)), "category_id": int(rng.choice(cats)),
                     "bbox": [*rng.uniform(0, 100, 2).tolist(), *rng.uniform(2, 60, 2).tolist()],
                     "score": float(np.round(rng.random() * 0.5, 2))})  # fmt: skip
    return {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c, "name": f"c{c}"} for c in cats],
    }, dets


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_parallel_equals_serial_and_pycocotools() -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    print(f"VB_TEST_SEED={SEED}")
    rng = np.random.default_rng(SEED)
    for _ in range(3):
        raw_gt, raw_dets = _data(rng)
        gt = load_coco_gt(copy.deepcopy(raw_gt))
        preds = load_coco_predictions(copy.deepcopy(raw_dets), gt, iou_type="bbox")
        serial = evaluate_coco(gt, preds)
        for workers in (2, 3):
            split = evaluate_coco(gt, preds, workers=workers)
            assert all(_same(serial.metrics[k], split.metrics[k]) for k in serial.metrics), workers
            assert set(serial.per_class) == set(split.per_class)
            for name, row in serial.per_class.items():
                assert all(_same(v, split.per_class[name][k]) for k, v in row.items()), (workers, name)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = copy.deepcopy(raw_gt)
            coco_gt.createIndex()
            ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(raw_dets)), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        for key, want in zip(METRIC_KEYS, ev.stats[:12], strict=True):
            got = split.metrics[key]
            assert (want == -1 and math.isnan(got)) or abs(got - want) < 1e-12, key


def test_category_groups_balance_detections() -> None:
    dets = [{"category_id": c} for c, n in ((1, 50), (2, 30), (3, 20), (4, 5)) for _ in range(n)]
    groups = category_groups([1, 2, 3, 4, 9], dets, 2)
    assert sorted(c for g in groups for c in g) == [1, 2, 3, 4, 9]
    assert groups == [[1, 4], [2, 3, 9]]  # by hand: 50 | 30, 20 | 50+5 | 50+1 (+1 per class)
    assert category_groups([1, 2], dets, 8) == [[1], [2]]
