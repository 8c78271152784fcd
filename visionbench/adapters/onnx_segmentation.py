"""ONNX Runtime semantic segmenters: ``onnx:<path/to/model.onnx>`` whose first output is logits ``[N, C, h, w]``.

Preprocessing comes from ``--model-arg`` options (``size`` [H, W] or ``resize`` (shorter side),
``mean``, ``std``, ``mode`` RGB|BGR|L, ``interpolation``) over a ``visionbench.preprocess``
metadata entry (JSON); a static input shape gives the size when neither does. Class names come
from ``--model-arg classes=[...]`` or metadata (``classes``, ``labels``, ``class_names``).
Logits are upsampled to each original image size before the argmax, as for every segmenter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionbench.adapters.base import file_fingerprint
from visionbench.adapters.onnx_models import CLASS_KEYS, parse_class_list
from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess, unnamed
from visionbench.errors import ModelError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter

_PREPROCESS_KEYS = set(Preprocess.__dataclass_fields__) | {"size"}


@register_adapter("onnx", kinds=("segmentation",))
class OnnxSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("onnxruntime is not installed: pip install 'visionbench[onnx]'") from None
        self.path = Path(spec.target)
        if not self.path.is_file():
            raise ModelError(f"ONNX model not found: {self.path}")
        try:
            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load ONNX model {self.path}: {exc}") from None
        self.input = self.session.get_inputs()[0]
        metadata = self.session.get_modelmeta().custom_metadata_map
        options = spec.option_dict
        classes = options.pop("classes", None)
        unknown = set(options) - _PREPROCESS_KEYS
        if unknown:
            raise ModelError(f"unknown option(s) for onnx:{self.path.name}: {', '.join(sorted(unknown))}")
        if classes is None:
            key = next((k for k in CLASS_KEYS if k in metadata), None)
            classes = parse_class_list(metadata[key]) if key else None
        self.model_classes = unnamed(classes)
        self.preprocess = segmentation_preprocess(self._preprocess_options(metadata, options))
        self.fixed_batch = self.input.shape[0] if isinstance(self.input.shape[0], int) else None

    def _preprocess_options(self, metadata: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if "visionbench.preprocess" in metadata:
            try:
                merged.update(json.loads(metadata["visionbench.preprocess"]))
            except json.JSONDecodeError as exc:
                raise ModelError(f"{self.path}: metadata visionbench.preprocess is not JSON: {exc}") from None
        merged.update(options)
        shape = self.input.shape
        if "size" not in merged and "resize" not in merged:
            if len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
                merged["size"] = [shape[2], shape[3]]
            else:
                merged["resize"] = 520
        if len(shape) == 4 and shape[1] == 1:
            merged.setdefault("mode", "L")
            merged.setdefault("mean", [0.5])
            merged.setdefault("std", [0.5])
        return merged

    def prepare(self, task: Any, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        if device.startswith("cuda"):
            import onnxruntime as ort

            if "CUDAExecutionProvider" in ort.get_available_providers():
                self.session.set_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])

    def logits(self, pixels: Any) -> Any:
        import numpy as np
        import torch

        array = pixels.detach().to("cpu", torch.float32).numpy()
        if self.fixed_batch and array.shape[0] != self.fixed_batch:
            out = np.concatenate(
                [self.session.run(None, {self.input.name: array[i : i + 1]})[0] for i in range(len(array))]
            )
        else:
            out = self.session.run(None, {self.input.name: array})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    @property
    def module(self) -> Any:
        return None

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "name": f"onnx:{self.path.stem}",
            "onnx_input": [self.input.name, list(map(str, self.input.shape))],
        }
