"""All twelve COCO box statistics of many image resamples at once (the paired comparison's bootstrap).

:mod:`visionbench.tasks.detection_resample` re-accumulates ``map`` / ``map_50`` (area "all", 100
detections). The paired comparison needs every statistic COCO's summary prints, so this module
matches each image once per area range, COCO's way, and keeps:

* for the precision statistics (``map map_50 map_75 map_small map_medium map_large``): per area
  range and category, each detection's true-positive and ignored flags in COCO's global score order;
  :meth:`~visionbench.tasks.detection_resample.ResampledMap.precision` reads a block of resamples off
  them exactly as COCO's accumulation does;
* for the recall statistics (``mar_1 mar_10 mar_100 mar_small mar_medium mar_large``): per image,
  area range, detection budget, IoU threshold and category, the number of true positives among the
  image's best-scored detections, and its non-ignored objects. COCO's recall is the last point of
  the cumulative true positives over the (unignored) objects, which does not depend on the order, so
  a resample's recall is ``W @ tp / W @ npig`` for the image multiplicities ``W``.

A detection's ground-truth match is COCO's greedy one (objects sorted by their ignore flag, crowd
regions matchable many times, a match to an ignored object ignored); an unmatched detection
outside the area range is ignored. Matching with 100 detections and keeping the first 1 or 10 is
the same as matching with 1 or 10, since a detection's match depends only on better-scored ones.
Resamples that repeat an image holding equal scores with different outcomes go to faster-coco-eval's
C++ accumulation one at a time (:meth:`ResampledStats.metrics`), as in ``detection_resample``.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

from visionbench.tasks.detection_resample import ResampledMap, _ties_that_matter

KEYS = (
    "map",
    "map_50",
    "map_75",
    "map_small",
    "map_medium",
    "map_large",
    "mar_1",
    "mar_10",
    "mar_100",
    "mar_small",
    "mar_medium",
    "mar_large",
)
AREAS = ("all", "small", "medium", "large")
# (area index, detection budget index) of each recall statistic, in KEYS order
RECALL_SLOTS = (("mar_1", 0, 0), ("mar_10", 0, 1), ("mar_100", 0, 2)) + tuple(
    (f"mar_{label}", a, 2) for a, label in enumerate(AREAS) if a
)
BLOCK_ROWS = 64


class ResampledStats:
    """Per-image COCO matches of one (ground truth, detections) pair for every area range."""

    def __init__(self, gt: dict, predictions: list[dict], params: Any, sorted_image_ids: list[int]) -> None:
        from pycocotools import mask as mask_utils
        from scipy import sparse

        self.params = params
        iou_thrs = np.asarray(params.iouThrs, dtype=np.float64)
        self.t50 = int(np.flatnonzero(np.isclose(iou_thrs, 0.5))[0])
        self.t75 = int(np.flatnonzero(np.isclose(iou_thrs, 0.75))[0])
        ranges = [tuple(r) for r in params.areaRng]
        max_dets = [int(m) for m in params.maxDets]
        self.cat_ids = [int(c) for c in params.catIds]
        self.num_images = n = len(sorted_image_ids)
        t, kk, a_count, m_count = len(iou_thrs), len(self.cat_ids), len(ranges), len(max_dets)
        gts: dict[tuple[int, int], list[dict]] = {}
        for ann in gt["annotations"]:
            gts.setdefault((int(ann["image_id"]), int(ann["category_id"])), []).append(ann)
        dts: dict[tuple[int, int], list[dict]] = {}
        for d in predictions:
            dts.setdefault((int(d["image_id"]), int(d["category_id"])), []).append(d)
        npig = np.zeros((a_count, kk, n))
        # sparse (image, ((area * M + budget) * K + category) * T + threshold) -> true positives
        tp_rows, tp_cols, tp_vals = [], [], []
        per_area: list[list[dict[str, list]]] = [
            [{"column": [], "score": [], "tp": [], "fp": []} for _ in range(kk)] for _ in ranges
        ]
        ties: set[int] = set()
        for k, cat in enumerate(self.cat_ids):
            for col, image_id in enumerate(sorted_image_ids):
                g = gts.get((int(image_id), cat), [])
                d = dts.get((int(image_id), cat), [])
                crowd = np.asarray([bool(x.get("iscrowd", 0)) for x in g], dtype=bool)
                g_area = np.asarray([float(x["area"]) for x in g], dtype=np.float64)
                scores = np.asarray([x["score"] for x in d], dtype=np.float64)
                order = np.argsort(-scores, kind="stable")[: max_dets[-1]]
                scores = scores[order]
                d_area = np.asarray([float(d[i]["area"]) for i in order], dtype=np.float64)
                ious = None
                if len(order) and len(g):
                    ious = np.asarray(
                        mask_utils.iou(
                            [d[i]["bbox"] for i in order], [x["bbox"] for x in g], [int(c) for c in crowd]
                        ),
                        dtype=np.float64,
                    ).reshape(len(order), len(g))
                for a, (low, high) in enumerate(ranges):
                    ignore = crowd | (g_area < low) | (g_area > high)
                    npig[a, k, col] = float((~ignore).sum())
                    if not len(order):
                        continue
                    tp, fp = _match(ious, crowd, ignore, iou_thrs, len(order))
                    fp &= ~((d_area < low) | (d_area > high))[None, :]  # unmatched outside the range: ignored
                    if _ties_that_matter(scores, tp, fp):
                        ties.add(col)
                    for m, budget in enumerate(max_dets):
                        counts = tp[:, :budget].sum(axis=1)
                        hit = np.flatnonzero(counts)
                        tp_rows.extend([col] * hit.size)
                        tp_cols.extend((((a * m_count + m) * kk + k) * t + hit).tolist())
                        tp_vals.extend(counts[hit].tolist())
                    entry = per_area[a][k]
                    entry["column"].append(np.full(len(order), col, dtype=np.int64))
                    entry["score"].append(scores)
                    entry["tp"].append(tp)
                    entry["fp"].append(fp)
        shape = (n, a_count * m_count * kk * t)
        self._tp = sparse.csr_matrix((tp_vals, (tp_rows, tp_cols)), shape=shape, dtype=np.float64)
        self._npig = npig
        self._shape = (a_count, m_count, kk, t)
        self.maps = [
            ResampledMap.from_flags(iou_thrs, params.recThrs, self.cat_ids, npig[a], per_area[a], ties)
            for a in range(a_count)
        ]
        self.tie_images = ties

    def block(self, counts: np.ndarray, keys: tuple[str, ...] = KEYS) -> dict[str, np.ndarray]:
        """``keys`` of each row of image multiplicities ``counts [B, N]`` (NaN where COCO prints -1)."""
        b = len(counts)
        weights = counts.astype(np.float64)
        out: dict[str, np.ndarray] = {}
        for a, label in enumerate(AREAS):
            wanted = ("map", "map_50", "map_75") if a == 0 else (f"map_{label}",)
            if not set(wanted) & set(keys):
                continue
            precision = self.maps[a].precision(counts)  # [B, T, R, K]
            if a == 0:
                out["map"] = _row_valid_mean(precision)
                out["map_50"] = _row_valid_mean(precision[:, self.t50])
                out["map_75"] = _row_valid_mean(precision[:, self.t75])
            else:
                out[f"map_{label}"] = _row_valid_mean(precision)
        a_count, m_count, kk, t = self._shape
        tp = np.asarray((self._tp.T @ weights.T).T).reshape(b, a_count, m_count, kk, t)
        npig = np.einsum("bn,akn->bak", weights, self._npig)  # [B, A, K]
        for key, a, m in RECALL_SLOTS:
            if key not in keys:
                continue
            gt_count = npig[:, a, :, None]  # [B, K, 1]
            valid = np.broadcast_to(gt_count > 0, (b, kk, t))
            with np.errstate(invalid="ignore", divide="ignore"):
                recall = np.where(valid, tp[:, a, m] / np.where(gt_count > 0, gt_count, 1.0), -1.0)
            out[key] = _row_valid_mean(recall)
        return {key: out[key] for key in keys if key in out}


def _row_valid_mean(values: np.ndarray) -> np.ndarray:
    """COCO's summary (mean over entries > -1) of each row; NaN for a row without any."""
    flat = values.reshape(len(values), -1)
    valid = flat > -1
    count = valid.sum(axis=1)
    total = np.where(valid, flat, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _match(
    ious: np.ndarray | None, crowd: np.ndarray, ignore: np.ndarray, thresholds: np.ndarray, num_dets: int
) -> tuple[np.ndarray, np.ndarray]:
    """COCO's greedy matching of one image, category and area range: true/false-positive flags ``[T, D]``.

    Detections are in score order; objects are visited sorted by their ignore flag (stable), a
    detection keeps the best IoU at or above the threshold, prefers unignored objects, and may
    match a crowd region already taken.
    """
    t = len(thresholds)
    tp = np.zeros((t, num_dets), dtype=bool)
    fp = np.zeros((t, num_dets), dtype=bool)
    if ious is None:
        fp[:] = True
        return tp, fp
    g_order = np.argsort(ignore.astype(np.int8), kind="stable")
    g_ignore, g_crowd = ignore[g_order], crowd[g_order]
    sorted_ious = ious[:, g_order]
    for ti, thr in enumerate(thresholds):
        taken = np.zeros(len(g_order), dtype=bool)
        for di in range(num_dets):
            best, match = min(float(thr), 1 - 1e-10), -1
            for gi in range(len(g_order)):
                if taken[gi] and not g_crowd[gi]:
                    continue
                if match >= 0 and not g_ignore[match] and g_ignore[gi]:
                    break
                if sorted_ious[di, gi] >= best:
                    best, match = sorted_ious[di, gi], gi
            if match >= 0:
                taken[match] = True
                tp[ti, di] = not g_ignore[match]
            else:
                fp[ti, di] = True
    return tp, fp


class CocoStatsBootstrap:
    """Every COCO box statistic of image resamples: the block path above, faster-coco-eval for tie rows.

    ``image_ids`` gives each sample position's image id. :meth:`metrics_block` takes resamples
    (rows of positions) and returns ``{key: array}`` for :data:`KEYS`.
    """

    def __init__(self, gt: Any, predictions: Any, image_ids: list[int]) -> None:
        self._gt, self._preds = gt, predictions
        self._params = _default_params(gt, predictions)
        sorted_ids = list(self._params.imgIds)
        self._column = np.searchsorted(np.asarray(sorted_ids), np.asarray(image_ids, dtype=np.int64))
        self.stats = ResampledStats(gt, list(predictions), self._params, sorted_ids)
        self._evaluated: Any = None

    def metrics_block(self, positions: np.ndarray, keys: tuple[str, ...] = KEYS) -> dict[str, np.ndarray]:
        keys = tuple(k for k in keys if k in KEYS)
        positions = np.asarray(positions, dtype=np.int64)
        n = self.stats.num_images
        columns = self._column[positions]
        m = len(positions)
        flat = (columns + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=m * n).reshape(m, n)
        exact = self.stats.maps[0].exact_rows(counts)
        out = {key: np.empty(m) for key in keys}
        for start in range(0, m, BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, m))
            fast = rows[~exact[rows]]
            if fast.size:
                for key, values in self.stats.block(counts[fast], keys).items():
                    out[key][fast] = values
            for row in rows[exact[rows]]:
                one = self.metrics(positions[row])
                for key in keys:
                    out[key][row] = one[key]
        return out

    def metrics(self, positions: np.ndarray) -> dict[str, float]:
        """One resample through faster-coco-eval's own accumulation (images concatenated in id order)."""
        from faster_coco_eval import faster_eval_api_cpp

        ev = self._evaluate()
        params = copy.copy(ev._paramsEval)
        n, a_count = self.stats.num_images, len(params.areaRng)
        columns = np.sort(self._column[np.asarray(positions, dtype=np.int64)]).tolist()
        params.imgIds = columns  # only the count is read; ids may repeat
        evals = ev._evalImgs_cpp
        chosen = [
            evals[(k * a_count + a) * n + i]
            for k in range(len(params.catIds))
            for a in range(a_count)
            for i in columns
        ]
        acc = faster_eval_api_cpp.COCOevalAccumulate(params, chosen)
        return summary(
            np.asarray(acc["precision"]), np.asarray(acc["recall"]), self.stats.t50, self.stats.t75
        )

    def _evaluate(self) -> Any:
        if self._evaluated is None:
            from faster_coco_eval import COCOeval_faster

            from visionbench.tasks.coco_validate import gc_paused

            with contextlib.redirect_stdout(io.StringIO()), gc_paused():
                ev = COCOeval_faster(
                    *_coco_pair(self._gt, self._preds), "bbox", print_function=_silent, separate_eval=True
                )
                ev.evaluate()
            self._evaluated = ev
        return self._evaluated


def summary(precision: np.ndarray, recall: np.ndarray, t50: int, t75: int) -> dict[str, float]:
    """COCO's twelve summary numbers from ``precision [T, R, K, A, M]`` and ``recall [T, K, A, M]``."""

    def mean(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(valid.mean()) if valid.size else float("nan")

    out = {
        "map": mean(precision[:, :, :, 0, -1]),
        "map_50": mean(precision[t50, :, :, 0, -1]),
        "map_75": mean(precision[t75, :, :, 0, -1]),
    }
    for a, label in enumerate(AREAS[1:], 1):
        out[f"map_{label}"] = mean(precision[:, :, :, a, -1])
    for key, a, m in RECALL_SLOTS:
        out[key] = mean(recall[:, :, a, m])
    return {key: out[key] for key in KEYS}


def _coco_pair(gt: Any, preds: Any) -> tuple[Any, Any]:
    from faster_coco_eval.core.coco import COCO

    base = {"images": gt["images"], "categories": gt["categories"]}
    objects = []
    for anns in ([{**a, "id": k} for k, a in enumerate(gt["annotations"], 1)], list(preds)):
        coco = COCO()
        coco.dataset = {**base, "annotations": anns}
        coco.createIndex()
        objects.append(coco)
    return objects[0], objects[1]


def _default_params(gt: Any, predictions: Any) -> Any:
    """COCO's default box parameters for this ground truth (every image and category, sorted)."""
    from faster_coco_eval import COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval_faster(*_coco_pair(gt, predictions), "bbox", print_function=_silent, separate_eval=True)
    return copy.deepcopy(ev.params)


def _silent(*_args: Any, **_kwargs: Any) -> None:
    return None
