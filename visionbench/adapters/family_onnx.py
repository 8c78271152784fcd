"""ONNX Runtime models: ``onnx:<path/to/model.onnx>`` for classification, segmentation and detection.

Classification and segmentation: the first output is logits ``[N, C]`` / ``[N, C, h, w]``.
Preprocessing comes from ``--model-arg`` options (``size``/``resize``/``crop``, ``mean``, ``std``,
``mode`` RGB|BGR|L, ``interpolation``) over a ``visionbench.preprocess`` metadata entry (JSON);
a static input shape gives the size when neither does (segmentation falls back to shorter side
520). Class names: ``classes`` option, else metadata (``classes``, ``labels``, ``class_names``,
``character``: a JSON list, or one name per line or comma).

Detection needs a declared decoding, ``--model-arg decode=yolo``: see :mod:`visionbench.adapters.onnx_yolo`.

ONNX models are not differentiable: ``forward_pixels`` raises a :class:`~visionbench.errors.ModelError`.
The digest is the sha256 of the model file.
"""

from __future__ import annotations

import json
from typing import Any

from visionbench.adapters.core import Model
from visionbench.adapters.objects import model_preprocess
from visionbench.adapters.onnx_session import OnnxModel
from visionbench.adapters.pixels import ToPixels, describe_preprocess, normalize_tensor, zero_padding
from visionbench.contracts import ModelSpec
from visionbench.errors import ModelError
from visionbench.preprocessing import Preprocess

CLASS_KEYS = ("classes", "labels", "class_names", "character")
PREPROCESS_KEYS = set(Preprocess.__dataclass_fields__) | {"size"}


def parse_class_list(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    sep = "\n" if "\n" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def metadata_preprocess(onnx: OnnxModel) -> dict[str, Any]:
    """Preprocess options stored in the model (``visionbench.preprocess`` JSON), grey defaults for 1-channel inputs."""
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


def onnx_model(onnx: OnnxModel, *, name: str, transform: Any, run: Any, **fields: Any) -> Model:
    """A :class:`Model` around an ONNX session: no torch module, not differentiable, file digest."""
    return Model(
        name=name,
        transform=transform,
        run=run,
        digest=onnx.fingerprint,
        licence=fields.pop("licence", "see the model's source"),
        source={"library": "onnxruntime", "file": str(onnx.path)},
        to_device=onnx.use_device,
        extra={"onnx_input": onnx.describe()["onnx_input"], **fields.pop("extra", {})},
        **fields,
    )


def load(spec: ModelSpec, kind: str) -> Model:
    if kind == "detection":
        from visionbench.adapters.onnx_yolo import load_detector

        return load_detector(spec)
    from visionbench.adapters.model_options import PREPROCESS, check_model_options, refuse_weights
    from visionbench.schema import Option

    declared = {"classes": Option("json"), **PREPROCESS}
    if kind == "classification":
        declared["classes_key"] = Option("str")
    check_model_options(spec, declared)
    refuse_weights(spec, "the weights are in the .onnx file")
    onnx = OnnxModel(spec.target)
    options = spec.option_dict
    classes = options.pop("classes", None)
    key = options.pop("classes_key", None) if kind == "classification" else None
    if classes is None:
        value = onnx.metadata_value((key,) if key else CLASS_KEYS)
        if value is None and key:
            raise ModelError(
                f"{onnx.path}: no metadata entry '{key}' (has: {', '.join(onnx.metadata) or 'none'})"
            )
        classes = parse_class_list(value) if value is not None else None
    merged = metadata_preprocess(onnx)
    merged.update(options)
    if not {"resize", "size", "crop"} & set(merged):
        if onnx.static_size is not None:
            merged["size"] = list(onnx.static_size)
        elif kind == "segmentation":
            merged["resize"] = 520
        else:
            raise ModelError(f"{onnx.path}: input size is dynamic; give --model-arg size=[H,W]")
    pre = model_preprocess(kind, merged)
    pixels = ToPixels.of(pre)

    def run(batch: Any, sizes: Any = None) -> Any:
        return onnx.run_tensor(zero_padding(normalize_tensor(batch, pre.mean, pre.std), sizes))

    return onnx_model(
        onnx,
        name=f"onnx:{onnx.path.stem}",
        transform=pixels,
        run=run,
        classes=classes,
        preprocess=describe_preprocess(
            pixels, pre.mean, pre.std, normalize="before the session: (x01 - mean) / std"
        ),
    )


load.kinds = ("classification", "detection", "segmentation")  # type: ignore[attr-defined]
