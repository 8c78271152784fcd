"""The detection head: a model's detections in its own label space -> canonical detections.

Canonical: per image ``{boxes [K, 4] xyxy float64 in original pixels (clipped to the image),
scores [K] float64, labels [K] dataset category ids}`` plus ``masks [K, H, W] bool`` when the
model gives masks (soft masks thresholded at 0.5). Model labels become dataset category ids
through :func:`~visionbench.adapters.labels.resolve_detection_labels` (several model labels
may map to one dataset class); detections of unmapped labels are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.adapters.core import ModelAdapter
from visionbench.adapters.labels import resolve_detection_labels
from visionbench.adapters.output_checks import checked_detections
from visionbench.contracts import ImageMeta, TaskInfo
from visionbench.errors import ModelError


def to_numpy(x: Any) -> np.ndarray:
    return x.detach().to("cpu").numpy() if hasattr(x, "detach") else np.asarray(x)


class DetectionHead:
    def __init__(self, adapter: ModelAdapter) -> None:
        self.adapter, self.model, self.name = adapter, adapter.model, adapter.spec.spec
        self.lookup: np.ndarray | None = None
        self.resolved = False
        self.known_ids = np.zeros(0, dtype=np.int64)
        self.task: TaskInfo | None = None

    def bind(self, task: TaskInfo) -> None:
        self.task = task
        self.known_ids = np.asarray(task.category_ids or range(1, len(task.classes) + 1), dtype=np.int64)
        self.resolved = False
        if self.model.classes is not None:
            self.resolve()  # a mismatch fails before any image is decoded

    def resolve(self) -> None:
        assert self.task is not None
        label_map = dict(self.adapter.spec.label_map) or None
        self.lookup = resolve_detection_labels(self.model.classes, self.task, label_map, model_name=self.name)
        self.resolved = True

    def collate(self, items: list[Any]) -> Any:
        return self.model.collate(items)

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, np.ndarray]]:
        raw = checked_detections(self.model.run(batch, metas), model=self.name, metas=metas)
        if not self.resolved:
            self.resolve()
        return [self.canonical(r, m) for r, m in zip(raw, metas, strict=True)]

    def forward_pixels(self, x01: Any) -> Any:
        """The model's raw detection outputs on pixels in [0, 1] (model label space), differentiable."""
        return self.model.pixels(x01)

    def canonical(self, raw: dict[str, Any], meta: ImageMeta) -> dict[str, np.ndarray]:
        """float64 boxes clipped to the image, category ids via the lookup, unmapped labels dropped."""
        try:
            boxes = to_numpy(raw["boxes"]).astype(np.float64).reshape(-1, 4)
            scores = to_numpy(raw["scores"]).astype(np.float64).reshape(-1)
            labels = to_numpy(raw["labels"]).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model '{self.name}' returned {type(exc).__name__} {exc} for {meta.sample_id}; "
                "expected a dict with boxes [K, 4], scores [K], labels [K]"
            ) from None
        if not (len(boxes) == len(scores) == len(labels)):
            raise ModelError(
                f"model '{self.name}': {len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels for {meta.sample_id}"
            )
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
            raise ModelError(
                f"model '{self.name}' returned NaN or infinite boxes or scores for {meta.sample_id}"
            )
        if labels.dtype.kind not in "biuf":
            raise ModelError(
                f"model '{self.name}' returned labels of dtype {labels.dtype} for {meta.sample_id}"
            )
        integer = np.issubdtype(labels.dtype, np.integer)
        if labels.size and not integer and not np.array_equal(labels, np.round(labels)):
            raise ModelError(f"model '{self.name}' returned non-integer labels for {meta.sample_id}")
        labels = labels.astype(np.int64)
        if self.lookup is not None:
            inside = (labels >= 0) & (labels < len(self.lookup))
            ids = np.where(inside, self.lookup[np.clip(labels, 0, len(self.lookup) - 1)], -1)
            keep = ids >= 0
        else:
            ids = labels
            unknown = ~np.isin(ids, self.known_ids)
            if unknown.any():
                dataset = self.task.dataset if self.task else "the dataset"
                more = "..." if len(self.known_ids) > 12 else ""
                raise ModelError(
                    f"model '{self.name}' predicted category id {int(ids[unknown][0])} for {meta.sample_id}, "
                    f"which is not a category of {dataset} (ids: {', '.join(map(str, self.known_ids[:12]))}{more})"
                )
            keep = np.ones(len(ids), dtype=bool)
        boxes = boxes[keep]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, meta.width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, meta.height)
        out = {"boxes": boxes, "scores": scores[keep], "labels": ids[keep]}
        if raw.get("masks") is not None:
            masks = to_numpy(raw["masks"])
            if masks.ndim == 4 and masks.shape[1] == 1:
                masks = masks[:, 0]
            if masks.shape[0] != len(keep) or masks.shape[1:] != (meta.height, meta.width):
                raise ModelError(
                    f"model '{self.name}': masks of shape {list(masks.shape)} for {len(keep)} detections on a "
                    f"{meta.width}x{meta.height} image ({meta.sample_id}); expected [K, H, W]"
                )
            out["masks"] = (masks[keep] > 0.5) if masks.dtype != bool else masks[keep]
        return out
