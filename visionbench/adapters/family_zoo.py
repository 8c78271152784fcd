"""The project's own small trained models: ``zoo:<name>`` (weights ship inside the package).

Each entry carries the preprocessing it was trained with (split here into pixels in [0, 1] and
the mean/std applied in the forward) and its class names. Detectors' ``detect(x)`` returns
boxes in the pixels of the fixed-size input; they are scaled back to each original image.
The digest is the sha256 of the committed weights file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.core import Model, torch_model
from visionbench.adapters.labels import model_label_space
from visionbench.adapters.objects import model_preprocess
from visionbench.adapters.pixels import PixelModel, ToPixels, describe_preprocess
from visionbench.contracts import ImageMeta, ModelSpec
from visionbench.errors import ModelError

WANTED = {
    "classification": "classifier",
    "detection": "detector",
    "segmentation": "segmenter",
    "captioning": "captioner",
}


def load(spec: ModelSpec, kind: str) -> Model:
    from visionbench.adapters.model_options import check_model_options, refuse_weights
    from visionbench.zoo.catalog import get_entry, load_model, weights_sha256

    entry = get_entry(spec.target)
    check_model_options(spec, {})  # zoo models take no options: refuse any rather than record it unapplied
    refuse_weights(spec, "zoo weights ship with the package")
    if entry.kind != kind:
        raise ModelError(f"zoo model '{entry.name}' is a {entry.kind} model, not a {WANTED.get(kind, kind)}")
    net = load_model(spec.target)
    pre = model_preprocess("segmentation" if kind == "segmentation" else "classification", entry.preprocess)
    fields: dict[str, Any] = {
        "digest": lambda: weights_sha256(spec.target)[:16],
        "licence": entry.licence,
        "source": {"library": "visionbench zoo", "weights": entry.weights, "dataset": entry.dataset},
        "extra": {"description": entry.description},
    }
    if kind == "captioning":
        return _captioner(net, entry, pre, fields)
    if kind != "detection":
        return torch_model(
            net, name=entry.name, pixels=ToPixels.of(pre), mean=pre.mean, std=pre.std,
            classes=list(entry.classes), **fields,
        )  # fmt: skip
    return _detector(net, entry, pre, fields)


def _detector(net: Any, entry: Any, pre: Any, fields: dict[str, Any]) -> Model:
    module = PixelModel(net, pre.mean, pre.std, call=lambda n, x: n.detect(x))
    raw = PixelModel(net, pre.mean, pre.std)
    model = Model(
        name=entry.name,
        transform=ToPixels.of(pre),
        run=None,  # type: ignore[arg-type]
        module=raw,
        net=net,
        classes=model_label_space(entry.classes),
        preprocess=describe_preprocess(ToPixels.of(pre), pre.mean, pre.std),
        **fields,
    )

    def run(batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        height, width = batch.shape[-2:]
        out = []
        for det, meta in zip(module(batch.to(model.device)), metas, strict=True):
            boxes = det["boxes"].double().cpu()
            boxes[:, 0::2] *= meta.width / width
            boxes[:, 1::2] *= meta.height / height
            out.append({"boxes": boxes, "scores": det["scores"], "labels": det["labels"]})
        return out

    model.run = run
    model.pixels = lambda x01: raw(x01.to(model.device))
    return model


def _captioner(net: Any, entry: Any, pre: Any, fields: dict[str, Any]) -> Model:
    """Captions from the normalised pixels (``net.generate``, the entry's decoding): one ``str`` per image."""
    from visionbench.zoo.captioning_decoding import generation_of

    generation = generation_of(entry.name)
    words, beams = int(generation["max_words"]), int(generation["beams"])
    module = PixelModel(net, pre.mean, pre.std, call=lambda n, x: n.generate(x, max_words=words, beams=beams))
    model = Model(
        name=entry.name,
        transform=ToPixels.of(pre),
        run=None,  # type: ignore[arg-type]
        module=module,
        net=net,
        preprocess={**describe_preprocess(ToPixels.of(pre), pre.mean, pre.std), "generation": generation},
        **fields,
    )
    model.run = lambda batch, metas: module(batch.to(model.device))
    return model


load.kinds = ("classification", "detection", "segmentation", "captioning")  # type: ignore[attr-defined]
