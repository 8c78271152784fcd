"""The compiled box evaluation (``backend="native"``) against faster-coco-eval and the reference paths.

Every comparison is exact (``==`` on float64 arrays): the native path must reproduce faster-coco-eval's
accumulated precision and recall, the per-image matches of ``per_image_stats``, the per-image AP of
``box_matching.image_ap`` and the bootstrap of ``ImageBootstrap``, on the randomised data of
``test_coco.make_dataset`` (crowd regions, score ties, more than 100 detections of one image and
class, images and a category without ground truth), with boxes added on the area-range edges.
Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_coco import make_dataset

from visionbench.tasks import coco_native
from visionbench.tasks.coco import METRIC_KEYS, _run_eval, evaluate_coco, load_coco_gt, load_coco_predictions

pytestmark = pytest.mark.skipif(not coco_native.available(), reason="numba is not installed")


def _data(seed: int, n_images: int = 36):
    gt, dets, _ = make_dataset(seed, n_images)
    rng = np.random.default_rng(seed)
    # boxes whose area sits exactly on the small/medium/large edges, detected and not
    for k, side in enumerate((32.0, 96.0, 16.0, 64.0)):
        img = gt["images"][5 + k]
        cat = gt["categories"][k % 5]["id"]
        box = [1.0, 2.0, side, side]
        gt["annotations"].append(
            {
                "id": 10**8 + k,
                "image_id": img["id"],
                "category_id": cat,
                "bbox": box,
                "area": side * side,
                "iscrowd": 0,
            }
        )
        dets.append({"image_id": img["id"], "category_id": cat, "bbox": box, "score": float(rng.random())})
        dets.append({"image_id": img["id"], "category_id": cat, "bbox": [0.0, 0.0, side, side], "score": 0.5})
    checked = load_coco_gt(gt)
    return checked, load_coco_predictions(dets, checked, iou_type="bbox")


@pytest.mark.parametrize("max_dets", [(1, 10, 100), (2, 7, 50)])
def test_native_arrays_and_metrics_equal_faster_coco_eval(seed, max_dets):
    gt, preds = _data(seed)
    msg = f"seed={seed} max_dets={max_dets}"

    def configure(params):
        params.maxDets = list(max_dets)

    ev = _run_eval("faster", gt, preds, "bbox", configure)
    native, matches = coco_native.evaluate_boxes(gt, preds, max_dets)
    params = matches.params
    assert params.imgIds == list(ev.params.imgIds) and params.catIds == list(ev.params.catIds), msg
    mine = matches.evaluate().eval
    for key in ("precision", "recall"):
        theirs = np.asarray(ev.eval[key])
        assert mine[key].shape == theirs.shape, msg
        assert np.array_equal(mine[key], theirs), (
            f"{msg}: {key} differs at {np.argwhere(mine[key] != theirs)[:5]}"
        )
    reference = evaluate_coco(gt, preds, backend="faster", max_dets=max_dets)
    assert native.backend == "native" and list(native.metrics) == list(reference.metrics)
    for key, value in reference.metrics.items():
        assert (math.isnan(value) and math.isnan(native.metrics[key])) or native.metrics[key] == value, (
            msg,
            key,
        )
    assert native.per_class.keys() == reference.per_class.keys()
    assert str(native.per_class) == str(reference.per_class), msg  # nan-aware exact equality
    assert np.isfinite([reference.metrics[k] for k in METRIC_KEYS[:3]]).all(), msg


def test_native_handles_empty_predictions_and_ground_truth():
    gt, _ = _data(1, 12)
    assert evaluate_coco(gt, [], backend="native").metrics == evaluate_coco(gt, [], backend="faster").metrics
    empty = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [],
        "categories": [{"id": 3, "name": "a"}],
    }
    det = [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5], "score": 0.5}]
    assert all(math.isnan(v) for v in evaluate_coco(empty, det, backend="native").metrics.values())
    with pytest.raises(Exception, match="boxes"):
        evaluate_coco(empty, [], iou_type="segm", backend="native")


def test_native_per_image_counts_and_aps_equal_the_reference_paths(seed):
    from visionbench.tasks.box_matching import RECALL_POINTS, image_ap
    from visionbench.tasks.coco import per_image_stats

    gt, preds = _data(seed)
    _, matches = coco_native.evaluate_boxes(gt, preds)
    stats = per_image_stats(gt, preds)
    counts = matches.per_image_counts(0)
    rows = np.searchsorted(matches.params.imgIds, stats.image_ids)  # stats follow the file's image order
    assert np.array_equal(np.asarray(matches.params.imgIds)[rows], stats.image_ids)
    for key in ("num_gt", "num_crowd", "tp"):
        assert counts[key][rows].tolist() == getattr(stats, key).tolist(), (seed, key)
    by_image = {i: ([], []) for i in matches.params.imgIds}
    for a in gt["annotations"]:
        by_image[a["image_id"]][0].append(a)
    for d in preds:
        by_image[d["image_id"]][1].append(d)
    expected = np.array([image_ap(*by_image[i]) for i in matches.params.imgIds])
    got = coco_native.image_aps(matches, RECALL_POINTS)
    assert np.array_equal(got, expected, equal_nan=True), f"seed={seed}"
    assert np.isnan(got).any() and (got > 0).any()


def test_native_bootstrap_equals_image_bootstrap(seed):
    import torch

    from visionbench.tasks.coco_native_resample import NativeBootstrap
    from visionbench.tasks.detection_bootstrap import ImageBootstrap

    gt, preds = _data(seed, 24)
    ids = [im["id"] for im in gt["images"]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the parallel kernel must not change the process's torch threads
    reference = ImageBootstrap(gt, preds, ids)
    _, matches = coco_native.evaluate_boxes(gt, preds)
    native = NativeBootstrap(matches, ids, lambda: ImageBootstrap(gt, preds, ids))
    rng = np.random.default_rng(seed)
    positions = rng.integers(0, len(ids), size=(60, len(ids)))
    positions[0] = np.arange(len(ids))
    try:
        got = native.metrics_block(positions)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    expected = reference.metrics_block(positions)
    for key in ("map", "map_50"):
        assert np.array_equal(got[key], expected[key], equal_nan=True), (seed, key)
    one = native.metrics(positions[3])
    assert one == {"map": got["map"][3], "map_50": got["map_50"][3]}
    identity = evaluate_coco(gt, preds, backend="faster").metrics
    assert got["map"][0] == identity["map"] and got["map_50"][0] == identity["map_50"], seed


def test_score_run_record_equals_its_rescore(seed, tmp_path):
    """``score detection`` hands its evaluation to the run it writes; rescoring the stored state (decoded and
    evaluated afresh) must give the same record numbers, intervals included."""
    import json
    import subprocess
    import sys

    gt, dets, _ = make_dataset(seed, 20)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    base = [sys.executable, "-m", "visionbench.harness.cli"]
    scored = subprocess.run(
        [*base, "score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "dets.json"),
         "--json", "--output", str(tmp_path / "runs")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = json.loads(scored.stdout)
    record = json.loads(Path(out["record"]).read_text())
    run_dir = str(Path(out["record"]).parent)
    again = subprocess.run([*base, "rescore", run_dir, "--json"], capture_output=True, text=True, check=True)
    rescored = json.loads(again.stdout)["metrics"]
    assert out["metrics"] == {k: record["metrics"][k] for k in out["metrics"]}, seed
    assert rescored.keys() == record["metrics"].keys() and any("_ci_" in k for k in rescored), seed
    for key, value in record["metrics"].items():
        assert rescored[key] == value or (value is None and rescored[key] is None), (seed, key)


def test_native_bootstrap_hands_every_row_to_the_exact_path_past_its_exact_range(seed, monkeypatch):
    """Past the totals whose fractions stay distinct doubles, every resample goes the one-resample way
    (faster-coco-eval's accumulate), and the numbers are still ImageBootstrap's."""
    from visionbench.tasks import coco_native_resample
    from visionbench.tasks.coco_native_resample import NativeBootstrap
    from visionbench.tasks.detection_bootstrap import ImageBootstrap

    monkeypatch.setattr(coco_native_resample, "EXACT_TOTAL", 2)
    gt, preds = _data(seed, 12)
    ids = [im["id"] for im in gt["images"]]
    _, matches = coco_native.evaluate_boxes(gt, preds)
    native = NativeBootstrap(matches, ids, lambda: ImageBootstrap(gt, preds, ids))
    assert native._map.all_exact
    positions = np.random.default_rng(seed).integers(0, len(ids), size=(5, len(ids)))
    got, expected = native.metrics_block(positions), ImageBootstrap(gt, preds, ids).metrics_block(positions)
    for key in ("map", "map_50"):
        assert np.array_equal(got[key], expected[key], equal_nan=True), (seed, key)
