"""The compiled loops of :mod:`visionbench.tasks.coco_native` (numba, cached on disk after the first use).

Each follows faster-coco-eval's C++ (``bbIou``, ``MatchDetectionsToGroundTruth``,
``ComputePrecisionRecallCurve``) statement for statement, so that every double comes out the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _box_ious(
    dbox: np.ndarray, ds: int, nd: int, gbox: np.ndarray, gs: int, ng: int, crowd: np.ndarray
) -> np.ndarray:
    out = np.zeros((nd, ng))
    for g in range(ng):
        gx, gy, gw, gh = gbox[gs + g, 0], gbox[gs + g, 1], gbox[gs + g, 2], gbox[gs + g, 3]
        ga = gw * gh
        is_crowd = crowd[gs + g]
        for d in range(nd):
            dx, dy, dw, dh = dbox[ds + d, 0], dbox[ds + d, 1], dbox[ds + d, 2], dbox[ds + d, 3]
            da = dw * dh
            iw = min(dx + dw, gx + gw) - max(dx, gx)
            if iw <= 0.0:
                continue
            ih = min(dy + dh, gy + gh) - max(dy, gy)
            if ih <= 0.0:
                continue
            inter = iw * ih
            union = da if is_crowd else da + ga - inter
            out[d, g] = inter / union
    return out


@njit(cache=True, nogil=True)
def match_pairs(
    d_start, d_end, g_start, g_end, dbox, darea, gbox, garea, gcrowd, area_rng, iou_thrs, status, matched_gt
):
    """COCO's greedy matching of every (category, image) pair with detections, all areas and thresholds.

    ``status[a, t, d]``: 0 false positive, 1 true positive, 2 ignored; ``matched_gt[t, d]`` the ground
    truth a detection matched at area range 0 (-1 when none).
    """
    a_count, t_count = area_rng.shape[0], iou_thrs.shape[0]
    for p in range(d_start.shape[0]):
        ds, gs = d_start[p], g_start[p]
        nd, ng = d_end[p] - ds, g_end[p] - gs
        ious = _box_ious(dbox, ds, nd, gbox, gs, ng, gcrowd)
        ignore = np.zeros(ng, dtype=np.bool_)
        order = np.zeros(ng, dtype=np.int64)
        taken = np.zeros(ng, dtype=np.bool_)
        for a in range(a_count):
            low, high = area_rng[a, 0], area_rng[a, 1]
            for g in range(ng):
                ignore[g] = gcrowd[gs + g] or garea[gs + g] < low or garea[gs + g] > high
            k = 0
            for g in range(ng):  # stable: unignored first
                if not ignore[g]:
                    order[k] = g
                    k += 1
            for g in range(ng):
                if ignore[g]:
                    order[k] = g
                    k += 1
            for t in range(t_count):
                taken[:] = False
                for d in range(nd):
                    best = min(iou_thrs[t], 1 - 1e-10)
                    match = -1
                    for gg in range(ng):
                        g = order[gg]
                        if taken[gg] and not gcrowd[gs + g]:
                            continue
                        if match >= 0 and not ignore[order[match]] and ignore[g]:
                            break
                        if ious[d, g] >= best:
                            best = ious[d, g]
                            match = gg
                    state = 0
                    if match >= 0:
                        taken[match] = True
                        state = 2 if ignore[order[match]] else 1
                        if a == 0:
                            matched_gt[t, ds + d] = gs + order[match]
                    elif darea[ds + d] < low or darea[ds + d] > high:
                        state = 2
                    status[a, t, ds + d] = state


@njit(cache=True, nogil=True)
def accumulate(cat_start, status, rank, npig, max_dets, rec_thrs, precision, recall):
    """COCO's accumulation: ``precision[T, R, K, A, M]`` and ``recall[T, K, A, M]`` (left -1 where no
    unignored ground truth); ``status`` and ``rank`` list each category's detections in COCO's order."""
    t_count, r_count = precision.shape[0], precision.shape[1]
    k_count, a_count, m_count = precision.shape[2], precision.shape[3], precision.shape[4]
    n = rank.shape[0]
    recalls = np.empty(n)
    precisions = np.empty(n)
    for k in range(k_count):
        lo, hi = cat_start[k], cat_start[k + 1]
        for a in range(a_count):
            valid_gt = npig[a, k]
            if valid_gt == 0:
                continue
            for m in range(m_count):
                budget = max_dets[m]
                for t in range(t_count):
                    tps = 0
                    fps = 0
                    size = 0
                    for j in range(lo, hi):
                        if rank[j] >= budget:
                            continue
                        s = status[a, t, j]
                        if s == 1:
                            tps += 1
                        elif s == 0:
                            fps += 1
                        recalls[size] = tps / valid_gt
                        total = tps + fps
                        precisions[size] = tps / total if total > 0 else 0.0
                        size += 1
                    recall[t, k, a, m] = recalls[size - 1] if size > 0 else 0.0
                    for i in range(size - 1, 0, -1):
                        if precisions[i] > precisions[i - 1]:
                            precisions[i - 1] = precisions[i]
                    pos = 0
                    for r in range(r_count):
                        while pos < size and recalls[pos] < rec_thrs[r]:
                            pos += 1
                        precision[t, r, k, a, m] = precisions[pos] if pos < size else 0.0


LANES = 16  # resamples processed side by side (one vector of weights per detection)


@njit(cache=True, parallel=True, nogil=True)
def resampled_precision(
    weights,
    cols,
    cat_start,
    seen_size,
    ev_start,
    ev_seen,
    ev_col,
    ev_kind,
    gt_start,
    gt_image,
    gt_count,
    rec_thrs,
    out,
):
    """``out[B, T, R, K]`` (-1 where a resample has no unignored ground truth) for image weights
    ``weights[N, B]`` (one column per resample, ``B`` a multiple of :data:`LANES`).

    Per category: the weights' running sum over its first ``seen_size`` detections in COCO's order,
    then per threshold the true positives and ignored detections (``ev_*``: image column
    ``ev_col``, position in that running sum ``ev_seen``) that move the counts, for ``LANES``
    resamples at once. Precision is ``tps / (seen - ignored)`` (0 where that is 0), made non-increasing
    from the right with ``max``: the counts are whole numbers and the totals stay below 2**26 (the
    caller sends larger ones the exact way), so distinct fractions stay distinct, ordered doubles, and
    the maximum is the double of the largest fraction.
    """
    b_count, t_count, r_count, k_count = out.shape
    for g in prange(b_count // LANES):
        c0 = g * LANES
        w = weights[:, c0 : c0 + LANES]
        valid = np.empty(LANES)
        tps = np.empty(LANES)
        ignored = np.empty(LANES)
        need = np.empty((LANES, r_count))
        for k in range(k_count):
            valid[:] = 0.0
            for j in range(gt_start[k], gt_start[k + 1]):
                row, count = gt_image[j], gt_count[j]
                for lane in range(LANES):
                    valid[lane] += w[row, lane] * count
            # recall tps / valid reaches rec_thrs[r] exactly when tps >= need[r] (tps are whole numbers)
            for lane in range(LANES):
                v = valid[lane]
                if v == 0:
                    continue
                for r in range(r_count):
                    n = np.ceil(rec_thrs[r] * v)
                    while n > 0 and (n - 1) / v >= rec_thrs[r]:
                        n -= 1
                    while n / v < rec_thrs[r]:
                        n += 1
                    need[lane, r] = n
            lo, size = cat_start[k], seen_size[k]
            seen = np.empty((size, LANES))
            tps[:] = 0.0
            for j in range(size):
                row = cols[lo + j]
                for lane in range(LANES):
                    tps[lane] += w[row, lane]
                    seen[j, lane] = tps[lane]
            events = ev_start[(k + 1) * t_count] - ev_start[k * t_count]
            tp_at = np.empty((LANES, events))
            precision = np.empty((events, LANES))
            for t in range(t_count):
                tps[:] = 0.0
                ignored[:] = 0.0
                p = 0
                for e in range(ev_start[k * t_count + t], ev_start[k * t_count + t + 1]):
                    row = ev_col[e]
                    if ev_kind[e] == 1:
                        at = ev_seen[e]
                        for lane in range(LANES):
                            tps[lane] += w[row, lane]
                            tp_at[lane, p] = tps[lane]
                            total = seen[at, lane] - ignored[lane]
                            precision[p, lane] = tps[lane] / total if total > 0 else 0.0
                        p += 1
                    else:
                        for lane in range(LANES):
                            ignored[lane] += w[row, lane]
                for i in range(p - 2, -1, -1):
                    for lane in range(LANES):
                        precision[i, lane] = max(precision[i, lane], precision[i + 1, lane])
                for lane in range(LANES):
                    b = c0 + lane
                    if valid[lane] == 0:
                        for r in range(r_count):
                            out[b, t, r, k] = -1.0
                        continue
                    pos = 0
                    for r in range(r_count):
                        while pos < p and tp_at[lane, pos] < need[lane, r]:
                            pos += 1
                        out[b, t, r, k] = precision[pos, lane] if pos < p else 0.0


@njit(cache=True, nogil=True)
def pair_ap_50(pair_start, pair_end, status, pairs, positives, rec_thrs, q):
    """Per (category, image) pair with detections and objects: precision at ``rec_thrs`` of its own
    detections in score order (true and false positives; ignored ones skipped), as ``q[pair, R]``."""
    r_count = rec_thrs.shape[0]
    for p in range(pairs.shape[0]):
        valid_gt = positives[pairs[p]]
        if valid_gt == 0:
            continue
        ds, de = pair_start[p], pair_end[p]
        recalls = np.empty(de - ds)
        precisions = np.empty(de - ds)
        size = 0
        tps = 0
        fps = 0
        for d in range(ds, de):
            s = status[d]
            if s == 2:
                continue
            if s == 1:
                tps += 1
            else:
                fps += 1
            recalls[size] = tps / valid_gt
            precisions[size] = tps / (tps + fps)
            size += 1
        best = 0.0
        for i in range(size - 1, -1, -1):
            best = max(best, precisions[i]) if i < size - 1 else precisions[i]
            precisions[i] = best
        pos = 0
        for r in range(r_count):
            while pos < size and recalls[pos] < rec_thrs[r]:
                pos += 1
            q[p, r] = precisions[pos] if pos < size else 0.0
