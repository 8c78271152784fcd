"""COCO detection / instance-segmentation scoring on top of faster-coco-eval or pycocotools.

The numbers are the libraries' own: :func:`evaluate_coco` hands validated dicts
to ``COCOeval_faster`` (default) or pycocotools' ``COCOeval`` and reads the
accumulated ``eval['precision']`` / ``eval['recall']`` arrays. Both backends give
identical statistics (the test-suite checks it on randomised data).

Edge-case policy, shared by every function here:

* an image without annotations is still scored: its detections are false positives;
* a class without ground truth has no AP (COCO's -1), reported as ``nan`` and left
  out of every mean, exactly as ``COCOeval.summarize`` leaves it out;
* an area range without ground truth (e.g. no small objects) gives ``nan`` for its keys;
* crowd regions (``iscrowd=1``) are "ignore" regions: a detection matching one is
  neither a true nor a false positive, and crowds never count as objects to find;
* zero detections (an empty prediction list) give 0 for every key that has ground truth;
* ground-truth annotation ids are renumbered 1..N internally, because the COCO
  matchers treat id 0 as "unmatched".
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.coco_validate import (
    SEGM_AREAS,
    CocoGroundTruth,
    CocoPredictions,
    check_iou_type,
    ensure_predictions,
    gc_paused,
    load_coco_gt,
    load_coco_predictions,
)

__all__ = [
    "METRIC_KEYS",
    "CocoGroundTruth",
    "CocoPredictions",
    "CocoResult",
    "PerImageStats",
    "evaluate_coco",
    "load_coco_gt",
    "load_coco_predictions",
    "SEGM_AREAS",
    "per_image_stats",
    "predictions_to_coco",
]

BACKENDS = ("faster", "pycocotools", "native")
METRIC_KEYS = (
    "map", "map_50", "map_75", "map_small", "map_medium", "map_large",
    "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large",
)  # fmt: skip


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow the COCO libraries' progress prints so ``--json`` output stays clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _silent(*_args: Any, **_kwargs: Any) -> None:
    return None


def _check_max_dets(max_dets: Sequence[int]) -> list[int]:
    md = list(max_dets)
    if (
        not md
        or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in md)
        or md != sorted(set(md))
    ):
        raise ConfigError(f"max_dets must be increasing positive integers, got {max_dets!r}")
    return md


def _coco_objects(backend: str, gt: CocoGroundTruth, preds: CocoPredictions) -> tuple[Any, Any]:
    """Build the library's ground-truth and detection COCO objects, one index each.

    Ground-truth annotations are shallow-copied (the evaluators write ``ignore``,
    ``rle`` or a decoded ``segmentation`` into them) and renumbered 1..N.
    """
    if backend == "faster":
        from faster_coco_eval.core.coco import COCO
    else:
        from pycocotools.coco import COCO
    base = {"images": gt["images"], "categories": gt["categories"]}
    anns = [{**a, "id": k} for k, a in enumerate(gt["annotations"], 1)]
    objects = []
    for dataset in ({**base, "annotations": anns}, {**base, "annotations": preds}):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        objects.append(coco)
    return objects[0], objects[1]


def _run_eval(
    backend: str, gt: CocoGroundTruth, preds: CocoPredictions, iou_type: str, configure: Any = None
) -> Any:
    """evaluate() + accumulate() on fresh COCO objects; returns the evaluator."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    with _quiet(), gc_paused():
        coco_gt, coco_dt = _coco_objects(backend, gt, preds)
        if backend == "faster":
            from faster_coco_eval import COCOeval_faster

            ev = COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=_silent)
        else:
            from pycocotools.cocoeval import COCOeval

            ev = COCOeval(coco_gt, coco_dt, iou_type)
        if configure is not None:
            configure(ev.params)
        ev.evaluate()
        ev.accumulate()
    return ev


def _valid_mean(values: np.ndarray) -> float:
    """COCO's summary rule: mean over entries > -1; ``nan`` where COCO would print -1."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else math.nan


@dataclass
class CocoResult:
    """Scores of one COCO evaluation.

    ``metrics``: :data:`METRIC_KEYS` in ``COCOeval.stats`` order (for other
    ``max_dets`` the ``mar_<n>`` keys follow them); COCO's -1 sentinel (no ground
    truth in an area range or at all) becomes ``float('nan')``.
    ``per_class``: category name -> ``ap`` (AP@[.5:.95]), ``ap_50``, ``ap_75``,
    ``ar_<maxdet>``, read from the accumulated arrays; ``nan`` for a class without
    ground truth. ``segm_area`` (segm): ``"mask"`` or ``"box"``, where the detections'
    areas came from (see :func:`load_coco_predictions`). ``pr_curves``: per category name and ``"all"`` (mean over the
    classes that have ground truth): the 101 recall thresholds and the
    interpolated precision at IoU .50 and .75 (area all, largest max_dets).
    """

    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    pr_curves: dict[str, dict]
    iou_type: str = "bbox"
    backend: str = "faster"
    max_dets: tuple[int, ...] = (1, 10, 100)
    counts: dict[str, int] = field(default_factory=dict)
    segm_area: str | None = None  # segm: "mask" or "box", where the detections' areas came from

    def to_json(self) -> dict:
        """A JSON-ready dict; ``nan`` becomes ``None`` (JSON has no NaN)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if math.isnan(v) else v
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return v

        area = {"segm_area": self.segm_area} if self.segm_area is not None else {}
        return clean(
            {
                "iou_type": self.iou_type,
                "backend": self.backend,
                "max_dets": list(self.max_dets),
                **area,
                "counts": self.counts,
                "metrics": self.metrics,
                "per_class": self.per_class,
                "pr_curves": self.pr_curves,
            }
        )


def _result(ev: Any, gt: CocoGroundTruth, preds: CocoPredictions, iou_type: str, backend: str) -> CocoResult:
    p = ev.params
    precision = np.asarray(ev.eval["precision"])  # [T, R, K, A, M]
    recall = np.asarray(ev.eval["recall"])  # [T, K, A, M]
    t50, t75 = (int(np.flatnonzero(np.isclose(p.iouThrs, t))[0]) for t in (0.5, 0.75))
    areas = {label: i for i, label in enumerate(p.areaRngLbl)}
    md = list(p.maxDets)

    metrics = {
        "map": _valid_mean(precision[:, :, :, 0, -1]),
        "map_50": _valid_mean(precision[t50, :, :, 0, -1]),
        "map_75": _valid_mean(precision[t75, :, :, 0, -1]),
    }
    for label in ("small", "medium", "large"):
        metrics[f"map_{label}"] = _valid_mean(precision[:, :, :, areas[label], -1])
    for m, n in enumerate(md):
        metrics[f"mar_{n}"] = _valid_mean(recall[:, :, 0, m])
    for label in ("small", "medium", "large"):
        metrics[f"mar_{label}"] = _valid_mean(recall[:, :, areas[label], -1])

    names = {c["id"]: c["name"] for c in gt["categories"]}
    rec_thrs = [float(r) for r in p.recThrs]
    per_class: dict[str, dict[str, float]] = {}
    curves: dict[str, dict] = {}
    for k, cat_id in enumerate(p.catIds):
        pk = precision[:, :, k, 0, -1]
        per_class[names[cat_id]] = {
            "ap": _valid_mean(pk),
            "ap_50": _valid_mean(pk[t50]),
            "ap_75": _valid_mean(pk[t75]),
            f"ar_{md[-1]}": _valid_mean(recall[:, k, 0, -1]),
        }
        curves[names[cat_id]] = {
            "recall": rec_thrs,
            "precision_50": np.where(pk[t50] > -1, pk[t50], np.nan).tolist(),
            "precision_75": np.where(pk[t75] > -1, pk[t75], np.nan).tolist(),
        }
    mean_curves = {}
    for key, t in (("precision_50", t50), ("precision_75", t75)):
        block = precision[t, :, :, 0, -1]  # [R, K]
        valid = block > -1
        with np.errstate(invalid="ignore"):
            mean_curves[key] = (np.where(valid, block, 0).sum(1) / valid.sum(1)).tolist()
    curves["all"] = {"recall": rec_thrs, **mean_curves}
    counts = {
        "images": len(gt["images"]),
        "annotations": len(gt["annotations"]),
        "crowd": sum(a["iscrowd"] for a in gt["annotations"]),
        "categories": len(gt["categories"]),
        "predictions": len(preds),
    }
    return CocoResult(metrics, per_class, curves, iou_type, backend, tuple(md), counts)


def evaluate_coco(
    gt: dict,
    predictions: Sequence[dict],
    *,
    iou_type: str = "bbox",
    backend: str = "faster",
    max_dets: Sequence[int] = (1, 10, 100),
    segm_area: str | None = None,
    workers: int = 1,
) -> CocoResult:
    """Score COCO results against COCO ground truth (bbox or segm) with the library of ``backend``.

    ``gt`` is best the output of :func:`load_coco_gt` and ``predictions`` that of
    :func:`load_coco_predictions` (same ``gt`` object and ``iou_type``); anything
    else is validated first. ``backend`` is ``"faster"`` (faster-coco-eval), ``"pycocotools"``
    or, for boxes, ``"native"`` (faster-coco-eval's matching and accumulation compiled with numba,
    :mod:`visionbench.tasks.coco_native`); all give the same numbers. See the module docstring for
    the edge-case policy (empty images, classes without ground truth, crowds).
    ``segm_area`` (segm only: ``"pycocotools"``, ``"mask"`` or ``"box"``) is the area
    convention of :func:`load_coco_predictions`; ``None`` keeps the one validated
    predictions were loaded with (``"pycocotools"`` for anything else).
    ``workers`` > 1 (faster backend) evaluates groups of categories in that many forked
    processes and merges them: the same numbers (:mod:`visionbench.tasks.coco_parallel`).
    """
    check_iou_type(iou_type)
    md = _check_max_dets(max_dets)
    gt = load_coco_gt(gt)
    if iou_type == "segm" and gt.missing_segmentation is not None:
        i = gt.missing_segmentation
        raise DataError(
            f"{gt.name}: annotations[{i}] (id {gt['annotations'][i]['id']}): no 'segmentation', "
            "which iou_type='segm' needs for every annotation"
        )
    preds = ensure_predictions(predictions, gt, iou_type, segm_area)

    def configure(params: Any) -> None:
        params.maxDets = md

    if backend == "native":
        if iou_type != "bbox":
            raise ConfigError("backend 'native' scores boxes (iou_type='bbox') only")
        from visionbench.tasks.coco_native import evaluate_boxes

        return evaluate_boxes(gt, preds, md)[0]
    if workers > 1 and backend == "faster" and len(gt["categories"]) > 1:
        from visionbench.tasks.coco_parallel import run_eval_parallel

        ev = run_eval_parallel(gt, preds, iou_type, configure, workers)
    else:
        ev = _run_eval(backend, gt, preds, iou_type, configure)
    result = _result(ev, gt, preds, iou_type, backend)
    result.segm_area = preds.area_source if iou_type == "segm" else None
    return result


@dataclass
class PerImageStats:
    """Per-image matching counts, aligned with ``image_ids`` (the ground truth's image order).

    ``num_gt`` counts non-crowd objects, ``num_crowd`` crowd regions, ``num_dets``
    all detections of the image, ``tp`` detections matched (COCO's greedy matching
    per class, best score first, ``max_dets`` per image and class) to a non-crowd
    object with IoU >= the threshold. Sums over any resample of images give the
    micro precision ``tp / num_dets`` and recall ``tp / num_gt`` for a bootstrap.
    """

    image_ids: np.ndarray
    num_gt: np.ndarray
    num_crowd: np.ndarray
    num_dets: np.ndarray
    tp: np.ndarray
    iou_threshold: float = 0.5

    def to_json(self) -> dict:
        return {
            "iou_threshold": self.iou_threshold,
            **{k: getattr(self, k).tolist() for k in ("image_ids", "num_gt", "num_crowd", "num_dets", "tp")},
        }


def per_image_stats(
    gt: dict,
    predictions: Sequence[dict],
    *,
    iou_type: str = "bbox",
    iou_threshold: float = 0.5,
    max_dets: int = 100,
) -> PerImageStats:
    """Per-image counts of objects, detections and true positives at one IoU threshold.

    Runs faster-coco-eval once with a single IoU threshold, the "all" area range
    and ``max_dets``, and reads its matched (detection, object) pairs; matches to
    crowd regions are ignored, as COCO ignores them.
    """
    check_iou_type(iou_type)
    if not 0.0 < iou_threshold <= 1.0:
        raise ConfigError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    _check_max_dets([max_dets])
    gt = load_coco_gt(gt)
    preds = ensure_predictions(predictions, gt, iou_type)

    def configure(params: Any) -> None:
        params.iouThrs = np.array([iou_threshold])
        params.areaRng, params.areaRngLbl, params.maxDets = [[0.0, 1e10]], ["all"], [max_dets]

    ev = _run_eval("faster", gt, preds, iou_type, configure)
    image_ids = np.fromiter((im["id"] for im in gt["images"]), np.int64, len(gt["images"]))
    order = np.argsort(image_ids)
    index = lambda ids: order[np.searchsorted(image_ids, ids, sorter=order)]  # noqa: E731
    n = len(image_ids)
    ann_img = index(np.fromiter((a["image_id"] for a in gt["annotations"]), np.int64, len(gt["annotations"])))
    crowd = np.fromiter((a["iscrowd"] for a in gt["annotations"]), np.int64, len(gt["annotations"])).astype(
        bool
    )
    det_img = index(np.fromiter((d["image_id"] for d in preds), np.int64, len(preds)))
    pairs = np.array([k.split("_", 1) for k in ev.eval.get("matched", {})], dtype=np.int64).reshape(-1, 2)
    true_pos = pairs[~crowd[pairs[:, 1] - 1], 0] - 1  # ids are 1-based positions
    return PerImageStats(
        image_ids=image_ids,
        num_gt=np.bincount(ann_img[~crowd], minlength=n),
        num_crowd=np.bincount(ann_img[crowd], minlength=n),
        num_dets=np.bincount(det_img, minlength=n),
        tp=np.bincount(det_img[true_pos], minlength=n),
        iou_threshold=float(iou_threshold),
    )


def _as_numpy(x: Any, what: str, image_id: int) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"image_id {image_id}: '{what}' is not an array ({exc})") from None


def predictions_to_coco(image_id: int, pred: dict) -> list[dict]:
    """Canonical detection output of one image -> COCO results entries.

    ``pred`` holds ``boxes`` [K, 4] xyxy in original pixels, ``scores`` [K],
    ``labels`` [K] category ids, optionally ``masks`` [K, H, W] bool. Boxes become
    xywh in float64 (float32 would move AP in the 4th decimal); masks become
    compressed RLE with str counts, so the entries are JSON-ready.
    """
    for key in ("boxes", "scores", "labels"):
        if key not in pred:
            raise DataError(f"image_id {image_id}: prediction has no '{key}'")
    boxes = _as_numpy(pred["boxes"], "boxes", image_id).astype(np.float64).reshape(-1, 4)
    scores = _as_numpy(pred["scores"], "scores", image_id).astype(np.float64).reshape(-1)
    labels = _as_numpy(pred["labels"], "labels", image_id).reshape(-1)
    k = len(boxes)
    if len(scores) != k or len(labels) != k:
        raise DataError(f"image_id {image_id}: {k} boxes but {len(scores)} scores and {len(labels)} labels")
    if k and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"image_id {image_id}: 'labels' must be integer category ids, got dtype {labels.dtype}"
        )
    bad = (
        ~np.isfinite(boxes).all(1)
        | (boxes[:, 2] < boxes[:, 0])
        | (boxes[:, 3] < boxes[:, 1])
        | ~np.isfinite(scores)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"image_id {image_id}: detection {i} has box {boxes[i].tolist()} / score {scores[i]} (need finite xyxy, x2>=x1, y2>=y1)"
        )
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).tolist()
    entries = [
        {"image_id": int(image_id), "category_id": c, "bbox": b, "score": s}
        for c, b, s in zip(labels.tolist(), xywh, scores.tolist(), strict=True)
    ]
    if pred.get("masks") is not None:
        from pycocotools import mask as mask_utils

        masks = _as_numpy(pred["masks"], "masks", image_id)
        if masks.ndim != 3 or len(masks) != k:
            raise DataError(
                f"image_id {image_id}: 'masks' must be [K, H, W] with K={k}, got shape {masks.shape}"
            )
        if masks.dtype != bool and not np.issubdtype(masks.dtype, np.integer):
            raise DataError(
                f"image_id {image_id}: 'masks' must be boolean (threshold soft masks first), got {masks.dtype}"
            )
        if k:
            rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
            for entry, rle in zip(entries, rles, strict=True):
                entry["segmentation"] = {
                    "size": [int(s) for s in rle["size"]],
                    "counts": rle["counts"].decode("ascii"),
                }
    return entries
