"""The paired comparison of every declared metric, at its default 2,000 resamples, stays cheap enough to be on.

Three pairs built in memory (no model): digits-sized classification (540 samples, 10 classes, all
seven metrics), a COCO-style detection pair (100 images, 3 categories, about 1,000 detections a
run, all twelve box statistics) and segmentation (200 images, 21 classes). CPU seconds per
``compare_runs`` after a warm-up go to ``results/bench/compare.json``; the goal is the demo's
classification compare under ``GOAL_CLASSIFICATION_S``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench" / "compare.json"
GOAL_CLASSIFICATION_S = 1.0


def _loaded(task, name: str):
    from visionbench.harness.compare import LoadedRun

    result = task.compute()
    record = {
        "task": {"kind": task.kind, "id": f"{task.kind}:bench", "dataset": "bench"},
        "model": {"spec": name},
    }
    return LoadedRun(name, Path(name), record, task, dict(result.metrics))


def _stored_task(kind: str, n: int, **info):
    from visionbench.contracts import TaskSpec
    from visionbench.harness.rescore import StoredDataset
    from visionbench.harness.runner import build_task

    dataset = StoredDataset({"name": "bench", "kind": kind, "num_samples": n, "fingerprint": "fp", **info})
    return build_task(TaskSpec(kind, "score", "bench"), dataset)


def classification_pair(rng: np.random.Generator):
    n, k = 540, 10
    y = rng.integers(0, k, n)
    runs = []
    for name, signal in (("a", 3.0), ("b", 2.6)):
        logits = rng.normal(size=(n, k))
        logits[np.arange(n), y] += signal
        task = _stored_task("classification", n, classes=[str(c) for c in range(k)])
        task.update(list(range(n)), logits.astype(np.float32), y.tolist(), [f"s{i}" for i in range(n)])
        runs.append(_loaded(task, name))
    return runs


def detection_pair(rng: np.random.Generator):
    categories = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]
    images, objects = [], []
    for i in range(100):
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 320, "height": 320})
        for _ in range(int(rng.integers(1, 9))):
            w, h = (float(v) for v in rng.uniform(8, 150, 2))
            objects.append(
                (
                    i + 1,
                    int(rng.integers(1, 4)),
                    [float(rng.uniform(0, 160)), float(rng.uniform(0, 160)), w, h],
                )
            )
    runs = []
    for name, jitter in (("a", 0.05), ("b", 0.12)):
        task = _stored_task("detection", 100, categories=categories, category_ids=[1, 2, 3])
        for i, image in enumerate(images):
            mine = [o for o in objects if o[0] == image["id"]]
            annotations = [
                {"image_id": image["id"], "bbox": b, "category_id": c, "area": b[2] * b[3], "iscrowd": 0}
                for _, c, b in mine
            ]
            boxes = [np.array(b) * rng.normal(1, jitter, 4) for _, _, b in mine] + [
                rng.uniform(0, 200, 4) for _ in range(4)
            ]
            xyxy = np.array([[x, y, x + abs(w) + 1, y + abs(h) + 1] for x, y, w, h in boxes])
            labels = [c for _, c, _ in mine] + rng.integers(1, 4, 4).tolist()
            prediction = {
                "boxes": xyxy,
                "scores": rng.uniform(0.05, 1, len(labels)),
                "labels": np.array(labels),
            }
            task.update([i], [prediction], [{"image": image, "annotations": annotations}], [f"im{i}"])
        runs.append(_loaded(task, name))
    return runs


def segmentation_pair(rng: np.random.Generator):
    n, k = 200, 21
    truths = [rng.integers(0, k, (64, 64)) for _ in range(n)]
    runs = []
    for name, flip in (("a", 0.2), ("b", 0.3)):
        task = _stored_task("segmentation", n, classes=[str(c) for c in range(k)], ignore_index=255)
        preds = [np.where(rng.random(t.shape) < flip, rng.integers(0, k, t.shape), t) for t in truths]
        task.update(list(range(n)), preds, truths, [f"m{i}" for i in range(n)])
        runs.append(_loaded(task, name))
    return runs


def test_paired_compare_of_every_metric(benchmark) -> None:
    from visionbench.harness.compare import compare_runs

    rng = np.random.default_rng(0)
    pairs = {
        "classification": classification_pair(rng),
        "detection": detection_pair(rng),
        "segmentation": segmentation_pair(rng),
    }
    compare_runs(*pairs["classification"], resamples=20)  # warm-up: imports are paid once
    seconds: dict[str, float] = {}
    metrics: dict[str, int] = {}

    def compare_all() -> None:
        for kind, (a, b) in pairs.items():
            start = time.process_time()
            report = compare_runs(a, b)
            seconds[kind] = time.process_time() - start
            metrics[kind] = len(report["metrics"])

    benchmark.pedantic(compare_all, rounds=1, iterations=1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "compare_runs: every declared metric, 2,000 paired resamples, CPU seconds",
                "goal_classification_s": GOAL_CLASSIFICATION_S,
                "cpu_seconds": seconds,
                "metrics_compared": metrics,
                "cpu": platform.processor() or platform.machine(),
                "cores": len(os.sched_getaffinity(0)),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            indent=2,
        )
        + "\n"
    )
    assert metrics == {"classification": 7, "detection": 12, "segmentation": 4}
    assert seconds["classification"] < GOAL_CLASSIFICATION_S, seconds
