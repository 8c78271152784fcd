"""ONNX Runtime classifiers: ``onnx:<path/to/model.onnx>``.

Preprocessing comes from ``--model-arg`` options (``size``/``resize``/``crop``, ``mean``,
``std``, ``mode`` RGB|BGR|L, ``interpolation``) or, where absent, from the model: the
input shape gives the size and a ``visionbench.preprocess`` metadata entry (JSON) the
rest. Class names are read from metadata (``classes``, ``labels``, ``class_names`` or
``character``: a JSON list, or one name per line or comma).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionbench.adapters.base import ClassifierAdapter, file_fingerprint
from visionbench.errors import ModelError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter

CLASS_KEYS = ("classes", "labels", "class_names", "character")


def parse_class_list(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    sep = "\n" if "\n" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


@register_adapter("onnx")
class OnnxClassifier(ClassifierAdapter):
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
        self.model_classes = options.pop("classes", None) or self._metadata_classes(
            metadata, options.pop("classes_key", None)
        )
        self.preprocess = Preprocess.from_dict(self._preprocess_options(metadata, options))
        self.fixed_batch = self.input.shape[0] if isinstance(self.input.shape[0], int) else None

    def _metadata_classes(self, metadata: dict[str, str], key: str | None) -> list[str] | None:
        for candidate in [key] if key else CLASS_KEYS:
            if candidate in metadata:
                return parse_class_list(metadata[candidate])
        if key:
            raise ModelError(f"{self.path}: no metadata entry '{key}' (has: {', '.join(metadata) or 'none'})")
        return None

    def _preprocess_options(self, metadata: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if "visionbench.preprocess" in metadata:
            merged.update(json.loads(metadata["visionbench.preprocess"]))
        merged.update(
            {k: v for k, v in options.items() if k in Preprocess.__dataclass_fields__ or k == "size"}
        )
        unknown = set(options) - set(Preprocess.__dataclass_fields__) - {"size"}
        if unknown:
            raise ModelError(f"unknown option(s) for onnx:{self.path.name}: {', '.join(sorted(unknown))}")
        shape = self.input.shape
        if "resize" not in merged and "size" not in merged and "crop" not in merged:
            if len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
                merged["size"] = [shape[2], shape[3]]
            else:
                raise ModelError(f"{self.path}: input size is dynamic; give --model-arg size=[H,W]")
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

    def forward(self, batch: Any) -> Any:
        import numpy as np
        import torch

        array = batch.detach().to("cpu", torch.float32).numpy()
        if self.fixed_batch and array.shape[0] != self.fixed_batch:
            parts = [
                self.session.run(None, {self.input.name: array[i : i + 1]})[0] for i in range(len(array))
            ]
            out = np.concatenate(parts)
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
