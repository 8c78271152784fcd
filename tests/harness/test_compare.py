"""Paired statistics of ``visionbench compare``: McNemar by hand, the paired bootstrap against the
normal approximation, and corpus-metric resamples (mAP, mIoU) against direct recomputation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench.harness import compare, scoring_runs


def _loaded(task, name: str, fingerprint: str = "fp") -> compare.LoadedRun:
    result = task.compute()
    record = {
        "task": {
            "kind": task.kind,
            "id": f"{task.kind}:test",
            "dataset": "test",
            "dataset_fingerprint": fingerprint,
        },
        "model": {"spec": name},
        "environment": {"hardware": "cpu (2 cores)"},
        "efficiency": {},
    }
    return compare.LoadedRun(name, Path(name), record, task, dict(result.metrics))


def _classification(
    tmp_path: Path, name: str, y: np.ndarray, pred: np.ndarray, order=None
) -> compare.LoadedRun:
    ids = [f"s{i:04d}" for i in range(len(y))]
    order = np.arange(len(y)) if order is None else order
    gt = tmp_path / "gt.csv"
    gt.write_text("id,label\n" + "".join(f"{ids[i]},c{y[i]}\n" for i in range(len(y))))
    path = tmp_path / f"{name}.csv"
    path.write_text("id,label\n" + "".join(f"{ids[i]},c{pred[i]}\n" for i in order))
    task, _ = scoring_runs.classification_task(gt, path)
    return _loaded(task, name)


def _binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial p at 1/2: twice the smaller tail, sum of C(n, j) / 2^n, capped at 1."""
    tail = sum(math.comb(n, j) for j in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 0), (0, 5), (3, 9), (12, 4), (25, 25), (1, 30)])
def test_mcnemar_matches_the_binomial_tail_by_hand(a_only: int, b_only: int) -> None:
    both, neither = 40, 7
    correct_a = np.array([1] * both + [1] * a_only + [0] * b_only + [0] * neither, bool)
    correct_b = np.array([1] * both + [0] * a_only + [1] * b_only + [0] * neither, bool)
    test = compare.mcnemar_exact(correct_a, correct_b)
    assert (test["a_only"], test["b_only"]) == (a_only, b_only)
    expected = 1.0 if a_only + b_only == 0 else _binomial_two_sided(min(a_only, b_only), a_only + b_only)
    assert test["p_value"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_paired_bootstrap_interval_agrees_with_the_normal_approximation(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n, k = 3000, 5
    y = rng.integers(0, k, n)
    pred_a = np.where(rng.random(n) < 0.80, y, (y + 1) % k)
    pred_b = np.where(rng.random(n) < 0.90, pred_a, np.where(rng.random(n) < 0.6, y, (y + 2) % k))
    a = _classification(tmp_path, "a", y, pred_a)
    b = _classification(tmp_path, "b", y, pred_b, order=rng.permutation(n))  # rows shuffled: matched by id
    report = compare.compare_runs(a, b, resamples=4000, seed=3)
    top1 = report["metrics"][0]
    d = (pred_b == y).astype(float) - (pred_a == y).astype(float)
    se = d.std(ddof=1) / math.sqrt(n)
    assert top1["delta"] == pytest.approx(d.mean(), abs=1e-12)
    # the percentile interval's ends move by about 0.05 se between seeds at 4,000 resamples
    assert top1["ci_low"] == pytest.approx(d.mean() - 1.959964 * se, abs=0.15 * se)
    assert top1["ci_high"] == pytest.approx(d.mean() + 1.959964 * se, abs=0.15 * se)
    assert report["resamples"] == 4000 and top1["test"] == "mcnemar-exact"


def test_vectorised_classification_block_equals_fast_headline(tmp_path: Path) -> None:
    from visionbench.tasks.classification_metrics import fast_headline

    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 6, 200), rng.integers(0, 7, 200) % 6
    run = _classification(tmp_path, "a", y, pred)
    y_true, y_pred = run.task.hard_labels()
    rows = rng.integers(0, 200, (50, 200))
    block = compare._block(run.task, rows, ("top1", "f1_macro"))
    for r, row in enumerate(rows):
        one = fast_headline(y_true[row], y_pred[row], len(run.task.dataset.classes))
        assert block["top1"][r] == pytest.approx(one["top1"], abs=1e-12)
        assert block["f1_macro"][r] == pytest.approx(one["f1_macro"], abs=1e-12)


def test_identical_runs_in_another_order_have_zero_deltas(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.7, y, (y + 1) % 4)
    a = _classification(tmp_path, "a", y, pred)
    b = _classification(tmp_path, "b", y, pred, order=rng.permutation(300))
    draws = compare.paired_draws(a, b, ("top1", "f1_macro"), resamples=300, seed=0)
    assert np.all(draws.delta("top1") == 0) and np.all(draws.delta("f1_macro") == 0)
    assert draws.a["top1"].std() > 0  # the resamples do vary; only their difference is zero


def test_different_samples_are_an_error_naming_the_first(tmp_path: Path) -> None:
    from visionbench.errors import DataError

    y = np.arange(20) % 3
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _classification(tmp_path / "a", "a", y, y)
    ids = [f"s{i:04d}" for i in range(20)]
    gt = tmp_path / "b" / "gt.csv"
    gt.write_text("id,label\n" + "".join(f"{ids[i]}x,c{y[i]}\n" for i in range(20)))
    (tmp_path / "b" / "p.csv").write_text("id,label\n" + "".join(f"{ids[i]}x,c{y[i]}\n" for i in range(20)))
    task, _ = scoring_runs.classification_task(gt, tmp_path / "b" / "p.csv")
    b = _loaded(task, "b")
    with pytest.raises(DataError, match="'s0000' is in a but not in b"):
        compare.pair_positions(a, b)
    c = _loaded(task, "c", fingerprint="other")
    with pytest.raises(DataError, match="different datasets"):
        compare.pair_positions(a, c)


# --- detection: a paired resample equals COCO run directly on the duplicated images ---------------


def _coco_pair(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path, Path, dict]:
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    images, annotations = [], []
    for i in range(8):
        images.append({"id": i + 1, "file_name": f"im{i}.png", "width": 100, "height": 100})
        for _ in range(int(rng.integers(1, 4))):
            x, y, w, h = rng.uniform(0, 60, 2).tolist() + rng.uniform(8, 35, 2).tolist()
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(rng.integers(1, 3)),
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    gt = {"images": images, "annotations": annotations, "categories": categories}

    def results(jitter: float, drop: float) -> list[dict]:
        out = []
        for ann in annotations:
            if rng.random() < drop:
                continue
            box = (np.array(ann["bbox"]) + rng.normal(0, jitter, 4)).tolist()
            box[2], box[3] = max(box[2], 1.0), max(box[3], 1.0)
            out.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": ann["category_id"],
                    "bbox": box,
                    "score": float(rng.uniform(0.05, 1)),
                }
            )
        for _ in range(6):  # false positives
            out.append(
                {
                    "image_id": int(rng.integers(1, 9)),
                    "category_id": int(rng.integers(1, 3)),
                    "bbox": rng.uniform(0, 60, 2).tolist() + [10.0, 10.0],
                    "score": float(rng.uniform(0, 1)),
                }
            )
        return out

    paths = []
    for name, payload in (("gt", gt), ("a", results(1.5, 0.1)), ("b", results(4.0, 0.25))):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(payload))
    return *paths, gt


def _duplicated_map(gt: dict, results: list[dict], resample: np.ndarray) -> float:
    """COCO mAP over the images of ``resample``: each copy a new image with its own annotations and detections."""
    from visionbench.tasks.coco import evaluate_coco

    images, annotations, dets = [], [], []
    for copy, position in enumerate(resample):
        image = gt["images"][position]
        new_id = copy + 1
        images.append({**image, "id": new_id})
        annotations += [
            {**a, "id": len(annotations) + j + 1, "image_id": new_id}
            for j, a in enumerate(x for x in gt["annotations"] if x["image_id"] == image["id"])
        ]
        dets += [{**d, "image_id": new_id} for d in results if d["image_id"] == image["id"]]
    coco = {"images": images, "annotations": annotations, "categories": gt["categories"]}
    return evaluate_coco(coco, dets, iou_type="bbox").metrics["map"]


def test_paired_map_delta_equals_coco_on_duplicated_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    gt_path, a_path, b_path, gt = _coco_pair(tmp_path, rng)
    a = _loaded(scoring_runs.detection_task(gt_path, a_path)[0], "a")
    b = _loaded(scoring_runs.detection_task(gt_path, b_path)[0], "b")
    resample = np.array([0, 0, 1, 3, 3, 3, 5, 7])
    block_a = compare._block(a.task, resample[None, :], ("map",))["map"][0]
    block_b = compare._block(b.task, resample[None, :], ("map",))["map"][0]
    direct_a = _duplicated_map(gt, json.loads(a_path.read_text()), resample)
    direct_b = _duplicated_map(gt, json.loads(b_path.read_text()), resample)
    assert block_a == pytest.approx(direct_a, abs=1e-9)
    assert block_b - block_a == pytest.approx(direct_b - direct_a, abs=1e-9)
    report = compare.compare_runs(a, b, resamples=200)
    from visionbench.declarations import declaration

    compared = [r["metric"] for r in report["metrics"]]
    undefined = [i["metric"] for i in report["not_compared"]]  # no object in that area range
    assert sorted(compared + undefined) == sorted(declaration("detection").keys) and compared[:2] == [
        "map",
        "map_50",
    ]
    assert all(math.isnan(a.metrics[k]) and math.isnan(b.metrics[k]) for k in undefined)
    assert report["metrics"][0]["delta"] == pytest.approx(b.metrics["map"] - a.metrics["map"])


# --- segmentation: a paired resample sums per-image confusion counts ----------------------------------


def _miou(cm: np.ndarray) -> float:
    tp = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - tp
    present = (cm.sum(0) + cm.sum(1)) > 0
    return float(np.mean(tp[present] / union[present]))


def test_paired_miou_delta_equals_summed_confusion_by_hand(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    k, folders = 4, {}
    truth = [rng.integers(0, k, (12, 16)) for _ in range(6)]
    for name, flip in (("gt", 0.0), ("a", 0.1), ("b", 0.3)):
        folder = tmp_path / name
        folder.mkdir()
        for i, t in enumerate(truth):
            m = np.where(rng.random(t.shape) < flip, rng.integers(0, k, t.shape), t) if flip else t
            Image.fromarray(m.astype(np.uint8)).save(folder / f"m{i}.png")
        folders[name] = folder

    def load(name: str) -> compare.LoadedRun:
        task, _ = scoring_runs.segmentation_task(
            folders["gt"], folders[name], num_classes=k, ignore_index=255, class_names=None
        )
        return _loaded(task, name)

    a, b = load("a"), load("b")
    resample = np.array([5, 5, 0, 2, 2, 2])

    def by_hand(name: str) -> float:
        cm = np.zeros((k, k), np.int64)
        for i in resample:
            pred = np.asarray(Image.open(folders[name] / f"m{i}.png"))
            cm += np.bincount(truth[i].ravel() * k + pred.ravel(), minlength=k * k).reshape(k, k)
        return _miou(cm)

    got_a = compare._block(a.task, resample[None, :], ("miou",))["miou"][0]
    got_b = compare._block(b.task, resample[None, :], ("miou",))["miou"][0]
    assert got_a == pytest.approx(by_hand("a"), abs=1e-12)
    assert got_b - got_a == pytest.approx(by_hand("b") - by_hand("a"), abs=1e-12)
    report = compare.compare_runs(a, b, resamples=500)
    miou = report["metrics"][0]
    assert miou["metric"] == "miou" and miou["verdict"] == "worse" and miou["ci_high"] < 0
