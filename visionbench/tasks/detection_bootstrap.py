"""Bootstrap of COCO mAP over images, with faster-coco-eval's own accumulation.

COCO's accumulate step only concatenates per-(category, image) evaluations and reads
precision/recall off them, so the mAP of a resample of images (with repeats) is the
accumulation of the resampled per-image evaluations. faster-coco-eval computes those once
(``separate_eval=True``); each resample then costs one C++ accumulate call, and the
identity resample reproduces ``evaluate_coco``'s ``map`` and ``map_50`` exactly (a test
checks it, as well as equality with scoring a ground truth whose images are duplicated).
Resampled images are concatenated in image-id order, as COCO does, so score ties break alike.
Only the "all" area range and the largest ``max_dets`` are evaluated: the headline keys.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# Resamples accumulated together by the block path (memory: rows x detections of a category, float64).
BLOCK_ROWS = 128


class ImageBootstrap:
    """Per-image COCO evaluations of one (ground truth, predictions) pair, ready to resample.

    ``image_ids`` gives, for each sample position, its image id; :meth:`metrics` takes an
    int array of positions and returns ``{"map", "map_50"}`` of that resample.
    """

    def __init__(
        self, gt: dict, predictions: Sequence[dict], image_ids: Sequence[int], *, iou_type: str = "bbox"
    ) -> None:
        from faster_coco_eval import COCOeval_faster
        from faster_coco_eval.core.coco import COCO

        from visionbench.tasks.coco import load_coco_gt, load_coco_predictions
        from visionbench.tasks.coco_predictions import CocoPredictions
        from visionbench.tasks.coco_validate import gc_paused

        gt = load_coco_gt(gt)
        already = isinstance(predictions, CocoPredictions) and predictions.gt is gt
        if already and getattr(predictions, "iou_type", None) == iou_type:
            preds = predictions  # validated against this very ground truth already
        else:
            preds = load_coco_predictions(list(predictions), gt, iou_type=iou_type)
        base = {"images": gt["images"], "categories": gt["categories"]}
        objects = []
        for anns in ([{**a, "id": k} for k, a in enumerate(gt["annotations"], 1)], preds):
            coco = COCO()
            coco.dataset = {**base, "annotations": anns}
            coco.createIndex()
            objects.append(coco)
        with contextlib.redirect_stdout(io.StringIO()), gc_paused():
            ev = COCOeval_faster(*objects, iou_type, print_function=_silent, separate_eval=True)
            ev.params.areaRng, ev.params.areaRngLbl = [ev.params.areaRng[0]], ["all"]
            ev.params.maxDets = [ev.params.maxDets[-1]]
        self._ev = ev  # evaluated on first use of the one-resample path (metrics)
        self._evals: Any = None
        self._params = copy.deepcopy(ev.params)
        self._t50 = int(np.flatnonzero(np.isclose(self._params.iouThrs, 0.5))[0])
        sorted_ids = list(self._params.imgIds)
        self._column = np.searchsorted(np.asarray(sorted_ids), np.asarray(image_ids, dtype=np.int64))
        self._num_images = len(sorted_ids)
        self._num_cats = len(self._params.catIds)
        self._block = None
        self._block_inputs = (gt, preds, sorted_ids)

    def metrics_block(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """``map`` and ``map_50`` of many resamples at once (rows of ``positions``), equal to :meth:`metrics`.

        Computed by :class:`~visionbench.tasks.detection_resample.ResampledMap`; rows it cannot
        reproduce exactly (a repeated image with tied scores) go through :meth:`metrics`.
        """
        from visionbench.tasks.detection_resample import ResampledMap, valid_mean

        if self._block is None:
            gt, preds, sorted_ids = self._block_inputs
            self._block = ResampledMap(gt, list(preds), self._params, sorted_ids)
        positions = np.asarray(positions, dtype=np.int64)
        columns = self._column[positions]
        counts = np.zeros((len(positions), self._num_images), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(len(positions)), positions.shape[1]), columns.ravel()), 1)
        exact = self._block.exact_rows(counts)
        out = {"map": np.empty(len(positions)), "map_50": np.empty(len(positions))}
        for start in range(0, len(positions), BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, len(positions)))
            fast = rows[~exact[rows]]
            if fast.size:
                precision = self._block.precision(counts[fast])
                for j, row in enumerate(fast):
                    out["map"][row] = valid_mean(precision[j])
                    out["map_50"][row] = valid_mean(precision[j, self._t50])
            for row in rows[exact[rows]]:
                one = self.metrics(positions[row])
                out["map"][row], out["map_50"][row] = one["map"], one["map_50"]
        return out

    def _evaluated(self) -> Any:
        """faster-coco-eval's per-image evaluations ``[category][image]`` (images in sorted-id order)."""
        if self._evals is None:
            from visionbench.tasks.coco_validate import gc_paused

            with contextlib.redirect_stdout(io.StringIO()), gc_paused():
                self._ev.evaluate()
            self._accumulate = _accumulator()
            self._evals = self._ev._evalImgs_cpp
            self._params = self._ev._paramsEval
        return self._evals

    def metrics(self, positions: np.ndarray) -> dict[str, float]:
        # image-id order, as COCO concatenates images: ties in score then break the same way
        columns = np.sort(self._column[np.asarray(positions, dtype=np.int64)]).tolist()
        params = copy.copy(self._params)
        params.imgIds = columns  # only the count is read; ids may repeat
        n = self._num_images
        all_evals = self._evaluated()
        evals = [all_evals[k * n + i] for k in range(self._num_cats) for i in columns]
        precision = np.asarray(self._accumulate(params, evals)["precision"])[..., 0, 0]  # [T, R, K]
        return {"map": _valid_mean(precision), "map_50": _valid_mean(precision[self._t50])}


def _accumulator() -> Any:
    from faster_coco_eval import faster_eval_api_cpp

    return faster_eval_api_cpp.COCOevalAccumulate


def _valid_mean(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else math.nan


def _silent(*_args: Any, **_kwargs: Any) -> None:
    return None


def box_resampler(gt: Any, preds: Any, matches: Any, ids: list[int]) -> Any:
    """What draws ``map`` and ``map_50`` of image resamples (``metrics``, ``metrics_block``): read off
    the kept ``matches`` of a native evaluation, else faster-coco-eval's per-image evaluations; False
    when there are no intervals to draw (no ground-truth objects, or a faster-coco-eval without them)."""
    if gt is None or not gt["annotations"]:
        return False
    try:
        if matches is not None:
            from visionbench.tasks.coco_native_resample import NativeBootstrap

            return NativeBootstrap(matches, ids, lambda: ImageBootstrap(gt, preds, ids))
        return ImageBootstrap(gt, preds, ids)
    except (AttributeError, ImportError):  # a faster-coco-eval without per-image evaluations
        return False


def resampler_block(resampler: Any) -> Any:
    """``resampler.metrics_block``, answering None (no intervals) where faster-coco-eval lacks what the
    one-resample fallback reads, as :meth:`DetectionTask.bootstrap_block` does."""

    def block(resamples: np.ndarray) -> dict[str, np.ndarray] | None:
        try:
            return resampler.metrics_block(resamples)
        except AttributeError:
            return None

    return block
