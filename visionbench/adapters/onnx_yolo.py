"""ONNX Runtime detectors with a declared output decoding: ``onnx:<model.onnx> --model-arg decode=yolo``.

``decode=yolo`` reads the first output as ``[N, 4 + C, A]`` (YOLOv8-style: per anchor a
cx, cy, w, h box in input pixels, then C class scores), keeps each anchor's best class
above ``conf`` (0.001), runs per-class NMS (torchvision ``batched_nms``, IoU ``iou`` 0.7),
keeps the best ``max_det`` (100) and maps boxes back to original pixels. Input: RGB in
[0, 1] (``mode=BGR`` reverses channels), ``size`` from the model's input shape or
``--model-arg size=[H,W]``, letterboxed with grey (114) padding unless ``letterbox=false``
(plain resize). Class names: ``classes`` option, else the ``names`` / ``classes`` metadata
(a JSON list or an Ultralytics ``{0: 'person', ...}`` dict), else unnamed.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import numpy as np

from visionbench.adapters.core import Model
from visionbench.adapters.labels import model_label_space
from visionbench.adapters.onnx_session import OnnxModel
from visionbench.contracts import ImageMeta, ModelSpec
from visionbench.errors import ModelError
from visionbench.schema import Option

DECODERS = ("yolo",)
OPTIONS = ("decode", "size", "letterbox", "conf", "iou", "max_det", "classes", "mode")
DECLARED = {
    "decode": Option("str"),  # checked below, with a hint
    "size": Option("json"),
    "letterbox": Option("bool"),
    "conf": Option("float", minimum=0, maximum=1),
    "iou": Option("float", minimum=0, maximum=1),
    "max_det": Option("int", minimum=1, maximum=100_000),
    "classes": Option("json"),
    "mode": Option(choices=("RGB", "BGR")),
}


def letterbox_geometry(
    width: int, height: int, size: tuple[int, int], letterbox: bool
) -> tuple[int, int, int, int]:
    """(new width, new height, left, top) of the resized image inside the ``size`` = (H, W) input."""
    in_h, in_w = size
    if not letterbox:
        return in_w, in_h, 0, 0
    r = min(in_w / width, in_h / height)
    new_w, new_h = max(1, round(width * r)), max(1, round(height * r))
    return new_w, new_h, (in_w - new_w) // 2, (in_h - new_h) // 2


class LetterboxTransform:
    """PIL image -> float ``[3, H, W]`` in [0, 1], letterboxed (grey 114 borders) or plainly resized (picklable)."""

    def __init__(self, size: tuple[int, int], letterbox: bool, mode: str) -> None:
        self.size, self.letterbox, self.mode = size, letterbox, mode

    def __call__(self, image: Any) -> Any:
        import torch
        from PIL import Image

        image = image.convert("RGB")
        new_w, new_h, left, top = letterbox_geometry(image.width, image.height, self.size, self.letterbox)
        canvas = Image.new("RGB", (self.size[1], self.size[0]), (114, 114, 114))
        canvas.paste(image.resize((new_w, new_h), Image.Resampling.BILINEAR), (left, top))
        tensor = torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).to(torch.float32).div_(255.0)
        return tensor.flip(0) if self.mode == "BGR" else tensor

    def __repr__(self) -> str:
        return f"LetterboxTransform(size={list(self.size)}, letterbox={self.letterbox}, mode={self.mode})"


def parse_names(text: str) -> list[str]:
    """Class names from model metadata: a JSON list, an Ultralytics ``{0: 'a', ...}`` dict, or comma/line separated."""
    text = text.strip()
    if text.startswith("{"):
        try:
            names = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            names = json.loads(text)
        return [str(names[k]) for k in sorted(names, key=int)]
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    sep = "\n" if "\n" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def _input_size(onnx: OnnxModel, size: Any) -> tuple[int, int]:
    if size is None:
        if onnx.static_size is None:
            raise ModelError(f"{onnx.path}: input size is dynamic; give --model-arg size=[H,W]")
        return onnx.static_size
    if isinstance(size, int):
        return size, size
    if isinstance(size, list | tuple) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ModelError(f"size must be an int or [H, W], got {size!r}")


class YoloDecoder:
    """``[N, 4 + C, A]`` outputs -> per image best class per anchor, per-class NMS, boxes in original pixels."""

    def __init__(self, size: tuple[int, int], letterbox: bool, conf: float, iou: float, max_det: int) -> None:
        self.size, self.letterbox, self.conf, self.iou, self.max_det = size, letterbox, conf, iou, max_det

    def __call__(self, pred: Any, meta: ImageMeta) -> dict[str, Any]:
        import torch
        from torchvision.ops import batched_nms

        scores, labels = pred[:, 4:].max(dim=1)
        keep = scores > self.conf
        pred, scores, labels = pred[keep].double(), scores[keep].double(), labels[keep]
        cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
        order = batched_nms(boxes, scores, labels, self.iou)[: self.max_det]
        boxes, scores, labels = boxes[order], scores[order], labels[order]
        new_w, new_h, left, top = letterbox_geometry(meta.width, meta.height, self.size, self.letterbox)
        boxes[:, 0::2] = (boxes[:, 0::2] - left) * (meta.width / new_w)
        boxes[:, 1::2] = (boxes[:, 1::2] - top) * (meta.height / new_h)
        return {"boxes": boxes, "scores": scores, "labels": labels}


def load_detector(spec: ModelSpec) -> Model:
    from visionbench.adapters.family_onnx import onnx_model
    from visionbench.adapters.model_options import check_model_options

    options = check_model_options(spec, DECLARED)
    decode = options.get("decode")
    if decode not in DECODERS:
        raise ModelError(
            f"onnx detection needs --model-arg decode=<{'|'.join(DECODERS)}> (how to read the outputs)"
        )
    onnx = OnnxModel(spec.target)
    size = _input_size(onnx, options.get("size"))
    letterbox = bool(options.get("letterbox", True))
    mode = str(options.get("mode", "RGB"))
    if mode not in ("RGB", "BGR"):
        raise ModelError(f"onnx detection mode must be RGB or BGR, not {mode!r}")
    decoder = YoloDecoder(size, letterbox, float(options.get("conf", 0.001)), float(options.get("iou", 0.7)),
                          int(options.get("max_det", 100)))  # fmt: skip
    names = options.get("classes")
    if names is None and (value := onnx.metadata_value(("names", "classes"))) is not None:
        names = parse_names(value)
    transform = LetterboxTransform(size, letterbox, mode)

    def run(batch: Any, metas: list[ImageMeta]) -> list[dict[str, Any]]:
        out = onnx.run_tensor(batch)
        if out.ndim != 3 or out.shape[1] < 5:
            raise ModelError(
                f"{onnx.path.name}: decode=yolo expects an output [N, 4 + C, A], got {list(out.shape)}"
            )
        num_classes = out.shape[1] - 4
        if model.classes is None:
            model.classes = dict.fromkeys(range(num_classes))
        elif len(model.classes) != num_classes:
            raise ModelError(
                f"{onnx.path.name}: {len(model.classes)} class names but the output has {num_classes} classes"
            )
        return [decoder(out[i].T, meta) for i, meta in enumerate(metas)]

    model = onnx_model(
        onnx,
        name=f"onnx:{onnx.path.stem}",
        transform=transform,
        run=run,
        classes=None if names is None else model_label_space(list(names)),
        preprocess={"transform": repr(transform), "size": list(size), "letterbox": letterbox, "mode": mode,
                    "rescale": "x / 255", "mean": None, "std": None, "decode": decode},
    )  # fmt: skip
    return model
