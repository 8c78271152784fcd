"""The gallery a run writes: COCO's per-image matching and AP checked against faster-coco-eval, the
worst/best selection, and a real detection and segmentation run writing pictures the dashboard can show.

Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import io
import math
import os
import random

import numpy as np
import pandas as pd
import pytest

from visionbench.harness.gallery import GALLERY_FILE, pick
from visionbench.tasks.box_matching import image_ap, match_boxes


def _seed() -> int:
    value = int(os.environ.get("VB_TEST_SEED") or random.SystemRandom().randrange(2**31))
    print(f"VB_TEST_SEED={value}")
    return value


def _scene(rng: np.random.Generator, categories: int = 3) -> tuple[list[dict], list[dict]]:
    """Random objects and detections near some of them (jittered), plus strays, with random scores."""
    annotations, detections = [], []
    for _ in range(int(rng.integers(1, 7))):
        x, y, w, h = rng.uniform(0, 80, 2).tolist() + rng.uniform(5, 40, 2).tolist()
        cat = int(rng.integers(1, categories + 1))
        annotations.append({"bbox": [x, y, w, h], "category_id": cat, "iscrowd": 0, "area": w * h})
        for _ in range(int(rng.integers(0, 3))):
            jitter = rng.normal(0, 4, 4)
            box = [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])]
            detections.append({"bbox": box, "category_id": cat, "score": float(rng.uniform())})
    for _ in range(int(rng.integers(0, 4))):
        box = rng.uniform(0, 80, 2).tolist() + rng.uniform(5, 30, 2).tolist()
        detections.append(
            {"bbox": box, "category_id": int(rng.integers(1, categories + 1)), "score": float(rng.uniform())}
        )
    return annotations, detections


def _coco_reference(
    annotations: list[dict], detections: list[dict], categories: int = 3
) -> tuple[float, int]:
    """faster-coco-eval on this one image: map_50 and the number of true positives at IoU 0.5."""
    from visionbench.tasks.coco import evaluate_coco, load_coco_gt, load_coco_predictions, per_image_stats

    gt = load_coco_gt({
        "images": [{"id": 1, "width": 128, "height": 128}],
        "annotations": [{**a, "id": i, "image_id": 1} for i, a in enumerate(annotations, 1)],
        "categories": [{"id": c, "name": f"c{c}"} for c in range(1, categories + 1)],
    })  # fmt: skip
    preds = load_coco_predictions([{**d, "image_id": 1} for d in detections], gt, iou_type="bbox")
    result = evaluate_coco(gt, preds)
    return result.metrics["map_50"], int(per_image_stats(gt, preds).tp[0])


def test_matching_and_image_ap_equal_faster_coco_eval() -> None:
    rng = np.random.default_rng(_seed())
    for _ in range(40):
        annotations, detections = _scene(rng)
        want_ap, want_tp = _coco_reference(annotations, detections)
        _, status = match_boxes(annotations, detections)
        assert status.count("tp") == want_tp
        assert image_ap(annotations, detections) == pytest.approx(want_ap, abs=1e-12)


def test_image_ap_without_objects_is_nan_and_crowd_matches_are_ignored() -> None:
    assert math.isnan(image_ap([], [{"bbox": [0, 0, 5, 5], "category_id": 1, "score": 0.9}]))
    crowd = [{"bbox": [0, 0, 50, 50], "category_id": 1, "iscrowd": 1}]
    gt_status, det_status = match_boxes(crowd, [{"bbox": [10, 10, 5, 5], "category_id": 1, "score": 0.5}])
    assert gt_status == ["crowd"] and det_status == ["ignored"]


def test_pick_takes_the_extremes_once_and_skips_nan() -> None:
    scores = [0.5, float("nan"), 0.1, 0.9, 0.1, 0.7]
    assert pick(scores, 2) == [("worst", 1, 2), ("worst", 2, 4), ("best", 1, 3), ("best", 2, 5)]
    assert pick([0.3, 0.4], 5) == [("worst", 1, 0), ("worst", 2, 1)]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "task"), [("zoo:shapes-centernet-tiny", "detection:shapes"),
                                             ("zoo:shapes-fcn", "segmentation:shapes")])  # fmt: skip
def test_a_run_writes_its_gallery(model: str, task: str, tmp_path) -> None:
    from PIL import Image

    from visionbench.zoo import catalog

    if not catalog.weights_path(model.removeprefix("zoo:")).is_file():
        pytest.skip("zoo weights not built (make zoo)")

    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    spec = RunSpec(parse_model_spec(model), parse_task_spec(task), "cpu", limit=24)
    outcome = execute(spec, output=tmp_path, track=False, quiet=True, bootstrap_reps=20)
    assert outcome.record["artifacts"]["gallery_parquet"] == GALLERY_FILE
    gallery = pd.read_parquet(outcome.directory / GALLERY_FILE)
    per_sample = pd.read_parquet(outcome.directory / "predictions.parquet").set_index("sample_id")
    assert list(gallery["group"]) == ["worst"] * 8 + ["best"] * 8
    score = "ap_50" if task.startswith("detection") else "miou"
    expected = per_sample[score].dropna().sort_values(kind="stable")
    worst = gallery[gallery["group"] == "worst"]
    assert list(worst["score"]) == pytest.approx(list(expected.iloc[:8]))
    assert set(worst["sample_id"]) <= set(per_sample.index)
    for _, row in gallery.iterrows():
        assert row["score"] == pytest.approx(per_sample.loc[row["sample_id"], score])
        assert Image.open(io.BytesIO(row["image"])).size[0] > 0
        if score == "ap_50":  # the overlay's colours come from the same matching COCO counted
            assert row["matched"] == per_sample.loc[row["sample_id"], "tp_50"]
            assert row["tp"] + row["fp"] <= per_sample.loc[row["sample_id"], "num_dets"]
        else:
            truth, pred = Image.open(io.BytesIO(row["truth"])), Image.open(io.BytesIO(row["prediction"]))
            assert truth.size == pred.size
