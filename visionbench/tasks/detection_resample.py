"""COCO box mAP of many image resamples at once, equal to faster-coco-eval's accumulation.

The bootstrap of ``map`` / ``map_50`` needs COCO's accumulation for each resample of images
(with repeats). :class:`~visionbench.tasks.detection_bootstrap.ImageBootstrap` calls
faster-coco-eval's C++ accumulation once per resample; this module computes the same numbers
for a block of resamples with numpy:

* each image is matched once, COCO's way (detections sorted by score within the image, at most
  100, greedy matching per IoU threshold over ground truth sorted by its ignore flag, crowd
  regions matchable many times), giving per detection a true/false-positive/ignored flag;
* per category, all detections are put in COCO's global order once (stable sort by score over
  images in id order); a resample is then a vector of image multiplicities ``w``, and the
  cumulative true and false positives of the resample are cumulative sums of ``w[image] * flag``
  along that order, in float64 integers like COCO's counters;
* precision, its right-to-left running maximum and the first point whose recall reaches each of
  the 101 recall thresholds are read off those sums exactly as COCO's accumulation does.

Repeating an image repeats each of its detections in place. That equals COCO's concatenation
("the image again, right after itself") except inside a group of equal scores that holds two or
more detections of one repeated image: there COCO interleaves the copies. Resamples that repeat
such an image are left to the C++ path (:meth:`ResampledMap.exact_rows` says which), so every
number equals the one-resample-at-a-time computation; a test checks it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_DETS = 100


class ResampledMap:
    """Per-detection match flags of a (ground truth, detections) pair, ready for block resampling."""

    def __init__(self, gt: dict, predictions: list[dict], params: Any, sorted_image_ids: list[int]) -> None:
        from pycocotools import mask as mask_utils

        self.iou_thrs = np.asarray(params.iouThrs, dtype=np.float64)
        self.rec_thrs = np.asarray(params.recThrs, dtype=np.float64)
        self.cat_ids = [int(c) for c in params.catIds]
        self.num_images = len(sorted_image_ids)
        column_of = {int(i): k for k, i in enumerate(sorted_image_ids)}
        gts: dict[tuple[int, int], list[dict]] = {}
        for a in gt["annotations"]:
            gts.setdefault((int(a["image_id"]), int(a["category_id"])), []).append(a)
        dts: dict[tuple[int, int], list[dict]] = {}
        for d in predictions:
            dts.setdefault((int(d["image_id"]), int(d["category_id"])), []).append(d)
        t = len(self.iou_thrs)
        self.npig = np.zeros((len(self.cat_ids), self.num_images), dtype=np.float64)
        self.categories: list[dict[str, np.ndarray]] = []
        self.tie_images: set[int] = set()
        for k, cat in enumerate(self.cat_ids):
            columns, scores, tps, fps = [], [], [], []
            for image_id in sorted_image_ids:
                col = column_of[int(image_id)]
                g = gts.get((int(image_id), cat), [])
                ignore = np.asarray(
                    [bool(a.get("iscrowd", 0)) for a in g], dtype=bool
                )  # iscrowd wins over any "ignore" key, as in pycocotools
                self.npig[k, col] = float((~ignore).sum())
                d = dts.get((int(image_id), cat), [])
                if not d:
                    continue
                d_scores = np.asarray([x["score"] for x in d], dtype=np.float64)
                order = np.argsort(-d_scores, kind="stable")[:MAX_DETS]
                d_scores = d_scores[order]
                tp, fp = _match(d, order, g, ignore, self.iou_thrs, mask_utils)
                if _ties_that_matter(d_scores, tp, fp):
                    self.tie_images.add(col)
                columns.append(np.full(len(order), col, dtype=np.int64))
                scores.append(d_scores)
                tps.append(tp)
                fps.append(fp)
            self.categories.append(_entry(columns, scores, tps, fps, t))

    @classmethod
    def from_flags(
        cls,
        iou_thrs: Any,
        rec_thrs: Any,
        cat_ids: list[int],
        npig: np.ndarray,
        per_category: list[dict[str, list]],
        tie_images: set[int],
    ) -> ResampledMap:
        """Built from match flags computed elsewhere: per category, each image's ``column``, ``score``,
        ``tp`` and ``fp`` arrays (detections in score order), and the ``[K, N]`` unignored object counts."""
        self = cls.__new__(cls)
        self.iou_thrs = np.asarray(iou_thrs, dtype=np.float64)
        self.rec_thrs = np.asarray(rec_thrs, dtype=np.float64)
        self.cat_ids = list(cat_ids)
        self.num_images = npig.shape[1]
        self.npig = np.asarray(npig, dtype=np.float64)
        self.tie_images = tie_images
        t = len(self.iou_thrs)
        self.categories = [_entry(e["column"], e["score"], e["tp"], e["fp"], t) for e in per_category]
        return self

    def exact_rows(self, counts: np.ndarray) -> np.ndarray:
        """Rows (resamples) that repeat an image holding equal scores: these need the C++ path."""
        if not self.tie_images:
            return np.zeros(len(counts), dtype=bool)
        cols = np.fromiter(self.tie_images, np.int64, len(self.tie_images))
        return (counts[:, cols] >= 2).any(axis=1)

    def precision(self, counts: np.ndarray) -> np.ndarray:
        """COCO's precision array ``[B, T, R, K]`` for image multiplicities ``counts`` ``[B, N]``.

        Only true positives move recall, and precision only falls along a run of false positives,
        so COCO's precision envelope and its recall-threshold look-ups are decided at the true
        positives alone: the running sums are read there, false positives before each included.
        The sums are of integers in float64, exact like COCO's integer counters.
        """
        b, t, r, kk = len(counts), len(self.iou_thrs), len(self.rec_thrs), len(self.cat_ids)
        out = np.full((b, t, r, kk), -1.0)
        weights = counts.astype(np.float64)
        for k, entry in enumerate(self.categories):
            npig = weights @ self.npig[k]
            valid = np.flatnonzero(npig > 0)
            if not valid.size:
                continue
            w = weights[np.ix_(valid, entry["column"])]  # [V, D]: each detection's multiplicity
            seen = np.cumsum(w, axis=1)  # detections so far, whatever their outcome
            for ti in range(t):
                positions = np.flatnonzero(entry["tp"][ti])
                if not positions.size:
                    out[valid, ti, :, k] = 0.0  # ground truth but no true positive
                    continue
                tpc = np.cumsum(w[:, positions], axis=1)
                fpc = seen[:, positions] - tpc
                ignored = entry["ignored"][ti]
                if ignored.any():
                    fpc -= np.cumsum(w * ignored, axis=1)[:, positions]
                with np.errstate(invalid="ignore", divide="ignore"):
                    recall = tpc / npig[valid, None]
                    total = tpc + fpc
                    prec = np.where(total > 0, tpc / np.where(total > 0, total, 1.0), 0.0)
                envelope = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
                idx = _lower_bound_rows(recall, self.rec_thrs)
                inside = idx < positions.size
                q = np.zeros((len(valid), r))
                q[inside] = np.take_along_axis(envelope, np.where(inside, idx, 0), axis=1)[inside]
                out[valid, ti, :, k] = q
        return out


def _entry(columns: list, scores: list, tps: list, fps: list, t: int) -> dict[str, np.ndarray]:
    """One category's detections in COCO's global order (stable by score over images in id order)."""
    if not scores:
        empty = np.zeros((t, 0), dtype=bool)
        return {"column": np.zeros(0, dtype=np.int64), "tp": empty, "ignored": empty}
    all_scores = np.concatenate(scores)
    glob = np.argsort(-all_scores, kind="stable")
    tp_all = np.concatenate(tps, axis=1)[:, glob]
    fp_all = np.concatenate(fps, axis=1)[:, glob]
    # precision is only read at true positives: the detections after the last one never matter
    hits = np.flatnonzero(tp_all.any(axis=0))
    cut = int(hits[-1]) + 1 if hits.size else 0
    return {
        "column": np.concatenate(columns)[glob][:cut],
        "tp": tp_all[:, :cut],
        "ignored": ~(tp_all | fp_all)[:, :cut],
    }


def _lower_bound_rows(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per row of the row-sorted ``values`` ``[V, P]``: the first index whose value is >= each threshold.

    That index is the number of values below the threshold. With ``c`` = how many (sorted) thresholds
    each value reaches, a value is below threshold ``j`` exactly when ``c <= j``, so the counts are a
    running sum of a per-row histogram of ``c``: exact float comparisons, no loop over rows.
    """
    v, r = values.shape[0], len(thresholds)
    reached = np.searchsorted(thresholds, values.ravel(), side="right").reshape(values.shape)
    flat = (reached + (np.arange(v) * (r + 1))[:, None]).ravel()
    histogram = np.bincount(flat, minlength=v * (r + 1)).reshape(v, r + 1)
    return np.cumsum(histogram, axis=1)[:, :r]


def _match(
    dets: list[dict],
    order: np.ndarray,
    gts: list[dict],
    ignore: np.ndarray,
    thresholds: np.ndarray,
    mask_utils: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """COCO's greedy matching of one image and category: true- and false-positive flags ``[T, D]``."""
    t, n = len(thresholds), len(order)
    tp = np.zeros((t, n), dtype=bool)
    fp = np.zeros((t, n), dtype=bool)
    if not gts:
        fp[:] = True
        return tp, fp
    g_order = np.argsort(ignore.astype(np.int8), kind="stable")
    g_ignore = ignore[g_order]
    crowd = np.asarray([bool(gts[i].get("iscrowd", 0)) for i in g_order], dtype=bool)
    d_boxes = [dets[i]["bbox"] for i in order]
    g_boxes = [gts[i]["bbox"] for i in g_order]
    ious = np.asarray(mask_utils.iou(d_boxes, g_boxes, [int(c) for c in crowd]), dtype=np.float64).reshape(
        n, len(g_order)
    )
    for ti, thr in enumerate(thresholds):
        taken = np.zeros(len(g_order), dtype=bool)
        for di in range(n):
            best, match = min(float(thr), 1 - 1e-10), -1
            for gi in range(len(g_order)):
                if taken[gi] and not crowd[gi]:
                    continue
                if match >= 0 and not g_ignore[match] and g_ignore[gi]:
                    break
                if ious[di, gi] >= best:
                    best, match = ious[di, gi], gi
            if match >= 0:
                taken[match] = True
                if not g_ignore[match]:
                    tp[ti, di] = True
            else:
                fp[ti, di] = True
    return tp, fp


def _ties_that_matter(scores: np.ndarray, tp: np.ndarray, fp: np.ndarray) -> bool:
    """Whether equal scores in one image join detections whose outcome differs at some threshold.

    Only then does COCO's interleaving of a repeated image's copies differ from repeating each
    detection in place.
    """
    same = np.flatnonzero(scores[1:] == scores[:-1])
    if not same.size:
        return False
    flags = np.concatenate([tp, fp], axis=0)  # [2T, D]
    return bool(np.any(flags[:, same] != flags[:, same + 1]))


def valid_mean(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else math.nan
