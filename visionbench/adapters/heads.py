"""Thin heads: model outputs -> the canonical predictions of one task kind, in the dataset's label space.

* classification: logits ``[N, C]`` in the dataset's class order (several model columns per
  dataset class are reduced by their maximum);
* segmentation: per image ``int64 [H, W]`` at the original size: logit channels selected the
  same way, the padding of a mixed-size batch cropped off, logits upsampled bilinearly to the
  original size, then argmax (a loader may supply its library's own post-processing);
* detection: :mod:`visionbench.adapters.head_detection`;
* captioning: :mod:`visionbench.adapters.head_captioning` (one ``str`` per image).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from visionbench.adapters.core import ModelAdapter, unwrap
from visionbench.adapters.labels import column_index, select_columns, unnamed
from visionbench.adapters.output_checks import checked_logits
from visionbench.contracts import ImageMeta, TaskInfo, resolve_label_map
from visionbench.errors import ModelError


def head_for(kind: str, adapter: ModelAdapter) -> Any:
    from visionbench.adapters.head_captioning import CaptioningHead
    from visionbench.adapters.head_detection import DetectionHead

    heads = {
        "classification": ClassificationHead,
        "segmentation": SegmentationHead,
        "detection": DetectionHead,
        "captioning": CaptioningHead,
    }
    if kind not in heads:
        raise ModelError(f"no {kind} head for '{adapter.spec.spec}' (heads: {', '.join(sorted(heads))})")
    return heads[kind](adapter)


class ColumnHead:
    """Shared by heads whose outputs have one channel per model class along dim 1."""

    def __init__(self, adapter: ModelAdapter) -> None:
        self.adapter, self.model = adapter, adapter.model
        self.index: Any = None
        self.checked = False

    def bind(self, task: TaskInfo) -> None:
        self.task, self.checked = task, False

    def collate(self, items: list[Any]) -> Any:
        return self.model.collate(items)

    def model_classes(self) -> Sequence[str] | None:
        return self.model.classes

    def select(self, outputs: Any) -> Any:
        """Keep the channels of the dataset's classes in dataset order (resolved on the first batch)."""
        task = getattr(self, "task", None)
        if task is None:
            return outputs
        if not self.checked:
            columns = resolve_label_map(
                self.model_classes(),
                int(outputs.shape[1]),
                task.classes,
                dict(self.adapter.spec.label_map) or None,
                model_name=self.adapter.spec.spec,
                dataset_name=task.dataset,
                aliases=self.model.aliases,
            )
            self.index, self.checked = column_index(columns, outputs.device), True
        return select_columns(outputs, self.index)


class ClassificationHead(ColumnHead):
    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> Any:
        logits = checked_logits(
            unwrap(self.model.run(batch)), model=self.adapter.spec.spec, metas=metas, rank=2
        )
        return self.select(logits.float())

    def forward_pixels(self, x01: Any) -> Any:
        return self.select(unwrap(self.model.pixels(x01)).float())


class PaddedBatch(NamedTuple):
    """Images of different sizes padded (bottom/right, zeros) to one tensor, with each image's ``(h, w)``."""

    pixels: Any
    sizes: Sequence[Sequence[int]]


def pad_batch(items: Sequence[Any]) -> Any:
    """Stack equally sized ``[C, h, w]`` tensors; pad different sizes into a :class:`PaddedBatch`."""
    import torch

    shapes = {tuple(item.shape) for item in items}
    if len(shapes) == 1:
        return torch.stack(list(items))
    channels = {s[0] for s in shapes}
    if len(channels) != 1:
        raise ModelError(f"preprocessed images have different channel counts: {sorted(channels)}")
    height, width = max(s[1] for s in shapes), max(s[2] for s in shapes)
    out = items[0].new_zeros((len(items), channels.pop(), height, width))
    for i, item in enumerate(items):
        out[i, :, : item.shape[1], : item.shape[2]] = item
    return PaddedBatch(out, [(int(item.shape[1]), int(item.shape[2])) for item in items])


class SegmentationHead(ColumnHead):
    """A dataset whose classes are only numbered (``0..K-1``) maps by position to a model with K outputs."""

    def collate(self, items: list[Any]) -> Any:
        return pad_batch(items)

    def model_classes(self) -> Sequence[str] | None:
        if not self.adapter.spec.label_map and unnamed(self.task.classes) is None:
            return None
        return unnamed(self.model.classes)

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> list[Any]:
        pixels, sizes = (batch.pixels, batch.sizes) if isinstance(batch, PaddedBatch) else (batch, None)
        logits = unwrap(self.model.run(pixels, sizes))
        logits = checked_logits(logits, model=self.adapter.spec.spec, metas=metas, rank=4)
        logits = self.select(logits.float())
        if sizes is not None:
            logits = crop_padding(logits, sizes, tuple(pixels.shape[-2:]))
        if self.model.class_maps is not None:
            return self.model.class_maps(logits, metas)
        return [upsample_argmax(logits[i], (m.height, m.width)) for i, m in enumerate(metas)]

    def forward_pixels(self, x01: Any) -> Any:
        return self.select(unwrap(self.model.pixels(x01)).float())


def upsample_argmax(logits: Any, size: tuple[int, int]) -> Any:
    """``[M, h, w]`` logits -> ``int64 [H, W]`` class map at ``size`` (bilinear, half-pixel centres)."""
    import torch
    from torch.nn import functional as F

    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)[0]
    return logits.argmax(0).to("cpu", torch.int64)


def crop_padding(logits: Any, sizes: Sequence[Sequence[int]], padded: tuple[int, int]) -> list[Any]:
    """Per image, the part of ``[N, M, h, w]`` logits that covers the image rather than its padding."""
    height, width = int(logits.shape[-2]), int(logits.shape[-1])
    out = []
    for i, (h, w) in enumerate(sizes):
        keep_h = min(height, math.ceil(int(h) * height / padded[0]))
        keep_w = min(width, math.ceil(int(w) * width / padded[1]))
        out.append(logits[i, :, :keep_h, :keep_w])
    return out
