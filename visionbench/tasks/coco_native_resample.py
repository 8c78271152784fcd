"""Bootstrap of COCO box ``map`` / ``map_50`` over images from the matches already made.

The statuses of :class:`~visionbench.tasks.coco_native.BoxMatches` (area "all", 100 detections) are
those :mod:`visionbench.tasks.detection_resample` computes with its own matching; this module reads a
block of resamples (image multiplicities) off them in one compiled loop, resamples in parallel
threads, with that module's arithmetic: per category, the running sums of the resample's weights are
read at the true positives only (false positives in between counted from the sum of all detections
seen, ignored ones subtracted), precision made non-increasing from the right and sampled at the first
true positive whose recall reaches each recall threshold. The numbers equal
:class:`~visionbench.tasks.detection_resample.ResampledMap`'s (a test checks it); resamples that repeat
an image holding tied scores with different outcomes go to faster-coco-eval one at a time, as there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from visionbench.tasks.coco_native import FP, BoxMatches

BLOCK_ROWS = 128
EXACT_TOTAL = 2**26  # weighted detection totals below this keep the kernel's precision exact


class NativeResampledMap:
    """``exact_rows`` and ``precision`` of :class:`~visionbench.tasks.detection_resample.ResampledMap`."""

    def __init__(self, matches: BoxMatches) -> None:
        status = matches.status[0]  # area "all": [T, D]
        order = matches.order
        self.num_cats, self.num_images = matches.num_cats, matches.num_images
        self.rec_thrs = matches.rec_thrs
        self.t_count = status.shape[0]
        self.cols = matches.det_image[order]
        ordered = status[:, order]
        # per (category, threshold): the positions (in ``order``) of true positives and ignored detections
        kinds, positions, starts = [], [], [0]
        for k in range(self.num_cats):
            lo, hi = int(matches.cat_start[k]), int(matches.cat_start[k + 1])
            for t in range(self.t_count):
                events = lo + np.flatnonzero(ordered[t, lo:hi] != FP)
                positions.append(events)
                kinds.append(ordered[t, events])
                starts.append(starts[-1] + events.size)
        self.ev_pos = np.concatenate(positions) if positions else np.zeros(0, np.int64)
        self.ev_kind = np.concatenate(kinds).astype(np.int8) if kinds else np.zeros(0, np.int8)
        self.ev_start = np.asarray(starts, dtype=np.int64)
        self.cat_start = matches.cat_start.astype(np.int64)
        # each event's image column and place in its category's running sum, which ends at the last event
        event_cat = np.repeat(np.arange(self.num_cats * self.t_count) // self.t_count, np.diff(self.ev_start))
        self.ev_seen = self.ev_pos - self.cat_start[event_cat]
        self.ev_col = self.cols[self.ev_pos]
        self.seen_size = np.zeros(self.num_cats, dtype=np.int64)
        ends = self.ev_start[:: self.t_count]
        for k in np.flatnonzero(ends[1:] > ends[:-1]):
            self.seen_size[k] = self.ev_seen[ends[k] : ends[k + 1]].max() + 1
        npig = matches.npig[0]  # [K, N]
        nz_k, nz_i = np.nonzero(npig)
        self.gt_start = np.searchsorted(nz_k, np.arange(self.num_cats + 1)).astype(np.int64)
        self.gt_image, self.gt_count = nz_i.astype(np.int64), npig[nz_k, nz_i]
        # images holding equal scores (one category) whose detections' outcomes differ
        same = (
            (matches.det_cat[1:] == matches.det_cat[:-1])
            & (matches.det_image[1:] == matches.det_image[:-1])
            & (matches.det_score[1:] == matches.det_score[:-1])
            & (status[:, 1:] != status[:, :-1]).any(axis=0)
        )
        self.tie_images = np.unique(matches.det_image[1:][same])
        # The kernel's max of tp / total equals the exact fractions' while every total stays below
        # EXACT_TOTAL (distinct fractions then round to distinct doubles). A resample's total for a
        # category is at most N times its most detections in one image; past that, every row goes
        # the exact one-resample way.
        pairs = matches.det_cat.astype(np.int64) * self.num_images + matches.det_image.astype(np.int64)
        densest = int(np.unique(pairs, return_counts=True)[1].max()) if pairs.size else 0
        self.all_exact = densest * self.num_images >= EXACT_TOTAL
        self._out: np.ndarray | None = None

    def exact_rows(self, counts: np.ndarray) -> np.ndarray:
        if self.all_exact:
            return np.ones(len(counts), dtype=bool)
        if not self.tie_images.size:
            return np.zeros(len(counts), dtype=bool)
        return (counts[:, self.tie_images] >= 2).any(axis=1)

    def precision(self, counts: np.ndarray) -> np.ndarray:
        """COCO's precision ``[B, T, R, K]`` for image multiplicities ``counts [B, N]`` (a view of a buffer
        that the next call overwrites)."""
        from visionbench.tasks.coco_native_kernels import LANES, resampled_precision

        rows = len(counts)
        padded = -(-rows // LANES) * LANES  # whole groups of lanes; the padding's weights are 0
        shape = (padded, self.t_count, len(self.rec_thrs), self.num_cats)
        if self._out is None or self._out.shape[0] < padded:
            self._out = np.empty(shape)  # reused across blocks: the kernel writes every element
        weights = np.zeros((self.num_images, padded))
        weights[:, :rows] = counts.T
        with _torch_threads_kept():
            resampled_precision(
                weights,
                self.cols,
                self.cat_start,
                self.seen_size,
                self.ev_start,
                self.ev_seen,
                self.ev_col,
                self.ev_kind,
                self.gt_start,
                self.gt_image,
                self.gt_count,
                self.rec_thrs,
                self._out[:padded],
            )
        return self._out[:rows]


@contextmanager
def _torch_threads_kept() -> Iterator[None]:
    """Numba's parallel loops (OpenMP layer) reset the process's OpenMP thread count, which torch reads as
    its own: a later run in the same process would be timed under other conditions. Put it back."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if torch is not None and threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


class NativeBootstrap:
    """``map`` and ``map_50`` of image resamples (rows of sample positions), from kept matches.

    ``image_ids`` gives each sample position's image id. ``fallback`` builds the one-resample path
    (:class:`~visionbench.tasks.detection_bootstrap.ImageBootstrap`) when a tie row needs it.
    """

    def __init__(self, matches: BoxMatches, image_ids: list[int], fallback: Any) -> None:
        self._map = NativeResampledMap(matches)
        ids = np.asarray(matches.params.imgIds, dtype=np.int64)
        self._column = np.searchsorted(ids, np.asarray(image_ids, dtype=np.int64))
        self._t50 = int(np.flatnonzero(np.isclose(matches.iou_thrs, 0.5))[0])
        self._fallback, self._exact = fallback, None

    def metrics(self, positions: np.ndarray) -> dict[str, float]:
        """``map`` and ``map_50`` of one resample."""
        block = self.metrics_block(np.asarray(positions, dtype=np.int64)[None, :])
        return {key: float(values[0]) for key, values in block.items()}

    def metrics_block(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        from visionbench.tasks.detection_resample import valid_mean

        positions = np.asarray(positions, dtype=np.int64)
        m, n = len(positions), self._map.num_images
        flat = (self._column[positions] + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=m * n).reshape(m, n)
        exact = self._map.exact_rows(counts)
        out = {"map": np.empty(m), "map_50": np.empty(m)}
        for start in range(0, m, BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, m))
            fast = rows[~exact[rows]]
            if fast.size:
                precision = self._map.precision(counts[fast])
                for j, row in enumerate(fast):
                    out["map"][row] = valid_mean(precision[j])
                    out["map_50"][row] = valid_mean(precision[j, self._t50])
            for row in rows[exact[rows]]:
                if self._exact is None:
                    self._exact = self._fallback()
                one = self._exact.metrics(positions[row])
                out["map"][row], out["map_50"][row] = one["map"], one["map_50"]
        return out
