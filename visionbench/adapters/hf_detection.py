"""Hugging Face object detectors: ``hf:<model id or local folder>`` (DETR, Deformable DETR, RT-DETR, YOLOS...).

Loads ``AutoModelForObjectDetection`` and ``AutoImageProcessor`` with ``from_pretrained``;
the processor prepares each image in the loader workers, batches are padded bottom-right
(with a ``pixel_mask`` for models that take one) and outputs go through the processor's
``post_process_object_detection(outputs, threshold, target_sizes)`` at each original size.
Labels come from ``config.id2label`` and are matched to the dataset by name (placeholder
``LABEL_<n>`` names count as unnamed). Options: ``threshold`` (score cut, default 0.0:
COCO scoring wants every ranked detection), ``revision``, ``use_fast``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from visionbench.adapters.detection_base import DetectionAdapter, model_label_space
from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError
from visionbench.registry import register_adapter

OPTIONS = ("threshold", "revision", "use_fast")


class ProcessorTransform:
    """One PIL image through a Hugging Face image processor -> its tensors without the batch axis (picklable)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, image: Any) -> dict[str, Any]:
        encoded = self.processor(images=image.convert("RGB"), return_tensors="pt")
        return {k: v[0] for k, v in encoded.items() if k in ("pixel_values", "pixel_mask")}

    def __repr__(self) -> str:
        return f"ProcessorTransform({type(self.processor).__name__})"


def pad_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``pixel_values`` padded bottom-right with zeros, and a ``pixel_mask`` marking the real pixels."""
    import torch

    height = max(int(it["pixel_values"].shape[-2]) for it in items)
    width = max(int(it["pixel_values"].shape[-1]) for it in items)
    values = torch.zeros(len(items), items[0]["pixel_values"].shape[0], height, width)
    mask = torch.zeros(len(items), height, width, dtype=torch.long)
    for i, it in enumerate(items):
        h, w = it["pixel_values"].shape[-2:]
        values[i, :, :h, :w] = it["pixel_values"]
        mask[i, :h, :w] = it.get("pixel_mask", 1)
    return {"pixel_values": values, "pixel_mask": mask}


@register_adapter("hf", kinds=("detection",))
class HFDetector(DetectionAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        try:
            from transformers import AutoImageProcessor, AutoModelForObjectDetection
        except ImportError:
            raise ModelError("transformers is not installed: pip install 'visionbench[hf]'") from None
        options = spec.option_dict
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ModelError(
                f"unknown option(s) for hf:{spec.target}: {', '.join(unknown)} (known: {', '.join(OPTIONS)})"
            )
        self.threshold = float(options.get("threshold", 0.0))
        load = {"revision": options["revision"]} if "revision" in options else {}
        try:
            self.model = AutoModelForObjectDetection.from_pretrained(spec.target, **load)
            processor_options = {"use_fast": bool(options["use_fast"])} if "use_fast" in options else {}
            self.processor = AutoImageProcessor.from_pretrained(spec.target, **load, **processor_options)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"hf:{spec.target}: cannot load an object-detection model and image processor: {exc}"
            ) from None
        self.model_labels = model_label_space(dict(self.model.config.id2label))
        self.takes_mask = "pixel_mask" in inspect.signature(self.model.forward).parameters
        self.preprocess_description = {
            "processor": type(self.processor).__name__,
            **self._processor_settings(),
        }

    def _processor_settings(self) -> dict[str, Any]:
        keys = ("size", "do_resize", "do_normalize", "image_mean", "image_std", "do_pad", "resample")
        return {k: str(getattr(self.processor, k)) for k in keys if hasattr(self.processor, k)}

    def transform(self) -> Any:
        return ProcessorTransform(self.processor)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return pad_batch(items)

    def detect(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        inputs = {"pixel_values": batch["pixel_values"].to(self.device)}
        if self.takes_mask:
            inputs["pixel_mask"] = batch["pixel_mask"].to(self.device)
        outputs = self.model(**inputs)
        sizes = [(m.height, m.width) for m in metas]
        return self.processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=sizes
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "name": f"hf:{self.spec.target}",
            "architecture": type(self.model).__name__,
        }

    def licence(self) -> str:
        return "Apache-2.0 (transformers code); weights per their model card"
