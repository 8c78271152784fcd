"""The paired comparison covers every declared metric of a kind: each resampled value equals an
independent computation on the resampled samples themselves (scikit-learn and torchmetrics on
duplicated rows, pycocotools on duplicated images under new ids, a confusion matrix counted from the
duplicated masks), and the gate's multiplicity policy still holds over many metrics.

Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from visionbench.declarations import declaration
from visionbench.harness import compare


def _loaded(task, name: str) -> compare.LoadedRun:
    result = task.compute()
    record = {
        "task": {
            "kind": task.kind,
            "id": f"{task.kind}:test",
            "dataset": "test",
            "dataset_fingerprint": "fp",
        },
        "model": {"spec": name},
        "environment": {},
        "efficiency": {},
    }
    return compare.LoadedRun(name, Path(name), record, task, dict(result.metrics))


def _close(got: float, want: float, what: str, tol: float = 1e-9) -> None:
    if math.isnan(want):
        assert math.isnan(got), f"{what}: {got} where the reference is NaN"
    else:
        assert got == pytest.approx(want, abs=tol), f"{what}: {got} vs reference {want}"


# --- classification ---------------------------------------------------------------------------------


def _classification(name: str, y: np.ndarray, predictions: np.ndarray, k: int) -> compare.LoadedRun:
    from visionbench.contracts import TaskSpec
    from visionbench.harness.rescore import StoredDataset
    from visionbench.harness.runner import build_task

    info = {
        "name": "t",
        "kind": "classification",
        "classes": [f"c{i}" for i in range(k)],
        "fingerprint": "fp",
    }
    task = build_task(
        TaskSpec("classification", "score", "t"), StoredDataset({**info, "num_samples": len(y)})
    )
    task.update(list(range(len(y))), predictions, y.tolist(), [f"s{i}" for i in range(len(y))])
    return _loaded(task, name)


def _probabilities(rng: np.random.Generator, y: np.ndarray, k: int, signal: float) -> np.ndarray:
    """float32 probability rows, a tenth rounded to one decimal place (ties in ranks and top-5)."""
    logits = rng.normal(size=(len(y), k))
    logits[np.arange(len(y)), y] += signal
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    tied = rng.random(len(y)) < 0.1
    probs[tied] = np.round(probs[tied], 1) + 1e-3
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def _sklearn_metrics(y: np.ndarray, probs: np.ndarray, k: int) -> dict[str, float]:
    import torch
    from sklearn.metrics import (
        brier_score_loss,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
        top_k_accuracy_score,
    )
    from torchmetrics.functional.classification import multiclass_calibration_error

    pred = probs.argmax(axis=1)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    aucs = [roc_auc_score(y == c, probs[:, c]) for c in range(k) if 0 < np.sum(y == c) < len(y)]
    ece = multiclass_calibration_error(
        torch.from_numpy(probs), torch.from_numpy(y), num_classes=k, n_bins=15, norm="l1"
    )
    return {
        "top1": float(np.mean(pred == y)),
        "top5": float(top_k_accuracy_score(y, probs, k=5, labels=np.arange(k))),
        "precision_macro": float(p),
        "recall_macro": float(r),
        "f1_macro": float(f),
        "auroc_macro": float(np.mean(aucs)),
        "ece": float(ece),
        "nll": float(log_loss(y, probs, labels=np.arange(k))),
        "brier": float(brier_score_loss(y, probs, labels=np.arange(k), scale_by_half=False)),
    }


def test_every_classification_metric_of_a_resample_equals_sklearn_on_duplicated_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 160, 8
    y = rng.integers(0, k, n)
    probs_a, probs_b = _probabilities(rng, y, k, 2.0), _probabilities(rng, y, k, 1.2)
    a, b = _classification("a", y, probs_a, k), _classification("b", y, probs_b, k)
    keys = declaration("classification").keys
    resamples = np.vstack([np.arange(n), np.sort(rng.integers(0, n, n)), rng.integers(0, n // 3, n)])
    got_a, got_b = compare._block(a.task, resamples, keys), compare._block(b.task, resamples, keys)
    assert sorted(got_a) == sorted(keys)
    for r, rows in enumerate(resamples):
        ref_a = _sklearn_metrics(y[rows], probs_a[rows].astype(np.float64), k)
        ref_b = _sklearn_metrics(y[rows], probs_b[rows].astype(np.float64), k)
        for key in keys:
            tol = 1e-6 if key == "ece" else 1e-9  # torchmetrics sums the calibration bins in float32
            _close(got_a[key][r], ref_a[key], f"A {key}, resample {r}", tol)
            _close(got_b[key][r] - got_a[key][r], ref_b[key] - ref_a[key], f"B - A {key}, resample {r}", tol)
    for key in keys:  # the identity resample is the run itself
        _close(got_a[key][0], a.metrics[key], f"identity {key}", 1e-6 if key == "ece" else 1e-12)
    report = compare.compare_runs(a, b, resamples=300, seed=seed)
    assert [row["metric"] for row in report["metrics"]] == list(keys) and report["not_compared"] == []
    assert report["resamples"] == 300


def test_hard_label_runs_list_the_score_metrics_as_not_compared() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, 120)
    a = _classification("a", y, np.where(rng.random(120) < 0.8, y, (y + 1) % 6), 6)
    b = _classification("b", y, np.where(rng.random(120) < 0.6, y, (y + 2) % 6), 6)
    report = compare.compare_runs(a, b, resamples=200)
    assert [r["metric"] for r in report["metrics"]] == ["top1", "precision_macro", "recall_macro", "f1_macro"]
    skipped = {item["metric"]: item["reason"] for item in report["not_compared"]}
    assert (
        sorted(skipped) == ["auroc_macro", "brier", "ece", "nll", "top5"] and "hard labels" in skipped["top5"]
    )
    assert "top5" in "\n".join(
        compare.comparison_lines(report)
    ) and "Not compared" in compare.comparison_markdown(report)


# --- detection ---------------------------------------------------------------------------------------


def _detection_files(tmp_path: Path, rng: np.random.Generator, ties: bool) -> tuple[Path, dict, list[Path]]:
    """12 images, 3 categories, objects of every COCO size range, a few crowd regions; two result files."""
    categories = [{"id": c, "name": f"k{c}"} for c in (1, 2, 5)]
    images, annotations = [], []
    for i in range(12):
        images.append({"id": 10 + 3 * i, "file_name": f"im{i}.png", "width": 240, "height": 240})
        for _ in range(int(rng.integers(0, 5))):
            w, h = (
                float(v)
                for v in rng.choice([rng.uniform(6, 28), rng.uniform(35, 90), rng.uniform(100, 160)], 2)
            )
            x, y = float(rng.uniform(0, 240 - w)), float(rng.uniform(0, 240 - h))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": 10 + 3 * i,
                    "category_id": int(rng.choice([1, 2, 5])),
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": int(rng.random() < 0.08),
                }
            )
    gt = {"images": images, "annotations": annotations, "categories": categories}

    def results(jitter: float, drop: float) -> list[dict]:
        out = []
        for ann in annotations:
            if rng.random() < drop:
                continue
            box = (np.array(ann["bbox"]) * rng.normal(1, jitter, 4)).tolist()
            box[2], box[3] = max(box[2], 2.0), max(box[3], 2.0)
            out.append({"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": box})
        for _ in range(10):
            side = float(rng.uniform(8, 120))
            out.append(
                {
                    "image_id": int(rng.choice([im["id"] for im in images])),
                    "category_id": int(rng.choice([1, 2, 5])),
                    "bbox": [float(rng.uniform(0, 100)), float(rng.uniform(0, 100)), side, side],
                }
            )
        for d in out:
            d["score"] = float(rng.uniform(0.05, 1))
        if ties:  # a shifted copy with the same score: equal scores with different outcomes in one image
            for d in out[: len(annotations) // 2]:
                x, y, w, h = d["bbox"]
                out.append({**d, "bbox": [x + 0.6 * w, y, w, h]})
        return out

    paths = [tmp_path / "gt.json", tmp_path / "a.json", tmp_path / "b.json"]
    for path, payload in zip(paths, (gt, results(0.05, 0.1), results(0.15, 0.3)), strict=True):
        path.write_text(json.dumps(payload))
    return paths[0], gt, paths[1:]


def _pycocotools_stats(gt: dict, results: list[dict], resample: np.ndarray) -> dict[str, float]:
    """pycocotools' twelve numbers over the images of ``resample``, each copy a new image with new ids."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from visionbench.tasks.detection_stats_resample import KEYS

    images, annotations, dets = [], [], []
    for copy, position in enumerate(resample):
        image = gt["images"][position]
        new_id = copy + 1
        images.append({**image, "id": new_id})
        for ann in (x for x in gt["annotations"] if x["image_id"] == image["id"]):
            annotations.append({**ann, "id": len(annotations) + 1, "image_id": new_id})
        dets += [{**d, "image_id": new_id} for d in results if d["image_id"] == image["id"]]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": annotations, "categories": gt["categories"]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets) if dets else COCO(), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {key: (math.nan if v == -1 else float(v)) for key, v in zip(KEYS, ev.stats, strict=True)}


@pytest.mark.parametrize("ties", [False, True], ids=["distinct-scores", "tied-scores"])
def test_every_box_statistic_of_a_resample_equals_pycocotools_on_duplicated_images(
    tmp_path: Path, seed: int, ties: bool
) -> None:
    from visionbench.harness import scoring_runs

    rng = np.random.default_rng(seed)
    gt_path, gt, (a_path, b_path) = _detection_files(tmp_path, rng, ties)
    a = _loaded(scoring_runs.detection_task(gt_path, a_path)[0], "a")
    b = _loaded(scoring_runs.detection_task(gt_path, b_path)[0], "b")
    keys = declaration("detection").keys
    rows = [np.arange(12), [0, 0, 1, 3, 3, 3, 5, 7, 8, 8, 10, 11], np.sort(rng.integers(0, 12, 12))]
    if (
        ties
    ):  # one more resample repeating an image that holds tied scores (known once the resampler is built)
        compare._block(a.task, np.arange(12)[None, :], keys)
        tied = sorted(a.task._stats_bootstrap.stats.tie_images)
        assert tied, "the tied-score data must give an image with tied scores"
        rows.append(np.sort(np.r_[tied[0], tied[0], rng.integers(0, 12, 10)]))
    resamples = np.vstack(rows)
    got_a, got_b = compare._block(a.task, resamples, keys), compare._block(b.task, resamples, keys)
    assert sorted(got_a) == sorted(keys)
    results_a, results_b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    for r, rows in enumerate(resamples):
        ref_a, ref_b = _pycocotools_stats(gt, results_a, rows), _pycocotools_stats(gt, results_b, rows)
        for key in keys:
            _close(got_a[key][r], ref_a[key], f"A {key}, resample {rows.tolist()}")
            _close(
                got_b[key][r] - got_a[key][r],
                ref_b[key] - ref_a[key],
                f"B - A {key}, resample {rows.tolist()}",
            )
    if ties:  # resamples repeating an image with tied scores take the one-resample path
        tied = a.task._stats_bootstrap.stats.tie_images
        assert tied and any(np.sum(resamples[1:] == t, axis=1).max() >= 2 for t in tied)
    random_rows = rng.integers(0, 12, (40, 12))
    block = a.task.bootstrap_block(random_rows, keys=keys)
    for r in range(40):
        one = a.task._stats_bootstrap.metrics(random_rows[r])
        for key in keys:
            _close(block[key][r], one[key], f"block vs faster-coco-eval {key}", 1e-12)


# --- segmentation ------------------------------------------------------------------------------------


def test_every_segmentation_metric_of_a_resample_equals_a_counted_confusion_matrix(
    tmp_path: Path, seed: int
) -> None:
    from PIL import Image
    from sklearn.metrics import confusion_matrix

    from visionbench.harness import scoring_runs

    rng = np.random.default_rng(seed)
    k, n = 5, 7
    truth = [rng.integers(0, k - 1, (10, 14)) for _ in range(n)]  # class 4 is never in the truth
    for t in truth[:3]:
        t[rng.random(t.shape) < 0.1] = 255  # ignored pixels
    folders = {}
    for name, flip in (("gt", 0.0), ("a", 0.15), ("b", 0.4)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        for i, t in enumerate(truth):
            m = np.where(rng.random(t.shape) < flip, rng.integers(0, k, t.shape), t) if flip else t
            Image.fromarray(np.where(t == 255, 0, m).astype(np.uint8) if flip else m.astype(np.uint8)).save(
                folders[name] / f"m{i}.png"
            )

    def load(name: str) -> compare.LoadedRun:
        task, _ = scoring_runs.segmentation_task(
            folders["gt"], folders[name], num_classes=k, ignore_index=255, class_names=None
        )
        return _loaded(task, name)

    def by_hand(name: str, rows: np.ndarray) -> dict[str, float]:
        t = np.concatenate([truth[i].ravel() for i in rows])
        p = np.concatenate([np.asarray(Image.open(folders[name] / f"m{i}.png")).ravel() for i in rows])
        cm = confusion_matrix(t[t != 255], p[t != 255], labels=list(range(k))).astype(float)
        ious, accs, fw = [], [], 0.0
        for c in range(k):
            inter, gt_c, pred_c = cm[c, c], cm[c].sum(), cm[:, c].sum()
            if gt_c + pred_c > 0:
                ious.append(inter / (gt_c + pred_c - inter))
            if gt_c > 0:
                accs.append(inter / gt_c)
                fw += gt_c / cm.sum() * inter / (gt_c + pred_c - inter)
        return {
            "miou": float(np.mean(ious)),
            "pixel_accuracy": float(np.trace(cm) / cm.sum()),
            "mean_accuracy": float(np.mean(accs)),
            "fwiou": fw,
        }

    a, b = load("a"), load("b")
    keys = declaration("segmentation").keys
    resamples = np.vstack([np.arange(n), [5, 5, 0, 2, 2, 2, 6], rng.integers(0, n, n)])
    got_a, got_b = compare._block(a.task, resamples, keys), compare._block(b.task, resamples, keys)
    for r, rows in enumerate(resamples):
        ref_a, ref_b = by_hand("a", rows), by_hand("b", rows)
        for key in keys:
            _close(got_a[key][r], ref_a[key], f"A {key}, resample {rows.tolist()}", 1e-12)
            _close(got_b[key][r] - got_a[key][r], ref_b[key] - ref_a[key], f"B - A {key}", 1e-12)
    report = compare.compare_runs(a, b, resamples=300)
    assert [row["metric"] for row in report["metrics"]] == list(keys)


# --- the gate's multiplicity policy over many metrics ----------------------------------------------


def _holm_by_hand(p_values: list[float], alpha: float) -> list[tuple[bool, float]]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out, still = [None] * len(p_values), True
    for rank, i in enumerate(order):
        level = alpha / (len(p_values) - rank)
        still = still and p_values[i] <= level
        out[i] = (still, level)
    return out


def test_holm_and_primary_hold_over_every_gated_metric(seed: int) -> None:
    from visionbench.harness.gate import gate_runs

    rng = np.random.default_rng(seed)
    n, k = 400, 8
    y = rng.integers(0, k, n)
    base = _classification("base", y, _probabilities(rng, y, k, 2.5), k)
    cand = _classification("cand", y, _probabilities(rng, y, k, 2.3), k)
    gated = {
        "top1": 0.05,
        "top5": 0.03,
        "f1_macro": 0.05,
        "auroc_macro": 0.004,
        "ece": 0.03,
        "recall_macro": 0.08,
    }
    rules = {"classification": {"alpha": 0.1, "metrics": gated}}
    report = gate_runs(base, cand, rules, resamples=800, seed=seed)
    rows = report["metrics"]
    assert [r["metric"] for r in rows] == list(gated) and report["multiplicity"] == "holm"
    assert not rows[4]["higher_is_better"]  # ECE: the declared direction
    expected = _holm_by_hand([r["p_noninferior"] for r in rows], 0.1)
    for row, (passed, level) in zip(rows, expected, strict=True):
        assert row["confidence"] == pytest.approx(1 - 2 * level)
        assert (row["verdict"] == "pass") == passed, row
    primary = gate_runs(
        base, cand, {**rules["classification"], "multiplicity": "primary", "primary": "auroc_macro"}
    )
    assert [r["metric"] for r in primary["metrics"] if r["deciding"]] == ["auroc_macro"]
    assert all(r["confidence"] == pytest.approx(0.8) for r in primary["metrics"])
    # a gated metric the state cannot recompute is inconclusive with the reason, never dropped
    hard = _classification("hard", y, cand.task.hard_labels()[1], k)
    missing = gate_runs(
        base, hard, {"classification": {"metrics": {"top1": 0.05, "top5": 0.05}}}, resamples=200
    )
    top5 = missing["metrics"][1]
    assert top5["verdict"] == "inconclusive" and "no paired resamples" in top5["note"]
    assert missing["verdict"] == "inconclusive"
