"""Hugging Face image-to-text captioners (``VisionEncoderDecoderModel``, BLIP, GIT) for the captioning kind.

``hf:<model>`` whose config names an image-to-text architecture (or ``mode=image-to-text``):
``AutoModelForImageTextToText`` with the model's image processor and tokenizer. As for the other
Hugging Face families, the image processor runs in the loader workers with
``do_normalize=False`` (pixels in [0, 1]) and ``image_mean``/``image_std`` are applied in the
forward, so the preprocessing is recorded as data. Captions come from ``generate`` on the pixels
alone (greedy, ``max_new_tokens=30`` by default: see :mod:`~visionbench.adapters.hf_generation`),
decoded without special tokens and with runs of whitespace collapsed, nothing else.
Options: ``max_new_tokens``, ``num_beams``, ``do_sample``, ``temperature``, ``top_p``,
``revision``, ``use_fast``, ``trust_remote_code``, ``mode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.core import Model
from visionbench.adapters.family_hf import ProcessorPixels
from visionbench.adapters.hf_generation import (
    GENERATION,
    LOADING,
    decode,
    from_pretrained,
    generation_settings,
    processor_settings,
    record_settings,
)
from visionbench.adapters.model_options import check_model_options
from visionbench.adapters.pixels import normalize_tensor, stack, state_dict_digest
from visionbench.contracts import ImageMeta, ModelSpec
from visionbench.errors import ModelError

OPTIONS = {**LOADING, **GENERATION}


def _parts(spec: ModelSpec, options: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Model, image processor and tokenizer (a combined processor is split into its two halves)."""
    loaded = from_pretrained(spec, options, {"model": "AutoModelForImageTextToText"})
    net = loaded["model"]
    try:
        processor = from_pretrained(spec, options, {"processor": "AutoProcessor"})["processor"]
    except ModelError:
        processor = None
    image = getattr(processor, "image_processor", None)
    tokenizer = getattr(processor, "tokenizer", None)
    if image is None:
        image = from_pretrained(spec, options, {"image processor": "AutoImageProcessor"})["image processor"]
    if tokenizer is None:
        tokenizer = from_pretrained(spec, options, {"tokenizer": "AutoTokenizer"})["tokenizer"]
    return net, image, tokenizer


def load(spec: ModelSpec, kind: str) -> Model:
    """A captioning :class:`Model` whose ``run(batch, metas)`` returns one caption per image."""
    if kind != "captioning":
        raise ModelError(f"hf:{spec.target}: an image-to-text model serves captioning, not {kind}")
    options = check_model_options(spec, OPTIONS)
    settings = generation_settings(options, spec)
    net, image, tokenizer = _parts(spec, options)
    normalise = getattr(image, "do_normalize", True)
    mean = tuple(image.image_mean) if normalise else None
    std = tuple(image.image_std) if normalise else None
    geometry = processor_settings(image)
    recorded = record_settings(settings, decode="skip special tokens, collapse whitespace")
    preprocess = {"processor": type(image).__name__, **geometry, "geometric": "processor with do_normalize=False",
                  "mean": mean, "std": std, "normalize": "in forward: (x01 - mean) / std, float32",
                  **recorded}  # fmt: skip
    model = Model(
        name=spec.spec,
        transform=ProcessorPixels(image),
        run=None,  # type: ignore[arg-type]
        module=net,
        net=net,
        collate=stack,
        digest=lambda: state_dict_digest(net),
        licence=str(getattr(net.config, "license", None) or "Apache-2.0 (transformers code); weights per their model card"),
        source={"library": "transformers", "model": spec.target, "architecture": type(net).__name__,
                "revision": options.get("revision"), "trust_remote_code": bool(options.get("trust_remote_code", False)),
                "tokenizer": type(tokenizer).__name__},
        preprocess=preprocess,
        extra={"architecture": type(net).__name__, **recorded},
    )  # fmt: skip

    def run(batch: Any, metas: Sequence[ImageMeta]) -> list[str]:
        x = batch.to(model.device)
        if mean is not None:
            x = normalize_tensor(x, mean, std)
        x = x.to(next(net.parameters()).dtype)
        out = net.generate(pixel_values=x, **settings)
        sequences = out.sequences if hasattr(out, "sequences") else out
        return decode(tokenizer, sequences)  # start tokens (BLIP, GIT) are special: dropped

    model.run = run
    return model
