"""COCO evaluation split by category over worker processes, merged into one result with identical numbers.

COCO's evaluation is separable by category: ``evaluate`` matches detections to objects per
(image, category) pair and ``accumulate`` fills the ``K`` axis of ``precision[T, R, K, A, M]``
and ``recall[T, K, A, M]`` from each category's own per-image results. So each worker evaluates
and accumulates a group of categories (faster-coco-eval's C++ code, on the group's ground truth
and detections, in their original order) and the parent puts the groups' slices back in the
global category order. The merged arrays are the arrays one evaluator over all categories
produces, hence the same twelve stats and per-class APs (``tests/tasks/test_coco_parallel.py``).

Workers are forked (the ground truth and detections are inherited, not pickled); only the
small per-category arrays travel back. Categories are dealt to workers by detection count,
largest first, so the groups take about the same time.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

_SHARED: dict[str, Any] = {}


def default_workers() -> int:
    """The cores this process may use (``os.sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def category_groups(cat_ids: list[int], predictions: list[dict], workers: int) -> list[list[int]]:
    """Category ids split into ``workers`` groups of about equal detection counts (each sorted)."""
    counts = dict.fromkeys(cat_ids, 0)
    for det in predictions:
        if det["category_id"] in counts:
            counts[det["category_id"]] += 1
    groups: list[list[int]] = [[] for _ in range(max(1, min(workers, len(cat_ids))))]
    load = [0] * len(groups)
    for cat in sorted(cat_ids, key=lambda c: (-counts[c], c)):
        i = int(np.argmin(load))
        groups[i].append(cat)
        load[i] += counts[cat] + 1
    return [sorted(g) for g in groups if g]


class _Merged:
    """What :func:`visionbench.tasks.coco._result` reads from an evaluator: ``params`` and ``eval``."""

    def __init__(self, params: Any, evaluation: dict[str, Any]) -> None:
        self.params, self.eval = params, evaluation


def _subset(gt: Any, preds: Any, group: list[int]) -> tuple[Any, Any]:
    keep = set(group)
    sub_gt = copy.copy(gt)
    dict.__setitem__(sub_gt, "annotations", [a for a in gt["annotations"] if a["category_id"] in keep])
    sub_preds = copy.copy(preds)
    list.__init__(sub_preds, [d for d in preds if d["category_id"] in keep])
    return sub_gt, sub_preds


def _evaluate_group(number: int) -> tuple[list[int], Any, np.ndarray, np.ndarray, np.ndarray]:
    from visionbench.tasks.coco import _run_eval

    group, sub_gt, sub_preds = _SHARED["parts"][number]
    iou_type, configure = _SHARED["iou_type"], _SHARED["configure"]

    def setup(params: Any) -> None:
        if configure is not None:
            configure(params)
        params.catIds = list(group)

    ev = _run_eval("faster", sub_gt, sub_preds, iou_type, setup)
    return (
        list(ev.params.catIds),
        copy.deepcopy(ev.params),
        np.asarray(ev.eval["precision"]),
        np.asarray(ev.eval["recall"]),
        np.asarray(ev.eval["scores"]),
    )


def run_eval_parallel(gt: Any, preds: Any, iou_type: str, configure: Any, workers: int) -> Any:
    """``evaluate()`` + ``accumulate()`` with faster-coco-eval over category groups in ``workers`` processes."""
    import multiprocessing

    cat_ids = sorted(int(c["id"]) for c in gt["categories"])
    groups = category_groups(cat_ids, preds, workers)
    # split before forking: each worker then touches only its own group's entries
    _SHARED.update(
        parts=[(g, *_subset(gt, preds, g)) for g in groups], iou_type=iou_type, configure=configure
    )
    try:
        if len(groups) == 1:
            parts = [_evaluate_group(0)]
        else:
            with multiprocessing.get_context("fork").Pool(len(groups)) as pool:
                parts = pool.map(_evaluate_group, range(len(groups)))
    finally:
        _SHARED.clear()
    params = parts[0][1]
    params.catIds = cat_ids
    where = {cat: k for k, cat in enumerate(cat_ids)}
    first_p, first_r, first_s = parts[0][2], parts[0][3], parts[0][4]
    precision = np.empty(first_p.shape[:2] + (len(cat_ids),) + first_p.shape[3:], dtype=first_p.dtype)
    scores = np.empty(first_s.shape[:2] + (len(cat_ids),) + first_s.shape[3:], dtype=first_s.dtype)
    recall = np.empty(first_r.shape[:1] + (len(cat_ids),) + first_r.shape[2:], dtype=first_r.dtype)
    for ids, _, p, r, s in parts:
        index = [where[c] for c in ids]
        precision[:, :, index] = p
        scores[:, :, index] = s
        recall[:, index] = r
    return _Merged(params, {"params": params, "precision": precision, "recall": recall, "scores": scores})
