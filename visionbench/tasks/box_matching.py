"""COCO's matching of one image's detections to its ground truth at one IoU threshold, and its AP.

Category by category, detections in descending score order (the first 100, COCO's ``maxDets``)
each take the unmatched ground-truth box they overlap most, at IoU 0.5 or more; a detection that
only overlaps a crowd region is ignored, neither true nor false. The per-image AP is COCO's:
per category with ground truth, precision interpolated at 101 recall points, then the mean.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_DETS = 100  # COCO's detections per image and category
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def _iou_matrix(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xywh boxes; against a crowd box the union is the detection's own area (COCO's rule)."""
    if not len(dets) or not len(gts):
        return np.zeros((len(dets), len(gts)))
    dx1, dy1 = dets[:, 0:1], dets[:, 1:2]
    dx2, dy2 = dx1 + dets[:, 2:3], dy1 + dets[:, 3:4]
    gx1, gy1 = gts[:, 0], gts[:, 1]
    gx2, gy2 = gx1 + gts[:, 2], gy1 + gts[:, 3]
    inter = np.clip(np.minimum(dx2, gx2) - np.maximum(dx1, gx1), 0, None) * np.clip(
        np.minimum(dy2, gy2) - np.maximum(dy1, gy1), 0, None
    )
    det_area = dets[:, 2:3] * dets[:, 3:4]
    union = np.where(crowd[None, :], det_area, det_area + gts[:, 2] * gts[:, 3] - inter)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_boxes(
    annotations: list[dict[str, Any]], detections: list[dict[str, Any]], iou: float = 0.5
) -> tuple[list[str], list[str]]:
    """Status of every annotation (``matched``, ``missed``, ``crowd``) and detection (``tp``, ``fp``, ``ignored``)."""
    gt_status = ["crowd" if a.get("iscrowd") else "missed" for a in annotations]
    det_status = ["fp"] * len(detections)
    for category in {d["category_id"] for d in detections} | {a["category_id"] for a in annotations}:
        g_idx = [i for i, a in enumerate(annotations) if a["category_id"] == category]
        d_idx = [i for i, d in enumerate(detections) if d["category_id"] == category]
        d_idx = sorted(d_idx, key=lambda i: -float(detections[i]["score"]))
        for i in d_idx[MAX_DETS:]:
            det_status[i] = "ignored"
        d_idx = d_idx[:MAX_DETS]
        if not g_idx or not d_idx:
            continue
        crowd = np.array([bool(annotations[i].get("iscrowd")) for i in g_idx])
        order = np.argsort(crowd, kind="stable")  # crowd regions last, as COCO sorts ignored ground truth
        g_idx = [g_idx[i] for i in order]
        crowd = crowd[order]
        gts = np.array([annotations[i]["bbox"] for i in g_idx], dtype=np.float64).reshape(-1, 4)
        dets = np.array([detections[i]["bbox"] for i in d_idx], dtype=np.float64).reshape(-1, 4)
        ious = _iou_matrix(dets, gts, crowd)
        taken = np.zeros(len(g_idx), dtype=bool)
        for row, d in enumerate(d_idx):
            best, best_iou = -1, min(iou, 1 - 1e-10)
            for col in range(len(g_idx)):
                if taken[col] and not crowd[col]:
                    continue
                if best > -1 and not crowd[best] and crowd[col]:
                    break  # a real match beats any crowd region
                if ious[row, col] < best_iou:
                    continue
                best, best_iou = col, ious[row, col]
            if best < 0:
                continue
            if crowd[best]:
                det_status[d] = "ignored"
            else:
                taken[best] = True
                det_status[d] = "tp"
                gt_status[g_idx[best]] = "matched"
    return gt_status, det_status


def image_ap(annotations: list[dict[str, Any]], detections: list[dict[str, Any]], iou: float = 0.5) -> float:
    """COCO AP at ``iou`` of one image (mean over its categories with ground truth); NaN without any."""
    gt_status, det_status = match_boxes(annotations, detections, iou)
    aps = []
    for category in sorted({a["category_id"] for a in annotations if not a.get("iscrowd")}):
        positives = sum(1 for a in annotations if a["category_id"] == category and not a.get("iscrowd"))
        order = sorted(
            (i for i, d in enumerate(detections) if d["category_id"] == category),
            key=lambda i: -float(detections[i]["score"]),
        )
        hits = np.array([det_status[i] == "tp" for i in order if det_status[i] in ("tp", "fp")], dtype=bool)
        if not hits.size:
            aps.append(0.0)
            continue
        tp, fp = np.cumsum(hits), np.cumsum(~hits)
        recall, precision = tp / positives, tp / (tp + fp)
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        found = np.searchsorted(recall, RECALL_POINTS, side="left")
        aps.append(float(np.mean([precision[k] if k < len(precision) else 0.0 for k in found])))
    return float(np.mean(aps)) if aps else math.nan
