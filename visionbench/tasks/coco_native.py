"""COCO box evaluation on arrays, compiled with numba: faster-coco-eval's numbers, one pass over the data.

faster-coco-eval spends most of its time in Python (an index of half a million dicts, one IoU call
per image and category) before its C++ matching and accumulation run. This module does the same
work on the columns that validation already built (:class:`~visionbench.tasks.coco_predictions.
CocoPredictions` keeps them), with the same arithmetic, in compiled loops:

* **matching** (:func:`_match_pairs`): per image and category, detections in descending score order
  (stable, at most ``maxDets[-1]``), box IoU as faster-coco-eval's ``bbIou`` computes it (a crowd
  region's union is the detection's area), then, for every area range and IoU threshold, COCO's greedy
  matching over ground truth sorted by its ignore flag (crowd regions matchable many times, a match to
  an ignored object ignored, an unmatched detection outside the area range ignored). Each kept
  detection gets a status per (area range, threshold): false positive, true positive or ignored;
* **accumulation** (:func:`_accumulate`): per category, area range and detection budget, the
  detections in COCO's global order (descending score, stable over images in id order), running
  true/false positive counts, precision made non-increasing from the right, read at the first point
  whose recall reaches each recall threshold: ``eval['precision']`` ``[T, R, K, A, M]`` and
  ``eval['recall']`` ``[T, K, A, M]``, -1 where a category has no unignored ground truth.

The statuses are kept (:class:`BoxMatches`) and feed the per-image statistics and the bootstrap
(:mod:`visionbench.tasks.coco_native_resample`) without matching again. Equality with faster-coco-eval
is checked by the tests on randomised data with crowds, ties, empty images and categories.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np

FP, TP, IGNORED = 0, 1, 2


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether numba can be imported (the compiled path); without it callers use faster-coco-eval."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _kernels() -> SimpleNamespace:
    from visionbench.tasks import coco_native_kernels as kernels

    return SimpleNamespace(
        match=kernels.match_pairs, accumulate=kernels.accumulate, pair_ap=kernels.pair_ap_50
    )


def default_params(image_ids: Any, category_ids: Any, max_dets: Any = (1, 10, 100)) -> Any:
    """faster-coco-eval's default box parameters for these ids (sorted, unique) and ``max_dets``."""
    from faster_coco_eval.core.cocoeval import Params

    params = Params(iouType="bbox")
    params.imgIds = [int(i) for i in np.unique(np.asarray(image_ids, dtype=np.int64))]
    params.catIds = [int(c) for c in np.unique(np.asarray(category_ids, dtype=np.int64))]
    params.maxDets = sorted(int(m) for m in max_dets)
    return params


def _columns(entries: list, *, boxes: bool = True) -> dict[str, np.ndarray]:
    n = len(entries)
    out = {
        "image_id": np.fromiter((e["image_id"] for e in entries), np.int64, n),
        "category_id": np.fromiter((e["category_id"] for e in entries), np.int64, n),
        "area": np.fromiter((e["area"] for e in entries), np.float64, n),
    }
    if boxes:
        from itertools import chain

        out["bbox"] = np.fromiter(chain.from_iterable(e["bbox"] for e in entries), np.float64, 4 * n).reshape(
            n, 4
        )
    return out


class BoxMatches:
    """COCO's box matching of one (ground truth, detections) pair, kept per detection.

    ``gt`` is a validated ground truth and ``preds`` validated box predictions of it; ``params`` a
    faster-coco-eval ``Params`` (default: every image and category of ``gt``, ``maxDets`` 1/10/100).
    """

    def __init__(self, gt: Any, preds: Any, params: Any = None) -> None:
        self.params = params or default_params(
            [im["id"] for im in gt["images"]], [c["id"] for c in gt["categories"]]
        )
        p = self.params
        img_ids = np.asarray(p.imgIds, dtype=np.int64)
        cat_ids = np.asarray(p.catIds, dtype=np.int64)
        self.num_images, self.num_cats = len(img_ids), len(cat_ids)
        self.iou_thrs = np.asarray(p.iouThrs, dtype=np.float64)
        self.rec_thrs = np.asarray(p.recThrs, dtype=np.float64)
        self.area_rng = np.asarray(p.areaRng, dtype=np.float64).reshape(-1, 2)
        self.max_dets = np.asarray(p.maxDets, dtype=np.int64)

        g = _columns(gt["annotations"])
        g_crowd = np.fromiter((a.get("iscrowd", 0) for a in gt["annotations"]), np.int64, len(g["area"]))
        d = getattr(preds, "columns", None) or _columns(preds)
        scores = d.get("score")
        if scores is None:
            scores = np.fromiter((e["score"] for e in preds), np.float64, len(preds))
        g_img, g_cat = _positions(g["image_id"], img_ids), _positions(g["category_id"], cat_ids)
        d_img, d_cat = _positions(d["image_id"], img_ids), _positions(d["category_id"], cat_ids)
        # only the images and categories of params take part, as in COCOeval
        g_keep = (g_img >= 0) & (g_cat >= 0)
        d_keep = (d_img >= 0) & (d_cat >= 0)

        g_index = np.flatnonzero(g_keep)
        g_index = g_index[np.lexsort((g_img[g_index], g_cat[g_index]))]  # stable: file order in a pair
        d_index = np.flatnonzero(d_keep)
        d_index = d_index[np.lexsort((-scores[d_index], d_img[d_index], d_cat[d_index]))]
        n_img = self.num_images
        d_pair = d_cat[d_index] * n_img + d_img[d_index]
        starts = np.flatnonzero(np.r_[True, d_pair[1:] != d_pair[:-1]]) if d_index.size else np.zeros(0, int)
        rank = np.arange(d_index.size) - np.repeat(starts, np.diff(np.r_[starts, d_index.size]))
        kept = rank < int(self.max_dets[-1])
        d_index, d_pair, rank = d_index[kept], d_pair[kept], rank[kept]
        g_pair = g_cat[g_index] * n_img + g_img[g_index]

        d_start = np.flatnonzero(np.r_[True, d_pair[1:] != d_pair[:-1]]) if d_pair.size else starts[:0]
        d_end = np.r_[d_start[1:], d_pair.size].astype(np.int64)
        pairs = self.pairs = d_pair[d_start]  # sorted: detections are in (category, image) order
        g_start = np.searchsorted(g_pair, pairs, side="left")
        g_end = np.searchsorted(g_pair, pairs, side="right")

        self.pair_start, self.pair_end = d_start, d_end
        self.det_index = d_index  # position in ``preds`` of each kept detection, in pair order
        self.det_image = d_img[d_index]  # image column (position in params.imgIds)
        self.det_cat = d_cat[d_index]
        self.det_rank = rank
        self.det_score = scores[d_index]
        self.gt_index = g_index
        self.gt_crowd = g_crowd[g_index].astype(np.bool_)
        g_area = g["area"][g_index]
        a_count, t_count = len(self.area_rng), len(self.iou_thrs)
        self.status = np.zeros((a_count, t_count, d_index.size), dtype=np.int8)
        self.matched_gt = np.full((t_count, d_index.size), -1, dtype=np.int64)  # area "all", per threshold
        _kernels().match(
            d_start,
            d_end,
            g_start,
            g_end,
            np.ascontiguousarray(d["bbox"][d_index]),
            d["area"][d_index],
            np.ascontiguousarray(g["bbox"][g_index]),
            g_area,
            self.gt_crowd,
            self.area_rng,
            self.iou_thrs,
            self.status,
            self.matched_gt,
        )
        # unignored objects per (area range, category, image)
        npig = np.zeros((a_count, self.num_cats * n_img), dtype=np.float64)
        for a, (low, high) in enumerate(self.area_rng):
            counted = ~self.gt_crowd & (g_area >= low) & (g_area <= high)
            npig[a] = np.bincount(g_pair[counted], minlength=self.num_cats * n_img)
        self.npig = npig.reshape(a_count, self.num_cats, n_img)
        self.gt_image = g_img[g_index]
        # COCO's global order per category: descending score, then image column, then rank in the image
        self.order = np.lexsort((self.det_rank, self.det_image, -self.det_score, self.det_cat))
        ordered_cat = self.det_cat[self.order]
        self.cat_start = np.searchsorted(ordered_cat, np.arange(self.num_cats + 1), side="left")

    def evaluate(self) -> Any:
        """An object shaped like an evaluated ``COCOeval_faster``: ``params`` and ``eval`` precision/recall."""
        t, r, k = len(self.iou_thrs), len(self.rec_thrs), self.num_cats
        a, m = len(self.area_rng), len(self.max_dets)
        precision = np.full((t, r, k, a, m), -1.0)
        recall = np.full((t, k, a, m), -1.0)
        _kernels().accumulate(
            self.cat_start,
            np.ascontiguousarray(self.status[:, :, self.order]),
            self.det_rank[self.order],
            self.npig.sum(axis=2),
            self.max_dets,
            self.rec_thrs,
            precision,
            recall,
        )
        return SimpleNamespace(params=self.params, eval={"precision": precision, "recall": recall})

    def per_image_counts(self, t: int = 0) -> dict[str, np.ndarray]:
        """Per image column: non-crowd objects, crowd regions, kept detections and true positives
        (detections matched, at threshold ``t``, area "all", to a non-crowd object)."""
        n = self.num_images
        hit = self.matched_gt[t]
        matched = hit >= 0
        to_object = np.zeros(hit.size, dtype=bool)
        to_object[matched] = ~self.gt_crowd[hit[matched]]
        return {
            "num_gt": np.bincount(self.gt_image[~self.gt_crowd], minlength=n),
            "num_crowd": np.bincount(self.gt_image[self.gt_crowd], minlength=n),
            "tp": np.bincount(self.det_image[to_object], minlength=n),
        }


def image_aps(matches: BoxMatches, rec_thrs: np.ndarray) -> np.ndarray:
    """Each image's own AP at the first IoU threshold (area "all"), per image column: the mean over
    its categories with objects of the category's precision at ``rec_thrs`` (0 without any hit),
    ``nan`` for an image without objects -- :func:`visionbench.tasks.box_matching.image_ap`'s numbers."""
    n, k_count = matches.num_images, matches.num_cats
    positives = matches.npig[0]  # [K, N]
    scored = np.flatnonzero(positives.ravel()[matches.pairs] > 0)  # pairs with detections and objects
    pairs = matches.pairs[scored]
    q = np.zeros((scored.size, len(rec_thrs)))
    _kernels().pair_ap(
        matches.pair_start[scored],
        matches.pair_end[scored],
        matches.status[0, 0],
        pairs,
        positives.ravel(),
        rec_thrs,
        q,
    )
    per_pair = np.zeros(k_count * n)
    per_pair[pairs] = q.mean(axis=1)
    wanted = positives.T > 0  # [N, K]: the categories each image has objects of, in category order
    ap = per_pair.reshape(k_count, n).T
    out = np.full(n, np.nan)
    for i in np.flatnonzero(wanted.any(axis=1)):
        out[i] = np.mean(ap[i, wanted[i]])
    return out


def areas_within_all(matches: BoxMatches, gt: Any, preds: Any) -> bool:
    """Whether every area lies in COCO's "all" range (:func:`image_aps` then equals ``image_ap``, which
    ignores only crowd matches)."""
    high = float(matches.area_rng[0, 1])
    gt_max = max((a["area"] for a in gt["annotations"]), default=0.0)
    if getattr(preds, "columns", None) is None:
        det_max = max((d["area"] for d in preds), default=0.0)
    else:
        det_max = float(preds.columns["area"].max(initial=0.0))
    return gt_max <= high and det_max <= high


def _positions(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Index of each value in ``sorted_ids``; -1 where absent."""
    if not sorted_ids.size:
        return np.full(values.shape, -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, values)
    pos = np.minimum(pos, sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == values, pos, -1)


def preferred_backend(iou_type: str) -> str:
    """``native`` for boxes when numba is installed (the same numbers, faster), else ``faster``."""
    return "native" if iou_type == "bbox" and available() else "faster"


def evaluate_boxes(gt: Any, preds: Any, max_dets: Any = (1, 10, 100)) -> tuple[Any, BoxMatches]:
    """The :class:`~visionbench.tasks.coco.CocoResult` of validated boxes, and the matches behind it."""
    from visionbench.tasks.coco import _result

    params = default_params([im["id"] for im in gt["images"]], [c["id"] for c in gt["categories"]], max_dets)
    matches = BoxMatches(gt, preds, params)
    return _result(matches.evaluate(), gt, preds, "bbox", "native"), matches
