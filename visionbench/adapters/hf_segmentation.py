"""Hugging Face semantic segmenters: ``hf:<model id or local folder>`` (SegFormer, UperNet, BEiT, DPT, MobileViT...).

Loads ``AutoModelForSemanticSegmentation`` and ``AutoImageProcessor`` with ``from_pretrained``;
the processor prepares each image in the loader workers, and outputs go through the
processor's ``post_process_semantic_segmentation(outputs, target_sizes)`` (logits upsampled
bilinearly to each original size, then argmax). Class names come from ``config.id2label``
(placeholder ``LABEL_<n>`` names count as unnamed). Options: ``revision``, ``use_fast``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.segmentation_base import SegmenterAdapter, unnamed
from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError
from visionbench.registry import register_adapter

OPTIONS = ("revision", "use_fast")
_PROCESSOR_KEYS = (
    "size",
    "do_resize",
    "do_rescale",
    "do_normalize",
    "image_mean",
    "image_std",
    "resample",
    "do_reduce_labels",
)


class ProcessorPixels:
    """One PIL image through a Hugging Face image processor -> ``pixel_values`` ``[3, h, w]`` (picklable)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, image: Any) -> Any:
        return self.processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0]

    def __repr__(self) -> str:
        return f"ProcessorPixels({type(self.processor).__name__})"


@register_adapter("hf", kinds=("segmentation",))
class HFSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        try:
            from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation
            from transformers.utils import logging as hf_logging
        except ImportError:
            raise ModelError("transformers is not installed: pip install 'visionbench[hf]'") from None
        options = spec.option_dict
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ModelError(
                f"unknown option(s) for hf:{spec.target}: {', '.join(unknown)} (known: {', '.join(OPTIONS)})"
            )
        load = {"revision": options["revision"]} if "revision" in options else {}
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # loading bars would clutter --quiet and non-TTY output
        try:
            self.model = AutoModelForSemanticSegmentation.from_pretrained(spec.target, **load)
            extra = {"use_fast": bool(options["use_fast"])} if "use_fast" in options else {}
            self.processor = AutoImageProcessor.from_pretrained(spec.target, **load, **extra)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"hf:{spec.target}: cannot load a semantic-segmentation model and image processor: {exc}"
            ) from None
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        id2label = dict(self.model.config.id2label)
        self.model_classes = unnamed([str(id2label[i]) for i in sorted(id2label)])
        self.preprocess = ProcessorPixels(self.processor)
        settings = {
            k: _plain(getattr(self.processor, k)) for k in _PROCESSOR_KEYS if hasattr(self.processor, k)
        }
        self.preprocess_description = {"processor": type(self.processor).__name__, **settings}

    def logits(self, pixels: Any) -> Any:
        return self.model(pixel_values=pixels.to(self.device, non_blocking=True)).logits

    def class_maps(self, logits: Any, metas: Sequence[ImageMeta]) -> list[Any]:
        import torch
        from transformers.modeling_outputs import SemanticSegmenterOutput

        post = getattr(self.processor, "post_process_semantic_segmentation", None)
        if post is None:
            return super().class_maps(logits, metas)
        if isinstance(logits, torch.Tensor):
            maps = post(
                SemanticSegmenterOutput(logits=logits), target_sizes=[(m.height, m.width) for m in metas]
            )
        else:  # a padded batch, already cropped per image
            maps = [
                post(SemanticSegmenterOutput(logits=x[None]), target_sizes=[(m.height, m.width)])[0]
                for x, m in zip(logits, metas, strict=True)
            ]
        return [m.to("cpu", torch.int64) for m in maps]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "name": f"hf:{self.spec.target}"}

    def licence(self) -> str:
        return str(getattr(self.model.config, "license", None) or "see the model card")


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
