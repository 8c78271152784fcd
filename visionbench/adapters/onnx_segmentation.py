"""ONNX Runtime semantic segmenters: ``onnx:<path/to/model.onnx>`` whose first output is logits ``[N, C, h, w]``.

Preprocessing comes from ``--model-arg`` options (``size`` [H, W] or ``resize`` (shorter side),
``mean``, ``std``, ``mode`` RGB|BGR|L, ``interpolation``) over a ``visionbench.preprocess``
metadata entry (JSON); a static input shape gives the size when neither does. Class names come
from ``--model-arg classes=[...]`` or metadata (``classes``, ``labels``, ``class_names``).
Logits are upsampled to each original image size before the argmax, as for every segmenter.
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.onnx_models import (
    CLASS_KEYS,
    PREPROCESS_KEYS,
    metadata_preprocess,
    parse_class_list,
)
from visionbench.adapters.onnx_session import OnnxModel
from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess, unnamed
from visionbench.errors import ModelError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter

_PREPROCESS_KEYS = set(Preprocess.__dataclass_fields__) | {"size"}


@register_adapter("onnx", kinds=("segmentation",))
class OnnxSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.onnx = OnnxModel(spec.target)
        self.path = self.onnx.path
        options = spec.option_dict
        classes = options.pop("classes", None)
        unknown = set(options) - PREPROCESS_KEYS
        if unknown:
            raise ModelError(f"unknown option(s) for onnx:{self.path.name}: {', '.join(sorted(unknown))}")
        if classes is None:
            value = self.onnx.metadata_value(CLASS_KEYS)
            classes = parse_class_list(value) if value is not None else None
        self.model_classes = unnamed(classes)
        merged = metadata_preprocess(self.onnx)
        merged.update(options)
        if "size" not in merged and "resize" not in merged:
            static = self.onnx.static_size
            if static is not None:
                merged["size"] = list(static)
            else:
                merged["resize"] = 520
        self.preprocess = segmentation_preprocess(merged)

    def prepare(self, task: Any, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        self.onnx.use_device(device)

    def logits(self, pixels: Any) -> Any:
        return self.onnx.run_tensor(pixels)

    @property
    def module(self) -> Any:
        return None

    def fingerprint(self) -> str:
        return self.onnx.fingerprint()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.onnx.describe()}
