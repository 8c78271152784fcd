"""Object detection and instance segmentation: COCO mAP for any detector.

Datasets: ``detection:coco:<instances.json>?images=<dir>`` and the built-in
``detection:shapes?split=test|val|train&n=N``. The task accumulates each image's
canonical predictions as COCO results entries and scores them with faster-coco-eval
(numbers identical to pycocotools) through :mod:`visionbench.tasks.coco`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Task, TaskInfo, TaskResult, TaskSpec
from visionbench.errors import ConfigError, DataError, ModelError
from visionbench.registry import register_dataset, register_task
from visionbench.tasks import dataset_options as opts

# ``run`` takes a segm detection's area from its mask (detectron2's and torchvision's references),
# as it always has; the task option ``segm_area=box|pycocotools`` chooses otherwise, and the
# record names the choice (``task.scoring.segm_area``).
DEFAULT_SEGM_AREA = "mask"


def segm_area_option(value: Any) -> str:
    """The ``segm_area`` task option checked: ``mask`` (default), ``box`` or ``pycocotools``."""
    from visionbench.tasks.coco_validate import SEGM_AREAS

    if value not in SEGM_AREAS:
        raise ConfigError(f"task option segm_area must be one of {', '.join(SEGM_AREAS)}; got {value!r}")
    return str(value)


@register_dataset(
    "detection",
    "coco",
    "COCO instances JSON + images (path: FILE.json; images=DIR, default beside it)",
    options=opts.COCO_DETECTION,
)
def _coco(
    path: str | None = None,
    images: str | None = None,
    allow_outside_root: str | bool = False,
    segm_area: str = DEFAULT_SEGM_AREA,
) -> Dataset:
    from visionbench.tasks.data.detection_datasets import CocoDetectionDataset
    from visionbench.tasks.data.files import outside_root_flag

    if not path:
        raise ConfigError("detection:coco needs a path: detection:coco:instances.json[?images=DIR]")
    segm_area_option(segm_area)  # a scoring option the task reads; checked here too so a typo fails first
    outside = outside_root_flag(allow_outside_root, "detection:coco")
    return CocoDetectionDataset(path, images, allow_outside_root=outside)


@register_dataset(
    "detection",
    "shapes",
    "built-in shapes scenes with boxes and masks (split=test|val|train, n=N, style=default|shifted)",
    options=opts.SHAPES_DETECTION,
)
def _shapes(
    path: str | None = None,
    split: str = "test",
    n: str | int | None = None,
    size: str | int = 128,
    segm_area: str = DEFAULT_SEGM_AREA,
    style: str = "default",
) -> Dataset:
    from visionbench.tasks.data.detection_datasets import ShapesDetectionDataset

    segm_area_option(segm_area)
    return ShapesDetectionDataset(split, n, size, style)


@register_task("detection")
class DetectionTask(Task):
    """COCO box mAP (``map``, ``map_50`` ... ``mar_large``), mask mAP under ``segm/<key>``, ``ap/<class>``.

    Edge-case policy (COCO's own, see :mod:`visionbench.tasks.coco`): images without
    annotations are scored (their detections are false positives); a class without ground
    truth has AP ``nan`` and is left out of every mean; an area range without ground truth
    gives ``nan``; zero detections give 0 wherever there is ground truth; crowd regions are
    ignored. Only the images evaluated (``--limit``) form the ground truth. Mask metrics are
    computed when every image's prediction carries ``masks`` and the ground truth has
    segmentations; a detection's area (its small / medium / large range) is its mask's unless
    the task option ``segm_area`` says ``box`` or ``pycocotools`` (recorded as ``task.scoring``).
    Per-image quality (``tp_50``, ``recall_50``, ``precision_50``, ``f1_50``) uses
    COCO's matching at IoU 0.5 with 100 detections per image; recall is ``nan`` for an image
    without objects and precision ``nan`` for one without detections; F1 (``2 tp / (objects +
    detections)``) is 1 for an image with neither; ``ap_50`` is the image's own COCO AP at IoU 0.5
    (the gallery's ranking, NaN for an image without objects).
    """

    version = "1"

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        super().__init__(dataset, spec)
        self._known = np.asarray(getattr(dataset, "category_ids", ()), dtype=np.int64)
        self._entries: list[dict[str, Any]] = []
        self._images: list[dict[str, Any]] = []
        self._gt: Any = None
        self._preds: Any = None
        self._bootstrap: Any = None
        self._stats_bootstrap: Any = None
        self._matches: Any = None  # coco_native.BoxMatches of the last compute, when numba is installed
        self._adopted: Any = None  # see adopt()
        self._evaluation: Any = None
        self._entries_text: bytes | None = None
        self.segm_area = segm_area_option(spec.option_dict.get("segm_area", DEFAULT_SEGM_AREA))

    def scoring(self) -> dict[str, Any]:
        """``segm_area``: where mask mAP took each detection's area from (``mask``, ``box`` or ``pycocotools``)."""
        return {"segm_area": self.segm_area}

    def info(self) -> TaskInfo:
        return TaskInfo(
            kind=self.kind,
            dataset=self.dataset.name,
            classes=tuple(self.dataset.classes),
            category_ids=tuple(getattr(self.dataset, "category_ids", ())),
        )

    def state_schema(self) -> Any:
        """Per image: its COCO image entry and annotations, and its detections as COCO results (JSON text).

        JSON keeps every float64 exactly (shortest round-trip repr), so a stored state scores to
        the same numbers as the live one.
        """
        import pyarrow as pa

        from visionbench.state import base_fields

        return pa.schema(
            [
                *base_fields(),
                pa.field("image", pa.string()),
                pa.field("annotations", pa.string()),
                pa.field("detections", pa.string()),
                pa.field("num_dets", pa.int64()),
                pa.field("max_score", pa.float64()),
                pa.field("with_masks", pa.bool_()),
            ]
        )

    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> dict[str, Any]:
        from visionbench.tasks.coco import predictions_to_coco

        if not isinstance(predictions, Sequence) or len(predictions) != len(targets):
            raise ModelError(
                f"detection predictions must be a list with one dict per image ({len(targets)} images), "
                f"got {type(predictions).__name__}"
            )
        columns: dict[str, list[Any]] = {name: [] for name in self.state_schema().names}
        for index, pred, target, sample_id in zip(indices, predictions, targets, sample_ids, strict=True):
            image_id = int(target["image"]["id"])
            if not isinstance(pred, dict):
                raise ModelError(
                    f"prediction for {sample_id} is {type(pred).__name__}, not a dict of boxes/scores/labels"
                )
            try:
                entries = predictions_to_coco(image_id, pred)
            except DataError as exc:
                raise DataError(f"prediction for {sample_id}: {exc}") from None
            labels = np.fromiter((e["category_id"] for e in entries), np.int64, len(entries))
            unknown = labels[~np.isin(labels, self._known)]
            if unknown.size:
                raise ModelError(
                    f"prediction for {sample_id} has category id {int(unknown[0])}, which is not a category of "
                    f"{self.dataset.name} (ids {', '.join(map(str, self._known[:12]))}); the adapter must map labels"
                )
            columns["index"].append(int(index))
            columns["sample_id"].append(str(sample_id))
            columns["image"].append(_json(target["image"]))
            columns["annotations"].append(_json(target["annotations"]))
            columns["detections"].append(_json(entries))
            columns["num_dets"].append(len(entries))
            columns["max_score"].append(max((e["score"] for e in entries), default=math.nan))
            columns["with_masks"].append(pred.get("masks") is not None)
        return columns

    def adopt(
        self,
        images: list[dict[str, Any]],
        annotations: list[list[dict[str, Any]]],
        entries: list[dict[str, Any]],
        *,
        evaluation: dict[str, Any] | None = None,
        detections_json: bytes | None = None,
    ) -> None:
        """What decoding the rows just stored gives (images, their annotations, their detections, no
        masks), kept so that the next :meth:`compute` does not decode them again.

        ``evaluation`` (``gt``, ``preds``, ``result``, ``matches`` of
        :func:`~visionbench.tasks.coco_native.evaluate_boxes`) is a box evaluation of the same images,
        annotations and detections, each image's in the same order: COCO's numbers depend on nothing
        else, so compute reuses it. ``detections_json`` is ``entries`` as compact JSON, UTF-8
        (the ``detections.json`` artifact). All are dropped when the state changes.
        """
        self._adopted = (self.num_updated(), images, annotations, entries, evaluation, detections_json)

    def _adopted_state(self) -> Any:
        adopted, self._adopted = self._adopted, None
        return adopted if adopted is not None and adopted[0] == self.num_updated() else None

    def _decode(self) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], list[bool]]:
        adopted = self._adopted_state()
        if adopted is not None:
            self._images, annotations, self._entries, self._evaluation, self._entries_text = adopted[1:]
            return self._images, annotations, [False] * len(self._images)
        self._evaluation = self._entries_text = None
        from visionbench.tasks.coco_validate import gc_paused
        from visionbench.tasks.fast_json import loads

        table = self.state.table()
        with gc_paused():  # many small acyclic dicts
            images = [loads(t) for t in table.column("image").to_pylist()]
            annotations = [loads(t) for t in table.column("annotations").to_pylist()]
            self._entries = [e for t in table.column("detections").to_pylist() for e in loads(t)]
        self._images = images
        return images, annotations, table.column("with_masks").to_pylist()

    def ground_truth(self, images: list[dict[str, Any]], annotations: list[list[dict[str, Any]]]) -> Any:
        """The validated COCO ground truth of the images evaluated, in sample order.

        Annotation ids are renumbered 1..N in that order: only the evaluated images form the
        ground truth (``--limit``), and the ids carry no meaning for COCO's matching.
        """
        from visionbench.tasks.coco import load_coco_gt

        flat = [{**a, "id": k} for k, a in enumerate((a for group in annotations for a in group), 1)]
        categories = list(getattr(self.dataset, "categories", ()))
        gt = {"images": images, "annotations": flat, "categories": categories}
        return load_coco_gt(gt, name=f"{self.dataset.name} ground truth")

    def compute(self) -> TaskResult:
        from visionbench.tasks.coco import evaluate_coco, load_coco_predictions
        from visionbench.tasks.coco_native import evaluate_boxes, preferred_backend

        images, annotations, with_masks = self._decode()
        self._bootstrap = self._stats_bootstrap = None
        self._matches = None
        done = self._evaluation
        if done is not None:  # evaluated already, on the same data (adopt)
            gt, preds, bbox, self._matches = done["gt"], done["preds"], done["result"], done["matches"]
            self._gt, self._preds = gt, preds
        else:
            gt = self._gt = self.ground_truth(images, annotations)
            preds = self._preds = load_coco_predictions(self._entries, gt, iou_type="bbox", name="detections")
            if preferred_backend("bbox") == "native":  # the same numbers; the matches serve the rest too
                bbox, self._matches = evaluate_boxes(gt, preds)
            else:
                bbox = evaluate_coco(gt, preds, iou_type="bbox")
        metrics = dict(bbox.metrics)
        results = {"bbox": bbox}
        extra: dict[str, Any] = {"counts": bbox.counts}
        if with_masks and all(with_masks):
            if gt.missing_segmentation is None:
                segm_preds = load_coco_predictions(
                    self._entries, gt, iou_type="segm", name="detections", segm_area=self.segm_area
                )
                results["segm"] = evaluate_coco(gt, segm_preds, iou_type="segm")
                metrics.update({f"segm/{k}": v for k, v in results["segm"].metrics.items()})
            else:
                extra["segm_skipped"] = "the ground truth has annotations without segmentation"
        elif any(with_masks):
            raise ModelError(
                "some images' predictions carry masks and others do not; a detector must be consistent"
            )
        per_class = self._per_class(results, gt)
        for name, row in per_class.items():
            metrics[f"ap/{name}"] = row["ap"]
            if "segm_ap" in row:
                metrics[f"segm/ap/{name}"] = row["segm_ap"]
        stats = self._per_image_stats(gt, preds)
        row_of = {int(i): k for k, i in enumerate(stats.image_ids)}
        rows = np.asarray([row_of[int(im["id"])] for im in images], dtype=np.int64)
        num_gt, num_dets, tp = stats.num_gt[rows], stats.num_dets[rows], stats.tp[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(num_gt > 0, tp / num_gt, np.nan)
            precision = np.where(num_dets > 0, tp / num_dets, np.nan)
            f1 = np.where(num_gt + num_dets > 0, 2 * tp / (num_gt + num_dets), 1.0)
        per_sample = {
            "sample_id": self.state.sample_ids(),
            "image_id": [int(im["id"]) for im in images],
            "num_gt": num_gt.tolist(),
            "num_crowd": stats.num_crowd[rows].tolist(),
            "num_dets": num_dets.tolist(),
            "max_score": self.state.table().column("max_score").to_pylist(),
            "tp_50": tp.tolist(),
            "missed_50": (num_gt - tp).tolist(),
            "recall_50": recall.tolist(),
            "precision_50": precision.tolist(),
            "f1_50": f1.tolist(),
            "ap_50": self._image_aps(annotations, rows),
        }
        return TaskResult(
            metrics=metrics,
            per_class=per_class,
            per_sample=per_sample,
            artifacts=self._artifacts(results),
            extra=extra,
        )

    def _per_image_stats(self, gt: Any, preds: Any) -> Any:
        """Per-image objects, detections and true positives at IoU 0.5 (from the kept matches when there are)."""
        from visionbench.tasks.coco import PerImageStats, per_image_stats

        if self._matches is None:
            return per_image_stats(gt, preds)
        m = self._matches
        counts = m.per_image_counts(int(np.flatnonzero(np.isclose(m.iou_thrs, 0.5))[0]))
        ids = np.asarray(m.params.imgIds, dtype=np.int64)
        if preds.columns is None:  # an empty list carries no columns
            det_ids = np.fromiter((d["image_id"] for d in preds), np.int64, len(preds))
        else:
            det_ids = preds.columns["image_id"]
        det_img = np.searchsorted(ids, det_ids)
        return PerImageStats(
            image_ids=ids,
            num_gt=counts["num_gt"],
            num_crowd=counts["num_crowd"],
            num_dets=np.bincount(det_img, minlength=ids.size),
            tp=counts["tp"],
        )

    def _image_aps(self, annotations: list[list[dict[str, Any]]], rows: np.ndarray) -> list[float]:
        """Each image's own COCO AP at IoU 0.5 (the gallery's ranking; NaN for an image without objects)."""
        from visionbench.tasks.box_matching import RECALL_POINTS, image_ap
        from visionbench.tasks.coco_native import areas_within_all, image_aps

        m = self._matches
        if m is not None and np.isclose(m.iou_thrs[0], 0.5) and areas_within_all(m, self._gt, self._preds):
            return image_aps(m, RECALL_POINTS)[rows].tolist()

        detections = (json.loads(t) for t in self.state.table().column("detections").to_pylist())
        return [image_ap(a, d) for a, d in zip(annotations, detections, strict=True)]

    def _per_class(self, results: dict[str, Any], gt: Any) -> dict[str, dict[str, float]]:
        names = {c["id"]: c["name"] for c in gt["categories"]}
        num_gt = dict.fromkeys(names.values(), 0)
        for a in gt["annotations"]:
            if not a["iscrowd"]:
                num_gt[names[a["category_id"]]] += 1
        num_dets = dict.fromkeys(names.values(), 0)
        columns = getattr(self._preds, "columns", None)  # the validated entries, as arrays
        if columns is not None and len(self._preds) == len(self._entries):
            ids, counts = np.unique(columns["category_id"], return_counts=True)
            num_dets.update({names[int(i)]: int(c) for i, c in zip(ids, counts, strict=True)})
        else:
            for e in self._entries:
                num_dets[names[e["category_id"]]] += 1
        table = {}
        for name, row in results["bbox"].per_class.items():
            table[name] = {**row, "num_gt": num_gt[name], "num_dets": num_dets[name]}
            if "segm" in results:
                table[name].update({f"segm_{k}": v for k, v in results["segm"].per_class[name].items()})
        return table

    def _artifacts(self, results: dict[str, Any]) -> dict[str, Any]:
        from visionbench.tasks.coco_plots import plot_pr_curves
        from visionbench.tasks.fast_json import dumps_bytes  # entries are checked finite: no NaN

        entries, text = self._entries, self._entries_text

        def write_json(path: Path, obj: Any) -> None:
            path.write_text(json.dumps(obj, allow_nan=False))

        artifacts = {
            "pr_curves.json": lambda path: write_json(path, {k: r.to_json() for k, r in results.items()}),
            "pr_curves.png": lambda path: plot_pr_curves(results["bbox"], path),
            "detections.json": lambda path: path.write_bytes(text or dumps_bytes(entries)),
        }
        if "segm" in results:
            artifacts["pr_curves_segm.png"] = lambda path: plot_pr_curves(results["segm"], path)
        return artifacts

    def _bootstrappable(self) -> bool:
        """Whether intervals can be drawn (ground truth exists, faster-coco-eval has what the bootstrap reads)."""
        if self._bootstrap is None:
            from visionbench.tasks.detection_bootstrap import box_resampler

            ids = [im["id"] for im in self._images] if self._gt is not None else []
            self._bootstrap = box_resampler(self._gt, self._preds, self._matches, ids)
        return bool(self._bootstrap)

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        """``map`` and ``map_50`` (boxes) of a resample of the evaluated images."""
        if not self._bootstrappable():
            return None
        try:
            return self._bootstrap.metrics(resample)
        except AttributeError:  # faster-coco-eval without the private per-image evaluations: no intervals
            self._bootstrap = False
            return None

    def bootstrap_block(
        self, resamples: np.ndarray, keys: Sequence[str] | None = None
    ) -> dict[str, np.ndarray] | None:
        """``map`` and ``map_50`` of many resamples at once (see :mod:`visionbench.tasks.detection_resample`);
        with ``keys``, those of the twelve box statistics (:mod:`visionbench.tasks.detection_stats_resample`)."""
        if not self._bootstrappable():
            return None
        if keys is not None:
            from visionbench.tasks.detection_stats_resample import KEYS, CocoStatsBootstrap

            if self._stats_bootstrap is None:
                self._stats_bootstrap = CocoStatsBootstrap(
                    self._gt, self._preds, [im["id"] for im in self._images]
                )
            return self._stats_bootstrap.metrics_block(resamples, tuple(k for k in keys if k in KEYS))
        try:
            return self._bootstrap.metrics_block(resamples)
        except AttributeError:  # the one-resample fallback needs faster-coco-eval's private evaluations
            self._bootstrap = False
            return None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__} in detection state")
