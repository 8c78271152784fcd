"""Hugging Face transformers: ``hf:<model id or local folder>`` for classification, detection, segmentation, captioning.

Loads ``AutoModelFor{ImageClassification,ObjectDetection,SemanticSegmentation}`` and
``AutoImageProcessor`` with ``from_pretrained``. The processor is split in two: in the loader
workers it runs with ``do_normalize=False`` (resize, crop, rescale: pixels in [0, 1]); its
``image_mean``/``image_std`` are applied in the forward. Mixed sizes are padded bottom-right
(zeros after normalising, and a ``pixel_mask`` for models that take one). Detections go through
the processor's ``post_process_object_detection`` at each original size, class maps through
``post_process_semantic_segmentation``. Labels come from ``config.id2label`` (``LABEL_<n>``
placeholders count as unnamed); an ImageNet-1k classifier also answers to WordNet ids.
Options: ``revision``, ``use_fast``, and for detection ``threshold`` (default 0.0: COCO
scoring wants every ranked detection). Code that a model repository ships (``auto_map`` in its
config) is never run unless ``trust_remote_code`` is true (``run --trust-remote-code``); the
record's ``model.source.trust_remote_code`` says which. Zero-shot dual encoders (CLIP, SigLIP),
image-to-text captioners and vision-language chat models are routed by their config (option
``mode``) to ``hf_zero_shot``, ``hf_captioning`` and ``hf_vlm`` (see ``hf_generation``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

from visionbench.adapters.core import Model, torch_model
from visionbench.adapters.labels import imagenet_label_space, model_label_space, unnamed
from visionbench.adapters.pixels import PixelModel, ToPixels, state_dict_digest
from visionbench.contracts import ImageMeta, ModelSpec
from visionbench.errors import ModelError
from visionbench.schema import Option

ROUTES = {
    "zero-shot": "visionbench.adapters.hf_zero_shot:load",
    "image-to-text": "visionbench.adapters.hf_captioning:load",
    "chat": "visionbench.adapters.hf_vlm:load",
}
AUTO = {
    "classification": ("AutoModelForImageClassification", "an image-classification"),
    "detection": ("AutoModelForObjectDetection", "an object-detection"),
    "segmentation": ("AutoModelForSemanticSegmentation", "a semantic-segmentation"),
}
OPTIONS = {
    "classification": ("revision", "use_fast", "trust_remote_code", "mode"),
    "segmentation": ("revision", "use_fast", "trust_remote_code"),
    "detection": ("threshold", "revision", "use_fast", "trust_remote_code"),
}
DECLARED = {
    "threshold": Option("float", minimum=0, maximum=1),
    "revision": Option("str"),
    "use_fast": Option("bool"),
    "trust_remote_code": Option("bool"),
    "mode": Option(choices=("auto", "logits", "zero-shot", "chat"), help="see adapters/hf_generation.py"),
}
PROCESSOR_KEYS = ("size", "crop_size", "do_resize", "do_center_crop", "do_rescale", "rescale_factor",
                  "do_normalize", "image_mean", "image_std", "resample", "do_pad", "do_reduce_labels")  # fmt: skip


class ProcessorPixels:
    """One PIL image through the processor without normalisation -> ``[3, h, w]`` (+ its ``pixel_mask``)."""

    def __init__(self, processor: Any, with_mask: bool = False) -> None:
        self.processor, self.with_mask = processor, with_mask

    def __call__(self, image: Any) -> Any:
        encoded = self.processor(images=image.convert("RGB"), do_normalize=False, return_tensors="pt")
        if not self.with_mask:
            return encoded["pixel_values"][0]
        return {k: v[0] for k, v in encoded.items() if k in ("pixel_values", "pixel_mask")}

    def __repr__(self) -> str:
        return f"ProcessorPixels({type(self.processor).__name__}, do_normalize=False)"


def pad_with_mask(items: list[dict[str, Any]]) -> dict[str, Any]:
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


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


_REMOTE_CODE = (
    "hf:{target}: {where} asks to run its own Python code (auto_map); visionbench does not run "
    "a model's code unless you trust it: pass --trust-remote-code (model option trust_remote_code=true)"
)


def trust_remote_code(value: Any, target: str) -> bool:
    """The ``trust_remote_code`` option as a bool; anything but a clear true/false is refused."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return text in ("true", "1", "yes", "on")
    raise ModelError(f"hf:{target}: option trust_remote_code must be true or false, got {value!r}")


def _refuse_remote_code(target: str) -> None:
    """A local model folder whose config or processor config maps classes to its own code: a clear refusal."""
    import json
    from pathlib import Path

    folder = Path(target)
    if not folder.is_dir():
        return  # a hub id: transformers refuses with trust_remote_code=False, mapped in _load
    for name in ("config.json", "preprocessor_config.json", "processor_config.json"):
        try:
            data = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            raise ModelError(_REMOTE_CODE.format(target=target, where=f"{folder / name}"))


def _load(spec: ModelSpec, kind: str) -> tuple[Any, Any, dict[str, Any]]:
    try:
        import transformers
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise ModelError("transformers is not installed: pip install 'visionbench[hf]'") from None
    from visionbench.adapters.model_options import check_model_options

    options = check_model_options(spec, {key: DECLARED.get(key, Option("any")) for key in OPTIONS[kind]})
    trust = trust_remote_code(options.get("trust_remote_code", False), spec.target)
    load = {"revision": options["revision"]} if "revision" in options else {}
    load["trust_remote_code"] = trust  # explicit: never the library's interactive prompt
    extra = {"use_fast": bool(options["use_fast"])} if "use_fast" in options else {}
    auto, what = AUTO[kind]
    if not trust:
        _refuse_remote_code(spec.target)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # loading bars would clutter --quiet and non-TTY output
    try:
        net = getattr(transformers, auto).from_pretrained(spec.target, **load)
        processor = transformers.AutoImageProcessor.from_pretrained(spec.target, **load, **extra)
    except (OSError, ValueError) as exc:
        if not trust and "trust_remote_code" in str(exc):
            raise ModelError(_REMOTE_CODE.format(target=spec.target, where="the model repository")) from None
        raise ModelError(f"hf:{spec.target}: cannot load {what} model and image processor: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the repository's own code, run because the user trusted it
        if not trust:
            raise
        raise ModelError(f"hf:{spec.target}: the model's own code (trust_remote_code) failed: "
                         f"{type(exc).__name__}: {exc}") from None  # fmt: skip
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return net.eval(), processor, options


def load(spec: ModelSpec, kind: str) -> Any:
    from visionbench.adapters.hf_generation import route

    mode = route(spec, kind)  # zero-shot, image-to-text and chat models have their own modules
    if mode in ROUTES:
        module, _, name = ROUTES[mode].partition(":")
        return getattr(importlib.import_module(module), name)(spec, kind)
    net, processor, options = _load(spec, kind)
    normalise = getattr(processor, "do_normalize", True)
    mean = tuple(processor.image_mean) if normalise else None
    std = tuple(processor.image_std) if normalise else None
    settings = {k: _plain(getattr(processor, k)) for k in PROCESSOR_KEYS if hasattr(processor, k)}
    preprocess = {"processor": type(processor).__name__, **settings, "geometric": "processor with do_normalize=False",
                  "mean": mean, "std": std, "normalize": "in forward: (x01 - mean) / std, float32"}  # fmt: skip
    id2label = dict(net.config.id2label)
    names = [str(id2label[i]) for i in sorted(id2label)]
    common = {
        "licence": str(getattr(net.config, "license", None) or "Apache-2.0 (transformers code); weights per their model card"),
        "source": {"library": "transformers", "model": spec.target, "architecture": type(net).__name__,
                   "revision": options.get("revision"),
                   "trust_remote_code": trust_remote_code(options.get("trust_remote_code", False), spec.target)},
        "digest": lambda: state_dict_digest(net),
        "extra": {"architecture": type(net).__name__},
    }  # fmt: skip
    if kind == "detection":
        return _detector(
            net, processor, spec, float(options.get("threshold", 0.0)), mean, std, preprocess, common
        )
    if kind == "classification":
        classes, aliases = imagenet_label_space(len(names), unnamed(names))
    else:
        classes, aliases = unnamed(names), {}
    model = torch_model(net, name=spec.spec, pixels=ToPixels(), mean=mean, std=std, classes=classes,
                        aliases=aliases, call=lambda n, x: n(pixel_values=x).logits, **common)  # fmt: skip
    model.transform, model.preprocess = ProcessorPixels(processor), preprocess
    if kind == "segmentation":
        model.class_maps = _class_maps(processor)
    return model


def _class_maps(processor: Any) -> Any:
    post = getattr(processor, "post_process_semantic_segmentation", None)
    if post is None:
        return None

    def class_maps(logits: Any, metas: Sequence[ImageMeta]) -> list[Any]:
        import torch
        from transformers.modeling_outputs import SemanticSegmenterOutput

        if isinstance(logits, torch.Tensor):
            sizes = [(m.height, m.width) for m in metas]
            maps = post(SemanticSegmenterOutput(logits=logits), target_sizes=sizes)
        else:  # a padded batch, already cropped per image
            maps = [
                post(SemanticSegmenterOutput(logits=x[None]), target_sizes=[(m.height, m.width)])[0]
                for x, m in zip(logits, metas, strict=True)
            ]
        return [m.to("cpu", torch.int64) for m in maps]

    return class_maps


def _detector(net: Any, processor: Any, spec: ModelSpec, threshold: float, mean: Any, std: Any,
              preprocess: dict[str, Any], common: dict[str, Any]) -> Model:  # fmt: skip
    takes_mask = "pixel_mask" in inspect.signature(net.forward).parameters

    def call(n: Any, x: Any, mask: Any = None) -> Any:
        return n(pixel_values=x, pixel_mask=mask) if takes_mask and mask is not None else n(pixel_values=x)

    module = PixelModel(net, mean, std, call=lambda n, x: call(n, x))
    model = Model(name=spec.spec, transform=ProcessorPixels(processor, with_mask=True), run=None,  # type: ignore[arg-type]
                  collate=pad_with_mask, module=module, net=net, classes=model_label_space(dict(net.config.id2label)),
                  preprocess=preprocess, **common)  # fmt: skip

    def run(batch: dict[str, Any], metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        from visionbench.adapters.pixels import normalize_tensor

        x = batch["pixel_values"].to(model.device)
        mask = batch["pixel_mask"].to(model.device)
        if mean is not None:
            x = normalize_tensor(x, mean, std)
            x = x.where(mask[:, None].bool(), x.new_zeros(()))
        outputs = call(net, x, mask)
        sizes = [(m.height, m.width) for m in metas]
        return processor.post_process_object_detection(outputs, threshold=threshold, target_sizes=sizes)

    model.run = run
    model.pixels = lambda x01: module(x01.to(model.device))
    return model


load.kinds = ("classification", "detection", "segmentation", "captioning")  # type: ignore[attr-defined]
