"""Shared machinery for detection adapters: model labels -> dataset category ids, canonical outputs.

Every detector speaks its own label space (torchvision's COCO 91 indices with background
at 0, a Hugging Face ``id2label``, the columns of an ONNX head, a callable's class list).
:func:`resolve_detection_labels` turns it into a lookup from model label to dataset
category id once per run, and :class:`DetectionAdapter` applies it to every batch, so
that all detection adapters share one policy:

* an explicit ``--label-map dataset_class=model_label`` (model label by name or integer
  label) wins; detections whose model label is not mapped are dropped. A map may leave
  dataset classes out (a face detector on a dataset that also has "person"): those
  classes get no detections;
* otherwise, when the model names its labels and every dataset class is one of those
  names, labels are matched by name and the other model labels are dropped;
* otherwise, when the model has as many (unnamed) labels as the dataset has classes,
  they map by position (the k-th model label -> the k-th category in category-id order);
* anything else is a :class:`~visionbench.errors.LabelMapError` asking for ``--label-map``.

Entries named ``__background__`` or ``N/A`` are not labels; placeholder names such as
Hugging Face's ``LABEL_3`` do not count as names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visionbench.adapters.base import state_dict_fingerprint
from visionbench.contracts import Adapter, ImageMeta, TaskInfo, resolve_label_map
from visionbench.errors import LabelMapError, ModelError

NOT_A_LABEL = re.compile(r"^(__background__|background|n/a|no[ _-]?object)$", re.IGNORECASE)
PLACEHOLDER = re.compile(r"^label_\d+$", re.IGNORECASE)


def model_label_space(labels: Mapping[int, str | None] | Sequence[str | None]) -> dict[int, str | None]:
    """``{model label: name or None}`` from a dict or a list (index = label).

    Background and "N/A" entries are not labels (left out); placeholder names become None.
    """
    items = labels.items() if isinstance(labels, Mapping) else enumerate(labels)
    return {
        int(k): (None if v is None or PLACEHOLDER.match(str(v)) else str(v))
        for k, v in items
        if v is None or not NOT_A_LABEL.match(str(v))
    }


def resolve_detection_labels(
    labels: Mapping[int, str | None] | None,
    task: TaskInfo,
    label_map: Mapping[str, str] | None,
    *,
    model_name: str,
) -> np.ndarray | None:
    """Lookup array: ``lookup[model label]`` = dataset category id, or -1 (dropped); None = labels are ids already.

    ``labels`` is the model's label space (see :func:`model_label_space`); ``None`` means the
    model already returns dataset category ids (a callable that declares no classes).
    """
    classes, cat_ids = list(task.classes), list(task.category_ids) or list(range(1, len(task.classes) + 1))
    if labels is None:
        if label_map:
            raise LabelMapError(
                f"model '{model_name}' does not declare its labels, so --label-map cannot apply"
            )
        return None
    space = dict(sorted(labels.items()))
    if not space:
        raise ModelError(f"model '{model_name}' declares no labels")
    lookup = np.full(max(max(space) + 1, 1), -1, dtype=np.int64)
    if label_map:
        unknown = sorted(set(label_map) - set(classes))
        if unknown:
            raise LabelMapError(f"label map names classes not in {task.dataset}: {', '.join(unknown)}")
        by_name = {}
        for label, name in space.items():
            if name is not None:
                by_name.setdefault(name, label)
        for cls, target in label_map.items():
            lookup[_model_label(str(target), by_name, space, model_name)] = cat_ids[classes.index(cls)]
        return lookup
    order = list(space)
    names = [space[k] for k in order]
    named = all(n is not None for n in names)
    hint = "pass --label-map dataset_class=model_label (a label name or number)"
    if named and not set(classes) <= set(names) and len(names) != len(classes):
        missing = next(c for c in classes if c not in names)
        raise LabelMapError(
            f"model '{model_name}' has no label named '{missing}' (a class of {task.dataset}); {hint}"
        )
    if not named and len(order) != len(classes):
        raise LabelMapError(
            f"model '{model_name}' has {len(order)} unnamed labels but {task.dataset} has {len(classes)} classes; {hint}"
        )
    columns = resolve_label_map(
        names if named else None,
        len(order),
        classes,
        None,
        model_name=model_name,
        dataset_name=task.dataset,
    )
    for k, column in enumerate(columns if columns is not None else range(len(classes))):
        lookup[order[column]] = cat_ids[k]
    return lookup


def _model_label(target: str, by_name: dict[str, int], space: dict[int, str | None], model_name: str) -> int:
    if target in by_name:
        return by_name[target]
    try:
        label = int(target)
    except ValueError:
        raise LabelMapError(
            f"label map target '{target}' is neither a label name nor a label of '{model_name}'"
        ) from None
    if label not in space:
        raise LabelMapError(
            f"label map label {label} is not one of the labels of '{model_name}' ({min(space)}..{max(space)})"
        )
    return label


def to_numpy(x: Any) -> np.ndarray:
    return x.detach().to("cpu").numpy() if hasattr(x, "detach") else np.asarray(x)


class DetectionAdapter(Adapter):
    """Base of the detection adapters: subclasses implement :meth:`detect` in the model's label space.

    ``self.model_labels`` is the label space (``{label: name or None}``, or None when the model
    already returns dataset category ids); it may be set as late as the first :meth:`detect`.
    """

    kinds = frozenset({"detection"})

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model: Any = None
        self.model_labels: dict[int, str | None] | None = None
        self.preprocess_description: dict[str, Any] = {}
        self._lookup: np.ndarray | None = None
        self._resolved = False
        self._known_ids: np.ndarray = np.zeros(0, dtype=np.int64)

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        if hasattr(self.model, "to") and hasattr(self.model, "eval"):
            self.model.to(device).eval()
        self._known_ids = np.asarray(task.category_ids or range(1, len(task.classes) + 1), dtype=np.int64)
        self._resolved = False
        if self.model_labels is not None:
            self._resolve()  # a mismatch fails before any image is decoded

    def _resolve(self) -> None:
        assert self.task is not None
        label_map = dict(self.spec.label_map) or None
        self._lookup = resolve_detection_labels(
            self.model_labels, self.task, label_map, model_name=self.spec.spec
        )
        self._resolved = True

    def detect(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        """Per image ``boxes`` [K, 4] xyxy in original pixels, ``scores``, ``labels`` (model labels), ``masks``?"""
        raise NotImplementedError

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, np.ndarray]]:
        raw = self.detect(batch, metas)
        if len(raw) != len(metas):
            raise ModelError(
                f"model '{self.spec.spec}' returned {len(raw)} results for a batch of {len(metas)} images"
            )
        if not self._resolved:
            self._resolve()
        return [self.canonical(r, m) for r, m in zip(raw, metas, strict=True)]

    def canonical(self, raw: dict[str, Any], meta: ImageMeta) -> dict[str, np.ndarray]:
        """float64 boxes clipped to the image, category ids via the lookup, unmapped labels dropped."""
        try:
            boxes = to_numpy(raw["boxes"]).astype(np.float64).reshape(-1, 4)
            scores = to_numpy(raw["scores"]).astype(np.float64).reshape(-1)
            labels = to_numpy(raw["labels"]).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model '{self.spec.spec}' returned {type(exc).__name__} {exc} for {meta.sample_id}; "
                "expected a dict with boxes [K, 4], scores [K], labels [K]"
            ) from None
        if not (len(boxes) == len(scores) == len(labels)):
            raise ModelError(
                f"model '{self.spec.spec}': {len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels for {meta.sample_id}"
            )
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            if not np.array_equal(labels, np.round(labels)):
                raise ModelError(f"model '{self.spec.spec}' returned non-integer labels for {meta.sample_id}")
            labels = labels.astype(np.int64)
        labels = labels.astype(np.int64)
        if self._lookup is not None:
            inside = (labels >= 0) & (labels < len(self._lookup))
            ids = np.where(inside, self._lookup[np.clip(labels, 0, len(self._lookup) - 1)], -1)
            keep = ids >= 0
        else:
            ids = labels
            unknown = ~np.isin(ids, self._known_ids)
            if unknown.any():
                raise ModelError(
                    f"model '{self.spec.spec}' predicted category id {int(ids[unknown][0])} for {meta.sample_id}, "
                    f"which is not a category of {self.task.dataset if self.task else 'the dataset'} "
                    f"(ids: {', '.join(map(str, self._known_ids[:12]))}{'...' if len(self._known_ids) > 12 else ''})"
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
                    f"model '{self.spec.spec}': masks of shape {list(masks.shape)} for {len(keep)} detections on a "
                    f"{meta.width}x{meta.height} image ({meta.sample_id}); expected [K, H, W]"
                )
            out["masks"] = (masks[keep] > 0.5) if masks.dtype != bool else masks[keep]
        return out

    @property
    def module(self) -> Any:
        import torch

        return self.model if isinstance(self.model, torch.nn.Module) else None

    def fingerprint(self) -> str:
        module = self.module
        return state_dict_fingerprint(module) if module is not None else self.spec.fingerprint

    def describe(self) -> dict[str, Any]:
        labels = self.model_labels
        return {
            **super().describe(),
            "name": self.spec.spec,
            "preprocess": self.preprocess_description,
            "model_labels": None if labels is None else len(labels),
        }
