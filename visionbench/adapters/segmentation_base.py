"""Shared machinery for semantic segmentation adapters.

A segmenter maps a batch ``[N, 3, h, w]`` to logits ``[N, M, h', w']`` in its own label space.
:class:`SegmenterAdapter` selects the logit channels of the dataset's classes (an explicit
label map, see :func:`segmentation_columns`), upsamples each image's logits bilinearly to its
*original* size and takes the argmax, giving the canonical ``int64 [H, W]`` class map.

Images of different sizes are batched by padding (bottom/right) to the largest one; the
padded part of each image's logits is cropped off before upsampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from visionbench.adapters.base import state_dict_fingerprint
from visionbench.contracts import Adapter, ImageMeta, TaskInfo, resolve_label_map
from visionbench.errors import ConfigError, ModelError
from visionbench.preprocessing import ImageTransform, Preprocess

# What a segmenter sees when nothing else is said: the shorter side resized to 520 px (as
# torchvision's segmentation weights do), ImageNet mean/std, no crop.
DEFAULT_PREPROCESS = Preprocess(resize=520)


class PaddedBatch(NamedTuple):
    """Images of different sizes padded to one tensor, with each image's own (height, width)."""

    pixels: Any
    sizes: Sequence[Sequence[int]]


def segmentation_preprocess(
    options: dict[str, Any] | None, fallback: Preprocess = DEFAULT_PREPROCESS
) -> Preprocess:
    """A :class:`Preprocess` from options (or ``fallback``); cropping is refused, as a crop loses pixels to predict."""
    spec = Preprocess.from_dict(options) if options else fallback
    if spec.crop is not None:
        raise ConfigError("segmentation preprocessing cannot crop: predictions must cover the whole image")
    return spec


def segmentation_columns(
    model_classes: Sequence[str] | None,
    num_outputs: int,
    task: TaskInfo,
    label_map: dict[str, str] | None,
    *,
    model_name: str,
    device: Any = None,
) -> Any:
    """Index tensor of the logit channels for the dataset's classes (in dataset order), or None for all of them.

    The policy is :func:`~visionbench.contracts.resolve_label_map`: an explicit map wins, then
    class names, then equal counts by position; anything else asks for ``--label-map``. A
    dataset whose classes are only numbered (``num_classes=K``) has no names to match, so a
    model with as many outputs maps by position whatever its own names.
    """
    import torch

    if not label_map and unnamed(task.classes) is None:
        model_classes = None
    columns = resolve_label_map(
        model_classes, num_outputs, task.classes, label_map, model_name=model_name, dataset_name=task.dataset
    )
    return None if columns is None else torch.as_tensor(columns, dtype=torch.long, device=device)


def unnamed(names: Sequence[str] | None) -> Sequence[str] | None:
    """None when a model's class names are placeholders (``LABEL_0``, ``0``...), so counts map by position."""
    if not names:
        return None
    placeholders = ({f"LABEL_{i}", str(i)} for i in range(len(names)))
    return None if all(str(n) in p for n, p in zip(names, placeholders, strict=True)) else list(names)


def pad_batch(items: Sequence[Any]) -> Any:
    """Stack equally sized ``[C, h, w]`` tensors; pad different sizes into a :class:`PaddedBatch`."""
    import torch

    shapes = {tuple(item.shape) for item in items}
    if len(shapes) == 1:
        return torch.stack(list(items))
    channels = {s[0] for s in shapes}
    if len(channels) != 1:
        raise ModelError(f"preprocessed images have different channel counts: {sorted(channels)}")
    height = max(s[1] for s in shapes)
    width = max(s[2] for s in shapes)
    out = items[0].new_zeros((len(items), channels.pop(), height, width))
    for i, item in enumerate(items):
        out[i, :, : item.shape[1], : item.shape[2]] = item
    return PaddedBatch(out, [(int(item.shape[1]), int(item.shape[2])) for item in items])


def unwrap_logits(output: Any) -> Any:
    """The logits tensor of common model outputs: a tensor, ``{"out": ...}``, ``.logits``, or a tuple's first item."""
    if isinstance(output, dict) and "out" in output:
        return output["out"]
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


class SegmenterAdapter(Adapter):
    """An adapter whose model maps a batch to ``[N, M, h, w]`` logits; predictions are class maps at the original size.

    Subclasses set ``self.model``, ``self.preprocess`` (a :class:`Preprocess` or a picklable
    transform) and optionally ``self.model_classes``, and may override :meth:`logits`.
    """

    kinds = frozenset({"segmentation"})

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model: Any = None
        self.preprocess: Preprocess | Callable[[Any], Any] = DEFAULT_PREPROCESS
        self.preprocess_description: dict[str, Any] = {}
        self.model_classes: Sequence[str] | None = None
        self._columns: Any = None
        self._checked = False

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        if hasattr(self.model, "to"):
            self.model.to(device).eval()
        self._checked = False

    def transform(self) -> Callable[[Any], Any]:
        if isinstance(self.preprocess, Preprocess):
            return ImageTransform(self.preprocess)
        return self.preprocess

    def collate(self, items: list[Any]) -> Any:
        return pad_batch(items)

    def logits(self, pixels: Any) -> Any:
        """Raw logits ``[N, M, h, w]`` for a batch tensor."""
        return unwrap_logits(self.model(pixels.to(self.device, non_blocking=True)))

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> list[Any]:
        pixels, sizes = (batch.pixels, batch.sizes) if isinstance(batch, PaddedBatch) else (batch, None)
        logits = self.logits(pixels)
        if getattr(logits, "ndim", 0) != 4:
            shape = list(getattr(logits, "shape", []))
            raise ModelError(f"'{self.spec.spec}' must output logits [N, classes, h, w]; got shape {shape}")
        logits = self.select_classes(logits.float())
        if sizes is not None:
            logits = crop_padding(logits, sizes, tuple(pixels.shape[-2:]))
        return self.class_maps(logits, metas)

    def select_classes(self, logits: Any) -> Any:
        """Keep the logit channels of the dataset's classes, in dataset order (checked on the first batch)."""
        if not self._checked:
            assert self.task is not None
            self._columns = segmentation_columns(
                self.model_classes,
                int(logits.shape[1]),
                self.task,
                dict(self.spec.label_map) or None,
                model_name=self.spec.spec,
                device=logits.device,
            )
            self._checked = True
        return logits if self._columns is None else logits.index_select(1, self._columns)

    def class_maps(self, logits: Any, metas: Sequence[ImageMeta]) -> list[Any]:
        """Per image: logits upsampled (bilinear) to the original size, argmax, ``int64 [H, W]`` on the CPU."""
        return [upsample_argmax(logits[i], (m.height, m.width)) for i, m in enumerate(metas)]

    @property
    def module(self) -> Any:
        import torch

        return self.model if isinstance(self.model, torch.nn.Module) else None

    def fingerprint(self) -> str:
        module = self.module
        return state_dict_fingerprint(module) if module is not None else self.spec.fingerprint

    def describe(self) -> dict[str, Any]:
        pre = (
            self.preprocess.to_dict()
            if isinstance(self.preprocess, Preprocess)
            else self.preprocess_description
        )
        return {**super().describe(), "name": self.spec.spec, "preprocess": pre}


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
