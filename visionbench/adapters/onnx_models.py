"""ONNX Runtime classifiers: ``onnx:<path/to/model.onnx>``.

Preprocessing comes from ``--model-arg`` options (``size``/``resize``/``crop``, ``mean``,
``std``, ``mode`` RGB|BGR|L, ``interpolation``) or, where absent, from the model: the
input shape gives the size and a ``visionbench.preprocess`` metadata entry (JSON) the
rest. Class names are read from metadata (``classes``, ``labels``, ``class_names`` or
``character``: a JSON list, or one name per line or comma).
"""

from __future__ import annotations

import json
from typing import Any

from visionbench.adapters.base import ClassifierAdapter
from visionbench.adapters.onnx_session import OnnxModel
from visionbench.errors import ModelError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter

CLASS_KEYS = ("classes", "labels", "class_names", "character")
PREPROCESS_KEYS = set(Preprocess.__dataclass_fields__) | {"size"}


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
        self.onnx = OnnxModel(spec.target)
        self.path = self.onnx.path
        options = spec.option_dict
        self.model_classes = options.pop("classes", None) or self._metadata_classes(
            options.pop("classes_key", None)
        )
        self.preprocess = Preprocess.from_dict(self._preprocess_options(options))

    def _metadata_classes(self, key: str | None) -> list[str] | None:
        value = self.onnx.metadata_value((key,) if key else CLASS_KEYS)
        if value is None and key:
            raise ModelError(
                f"{self.path}: no metadata entry '{key}' (has: {', '.join(self.onnx.metadata) or 'none'})"
            )
        return parse_class_list(value) if value is not None else None

    def _preprocess_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = set(options) - PREPROCESS_KEYS
        if unknown:
            raise ModelError(f"unknown option(s) for onnx:{self.path.name}: {', '.join(sorted(unknown))}")
        merged = metadata_preprocess(self.onnx)
        merged.update(options)
        if not {"resize", "size", "crop"} & set(merged):
            if self.onnx.static_size is None:
                raise ModelError(f"{self.path}: input size is dynamic; give --model-arg size=[H,W]")
            merged["size"] = list(self.onnx.static_size)
        return merged

    def prepare(self, task: Any, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        self.onnx.use_device(device)

    def forward(self, batch: Any) -> Any:
        return self.onnx.run_tensor(batch)

    @property
    def module(self) -> Any:
        return None

    def fingerprint(self) -> str:
        return self.onnx.fingerprint()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.onnx.describe()}


def metadata_preprocess(onnx: OnnxModel) -> dict[str, Any]:
    """Preprocess options stored in the model (``visionbench.preprocess`` JSON), with grey defaults for 1-channel inputs."""
    merged: dict[str, Any] = {}
    if "visionbench.preprocess" in onnx.metadata:
        try:
            merged.update(json.loads(onnx.metadata["visionbench.preprocess"]))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{onnx.path}: metadata visionbench.preprocess is not JSON: {exc}") from None
    if onnx.channels == 1:
        merged.setdefault("mode", "L")
        merged.setdefault("mean", [0.5])
        merged.setdefault("std", [0.5])
    return merged
